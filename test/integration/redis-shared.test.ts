/**
 * Redis for shared, fast-changing state (TRIBUNE_REDIS_URL), with a real redis-server and a real
 * PostgreSQL started by the test: two origins share the sign-in throttle, the per-address rate
 * limits and session revocation; a malformed or oversized value in Redis is refused with 503
 * STORE_UNAVAILABLE (no crash).
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JarClient } from '../support/browser-jar.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startTribune, type TribuneHandle } from '../support/server.js';

describe('two origins sharing PostgreSQL and Redis', () => {
  let db: PostgresServer;
  let redis: RedisServer;
  let r: Redis;
  let a: TribuneHandle;
  let b: TribuneHandle;
  let seq = 0;
  const browser = (): JarClient => new JarClient(`10.20.0.${++seq}`);
  const signup = (c: JarClient, base: string, handle: string) =>
    c.request(base, 'POST', '/api/auth/signup', { handle, displayName: handle, password: 'correct horse' });
  const signin = (c: JarClient, base: string, handle: string, password: string) =>
    c.request(base, 'POST', '/api/auth/signin', { handle, password });

  beforeAll(async () => {
    [db, redis] = await Promise.all([startPostgres(), startRedis()]);
    const env = {
      TRIBUNE_DATABASE_URL: await db.createDatabase('shared'),
      TRIBUNE_REDIS_URL: redis.url,
      TRIBUNE_TRUST_PROXY: 'true',
      TRIBUNE_SIGNUP_PER_MINUTE: '3',
      TRIBUNE_TOKEN_SECRET: 'a'.repeat(64),
    };
    // One after the other: the first applies the migrations.
    a = await startTribune({ args: ['origin'], env });
    b = await startTribune({ args: ['origin'], env });
    r = new Redis(redis.url);
  }, 60_000);

  afterAll(async () => {
    r?.disconnect();
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([redis?.stop(), db?.stop()]);
  });

  it('counts failed sign-ins on origin A against origin B', async () => {
    const owner = browser();
    expect((await signup(owner, a.url, 'shared_throttle')).status).toBe(201);
    const guesser = browser();
    for (let i = 0; i < 5; i++)
      expect(await signin(guesser, i % 2 ? b.url : a.url, 'shared_throttle', `wrong ${i}`)).toMatchObject({
        status: 401,
        code: 'BAD_CREDENTIALS',
      });
    // Locked out everywhere, the right password included, and from another address (per handle).
    expect(await signin(guesser, b.url, 'shared_throttle', 'correct horse')).toMatchObject({
      status: 429,
      code: 'SIGNIN_THROTTLED',
    });
    expect(await signin(browser(), a.url, 'shared_throttle', 'correct horse')).toMatchObject({ status: 429 });
    expect(await r.ttl('tribune:signin:h:shared_throttle')).toBeGreaterThan(0);
  });

  it('applies a per-address rate limit hit on A on B', async () => {
    const c = browser();
    for (let i = 0; i < 3; i++)
      expect((await signup(c, i === 1 ? b.url : a.url, `rl_user_${i}`)).status).toBe(201);
    expect(await signup(c, b.url, 'rl_user_3')).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(await signup(c, a.url, 'rl_user_4')).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    // Another address is not affected.
    expect((await signup(browser(), b.url, 'rl_user_5')).status).toBe(201);
  });

  it('refuses on B a session signed out on A, and one revoked in Redis', async () => {
    const c = browser();
    expect((await signup(c, a.url, 'revoke_me')).status).toBe(201);
    const cookie = c.jar.get('tribune_session')!;
    expect((await c.request(b.url, 'GET', '/api/auth/me')).status).toBe(200);
    const copy = new JarClient(c.address);
    for (const [k, v] of c.jar) copy.jar.set(k, v);
    expect((await c.request(a.url, 'POST', '/api/auth/signout')).status).toBe(204);
    expect(await copy.request(b.url, 'GET', '/api/auth/me')).toMatchObject({
      status: 401,
      code: 'SESSION_INVALID',
    });
    expect(await r.exists(`tribune:revoked:${createHash('sha256').update(cookie).digest('hex')}`)).toBe(1);

    // A session still in storage but marked revoked in Redis is refused by every origin.
    const d = browser();
    expect((await signup(d, b.url, 'revoke_redis')).status).toBe(201);
    const hash = createHash('sha256').update(d.jar.get('tribune_session')!).digest('hex');
    await r.set(`tribune:revoked:${hash}`, '1', 'PX', 60_000);
    for (const base of [a.url, b.url]) {
      const e = new JarClient(d.address);
      for (const [k, v] of d.jar) e.jar.set(k, v);
      expect(await e.request(base, 'GET', '/api/auth/me')).toMatchObject({
        status: 401,
        code: 'SESSION_INVALID',
      });
    }
  });

  it('refuses a malformed or oversized throttle value with 503 STORE_UNAVAILABLE, then recovers', async () => {
    const c = browser();
    expect((await signup(c, a.url, 'bad_redis')).status).toBe(201);
    const key = 'tribune:signin:h:bad_redis';
    const cases: [string, () => Promise<unknown>][] = [
      ['garbage field', () => r.hset(key, 'f', 'garbage')],
      ['huge field', () => r.hset(key, 'u', '9'.repeat(100_000))],
      ['wrong type, 1 MB', () => r.set(key, 'x'.repeat(1 << 20))],
      ['huge pending counter', () => r.set(`${key}:p`, '1'.repeat(10_000))],
    ];
    for (const [what, poison] of cases) {
      await r.del(key, `${key}:p`);
      await poison();
      for (const base of [a.url, b.url])
        expect(await signin(browser(), base, 'bad_redis', 'correct horse'), what).toMatchObject({
          status: 503,
          code: 'STORE_UNAVAILABLE',
        });
    }
    await r.del(key, `${key}:p`);
    expect((await signin(browser(), b.url, 'bad_redis', 'correct horse')).status).toBe(200);
    // Both origins are still up.
    for (const base of [a.url, b.url]) expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
