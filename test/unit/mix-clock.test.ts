import { afterEach, describe, expect, it, vi } from 'vitest';
import { FrameClock } from '../../src/mix/clock.js';

/** Deterministic virtual time: timers fire in order as time advances; a tick may "block" by moving time. */
class VirtualTime {
  t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  readonly now = (): number => this.t;
  readonly setTimeout = (fn: () => void, ms: number): number => {
    const id = ++this.seq;
    // Like Node: a little late (timer granularity), never early.
    this.timers.set(id, { at: this.t + Math.max(1, ms) + 0.3, fn });
    return id;
  };
  readonly clearTimeout = (h: unknown): void => {
    this.timers.delete(h as number);
  };
  get pending(): number {
    return this.timers.size;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, tm] of this.timers) if (tm.at < nextAt) [nextId, nextAt] = [id, tm.at];
      if (nextId < 0 || nextAt > end) break;
      const tm = this.timers.get(nextId)!;
      this.timers.delete(nextId);
      this.t = Math.max(this.t, tm.at);
      tm.fn();
    }
    this.t = Math.max(this.t, end);
  }
}

function makeClock(vt: VirtualTime, onTick: (k: number) => void, maxCatchUpTicks = 5): FrameClock {
  return new FrameClock({
    onTick,
    maxCatchUpTicks,
    now: vt.now,
    setTimeout: vt.setTimeout,
    clearTimeout: vt.clearTimeout,
  });
}

describe('FrameClock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ticks every 20 ms against absolute deadlines without drift', () => {
    const vt = new VirtualTime();
    const at: number[] = [];
    const clock = makeClock(vt, () => at.push(vt.t));
    clock.start();
    vt.advance(10_002);
    expect(clock.ticks).toBe(500);
    // Every tick fires within ~1.3 ms after its deadline (the 0.3 ms timer lateness never accumulates).
    at.forEach((t, i) => {
      expect(t).toBeGreaterThanOrEqual((i + 1) * 20);
      expect(t).toBeLessThan((i + 1) * 20 + 1.5);
    });
    expect(clock.lateTicks).toBe(0);
    expect(clock.skippedTicks).toBe(0);
    clock.stop();
  });

  it('catches up missed ticks back-to-back after a short stall', () => {
    const vt = new VirtualTime();
    const idx: number[] = [];
    const at: number[] = [];
    const clock = makeClock(vt, (k) => {
      idx.push(k);
      at[k] = vt.t;
      if (k === 10) vt.t += 65; // the event loop was blocked for 65 ms during tick 10
    });
    clock.start();
    vt.advance(1002);
    expect(idx).toEqual(Array.from({ length: 50 }, (_, i) => i + 1)); // nothing skipped, order kept
    expect(clock.ticks).toBe(50);
    // Ticks 11-13 (due 220, 240, 260) run back-to-back right after the stall ends (~266 ms);
    // 11 and 12 are more than half a period late.
    expect(at[11]).toBe(at[13]);
    expect(at[14]).toBeGreaterThanOrEqual(280);
    expect(clock.lateTicks).toBe(2);
    expect(clock.skippedTicks).toBe(0);
    clock.stop();
  });

  it('skips ahead when too far behind and counts it', () => {
    const vt = new VirtualTime();
    const idx: number[] = [];
    const clock = makeClock(
      vt,
      (k) => {
        idx.push(k);
        if (k === 5) vt.t += 500; // 25 periods lost
      },
      4,
    );
    clock.start();
    vt.advance(1002);
    expect(clock.skippedTicks).toBeGreaterThan(15);
    expect(clock.ticks + clock.skippedTicks).toBe(50); // the deadline grid is preserved
    expect(idx[idx.length - 1]).toBe(50);
    for (let i = 1; i < idx.length; i++) expect(idx[i]).toBeGreaterThan(idx[i - 1]);
    clock.stop();
  });

  it('stop() is idempotent, works inside onTick and leaves no timer', () => {
    const vt = new VirtualTime();
    const clock = makeClock(vt, (k) => {
      if (k === 3) clock.stop();
    });
    clock.start();
    clock.start(); // no second timer
    expect(vt.pending).toBe(1);
    vt.advance(200);
    expect(clock.ticks).toBe(3);
    expect(clock.isRunning).toBe(false);
    expect(vt.pending).toBe(0);
    clock.stop();
    clock.stop();
    expect(vt.pending).toBe(0);
    // Stopping mid catch-up: no further ticks run.
    const vt2 = new VirtualTime();
    const c2 = makeClock(vt2, (k) => {
      if (k === 1) vt2.t += 100;
      if (k === 2) c2.stop();
    });
    c2.start();
    vt2.advance(500);
    expect(c2.ticks).toBe(2);
    expect(vt2.pending).toBe(0);
  });

  it('keeps running when onTick throws', () => {
    const vt = new VirtualTime();
    const errors: unknown[] = [];
    const clock = new FrameClock({
      onTick: (k) => {
        if (k % 2) throw new Error(`boom ${k}`);
      },
      onError: (e) => errors.push(e),
      now: vt.now,
      setTimeout: vt.setTimeout,
      clearTimeout: vt.clearTimeout,
    });
    clock.start();
    vt.advance(102);
    expect(clock.ticks).toBe(5);
    expect(clock.errors).toBe(3);
    expect(errors).toHaveLength(3);
    clock.stop();
  });

  it('works with the global setTimeout (vitest fake timers)', () => {
    vi.useFakeTimers();
    const clock = new FrameClock({ onTick: () => {}, now: () => Date.now() });
    clock.start();
    vi.advanceTimersByTime(1000);
    expect(clock.ticks).toBe(50);
    clock.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
