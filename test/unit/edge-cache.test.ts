import { describe, expect, it } from 'vitest';
import { EdgeCache, ENTRY_OVERHEAD, parseCacheControl, type CacheInput } from '../../src/edge/cache.js';
import { parseEdgePath } from '../../src/edge/routes.js';
import { TribuneError } from '../../src/errors.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** A load the test resolves by hand; counts how many times it was started. */
function deferredLoad() {
  let calls = 0;
  let resolve!: (v: CacheInput) => void;
  let reject!: (e: unknown) => void;
  let signal: AbortSignal | undefined;
  const load = (s: AbortSignal): Promise<CacheInput> => {
    calls++;
    signal = s;
    return new Promise<CacheInput>((res, rej) => {
      resolve = res;
      reject = rej;
    });
  };
  return {
    load,
    calls: () => calls,
    signal: () => signal,
    resolve: (v: CacheInput) => resolve(v),
    reject: (e: unknown) => reject(e),
  };
}

const ok = (body: string, cacheControl?: string, status = 200): CacheInput => ({
  status,
  contentType: 'application/vnd.apple.mpegurl',
  cacheControl,
  body: Buffer.from(body),
});

const tick = () => new Promise((r) => setImmediate(r));

describe('EdgeCache', () => {
  it('collapses N concurrent gets into one load and hands every waiter the same Buffer', async () => {
    const c = clock();
    const cache = new EdgeCache({ maxBytes: 1 << 20, now: c.now });
    const d = deferredLoad();
    const waits = Array.from({ length: 1000 }, () =>
      cache.get('s/audio.m3u8?_HLS_msn=5&_HLS_part=2', d.load),
    );
    await tick();
    expect(d.calls()).toBe(1);
    expect(cache.stats().inflight).toBe(1);
    d.resolve(ok('#EXTM3U\n', 'public, max-age=2'));
    const results = await Promise.all(waits);
    expect(d.calls()).toBe(1);
    expect(results.filter((r) => r.outcome === 'MISS')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'COLLAPSED')).toHaveLength(999);
    const body = results[0].entry.body;
    for (const r of results) expect(r.entry.body).toBe(body); // same instance, no copies
    const hit = await cache.get('s/audio.m3u8?_HLS_msn=5&_HLS_part=2', d.load);
    expect(hit.outcome).toBe('HIT');
    expect(hit.entry.body).toBe(body);
    expect(cache.stats()).toMatchObject({ inflight: 0, hits: 1, misses: 1, collapsed: 999, entries: 1 });
  });

  it('takes the TTL from max-age and reloads once stale', async () => {
    const c = clock();
    const cache = new EdgeCache({ maxBytes: 1 << 20, now: c.now });
    let loads = 0;
    const load = async () => (loads++, ok(`v${loads}`, 'public, max-age=2'));
    expect((await cache.get('k', load)).outcome).toBe('MISS');
    c.advance(1999);
    const hit = await cache.get('k', load);
    expect(hit.outcome).toBe('HIT');
    expect(hit.entry.expiresAt - hit.entry.storedAt).toBe(2000);
    c.advance(1);
    const again = await cache.get('k', load);
    expect(again.outcome).toBe('MISS');
    expect(again.entry.body.toString()).toBe('v2');
    expect(loads).toBe(2);
  });

  it('keeps immutable objects (max-age if given, else immutableTtlMs)', async () => {
    const c = clock();
    const cache = new EdgeCache({ maxBytes: 1 << 20, immutableTtlMs: 60_000, now: c.now });
    let loads = 0;
    const part = async () => (loads++, ok('part', 'public, max-age=31536000, immutable'));
    const init = async () => (loads++, ok('init', 'immutable'));
    await cache.get('p', part);
    await cache.get('i', init);
    c.advance(59_999);
    expect((await cache.get('p', part)).outcome).toBe('HIT');
    expect((await cache.get('i', init)).outcome).toBe('HIT');
    c.advance(1);
    expect((await cache.get('i', init)).outcome).toBe('MISS');
    c.advance(365 * 86_400_000);
    expect((await cache.get('p', part)).outcome).toBe('MISS');
    expect(loads).toBe(4);
  });

  it('does not store no-store, private, or answers without Cache-Control', async () => {
    const cache = new EdgeCache({ maxBytes: 1 << 20, now: clock().now });
    for (const cc of ['no-store', 'private, max-age=60', 'no-cache', undefined]) {
      let loads = 0;
      const load = async () => (loads++, ok('x', cc));
      await cache.get(`k-${cc}`, load);
      expect((await cache.get(`k-${cc}`, load)).outcome).toBe('MISS');
      expect(loads).toBe(2);
    }
    expect(cache.stats().entries).toBe(0);
  });

  it('caches 4xx for the short negative TTL only', async () => {
    const c = clock();
    const cache = new EdgeCache({ maxBytes: 1 << 20, negativeTtlMs: 1000, now: c.now });
    let loads = 0;
    const load = async () => (loads++, ok('{"error":{}}', 'public, max-age=3600', 404));
    await cache.get('gone', load);
    c.advance(999);
    const hit = await cache.get('gone', load);
    expect(hit.outcome).toBe('HIT');
    expect(hit.entry.status).toBe(404);
    c.advance(1);
    expect((await cache.get('gone', load)).outcome).toBe('MISS');
    expect(loads).toBe(2);
    // max-age=0 on a 4xx wins over the negative TTL; no-store too.
    expect(cache.ttlFor(400, 'max-age=0')).toBe(0);
    expect(cache.ttlFor(404, 'no-store')).toBe(0);
    expect(cache.ttlFor(404, undefined)).toBe(1000);
  });

  it('never stores 502/503/504 but still collapses them while in flight', async () => {
    const cache = new EdgeCache({ maxBytes: 1 << 20, now: clock().now });
    for (const status of [502, 503, 504]) {
      const d = deferredLoad();
      const waits = [1, 2, 3].map(() => cache.get(`k${status}`, d.load));
      await tick();
      d.resolve(ok('busy', 'public, max-age=60', status));
      const results = await Promise.all(waits);
      expect(d.calls()).toBe(1);
      expect(results.map((r) => r.outcome)).toEqual(['MISS', 'COLLAPSED', 'COLLAPSED']);
      expect(results.every((r) => r.entry.status === status)).toBe(true);
      const next = cache.get(`k${status}`, d.load);
      await tick();
      expect(d.calls()).toBe(2);
      d.resolve(ok('fine', 'max-age=1'));
      expect((await next).outcome).toBe('MISS');
    }
  });

  it('rejects every waiter when the load fails, and caches nothing', async () => {
    const cache = new EdgeCache({ maxBytes: 1 << 20, now: clock().now });
    const d = deferredLoad();
    const waits = Array.from({ length: 10 }, () => cache.get('k', d.load));
    await tick();
    d.reject(new TribuneError('ORIGIN_UNAVAILABLE', 'timeout'));
    const settled = await Promise.allSettled(waits);
    for (const s of settled) {
      expect(s.status).toBe('rejected');
      expect((s as PromiseRejectedResult).reason).toMatchObject({ code: 'ORIGIN_UNAVAILABLE' });
    }
    expect(cache.stats()).toMatchObject({ entries: 0, inflight: 0 });
    const retry = cache.get('k', d.load);
    await tick();
    expect(d.calls()).toBe(2);
    d.resolve(ok('ok', 'max-age=1'));
    expect((await retry).entry.body.toString()).toBe('ok');
  });

  it('evicts least-recently-used entries to stay within maxBytes', async () => {
    const c = clock();
    const size = (key: string, bodyLen: number) => bodyLen + key.length * 2 + ENTRY_OVERHEAD;
    const maxBytes = size('a', 100) * 3; // room for exactly three 100-byte entries
    const cache = new EdgeCache({ maxBytes, maxEntryBytes: maxBytes, now: c.now });
    const load = (tag: string) => async () => ok(tag.repeat(100), 'max-age=60');
    await cache.get('a', load('a'));
    await cache.get('b', load('b'));
    await cache.get('c', load('c'));
    expect(cache.stats()).toMatchObject({ entries: 3, bytes: maxBytes });
    expect((await cache.get('a', load('x'))).outcome).toBe('HIT'); // a is now most recent
    await cache.get('d', load('d')); // evicts b (least recent)
    expect(cache.peek('b')).toBeUndefined();
    expect(cache.peek('a')).toBeDefined();
    expect(cache.peek('c')).toBeDefined();
    expect(cache.peek('d')).toBeDefined();
    expect(cache.stats()).toMatchObject({ entries: 3, evictions: 1 });
    expect(cache.stats().bytes).toBeLessThanOrEqual(maxBytes);
    // One entry bigger than maxEntryBytes is served but not stored and evicts nothing.
    const big = await cache.get('big', async () => ok('z'.repeat(maxBytes), 'max-age=60'));
    expect(big.entry.body.length).toBe(maxBytes);
    expect(cache.peek('big')).toBeUndefined();
    expect(cache.stats().entries).toBe(3);
  });

  it('lets one waiter leave without cancelling the shared load; aborts when all leave', async () => {
    const cache = new EdgeCache({ maxBytes: 1 << 20, now: clock().now });
    const d = deferredLoad();
    const leaving = new AbortController();
    const staying = new AbortController();
    const w1 = cache.get('k', d.load, leaving.signal);
    const w2 = cache.get('k', d.load, staying.signal);
    await tick();
    leaving.abort(new Error('gone'));
    await expect(w1).rejects.toThrow('gone');
    expect(d.signal()!.aborted).toBe(false);
    d.resolve(ok('still here', 'max-age=1'));
    expect((await w2).entry.body.toString()).toBe('still here');

    const d2 = deferredLoad();
    const a = new AbortController();
    const b = new AbortController();
    const x = cache.get('k2', d2.load, a.signal);
    const y = cache.get('k2', d2.load, b.signal);
    await tick();
    a.abort(new Error('a left'));
    b.abort(new Error('b left'));
    await expect(x).rejects.toThrow('a left');
    await expect(y).rejects.toThrow('b left');
    expect(d2.signal()!.aborted).toBe(true);
    expect(cache.stats().inflight).toBe(0);
  });
});

