/**
 * Admission policy of one edge, pure and clock-driven (the edge and the capacity model's
 * discrete-event simulation run this same code): a bakery queue in counters only.
 *
 * - `maxListeners` concurrent listeners and `joinsPerSec` new ones per second (a token bucket
 *   holding one second's worth) are admitted at once while nobody waits.
 * - Past either limit a newcomer gets the next number (`issued`). Numbers up to `serving` are
 *   eligible; `serving` advances in arrival order as places free up, as the limits are raised, and
 *   as the join bucket refills. Each advance reserves its places for `claimWindowMs`; a place nobody
 *   claims in that time is given to the next number (an abandoned ticket cannot block the queue).
 * - Position = number - serving: it never goes up. The estimated wait divides it by the rate the
 *   queue actually moved over the last `rateWindowMs` (no movement: `null`, "unknown", rather than
 *   a number that grows). Clients are told when to ask again: sooner near the front, later far back,
 *   spread by ±20% jitter so a queue never polls in step.
 *
 * State: a handful of numbers plus one small record per advance still inside its claim window;
 * nothing per waiting person (tickets are signed and held by the clients).
 */

export interface AdmissionLimits {
  /** Concurrent listeners this edge admits. */
  maxListeners: number;
  /** New listeners admitted per second (burst: one second's worth). */
  joinsPerSec: number;
}

export interface AdmissionControllerOptions {
  limits: AdmissionLimits;
  now?: () => number;
  /** Uniform [0, 1) source for jitter (tests and the simulation pass a seeded one). */
  random?: () => number;
  /** How long places opened for eligible numbers wait for their claim. Default 15 s. */
  claimWindowMs?: number;
  /** Window over which the queue's speed is measured. Default 10 s. */
  rateWindowMs?: number;
  /** Poll interval bounds given to waiting clients. Defaults 1 s and 10 s. */
  minRetryMs?: number;
  maxRetryMs?: number;
}

export type ArriveResult = { admitted: true } | { admitted: false; n: number };

export type PollResult =
  | { admitted: true }
  | {
      admitted: false;
      /** 1 = next in line. Never larger than at any earlier poll of the same number. */
      position: number;
      /** Estimated wait from the queue's measured speed; null when it has not moved lately. */
      waitMs: number | null;
      /** Ask again after this long (jittered). */
      retryInMs: number;
    };

export interface AdmissionStats {
  active: number;
  reserved: number;
  /** Numbers handed out so far. */
  issued: number;
  /** Numbers up to this one are eligible. */
  serving: number;
  /** Numbers handed out and not yet eligible. */
  waiting: number;
  /** Admitted in total (at once and from the queue). */
  admitted: number;
  /** Places opened for numbers whose holders never came back within the claim window. */
  abandoned: number;
  /** Queue speed over the rate window (numbers made eligible per second). */
  queueRatePerSec: number;
  limits: AdmissionLimits;
}

interface Batch {
  /** Last number of the advance; the batch covers (previous batch's `to`, to]. */
  to: number;
  until: number;
  unclaimed: number;
}

export class AdmissionController {
  private limits: AdmissionLimits;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly claimWindowMs: number;
  private readonly rateWindowMs: number;
  private readonly minRetryMs: number;
  private readonly maxRetryMs: number;

  private active = 0;
  private reserved = 0;
  /** Brownout tier 3: newcomers wait in the queue and the line does not move (places held stay). */
  private paused = false;
  private issued = 0;
  private serving = 0;
  private admittedTotal = 0;
  private abandoned = 0;
  private tokens: number;
  private refilledAt: number;
  /** Advances still in their claim window, oldest first, from `bHead` on (ascending `to`). */
  private batches: Batch[] = [];
  private bHead = 0;
  /** Last number of the newest batch whose claim window is over. */
  private expiredTo = 0;
  /** Recent advances in 100 ms buckets (start, count), from `mHead` on, and their sum. */
  private moves: { t: number; k: number }[] = [];
  private mHead = 0;
  private movesSum = 0;

