/**
 * Space leases (src/cluster/leases.ts + placement.ts) against a real redis-server: two origins
 * claiming one Space get one owner; a stale holder (its heartbeat stopped past the lease) loses the
 * Space to the other, learns it at its next heartbeat, and its writes are refused by the fence in
 * the database (LEASE_LOST) and stop on the shared data dir; a malformed or oversized owner entry in
 * Redis answers 503 STORE_UNAVAILABLE; with Redis down a holder keeps its Spaces only while the
 * fence file next to the recording is still its own.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OWNER_KEY, SpaceLeases } from '../../src/cluster/leases.js';
import { ClusterPlacement, LEASE_FILE } from '../../src/cluster/placement.js';
import { TribuneError } from '../../src/errors.js';
import { SqliteStorage } from '../../src/store/sqlite.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { space, user } from '../support/storage-fixtures.js';

const LEASE_MS = 1000;

describe('Space leases in Redis, fenced in the database and on the data dir', () => {
  let redis: RedisServer;
  const clients: Redis[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'tribune-leases-'));
  let storage: SqliteStorage;

  /** Connected (no offline queue: a command before `ready` would fail). */
  const client = async (): Promise<Redis> => {
    const c = new Redis(redis.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 300,
    });
    c.on('error', () => undefined);
    clients.push(c);
    if (c.status !== 'ready') await new Promise((r) => c.once('ready', r));
    return c;
  };
  const origin = async (id: string, lost: string[] = []) => {
    const placement = (): ClusterPlacement => p;
    const leases = new SpaceLeases(await client(), {
      originId: id,
      url: `http://${id}:8080`,
      leaseMs: LEASE_MS,
      onLost: (spaceId) => lost.push(spaceId),
      stillOurs: (spaceId, fence) => placement().stillOurs(spaceId, fence),
    });
    const p = new ClusterPlacement(leases, storage, (spaceId) => path.join(dir, spaceId));
    return { leases, placement: p, lost };
  };
  const code = async (p: Promise<unknown>): Promise<string | undefined> =>
    p.then(
      () => undefined,
      (e: unknown) => (e instanceof TribuneError ? e.code : String(e)),
    );

  beforeAll(async () => {
    redis = await startRedis();
    storage = await SqliteStorage.open(':memory:');
    await storage.createUser(user('u1'));
    await storage.createSpace(space('s1'));
    await storage.createSpace(space('s2'));
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    redis.resume();
    await redis.stop();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('two origins claiming one Space: one wins, the other learns who runs it', async () => {
    const a = await origin('origin-a');
    const b = await origin('origin-b');
    const results = await Promise.all([a.leases.claim('s1'), b.leases.claim('s1')]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    const loser = results.find((r) => !r.ok);
    const winner = results[0].ok ? a : b;
    expect(loser).toMatchObject({ ok: false, owner: { originId: winner.leases.originId } });
    // Claiming again is idempotent for the holder (same fence), still refused for the other.
    const fence = winner.leases.fence('s1');
    expect(await winner.leases.claim('s1')).toEqual({ ok: true, fence });
    expect(await code((winner === a ? b : a).placement.acquire('s1'))).toBe('SPACE_MOVING');
    // The sweep's view of many Spaces at once (one MGET): the holder, or null for nobody.
    expect(await a.leases.owners(['s1', 's2', 'nope'])).toEqual([
      { fence, originId: winner.leases.originId, url: `http://${winner.leases.originId}:8080` },
      null,
      null,
    ]);
    await winner.leases.release('s1');
    expect(await winner.leases.owner('s1')).toBeNull();
  });

  it('a stale holder loses the Space, and its writes are refused by the fences', async () => {
    const a = await origin('origin-a');
    const b = await origin('origin-b');
    await a.placement.acquire('s2'); // a runs s2 (no heartbeat: as if frozen)
    const staleFence = a.placement.fence('s2')!;
    expect(a.placement.mayWrite('s2')).toBe(true);
    // a writes as the holder: accepted.
    expect((await storage.updateSpace('s2', { title: 'by a' }, staleFence)).title).toBe('by a');

    // Past the lease without a heartbeat: b takes the Space over with a newer fence.
    await new Promise((r) => setTimeout(r, LEASE_MS + 100));
    expect(a.placement.mayWrite('s2')).toBe(false); // a stops writing media by itself
    await b.placement.acquire('s2');
    const fence = b.placement.fence('s2')!;
    expect(fence).toBeGreaterThan(staleFence);

    // a, late, tries to write as if it still ran s2: the database refuses; nothing changed.
    expect(await code(storage.updateSpace('s2', { state: 'ended' }, staleFence))).toBe('LEASE_LOST');
    expect((await storage.spaceById('s2'))?.state).toBe('live');
    // Nor can a record its old fence again, nor take the lease while b holds it.
    expect(await storage.fenceSpaceMedia('s2', staleFence)).toBe(false);
    expect(await code(a.placement.acquire('s2'))).toBe('SPACE_MOVING');
    // a's next heartbeat tells it: the Space is lost (its media stops).
    await a.leases.renew();
    expect(a.lost).toContain('s2');
    expect(a.leases.heldIds()).not.toContain('s2');
    // b's writes go through; its heartbeat keeps the lease.
    expect((await storage.updateSpace('s2', { title: 'by b' }, fence)).title).toBe('by b');
    await b.leases.renew();
    expect(b.placement.mayWrite('s2')).toBe(true);
    await b.leases.close();
  });

  it('a lease that expired while nobody claimed it is taken back, same token, at the next heartbeat', async () => {
    // As after a Redis outage longer than the lease: the key expired, no other origin claimed it.
    const a = await origin('origin-a');
    await a.placement.acquire('s1');
    const fence = a.placement.fence('s1')!;
    await new Promise((r) => setTimeout(r, LEASE_MS + 100));
    expect(await a.leases.owner('s1')).toBeNull();
    await a.leases.renew();
    expect(a.lost).toEqual([]);
    expect(await a.leases.owner('s1')).toMatchObject({ originId: 'origin-a', fence });
    expect(a.placement.mayWrite('s1')).toBe(true);
    // Once another origin claimed it meanwhile, it is not taken back.
    const b = await origin('origin-b');
    await new Promise((r) => setTimeout(r, LEASE_MS + 100));
    await b.placement.acquire('s1');
    await a.leases.renew();
    expect(a.lost).toEqual(['s1']);
    await b.leases.close();
  });

  it('a malformed or oversized owner entry answers STORE_UNAVAILABLE, never a crash', async () => {
    const a = await origin('origin-a');
    const raw = await client();
    for (const bad of ['garbage', `1 origin-x http://x:1 ${'y'.repeat(5000)}`, '0 a http://x']) {
      await raw.set(OWNER_KEY + 's1', bad);
      expect(await code(a.leases.owner('s1'))).toBe('STORE_UNAVAILABLE');
      expect(await code(a.leases.owners(['s2', 's1']))).toBe('STORE_UNAVAILABLE');
      expect(await code(a.leases.claim('s1'))).toBe('STORE_UNAVAILABLE');
    }
    await raw.set(OWNER_KEY + 's1', 'not a string reply', 'PX', 1);
    await raw.del(OWNER_KEY + 's1');
    await raw.hset(OWNER_KEY + 's1', 'x', '1'); // a wrong type
    expect(await code(a.leases.owner('s1'))).toBe('STORE_UNAVAILABLE');
    expect(await code(a.leases.claim('s1'))).toBe('STORE_UNAVAILABLE');
    await raw.del(OWNER_KEY + 's1');
  });

  it('with Redis down, a holder keeps its Space while the fence file is its own, and stops when not', async () => {
    const a = await origin('origin-a');
    await a.placement.acquire('s1');
    const fence = a.placement.fence('s1')!;
    redis.pause();
    try {
      expect(await code(a.leases.claim('s2'))).toBe('STORE_UNAVAILABLE');
      await new Promise((r) => setTimeout(r, 400));
      await a.leases.renew(); // Redis silent: confirmed by the fence file
      await new Promise((r) => setTimeout(r, 400));
      await a.leases.renew();
      await new Promise((r) => setTimeout(r, 400));
      await a.leases.renew();
      expect(a.placement.mayWrite('s1')).toBe(true); // 1.2 s > the lease: still running
      // Another origin, which could reach Redis, took it over and wrote its fence.
      writeFileSync(path.join(dir, 's1', LEASE_FILE), String(fence + 1));
      await a.leases.renew();
      expect(a.lost).toContain('s1');
      expect(a.placement.mayWrite('s1')).toBe(false);
    } finally {
      redis.resume();
    }
  });
});
