/** Edge side of reactions: a per-Space tally drained by the reporter, and a per-key rate limit. */
import type { ReactionCounts, ReactionEmoji } from './types.js';

/** Reactions received since the last drain, per Space. Bounded in Spaces. */
export class ReactionTally {
  /** Reactions refused because `maxSpaces` Spaces were already pending. */
  refused = 0;
  private pending = new Map<string, ReactionCounts>();

  constructor(private readonly maxSpaces = 100_000) {}

  add(spaceId: string, emoji: ReactionEmoji, n = 1): boolean {
    let counts = this.pending.get(spaceId);
    if (!counts) {
      if (this.pending.size >= this.maxSpaces) {
        this.refused += n;
        return false;
      }
      this.pending.set(spaceId, (counts = {}));
    }
    counts[emoji] = (counts[emoji] ?? 0) + n;
    return true;
  }

  /** Everything tallied so far; the tally starts empty again. */
  drain(): Map<string, ReactionCounts> {
    const out = this.pending;
    this.pending = new Map();
    return out;
  }

  /** Spaces with pending reactions. */
  get size(): number {
    return this.pending.size;
  }
}

export interface RateLimitDecision {
  ok: boolean;
  /** When refused: milliseconds until the key may try again. */
  retryAfterMs: number;
}

/**
 * Fixed-window limiter: at most `max` takes per key per `windowMs` from the key's first take.
 * Keys live in a Map in window-start order, so expired windows are dropped from the front as new
 * ones come (O(1) amortised); at most `maxKeys` keys (the oldest window goes first).
 */
export class WindowRateLimiter {
  private readonly windows = new Map<string, { start: number; n: number }>();

  constructor(
    readonly max: number,
    readonly windowMs: number,
    private readonly maxKeys = 200_000,
  ) {}

  take(key: string, nowMs: number): RateLimitDecision {
    this.expire(nowMs);
    let w = this.windows.get(key);
    if (w && nowMs - w.start >= this.windowMs) {
      this.windows.delete(key);
      w = undefined;
    }
    if (!w) {
      if (this.windows.size >= this.maxKeys) {
        const oldest = this.windows.keys().next();
        if (!oldest.done) this.windows.delete(oldest.value);
      }
      this.windows.set(key, { start: nowMs, n: 1 });
      return { ok: true, retryAfterMs: 0 };
    }
    if (w.n >= this.max) return { ok: false, retryAfterMs: Math.max(1, w.start + this.windowMs - nowMs) };
    w.n++;
    return { ok: true, retryAfterMs: 0 };
  }

  get size(): number {
    return this.windows.size;
  }

  private expire(nowMs: number): void {
    for (const [k, w] of this.windows) {
      if (nowMs - w.start < this.windowMs) break;
      this.windows.delete(k);
    }
  }
}