  constructor(opts: AdmissionControllerOptions) {
    this.limits = checkLimits(opts.limits);
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.claimWindowMs = opts.claimWindowMs ?? 15_000;
    this.rateWindowMs = opts.rateWindowMs ?? 10_000;
    this.minRetryMs = opts.minRetryMs ?? 1000;
    this.maxRetryMs = opts.maxRetryMs ?? 10_000;
    this.tokens = this.limits.joinsPerSec;
    this.refilledAt = this.now();
  }

  /** A newcomer: admitted now (counted active), or given the next number. */
  arrive(): ArriveResult {
    this.advance();
    if (this.issued === this.serving && this.hasRoom() && this.tokens >= 1) {
      this.tokens -= 1;
      this.active++;
      this.admittedTotal++;
      return { admitted: true };
    }
    const n = ++this.issued;
    this.advance();
    return { admitted: false, n };
  }

  /** Whether a listener arriving now would be admitted at once (nobody waits, room, a join token). */
  wouldAdmit(): boolean {
    this.advance();
    return this.issued === this.serving && this.hasRoom() && this.tokens >= 1;
  }

  /**
   * Nobody waits and there is room, as of the last advance (no clock read: cheap enough for every
   * media request of a player that never asked for a place).
   */
  isOpen(): boolean {
    return this.issued === this.serving && this.hasRoom();
  }

  /** People wait, the edge is full, or joins are paused, as of the last advance (no clock read). */
  isBusy(): boolean {
    return (
      this.paused || this.issued > this.serving || this.active + this.reserved >= this.limits.maxListeners
    );
  }

  /** True when number `n` was handed out by this controller. */
  knows(n: number): boolean {
    return Number.isInteger(n) && n >= 1 && n <= this.issued;
  }

  /**
   * The holder of number `n` asks again: admitted (counted active) once eligible, else where they
   * stand. The caller makes sure a number is admitted once (it keeps the admission it gave).
   */
  poll(n: number): PollResult {
    this.advance();
    if (n <= this.serving) {
      const batch = this.batchOf(n);
      if (batch) {
        batch.unclaimed--;
        this.reserved--;
        this.active++;
        this.admittedTotal++;
        return { admitted: true };
      }
      // Came back after its claim window: first in line for the next free place and join token.
      if (this.hasRoom() && this.tokens >= 1) {
        this.tokens -= 1;
        this.active++;
        this.admittedTotal++;
        return { admitted: true };
      }
      return { admitted: false, position: 1, waitMs: this.waitFor(1), retryInMs: this.retryFor(1, null) };
    }
    const position = n - this.serving;
    const waitMs = this.waitFor(position);
    return { admitted: false, position, waitMs, retryInMs: this.retryFor(position, waitMs) };
  }

  /** An admitted listener is back after the edge forgot it (restart): counted again, no queue. */
  restore(): void {
    this.active++;
  }

  /** An admitted listener left (or its admission lapsed): its place is free. */
  left(): void {
    if (this.active > 0) this.active--;
    this.advance();
  }

  setLimits(limits: AdmissionLimits): void {
    this.limits = checkLimits(limits);
    this.tokens = Math.min(this.tokens, this.limits.joinsPerSec);
    this.advance();
  }

  getLimits(): AdmissionLimits {
    return { ...this.limits };
  }

  stats(): AdmissionStats {
    this.advance();
    return {
      active: this.active,
      reserved: this.reserved,
      issued: this.issued,
      serving: this.serving,
      waiting: this.issued - this.serving,
      admitted: this.admittedTotal,
      abandoned: this.abandoned,
      queueRatePerSec: this.queueRate(),
      limits: { ...this.limits },
    };
  }

