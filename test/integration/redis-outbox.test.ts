/**
 * The webhook outbox with several origins (real redis-server and PostgreSQL started by the test, two
 * `tribune origin` processes on the same database, Redis and webhook URL): only the holder of the
 * Redis outbox lock delivers, so each event reaches the receiver exactly once; a holder killed
 * mid-pass (SIGKILL) is taken over by the other origin once its lock expires (TTL 3 s here). The
 * lock helper itself (take, busy, renew, fence, compare-and-delete, Redis down) against the same
 * real Redis.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TribuneClient } from '../../src/client/index.js';
import { RedisLock } from '../../src/shared/redis-lock.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { freePort, signedInClient, startTribune, type TribuneHandle } from '../support/server.js';
import { waitFor } from '../support/wait.js';

const LOCK_MS = 3000;
const LOCK_KEY = 'tribune:lock:outbox';
const inAnHour = (): string => new Date(Date.now() + 3600_000).toISOString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Delivery {
  id: string;
  spaceId: string;
  at: number;
}

describe('the webhook outbox with two origins sharing PostgreSQL and Redis', () => {
  let db: PostgresServer;
  let redis: RedisServer;
  let r: Redis;
  let hook: http.Server;
  let origins: TribuneHandle[] = [];
  const deliveries: Delivery[] = [];
  /** Per-response delay (a slow receiver makes passes long, so origins overlap without a lock). */
  let delayMs = 0;
  /** When set, the next POST is recorded but never answered (its holder is killed meanwhile). */
  let hangNext = false;
  const hung: http.ServerResponse[] = [];

  const countsById = (): Map<string, number> => {
    const m = new Map<string, number>();
    for (const d of deliveries) m.set(d.id, (m.get(d.id) ?? 0) + 1);
    return m;
  };

  /** A host (signed in on `base`) with one follower, so each Space it schedules enqueues one event. */
  async function followedHost(base: string, other: string): Promise<TribuneClient> {
    const host = await signedInClient(base, 'outbox host');
    const fan = await signedInClient(other, 'outbox fan');
    await fan.follow((await host.me()).user!.handle);
    return host;
  }

  beforeAll(async () => {
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const json = JSON.parse(body) as { space: { id: string } };
        deliveries.push({
          id: String(req.headers['x-tribune-delivery']),
          spaceId: json.space.id,
          at: Date.now(),
        });
        if (hangNext) {
          hangNext = false;
          hung.push(res);
          return;
        }
        setTimeout(() => res.writeHead(204).end(), delayMs);
      });
    });
    await new Promise<void>((ok) => hook.listen(0, '127.0.0.1', ok));
    [db, redis] = await Promise.all([startPostgres(), startRedis()]);
    const env = {
      TRIBUNE_DATABASE_URL: await db.createDatabase('outbox'),
      TRIBUNE_REDIS_URL: redis.url,
      TRIBUNE_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
      TRIBUNE_WEBHOOK_LOCK_MS: String(LOCK_MS),
      TRIBUNE_TOKEN_SECRET: 'b'.repeat(64),
      TRIBUNE_CREATE_SPACE_PER_MINUTE: '100000',
    };
    // One after the other: the first applies the migrations.
    origins.push(await startTribune({ args: ['origin'], env }));
    origins.push(await startTribune({ args: ['origin'], env }));
    r = new Redis(redis.url);
  }, 60_000);

  afterAll(async () => {
    for (const res of hung) res.destroy();
    r?.disconnect();
    await Promise.all(origins.map((o) => o.stop()));
    await Promise.all([redis?.stop(), db?.stop()]);
    hook?.closeAllConnections();
    hook?.close();
  });

  it('delivers each event exactly once across the two origins', async () => {
    delayMs = 150; // 12 events: a pass of ~2 s, over both origins' 1 s timers
    const [a, b] = origins;
    const host = await followedHost(a.url, b.url);
    const spaceIds: string[] = [];
    for (let i = 0; i < 12; i++)
      spaceIds.push((await host.createSpace({ title: `scheduled ${i}`, scheduledFor: inAnHour() })).id);
    await waitFor('12 events delivered', () => countsById().size >= 12, { timeoutMs: 15_000 });
    // Time for a duplicate to show up (more than a pass and a timer tick).
    await sleep(3000);
    const counts = countsById();
    expect(counts.size).toBe(12);
    expect(
      [...counts.values()].every((n) => n === 1),
      JSON.stringify([...counts]),
    ).toBe(true);
    expect(deliveries.map((d) => d.spaceId).sort()).toEqual([...spaceIds].sort());
    // Released after each pass (an empty pass may hold it for a moment: wait for it to go).
    await waitFor('the lock released after the pass', async () => (await r.exists(LOCK_KEY)) === 0);
  }, 40_000);

  it('lets the other origin take over after the lock of a holder killed mid-pass expires', async () => {
    deliveries.length = 0;
    delayMs = 0;
    hangNext = true;
    const [a, b] = origins;
    const host = await followedHost(b.url, a.url);
    for (let i = 0; i < 5; i++) await host.createSpace({ title: `takeover ${i}`, scheduledFor: inAnHour() });
    const first = await waitFor(
      'a delivery held by the receiver',
      () => (hung.length === 1 ? deliveries[0] : undefined),
      {
        timeoutMs: 10_000,
      },
    );
    // The lock names its holder (host:pid:random): kill that origin.
    const token = await r.get(LOCK_KEY);
    const holder = origins.find((o) => token?.split(':')[1] === String(o.pid));
    expect(holder, `lock value ${token}`).toBeDefined();
    const survivor = origins.find((o) => o !== holder)!;
    const killedAt = Date.now();
    const exited = new Promise((ok) => holder!.child.once('exit', ok));
    holder!.child.kill('SIGKILL');
    await exited;
    origins = [survivor];
    // The lock outlives its holder by at most the TTL; then the survivor delivers everything.
    await waitFor('all 5 events delivered after the takeover', () => countsById().size >= 5, {
      timeoutMs: LOCK_MS + 7_000,
    });
    await sleep(2000);
    const after = deliveries.filter((d) => d.at > killedAt);
    expect(after.length).toBeGreaterThan(0);
    expect(after[0].at - killedAt).toBeLessThan(LOCK_MS + 2500);
    const counts = countsById();
    expect(counts.size).toBe(5);
    // The interrupted one was never acknowledged: delivered again (at least once); the rest once.
    for (const [id, n] of counts) expect(n, id).toBe(id === first.id ? 2 : 1);
    expect((await fetch(`${survivor.url}/healthz`)).status).toBe(200);
  }, 40_000);

  describe('RedisLock', () => {
    it('is taken by one holder at a time and released by compare-and-delete', async () => {
      const key = 'test:lock:busy';
      const one = new RedisLock(r, key, 1000);
      const two = new RedisLock(r, key, 1000);
      let inner: boolean | undefined;
      expect(
        await one.run(async (held) => {
          inner = await two.run(async () => undefined);
          expect(await held()).toBe(true);
        }),
      ).toBe(true);
      expect(inner).toBe(false);
      expect(await r.exists(key)).toBe(0);
      expect(await two.run(async () => undefined)).toBe(true);
    });

    it('renews itself while the work runs past the TTL', async () => {
      const key = 'test:lock:renew';
      const lock = new RedisLock(r, key, 1000);
      await lock.run(async (held) => {
        await sleep(2500);
        expect(await r.pttl(key)).toBeGreaterThan(0);
        expect(await held()).toBe(true);
      });
      expect(await r.exists(key)).toBe(0);
    });

    it('fences a holder whose lock was taken over, and never deletes the new holder', async () => {
      const key = 'test:lock:fence';
      const lock = new RedisLock(r, key, 1000);
      await lock.run(async (held) => {
        await r.set(key, 'someone-else', 'PX', 10_000); // as if ours expired and another took it
        expect(await held()).toBe(false);
        expect(await held()).toBe(false);
      });
      expect(await r.get(key)).toBe('someone-else');
      await r.del(key);
    });

    it('rejects when Redis is unreachable (the caller skips its pass)', async () => {
      const down = new Redis(`redis://127.0.0.1:${await freePort()}`, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        lazyConnect: true,
      });
      let ran = false;
      await expect(
        new RedisLock(down, 'test:lock:down', 1000).run(async () => {
          ran = true;
        }),
      ).rejects.toThrow();
      expect(ran).toBe(false);
      down.disconnect();
    });
  });
});
