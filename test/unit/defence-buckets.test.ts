import { describe, expect, it } from 'vitest';
import { BucketTable } from '../../src/edge/defence/buckets.js';
import { Brownout, isTier1Post, TIER_THRESHOLDS } from '../../src/edge/defence/brownout.js';

describe('BucketTable (per-address token buckets in a fixed table)', () => {
  it('lets a burst through, then refuses until the bucket refills at its rate', () => {
    const b = new BucketTable({ ratePerSec: 10, burst: 20 });
    let t = 1_000_000;
    let ok = 0;
    for (let i = 0; i < 100; i++) if (b.take('10.0.0.1', t)) ok++;
    expect(ok).toBe(20);
    expect(b.refused).toBe(80);
    t += 500; // 5 tokens back
    ok = 0;
    for (let i = 0; i < 10; i++) if (b.take('10.0.0.1', t)) ok++;
    expect(ok).toBe(5);
    // Refill never exceeds the burst.
    t += 60_000;
    ok = 0;
    for (let i = 0; i < 50; i++) if (b.take('10.0.0.1', t)) ok++;
    expect(ok).toBe(20);
  });

  it('keeps addresses apart (a flood from one does not drain another)', () => {
    const b = new BucketTable({ ratePerSec: 1, burst: 5 });
    for (let i = 0; i < 1000; i++) b.take('203.0.113.9', 5000);
    expect(b.take('198.51.100.7', 5000)).toBe(true);
    expect(b.take('203.0.113.9', 5000)).toBe(false);
  });

  it('holds a million distinct addresses in the same memory (no growth), limits still apply', () => {
    const b = new BucketTable({ ratePerSec: 1, burst: 2 }, 12);
    for (let i = 0; i < 1_000_000; i++) b.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 1000);
    // 4,096 slots shared: most addresses now find their slot drained by others (stricter, never looser).
    expect(b.refused).toBeGreaterThan(900_000);
  });

  it("says how drained a bucket is (the proof of work's risk score)", () => {
    const b = new BucketTable({ ratePerSec: 10, burst: 100 });
    expect(b.drained('10.0.0.9', 1000)).toBe(0);
    for (let i = 0; i < 75; i++) b.take('10.0.0.9', 1000);
    expect(b.drained('10.0.0.9', 1000)).toBeCloseTo(0.75, 5);
    expect(b.drained('10.0.0.9', 6000)).toBeCloseTo(0.25, 5); // 50 tokens back in 5 s
    expect(b.drained('10.0.0.10', 6000)).toBe(0);
    expect(new BucketTable({ ratePerSec: 0, burst: 1 }).drained('x', 1)).toBe(0);
  });

  it('rate 0 turns it off; bad limits are refused', () => {
    const b = new BucketTable({ ratePerSec: 0, burst: 1 });
    for (let i = 0; i < 10_000; i++) expect(b.take('x', 1)).toBe(true);
    expect(() => new BucketTable({ ratePerSec: -1, burst: 1 })).toThrow(RangeError);
    expect(() => new BucketTable({ ratePerSec: 5, burst: 0 })).toThrow(RangeError);
    expect(new BucketTable({ ratePerSec: 0.5, burst: 1 }).retryAfterSec).toBe(2);
  });
});

describe('Brownout tiers', () => {
  const feed = (values: number[]) => {
    let i = 0;
    return () => values[Math.min(i++, values.length - 1)]!;
  };

  it('places thresholds on a cubic curve: low priorities shed early, joins only near saturation', () => {
    expect(TIER_THRESHOLDS.length).toBe(3);
    expect(TIER_THRESHOLDS[0]).toBeCloseTo(0.757, 2);
    expect(TIER_THRESHOLDS[2]).toBeCloseTo(0.95, 2);
    expect(TIER_THRESHOLDS[1]! - TIER_THRESHOLDS[0]!).toBeLessThan(TIER_THRESHOLDS[2]! - TIER_THRESHOLDS[1]!);
  });

  it('a burst of work is not an overload: a tier needs 2 s over its threshold, one tier at a time', () => {
    const burst = new Brownout({ sample: feed([1, 0.2, 1, 0.2, 1, 0.2, 1, 0.2]) });
    for (let t = 0; t < 8000; t += 1000) expect(burst.tick(t)).toBe(0);
    const b = new Brownout({ sample: () => 1 });
    const tiers: number[] = [];
    for (let t = 0; t <= 8000; t += 1000) tiers.push(b.tick(t));
    expect(tiers).toEqual([0, 0, 1, 1, 1, 2, 2, 2, 3]);
  });

  it('goes down one tier per 5 s of low load, never flapping on one low sample', () => {
    const samples = [...Array<number>(10).fill(1), 0, 1, ...Array<number>(20).fill(0)];
    const b = new Brownout({ sample: feed(samples) });
    let t = 0;
    for (let i = 0; i < 10; i++) b.tick((t += 1000));
    expect(b.tier).toBe(3);
    b.tick((t += 1000)); // one low sample: smoothed 0.5, under tier-3 threshold − 0.1
    b.tick((t += 1000)); // high again
    expect(b.tier).toBe(3);
    const seen: number[] = [];
    for (let i = 0; i < 16; i++) seen.push(b.tick((t += 1000)));
    expect(seen[0]).toBe(3);
    expect(seen.at(-1)).toBeLessThan(2);
    // One tier at a time, each held at least 5 s.
    for (let i = 1; i < seen.length; i++) expect(seen[i - 1]! - seen[i]!).toBeLessThanOrEqual(1);
    const changes = seen.map((v, i) => (i > 0 && v !== seen[i - 1] ? i : -1)).filter((i) => i > 0);
    for (let i = 1; i < changes.length; i++) expect(changes[i]! - changes[i - 1]!).toBeGreaterThanOrEqual(5);
  });

  it('with automatic brownout off, only the operator floor sets the tier (the load is still measured)', () => {
    const b = new Brownout({ sample: () => 1, auto: false });
    for (let t = 0; t < 10_000; t += 1000) expect(b.tick(t)).toBe(0);
    expect(b.load).toBe(1);
    b.floor = 2;
    expect(b.tick(10_000)).toBe(2);
  });

  it('an operator floor raises the tier whatever the load', () => {
    const b = new Brownout({ sample: () => 0 });
    b.floor = 2;
    expect(b.tick(0)).toBe(2);
    expect(b.sheds(1)).toBe(true);
    expect(b.sheds(3)).toBe(false);
  });

  it('tier 1 sheds reaction posts and clip creation only', () => {
    expect(isTier1Post('POST', '/hls/spaces/abc/reactions')).toBe(true);
    expect(isTier1Post('POST', '/api/spaces/abc/clips')).toBe(true);
    expect(isTier1Post('GET', '/api/spaces/abc/clips')).toBe(false);
    expect(isTier1Post('POST', '/hls/spaces/abc/leave')).toBe(false);
    expect(isTier1Post('POST', '/api/spaces')).toBe(false);
  });
});