  /** Moves the queue: expires unclaimed reservations, refills the join bucket, opens places in order. */
  advance(): void {
    const t = this.now();
    const elapsed = Math.max(0, t - this.refilledAt);
    this.refilledAt = t;
    this.tokens = Math.min(this.limits.joinsPerSec, this.tokens + (elapsed * this.limits.joinsPerSec) / 1000);
    while (this.bHead < this.batches.length && this.batches[this.bHead].until <= t) {
      const b = this.batches[this.bHead++];
      this.reserved -= b.unclaimed;
      this.abandoned += b.unclaimed;
      this.expiredTo = b.to;
    }
    if (this.bHead > 1024 && this.bHead * 2 > this.batches.length) {
      this.batches = this.batches.slice(this.bHead);
      this.bHead = 0;
    }
    if (this.paused) return;
    const free = this.limits.maxListeners - this.active - this.reserved;
    const k = Math.floor(Math.min(free, this.tokens, this.issued - this.serving));
    if (k <= 0) return;
    this.serving += k;
    this.tokens -= k;
    this.reserved += k;
    this.batches.push({ to: this.serving, until: t + this.claimWindowMs, unclaimed: k });
    const bucket = t - (t % 100);
    const last = this.moves[this.moves.length - 1];
    if (last && last.t === bucket && this.moves.length > this.mHead) last.k += k;
    else this.moves.push({ t: bucket, k });
    this.movesSum += k;
  }

  /** Brownout tier 3 on/off: while paused nobody new is admitted; the line moves again after. */
  setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = paused;
    if (!paused) this.advance();
  }

  private hasRoom(): boolean {
    if (this.paused) return false;
    return this.active + this.reserved < this.limits.maxListeners;
  }

  /** The live batch holding `n` with a place left, if any. */
  private batchOf(n: number): Batch | undefined {
    if (n <= this.expiredTo) return undefined;
    // The first live batch whose `to` reaches n (binary search: batches ascend).
    let lo = this.bHead;
    let hi = this.batches.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.batches[mid].to < n) lo = mid + 1;
      else hi = mid;
    }
    const b = this.batches[lo];
    return b && b.unclaimed > 0 ? b : undefined;
  }

  /**
   * Numbers made eligible per second: the moves of the last rate window over the time since the
   * first of them (at least 1 s), so a queue that just started moving is not read as slow.
   */
  private queueRate(): number {
    const t = this.now();
    while (this.mHead < this.moves.length && this.moves[this.mHead].t <= t - this.rateWindowMs)
      this.movesSum -= this.moves[this.mHead++].k;
    if (this.mHead > 1024 && this.mHead * 2 > this.moves.length) {
      this.moves = this.moves.slice(this.mHead);
      this.mHead = 0;
    }
    if (this.mHead >= this.moves.length) return 0;
    const span = Math.min(this.rateWindowMs, Math.max(1000, t - this.moves[this.mHead].t));
    return (this.movesSum * 1000) / span;
  }

  private waitFor(position: number): number | null {
    const rate = this.queueRate();
    if (rate <= 0) return null;
    return Math.round((position / rate) * 1000);
  }

  private retryFor(position: number, waitMs: number | null): number {
    const base =
      waitMs === null
        ? this.maxRetryMs / 2
        : Math.min(this.maxRetryMs, Math.max(this.minRetryMs, waitMs / 2));
    const near = waitMs !== null ? waitMs <= this.minRetryMs * 2 : position <= 1;
    const ms = near ? this.minRetryMs : base;
    return Math.round(ms * (0.8 + 0.4 * this.random()));
  }
}

function checkLimits(l: AdmissionLimits): AdmissionLimits {
  if (!Number.isFinite(l.maxListeners) || l.maxListeners < 0) throw new RangeError('maxListeners');
  if (!Number.isFinite(l.joinsPerSec) || l.joinsPerSec <= 0) throw new RangeError('joinsPerSec');
  return { maxListeners: Math.floor(l.maxListeners), joinsPerSec: l.joinsPerSec };
}
