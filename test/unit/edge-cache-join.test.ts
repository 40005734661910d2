import { describe, expect, it } from 'vitest';
import { EdgeCache, type CacheInput, type CacheResult } from '../../src/edge/cache.js';

const body = (s: string): CacheInput => ({ status: 200, cacheControl: 'max-age=10', body: Buffer.from(s) });

describe('EdgeCache.join (callbacks, no Promise per waiter)', () => {
  it('shares one load among joiners: MISS for the first, COLLAPSED for the rest, then HIT at once', async () => {
    const cache = new EdgeCache({ maxBytes: 1 << 20 });
    let loads = 0;
    let release!: (v: CacheInput) => void;
    const load = () => {
      loads++;
      return new Promise<CacheInput>((r) => (release = r));
    };
    const got: CacheResult[] = [];
    for (let i = 0; i < 3; i++) cache.join('k', load, (err, r) => (err ? undefined : got.push(r!)));
    expect(loads).toBe(1);
    release(body('x'));
    await new Promise((r) => setImmediate(r));
    expect(got.map((r) => r.outcome)).toEqual(['MISS', 'COLLAPSED', 'COLLAPSED']);
    expect(new Set(got.map((r) => r.entry)).size).toBe(1);
    let sync: CacheResult | undefined;
    cache.join('k', load, (_e, r) => (sync = r));
    expect(sync?.outcome).toBe('HIT'); // answered before join returned
  });

  it('a joiner that leaves is never called; the load is cancelled when the last one leaves', async () => {
    const cache = new EdgeCache({ maxBytes: 1 << 20 });
    let aborted = false;
    const load = (signal: AbortSignal) =>
      new Promise<CacheInput>((_r, reject) =>
        signal.addEventListener('abort', () => {
          aborted = true;
          reject(new Error('aborted'));
        }),
      );
    const calls: string[] = [];
    const leaveA = cache.join('k', load, () => calls.push('a'));
    const leaveB = cache.join('k', load, () => calls.push('b'));
    leaveA();
    expect(aborted).toBe(false);
    leaveB();
    expect(aborted).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual([]);
    expect(cache.stats().inflight).toBe(0);
  });

  it('passes a load failure to every joiner', async () => {
    const cache = new EdgeCache({ maxBytes: 1 << 20 });
    const errs: unknown[] = [];
    const load = () => Promise.reject(new Error('origin down'));
    cache.join('k', load, (err) => errs.push(err));
    cache.join('k', load, (err) => errs.push(err));
    await new Promise((r) => setImmediate(r));
    expect(errs.map((e) => (e as Error).message)).toEqual(['origin down', 'origin down']);
  });
});
