import { describe, expect, it } from 'vitest';
import {
  arrivalRate,
  arrivalTimes,
  arrivalWindowMs,
  checkProfile,
  MAX_LISTENERS,
  MAX_RATE,
  RehearsalBoundsError,
  shareOf,
} from '../../src/ops/rehearse/profiles.js';

describe('rehearsal arrival profiles', () => {
  it('a ramp spreads N listeners evenly over T seconds', () => {
    const t = arrivalTimes({ profile: 'ramp', listeners: 100, overSeconds: 10 });
    expect(t.length).toBe(100);
    expect(t[0]).toBe(0);
    expect(t[1]).toBe(100);
    expect(t[50]).toBe(5000);
    expect(t[99]).toBe(9900);
    for (let i = 1; i < t.length; i++) expect(t[i]).toBeGreaterThanOrEqual(t[i - 1]);
    expect(arrivalRate({ profile: 'ramp', listeners: 100, overSeconds: 10 })).toBe(10);
  });

  it('20,000 arrivals within 2 s is a ramp of 10,000/s', () => {
    const p = { profile: 'ramp' as const, listeners: 20_000, overSeconds: 2 };
    expect(arrivalWindowMs(p)).toBeLessThan(2000);
    expect(arrivalRate(p)).toBe(10_000);
  });

  it('a step releases everyone at once, at the bounded rate', () => {
    const small = arrivalTimes({ profile: 'step', listeners: 50, overSeconds: 0 });
    expect(Math.max(...small)).toBe(0);
    const big = arrivalTimes({ profile: 'step', listeners: 200_000, overSeconds: 0 });
    // 100,000 per second at most: 200,000 take about 2 s
    expect(big[big.length - 1]).toBeGreaterThanOrEqual(1990);
    expect(big[big.length - 1]).toBeLessThanOrEqual(2000);
    expect(big[100_000]).toBe(1000);
  });

  it('a lobby arrives like a ramp (or a step with 0 s) and then waits', () => {
    expect(arrivalTimes({ profile: 'lobby', listeners: 10, overSeconds: 1 })[9]).toBe(900);
    expect(Math.max(...arrivalTimes({ profile: 'lobby', listeners: 10, overSeconds: 0 }))).toBe(0);
  });

  it('refuses what is out of bounds', () => {
    const bad = [
      { profile: 'ramp', listeners: MAX_LISTENERS + 1, overSeconds: 100 },
      { profile: 'ramp', listeners: 0, overSeconds: 10 },
      { profile: 'ramp', listeners: 1.5, overSeconds: 10 },
      { profile: 'ramp', listeners: 1_000_000, overSeconds: 5 }, // 200,000/s
      { profile: 'ramp', listeners: 10, overSeconds: 3601 },
      { profile: 'ramp', listeners: 10, overSeconds: 0 },
      { profile: 'ramp', listeners: 10, overSeconds: -1 },
      { profile: 'ramp', listeners: 10, overSeconds: NaN },
      { profile: 'surge', listeners: 10, overSeconds: 1 },
    ];
    for (const p of bad)
      expect(() => checkProfile(p as Parameters<typeof checkProfile>[0]), JSON.stringify(p)).toThrow(
        RehearsalBoundsError,
      );
    expect(() => checkProfile({ profile: 'ramp', listeners: 1_000_000, overSeconds: 10 })).not.toThrow();
    expect(arrivalRate({ profile: 'step', listeners: 1_000_000, overSeconds: 0 })).toBe(MAX_RATE);
  });

  it('shares the crowd between workers, each spread over the whole profile', () => {
    const t = arrivalTimes({ profile: 'ramp', listeners: 10, overSeconds: 1 });
    const a = shareOf(t, 0, 3);
    const b = shareOf(t, 1, 3);
    const c = shareOf(t, 2, 3);
    expect(a.index).toEqual([0, 3, 6, 9]);
    expect(b.index).toEqual([1, 4, 7]);
    expect(c.at).toEqual([200, 500, 800]);
    expect(a.index.length + b.index.length + c.index.length).toBe(10);
  });
});
