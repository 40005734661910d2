import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStorage } from '../../src/store/sqlite.js';
import type { TdbOutboxRecord } from '../../src/trust/model.js';
import { BACKOFF_MAX_MS, TdbSubmitter, backoffMs, type TdbStore } from '../../src/trust/submitter.js';
import { tdbPuid, toTdbPayload } from '../../src/trust/tdb.js';
import { sampleStatement, startFakeTdb, type FakeTdb } from '../support/fake-tdb.js';

const T0 = Date.parse('2026-03-02T12:00:00.000Z');

describe('TdbSubmitter against a fake Transparency Database and SQLite', () => {
  let fake: FakeTdb;
  let dir: string;
  let store: SqliteStorage;
  let t: number;
  let logs: { level: string; obj: object; msg: string }[];

  const submitter = (over: Partial<ConstructorParameters<typeof TdbSubmitter>[0]> = {}): TdbSubmitter =>
    new TdbSubmitter({
      store,
      config: { mode: 'production', endpoint: fake.url, token: fake.token },
      platformUrl: 'https://tribune.example',
      now: () => t,
      random: () => 0.5, // jitter factor exactly 1
      log: {
        info: (obj, msg) => logs.push({ level: 'info', obj, msg }),
        warn: (obj, msg) => logs.push({ level: 'warn', obj, msg }),
      },
      ...over,
    });
  const rec = async (n: number): Promise<TdbOutboxRecord> => {
    const r = await store.tdbByPuid(sampleStatement(n).puid);
    if (!r) throw new Error(`no outbox record for ${n}`);
    return r;
  };

  beforeEach(async () => {
    fake = await startFakeTdb();
    dir = mkdtempSync(path.join(os.tmpdir(), 'tribune-tdb-'));
    store = SqliteStorage.open(path.join(dir, 'tribune.db'));
    t = T0;
    logs = [];
  });

  afterEach(async () => {
    await store.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends 250 statements in batches of at most 100 (3 requests) with the documented headers', async () => {
    const sub = submitter();
    for (let n = 1; n <= 250; n++) await sub.enqueue(sampleStatement(n));
    expect((await sub.status()).pending).toBe(250);

    const results = [await sub.flush(), await sub.flush(), await sub.flush(), await sub.flush()];
    expect(results.map((r) => r.sent)).toEqual([100, 100, 50, 0]);
    const posts = fake.posts();
    expect(posts.map((p) => (p.body as { statements: unknown[] }).statements.length)).toEqual([100, 100, 50]);
    for (const p of posts) {
      expect(p.path).toBe('/api/v1/statements');
      expect(p.auth).toBe(`Bearer ${fake.token}`);
      expect(p.accept).toBe('application/json');
    }
    expect(fake.stored.size).toBe(250);
    const r7 = await rec(7);
    expect(r7.state).toBe('sent');
    expect(r7.result).toBe(fake.stored.get(tdbPuid(sampleStatement(7).puid))?.uuid);
    expect(await sub.status()).toMatchObject({ mode: 'production', pending: 0, sent: 250, failed: 0 });
  });

  it('retries after 500s with exponential backoff (injected clock, no sleeps)', async () => {
    const sub = submitter();
    await sub.enqueue(sampleStatement(1));
    fake.failNext(100, 500);

    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await sub.flush();
      expect(r).toMatchObject({ sent: 0, retried: 1 });
      const next = Date.parse((await rec(1)).nextAttemptAt);
      delays.push(next - t);
      // not due a millisecond early
      t = next - 1;
      expect((await sub.flush()).taken).toBe(0);
      t = next;
    }
    expect(delays).toEqual([30_000, 60_000, 120_000, 240_000, 480_000]);
    expect((await rec(1)).attempts).toBe(5);
    expect((await sub.status()).lastError).toMatch(/HTTP 500/);
    expect(backoffMs(30, 0.5)).toBe(BACKOFF_MAX_MS);
    expect(backoffMs(1, 0)).toBe(24_000);
    expect(backoffMs(1, 0.999)).toBeLessThan(36_000);

    fake.failNext(0);
    const ok = await sub.flush();
    expect(ok.sent).toBe(1);
    expect((await rec(1)).state).toBe('sent');
    expect(fake.stored.size).toBe(1);
  });

  it('429 and a dropped connection are retried too', async () => {
    const sub = submitter();
    await sub.enqueue(sampleStatement(1));
    fake.failNext(1, 429);
    expect((await sub.flush()).retried).toBe(1);
    t += 30_000;
    fake.dropNext(1, 'before'); // the existing-puid check; the POST then goes through
    expect((await sub.flush()).sent).toBe(1);
    expect(fake.stored.size).toBe(1);
  });

  it('does not send a statement twice when the first answer was lost (existing-puid check)', async () => {
    const sub = submitter();
    await sub.enqueue(sampleStatement(1));
    await sub.enqueue(sampleStatement(2));
    fake.dropNext(1, 'after'); // stored by the database, the answer never arrives
    const first = await sub.flush();
    expect(first).toMatchObject({ sent: 0, retried: 2 });
    expect(fake.stored.size).toBe(2);

    t += 30_000;
    const second = await sub.flush();
    expect(second).toMatchObject({ sent: 2, existing: 2 });
    expect(fake.posts()).toHaveLength(1);
    const checks = fake.requests.filter((r) => r.method === 'GET');
    expect(checks.map((c) => c.path)).toEqual([
      `/api/v1/statement/existing-puid/${tdbPuid(sampleStatement(1).puid)}`,
      `/api/v1/statement/existing-puid/${tdbPuid(sampleStatement(2).puid)}`,
    ]);
    expect((await rec(1)).state).toBe('sent');
  });

  it('a puid the database already has (422 existing_puids) is marked sent, the others are sent', async () => {
    const sub = submitter();
    const already = sampleStatement(2);
    fake.stored.set(tdbPuid(already.puid), { uuid: 'uuid-from-before', puid: tdbPuid(already.puid) });
    for (const n of [1, 2, 3]) await sub.enqueue(sampleStatement(n));
    const r = await sub.flush();
    expect(r).toMatchObject({ sent: 3, existing: 1, failed: 0 });
    expect(fake.posts()).toHaveLength(2);
    expect((fake.posts()[1].body as { statements: unknown[] }).statements).toHaveLength(2);
    expect((await rec(2)).result).toBe('existing');
  });

  it('a 422 naming a statement marks it failed and sends the others', async () => {
    const sub = submitter();
    await sub.enqueue(sampleStatement(1));
    // an outbox record written by an older version: a category the API no longer takes
    const bad = {
      ...toTdbPayload(sampleStatement(2), { platformUrl: '' }),
      category: 'STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE',
    };
    await store.enqueueTdb({
      puid: sampleStatement(2).puid,
      payload: JSON.stringify(bad),
      attempts: 0,
      nextAttemptAt: new Date(t).toISOString(),
      state: 'pending',
      result: null,
      createdAt: new Date(t).toISOString(),
    });
    await sub.enqueue(sampleStatement(3));

    const r = await sub.flush();
    expect(r).toMatchObject({ sent: 2, failed: 1 });
    const failed = await rec(2);
    expect(failed.state).toBe('failed');
    expect(failed.result).toMatch(/category: The selected category is invalid/);
    expect((await rec(1)).state).toBe('sent');
    expect((await rec(3)).state).toBe('sent');
    expect(fake.stored.has(tdbPuid(sampleStatement(2).puid))).toBe(false);
    expect(await sub.status()).toMatchObject({ sent: 2, failed: 1 });

    // a statement the API would refuse is failed at once, never sent
    const local = await sub.enqueue(
      sampleStatement(4, { ground: 'DECISION_GROUND_ILLEGAL_CONTENT', legalGround: null }),
    );
    expect(local?.state).toBe('failed');
    expect(local?.result).toMatch(/illegal_content_legal_ground/);
    await sub.flush();
    expect(fake.stored.has(tdbPuid(sampleStatement(4).puid))).toBe(false);
  });

  it('a wrong token (401) is retried later and reported', async () => {
    const sub = submitter({ config: { mode: 'production', endpoint: fake.url, token: 'wrong' } });
    await sub.enqueue(sampleStatement(1));
    expect((await sub.flush()).retried).toBe(1);
    expect(fake.requests[0].status).toBe(401);
    expect((await sub.status()).lastError).toMatch(/HTTP 401/);
    expect((await rec(1)).state).toBe('pending');
  });

  it('mode off stores and sends nothing', async () => {
    const sub = submitter({ config: { mode: 'off', endpoint: '', token: '' } });
    expect(await sub.enqueue(sampleStatement(1))).toBeNull();
    expect(await store.tdbByPuid(sampleStatement(1).puid)).toBeUndefined();
    expect(await sub.flush()).toMatchObject({ taken: 0, requests: 0 });
    sub.start(10);
    await sub.close();
    expect(fake.requests).toHaveLength(0);
    expect(await sub.status()).toMatchObject({ mode: 'off', endpoint: null, pending: 0 });
  });

  it('sandbox mode speaks the same protocol and marks its log lines', async () => {
    const sub = submitter({ config: { mode: 'sandbox', endpoint: fake.url, token: fake.token } });
    await sub.enqueue(sampleStatement(1));
    expect((await sub.flush()).sent).toBe(1);
    const line = logs.find((l) => l.msg.includes('submitting'));
    expect(line?.msg).toContain('[SANDBOX]');
    expect(line?.obj).toMatchObject({ sandbox: true, tdbMode: 'sandbox' });
  });

  it('reversals are not sent', async () => {
    const sub = submitter();
    expect(await sub.enqueue(sampleStatement(1, { reverses: 'sor_0' }))).toBeNull();
    expect(await store.tdbByPuid(sampleStatement(1).puid)).toBeUndefined();
  });

  it('a new submitter on the same store (restart) resumes the outbox', async () => {
    const a = submitter();
    for (let n = 1; n <= 10; n++) await a.enqueue(sampleStatement(n));
    fake.failNext(1, 503);
    expect((await a.flush()).retried).toBe(10);
    await a.close();
    await store.close();

    store = SqliteStorage.open(path.join(dir, 'tribune.db'));
    const b = submitter();
    expect((await b.status()).pending).toBe(10);
    expect((await b.flush()).taken).toBe(0); // not due yet: the backoff survived the restart
    t += 30_000;
    const r = await b.flush();
    expect(r).toMatchObject({ sent: 10, existing: 0 });
    expect(fake.stored.size).toBe(10);
    expect(fake.posts()).toHaveLength(2);
    expect((await b.status()).pending).toBe(0);
  });

  it('start() flushes on an interval and close() stops it', async () => {
    const sub = submitter({ now: Date.now });
    await sub.enqueue(sampleStatement(1));
    sub.start(20);
    const until = Date.now() + 5000;
    while (fake.stored.size === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    await sub.close();
    expect(fake.stored.size).toBe(1);
    const n = fake.requests.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(fake.requests.length).toBe(n);
  });

  it('works on any store with the four outbox methods', async () => {
    const map = new Map<string, TdbOutboxRecord>();
    const mem: TdbStore = {
      enqueueTdb: async (o) => void (map.has(o.puid) || map.set(o.puid, o)),
      putTdb: async (o) => void map.set(o.puid, o),
      tdbByPuid: async (p) => map.get(p),
      dueTdb: async (now, limit) =>
        [...map.values()]
          .filter((o) => o.state === 'pending' && o.nextAttemptAt <= now)
          .sort((x, y) => x.createdAt.localeCompare(y.createdAt) || x.puid.localeCompare(y.puid))
          .slice(0, limit),
    };
    const sub = submitter({ store: mem });
    for (let n = 1; n <= 3; n++) await sub.enqueue(sampleStatement(n));
    expect((await sub.flush()).sent).toBe(3);
    expect([...map.values()].every((o) => o.state === 'sent')).toBe(true);
  });
});
