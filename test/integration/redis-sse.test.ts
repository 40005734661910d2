/**
 * Server-sent-event fan-out between origins (real redis-server and PostgreSQL started by the test,
 * two `tribune origin` processes on both): a change made on origin A reaches the event streams held
 * by origin B and back, through the Redis channel `tribune:events`; garbage published on that
 * channel is ignored and breaks nothing.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeInSpace, Participants } from '../../src/client/index.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import {
  createSpace,
  signedInClient,
  startTribune,
  type TestSpace,
  type TribuneHandle,
} from '../support/server.js';
import { openEvents, type SseStream } from '../support/sse.js';

/** The brief's bound for an event to cross origins (a publish, a re-read, a 100 ms debounce). */
const CROSS_MS = 1000;

describe('server-sent events across two origins sharing PostgreSQL and Redis', () => {
  let db: PostgresServer;
  let redis: RedisServer;
  let r: Redis;
  let a: TribuneHandle;
  let b: TribuneHandle;
  let space: TestSpace;
  const streams: SseStream[] = [];

  beforeAll(async () => {
    [db, redis] = await Promise.all([startPostgres(), startRedis()]);
    const env = {
      TRIBUNE_DATABASE_URL: await db.createDatabase('sse'),
      TRIBUNE_REDIS_URL: redis.url,
      TRIBUNE_TOKEN_SECRET: 'b'.repeat(64),
    };
    // One after the other: the first applies the migrations.
    a = await startTribune({ args: ['origin'], env });
    b = await startTribune({ args: ['origin'], env });
    r = new Redis(redis.url);
    // The host works on origin B: its Space, its stream, its approvals.
    space = await createSpace(b.url, 'Across origins');
  }, 60_000);

  afterAll(async () => {
    for (const s of streams) s.close();
    r?.disconnect();
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([redis?.stop(), db?.stop()]);
  });

  const open = (base: string, client: TestSpace['hostClient']): SseStream => {
    const s = openEvents(base, client, space.id);
    streams.push(s);
    return s;
  };
  const requesting = (uid: string) => (p: Participants) => p.requests.some((q) => q.user.id === uid);

  it('a request made on A reaches the host on B; the approval on B reaches the listener on A', async () => {
    const host = open(b.url, space.hostClient);
    await host.opened;
    await host.waitFor<Participants>('participants', () => true, { what: "the host's first participants" });

    const fan = await signedInClient(a.url, 'fan');
    const fanId = (await fan.me()).user!.id;
    const fanStream = open(a.url, fan);
    await fanStream.opened;
    await fanStream.waitFor<MeInSpace>('me', (m) => m.role === 'listener', {
      what: "the fan's first me",
    });

    const mark = host.events.length;
    const t0 = Date.now();
    await fan.requestToSpeak(space.id); // on A
    const heard = await host.waitFor<Participants>('participants', requesting(fanId), {
      from: mark,
      timeoutMs: 5000,
      what: 'a participants event on B listing the request made on A',
    });
    console.log(`request on A → participants on B in ${heard.atMs - t0} ms`);
    expect(heard.atMs - t0).toBeLessThan(CROSS_MS);

    const fanMark = fanStream.events.length;
    const t1 = Date.now();
    await space.hostClient.approveRequest(space.id, fanId); // on B
    const promoted = await fanStream.waitFor<MeInSpace>('me', (m) => m.role === 'speaker', {
      from: fanMark,
      timeoutMs: 5000,
      what: 'a me event on A with role speaker after the approval on B',
    });
    console.log(`approval on B → me on A in ${promoted.atMs - t1} ms`);
    expect(promoted.atMs - t1).toBeLessThan(CROSS_MS);
  });

  it('ignores garbage on the channel: both origins stay up and the next real event still crosses', async () => {
    const garbage = [
      'not json',
      '{"o":"x"',
      'null',
      '[1,2,3]',
      JSON.stringify({ o: 'elsewhere', k: 'nuke', s: space.id }),
      JSON.stringify({ o: 'elsewhere', k: 'me', s: space.id }), // no user
      JSON.stringify({ o: 'elsewhere', k: 'space', s: 42 }),
      JSON.stringify({ o: 'elsewhere', k: 'participants', s: 'x'.repeat(10_000) }),
      'x'.repeat(1 << 20),
      Buffer.from([0xff, 0xfe, 0x00, 0x01]),
    ];
    for (const g of garbage) expect(await r.publish('tribune:events', g)).toBe(2); // both origins listen

    for (const base of [a.url, b.url]) expect((await fetch(`${base}/healthz`)).status).toBe(200);

    const host = streams[0]!;
    const other = await signedInClient(a.url, 'second fan');
    const otherId = (await other.me()).user!.id;
    const mark = host.events.length;
    const t0 = Date.now();
    await other.requestToSpeak(space.id); // on A
    const heard = await host.waitFor<Participants>('participants', requesting(otherId), {
      from: mark,
      timeoutMs: 5000,
      what: 'a participants event on B after the garbage',
    });
    expect(heard.atMs - t0).toBeLessThan(CROSS_MS);
    // Each origin logged the garbage once, not once per message.
    for (const o of [a, b]) expect(o.logs().match(/ignored a malformed message/g) ?? []).toHaveLength(1);
  });
});