describe('parseCacheControl', () => {
  it('reads max-age, s-maxage, immutable and no-store', () => {
    expect(parseCacheControl('public, max-age=2')).toEqual({ maxAge: 2, noStore: false, immutable: false });
    expect(parseCacheControl('max-age=10, s-maxage=3')).toMatchObject({ maxAge: 3 });
    expect(parseCacheControl('Max-Age=31536000, Immutable')).toMatchObject({
      maxAge: 31536000,
      immutable: true,
    });
    expect(parseCacheControl('no-store')).toMatchObject({ noStore: true });
    expect(parseCacheControl('max-age=abc')).toEqual({ noStore: false, immutable: false });
  });
});

describe('parseEdgePath', () => {
  it('canonicalises the blocking query so spellings collapse to one key', () => {
    const a = parseEdgePath('s1', 'audio.m3u8', '_HLS_part=2&_HLS_msn=5');
    const b = parseEdgePath('s1', 'audio.m3u8', '_HLS_msn=005&_HLS_part=2&utm=x');
    expect(a).toEqual({ ok: true, id: 's1', file: 'audio.m3u8', query: '?_HLS_msn=5&_HLS_part=2' });
    expect(b).toEqual(a);
    expect(parseEdgePath('s1', 'part/5.2.m4s', 'cachebust=1')).toMatchObject({ ok: true, query: '' });
  });

  it('rejects bad ids, files and parameters', () => {
    const code = (id: string, file: string, q = '') => {
      const r = parseEdgePath(id, file, q);
      return r.ok ? 'OK' : r.error.code;
    };
    expect(code('..', '../etc/passwd')).toBe('BAD_REQUEST');
    expect(code('a'.repeat(65), 'audio.m3u8')).toBe('BAD_REQUEST');
    expect(code('abc', 'evil.txt')).toBe('NOT_FOUND');
    expect(code('abc', 'seg/../init.mp4')).toBe('NOT_FOUND');
    expect(code('abc', 'part/5.m4s')).toBe('NOT_FOUND');
    expect(code('abc', 'audio.m3u8', '_HLS_msn=abc')).toBe('HLS_BAD_BLOCKING_REQUEST');
    expect(code('abc', 'audio.m3u8', '_HLS_msn=-1')).toBe('HLS_BAD_BLOCKING_REQUEST');
    expect(code('abc', 'audio.m3u8', '_HLS_part=1')).toBe('HLS_BAD_BLOCKING_REQUEST');
    expect(code('abc', 'audio.m3u8', '_HLS_msn=1&_HLS_msn=2')).toBe('HLS_BAD_BLOCKING_REQUEST');
    expect(code('abc', 'init.mp4', '_HLS_msn=1')).toBe('BAD_REQUEST');
    expect(code('abc', 'seg/12.m4s')).toBe('OK');
  });
});
