/**
 * Brownout: under overload the edge sheds work in a fixed order, audio last (never).
 *
 *   tier 1  clip creation, reaction posts, the listener sample in live reports
 *   tier 2  slower state-document updates (one new version per Space every 3 s at most)
 *   tier 3  new joins go to the waiting room (admitted listeners keep playing)
 *   never   admitted listeners' audio
 *
 * The load is the edge's event-loop utilisation (the share of time its one thread was busy),
 * smoothed. As in Netflix's prioritised load shedding, a cubic curve places the thresholds: the
 * least important work goes early, the most important only near saturation:
 *   threshold(p) = 0.75 + 0.20 · (p / 3)^3   →   tier 1 at 0.76, tier 2 at 0.81, tier 3 at 0.95.
 * A tier is entered when the load has stayed at or over its threshold for 3 s (a burst of work is
 * not an overload), and left when the load has stayed 0.1 below it for 5 s (no flapping). An
 * operator may force a floor (a drill, or shedding ahead of a known crowd).
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { BrownoutTier } from './types.js';

export const TIER_THRESHOLDS: readonly number[] = [1, 2, 3].map((p) => 0.75 + 0.2 * (p / 3) ** 3);
const HYSTERESIS = 0.1;
/** Load over a threshold this long raises the tier. */
const RISE_MS = 2000;
/** Load under a threshold (minus the hysteresis) this long lowers it. */
const HOLD_MS = 5000;
/** Weight of the newest sample in the smoothed load. */
const ALPHA = 0.5;

export interface BrownoutOptions {
  /** The load sample (0..1) since the previous call. Default: event-loop utilisation. */
  sample?: () => number;
  /** False: the load is measured but only the operator's floor sets the tier. Default true. */
  auto?: boolean;
}

export class Brownout {
  /** Smoothed load, 0..1. */
  load = 0;
  /** The operator's floor. */
  floor: BrownoutTier = 0;
  private loadTier: BrownoutTier = 0;
  private belowSince = Number.NaN;
  private aboveSince = Number.NaN;
  private readonly sample: () => number;
  private readonly auto: boolean;

  constructor(opts: BrownoutOptions = {}) {
    this.auto = opts.auto ?? true;
    let prev: EventLoopUtilization | undefined;
    this.sample =
      opts.sample ??
      (() => {
        const cur = performance.eventLoopUtilization();
        const d = prev ? performance.eventLoopUtilization(cur, prev) : cur;
        prev = cur;
        return d.utilization;
      });
  }

  get tier(): BrownoutTier {
    return (this.loadTier > this.floor ? this.loadTier : this.floor) as BrownoutTier;
  }

  /** Samples the load (about once a second) and moves the tier. Returns the tier in force. */
  tick(nowMs: number): BrownoutTier {
    const s = Math.min(1, Math.max(0, this.sample()));
    this.load = this.load === 0 ? s : ALPHA * s + (1 - ALPHA) * this.load;
    if (!this.auto) return this.tier;
    const rising = this.loadTier < 3 && this.load >= TIER_THRESHOLDS[this.loadTier]!;
    if (rising) {
      this.belowSince = Number.NaN;
      if (Number.isNaN(this.aboveSince)) this.aboveSince = nowMs;
      else if (nowMs - this.aboveSince >= RISE_MS) {
        this.loadTier = (this.loadTier + 1) as BrownoutTier;
        this.aboveSince = Number.NaN;
      }
      return this.tier;
    }
    this.aboveSince = Number.NaN;
    if (this.loadTier > 0 && this.load < TIER_THRESHOLDS[this.loadTier - 1]! - HYSTERESIS) {
      if (Number.isNaN(this.belowSince)) this.belowSince = nowMs;
      else if (nowMs - this.belowSince >= HOLD_MS) {
        this.loadTier = (this.loadTier - 1) as BrownoutTier;
        this.belowSince = Number.NaN;
      }
    } else this.belowSince = Number.NaN;
    return this.tier;
  }

  /** Work of tier `t` is shed now. */
  sheds(t: 1 | 2 | 3): boolean {
    return this.tier >= t;
  }
}

/**
 * Tier-1 requests the edge's server refuses (503 BROWNOUT) before any work: reaction posts and
 * clip creation. Cheap: only POSTs are looked at.
 */
export function isTier1Post(method: string | undefined, url: string | undefined): boolean {
  if (method !== 'POST' || !url) return false;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return (
    (path.startsWith('/hls/spaces/') && path.endsWith('/reactions')) ||
    (path.startsWith('/api/spaces/') && path.endsWith('/clips'))
  );
}
