/**
 * Slows down password guessing. Failed sign-ins are counted per handle and per client address;
 * after `freeFailures` failures (each within `windowMs` of the previous one or of the end of the
 * last lock-out) further attempts on that key are refused until a lock-out expires. The lock-out starts at `baseDelayMs` and doubles
 * with every further failure, up to `maxDelayMs`. A successful sign-in clears the handle's counter
 * (never the address's: an attacker with an account of their own must not be able to reset it).
 *
 * Attempts in flight count against the limit too, so a burst of parallel guesses cannot slip past
 * the check before the first failures are recorded.
 *
 * In memory and bounded: at most `maxKeys` keys, least recently used dropped first.
 */

export interface SigninThrottleOptions {
  now?: () => number;
  /** Failures allowed before attempts are refused. Default 5. */
  freeFailures?: number;
  /** Failures count while each comes within this long of the previous one. Default 15 min. */
  windowMs?: number;
  /** First lock-out. Default 2 s. */
  baseDelayMs?: number;
  /** Longest lock-out. Default 15 min. */
  maxDelayMs?: number;
  /** Keys (handles + addresses) kept at most. Default 100,000. */
  maxKeys?: number;
}

export type SigninAttemptOutcome = 'failure' | 'success' | 'aborted';

/** One sign-in attempt that passed the throttle; report how it ended exactly once (later calls are ignored). */
export interface SigninAttempt {
  fail(): void;
  succeed(): void;
  /** The attempt ended without checking the password (e.g. a storage error): frees its slot. */
  release(): void;
}

export type SigninCheck = { ok: true; attempt: SigninAttempt } | { ok: false; retryAfterSec: number };

interface Entry {
  failures: number;
  lastFailureAt: number;
  lockedUntil: number;
  pending: number;
}

export class SigninThrottle {
  private readonly now: () => number;
  private readonly freeFailures: number;
  private readonly windowMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxKeys: number;
  /** Insertion order is recency order (touched keys are re-inserted): the first key is the LRU one. */
  private readonly entries = new Map<string, Entry>();

  constructor(opts: SigninThrottleOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.freeFailures = opts.freeFailures ?? 5;
    this.windowMs = opts.windowMs ?? 15 * 60_000;
    this.baseDelayMs = opts.baseDelayMs ?? 2_000;
    this.maxDelayMs = opts.maxDelayMs ?? 15 * 60_000;
    this.maxKeys = Math.max(2, opts.maxKeys ?? 100_000);
  }

  /** Keys currently tracked. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Asks to try a password for `handle` from `address`. Refused (with the seconds to wait) while
   * either key is locked out; otherwise the attempt is registered and must be ended.
   */
  begin(handle: string, address: string): SigninCheck {
    const keys = [handleKey(handle), addressKey(address)] as const;
    const now = this.now();
    let wait = 0;
    for (const key of keys) wait = Math.max(wait, this.waitMs(this.fresh(key, now), now));
    if (wait > 0) return { ok: false, retryAfterSec: Math.max(1, Math.ceil(wait / 1000)) };
    for (const key of keys) this.touch(key, now).pending++;
    let done = false;
    const end = (outcome: SigninAttemptOutcome): void => {
      if (done) return;
      done = true;
      const at = this.now();
      for (const key of keys) {
        const e = this.touch(key, at);
        e.pending = Math.max(0, e.pending - 1);
        if (outcome === 'failure') this.recordFailure(e, at);
      }
      if (outcome === 'success') this.entries.delete(keys[0]);
      for (const key of keys) this.dropIfEmpty(key);
    };
    return {
      ok: true,
      attempt: {
        fail: () => end('failure'),
        succeed: () => end('success'),
        release: () => end('aborted'),
      },
    };
  }

  /** Seconds until `handle` from `address` may try again; 0 when it may now. Changes nothing. */
  retryAfterSec(handle: string, address: string): number {
    const now = this.now();
    let wait = 0;
    for (const key of [handleKey(handle), addressKey(address)]) {
      const e = this.entries.get(key);
      if (e) wait = Math.max(wait, this.waitMs(this.expired(e, now) ? undefined : e, now));
    }
    return wait > 0 ? Math.max(1, Math.ceil(wait / 1000)) : 0;
  }

  private waitMs(e: Entry | undefined, now: number): number {
    if (!e) return 0;
    if (e.lockedUntil > now) return e.lockedUntil - now;
    // Attempts in flight hold their slots: below the limit while failures + pending fit in it,
    // and one at a time once the limit is reached.
    const busy = e.failures < this.freeFailures ? e.failures + e.pending >= this.freeFailures : e.pending > 0;
    return busy ? 1000 : 0;
  }

  private recordFailure(e: Entry, now: number): void {
    if (this.quiet(e, now)) e.failures = 0;
    e.failures++;
    e.lastFailureAt = now;
    if (e.failures >= this.freeFailures) {
      const doublings = e.failures - this.freeFailures;
      const delay =
        doublings >= 40 ? this.maxDelayMs : Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** doublings);
      e.lockedUntil = now + delay;
    }
  }

  /** No lock-out running, and none and no failure within the window: the failures are forgotten. */
  private quiet(e: Entry, now: number): boolean {
    return e.lockedUntil <= now && now - Math.max(e.lastFailureAt, e.lockedUntil) >= this.windowMs;
  }

  /** An entry with nothing left to remember (no recent failures, no lock, nothing in flight). */
  private expired(e: Entry, now: number): boolean {
    return e.pending === 0 && (e.failures === 0 || this.quiet(e, now));
  }

  /** The entry for a key, forgetting it first when it has expired. */
  private fresh(key: string, now: number): Entry | undefined {
    const e = this.entries.get(key);
    if (e && this.expired(e, now)) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  /** The entry for a key (created if needed), marked most recently used; evicts beyond maxKeys. */
  private touch(key: string, now: number): Entry {
    let e = this.fresh(key, now);
    if (e) this.entries.delete(key);
    else e = { failures: 0, lastFailureAt: 0, lockedUntil: 0, pending: 0 };
    this.entries.set(key, e);
    // Sweep a few expired entries from the old end, then enforce the cap.
    for (let i = 0; i < 2; i++) {
      const oldest = this.entries.entries().next().value;
      if (!oldest || oldest[0] === key || !this.expired(oldest[1], now)) break;
      this.entries.delete(oldest[0]);
    }
    while (this.entries.size > this.maxKeys) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return e;
  }

  private dropIfEmpty(key: string): void {
    const e = this.entries.get(key);
    if (e && e.pending === 0 && e.failures === 0 && e.lockedUntil === 0) this.entries.delete(key);
  }
}

function handleKey(handle: string): string {
  return `h:${handle.toLowerCase()}`;
}

function addressKey(address: string): string {
  return `a:${address}`;
}
