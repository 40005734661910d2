import { MIX_FRAME_MS } from './format.js';

type TimerHandle = unknown;

export interface FrameClockOptions {
  /** Called once per period; `index` is the deadline number since start() (it jumps when ticks are skipped). */
  onTick: (index: number) => void;
  /** Default 20 ms. */
  periodMs?: number;
  /** At most this many overdue ticks run back-to-back; beyond that the clock skips ahead. Default 5. */
  maxCatchUpTicks?: number;
  /** A tick that starts more than this after its deadline counts as late. Default half a period. */
  lateThresholdMs?: number;
  /** Called when onTick throws; the clock keeps running. */
  onError?: (err: unknown) => void;
  /** Monotonic milliseconds. Default: process.hrtime. */
  now?: () => number;
  setTimeout?: (fn: () => void, ms: number) => TimerHandle;
  clearTimeout?: (handle: TimerHandle) => void;
}

const hrNowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/**
 * Drift-free ticker: tick k is due at start + k * period (absolute, monotonic), each wait is
 * `setTimeout(deadline - now)`, so timer lateness never accumulates. Overdue ticks run back-to-back,
 * bounded by maxCatchUpTicks; beyond that the clock skips ahead (skippedTicks).
 */
export class FrameClock {
  /** Ticks executed. */
  ticks = 0;
  /** Executed ticks that started more than lateThresholdMs after their deadline. */
  lateTicks = 0;
  /** Deadlines dropped because the clock fell too far behind. */
  skippedTicks = 0;
  /** onTick exceptions caught. */
  errors = 0;
  private readonly onTick: (index: number) => void;
  private readonly period: number;
  private readonly maxCatchUp: number;
  private readonly lateMs: number;
  private readonly onError: ((err: unknown) => void) | undefined;
  private readonly now: () => number;
  private readonly setT: (fn: () => void, ms: number) => TimerHandle;
  private readonly clearT: (handle: TimerHandle) => void;
  private timer: TimerHandle | null = null;
  private running = false;
  private startMs = 0;
  /** Index of the next deadline (1-based: the first tick is due one period after start()). */
  private next = 1;
  private readonly fire = (): void => this.run();

  constructor(opts: FrameClockOptions) {
    this.onTick = opts.onTick;
    this.period = opts.periodMs ?? MIX_FRAME_MS;
    if (!(this.period > 0)) throw new RangeError('periodMs must be > 0');
    this.maxCatchUp = Math.max(1, Math.floor(opts.maxCatchUpTicks ?? 5));
    this.lateMs = opts.lateThresholdMs ?? this.period / 2;
    this.onError = opts.onError;
    this.now = opts.now ?? hrNowMs;
    this.setT = opts.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearT = opts.clearTimeout ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Starts ticking; the first tick is due one period from now. No-op when already running. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.startMs = this.now();
    this.next = 1;
    this.schedule();
  }

  /** Idempotent; safe to call from inside onTick. Leaves no timer behind. */
  stop(): void {
    this.running = false;
    if (this.timer !== null) {
      this.clearT(this.timer);
      this.timer = null;
    }
  }

  private deadline(k: number): number {
    return this.startMs + k * this.period;
  }

  private schedule(): void {
    const delay = this.deadline(this.next) - this.now();
    this.timer = this.setT(this.fire, delay > 0 ? Math.ceil(delay) : 0);
  }

  private run(): void {
    this.timer = null;
    if (!this.running) return;
    let now = this.now();
    // Ticks now due (deadline <= now). Node timers may wake a fraction of a ms early: then just wait again.
    let due = Math.floor((now - this.deadline(this.next)) / this.period) + 1;
    if (due > this.maxCatchUp) {
      const skip = due - this.maxCatchUp;
      this.skippedTicks += skip;
      this.next += skip;
      due = this.maxCatchUp;
    }
    for (let i = 0; i < due && this.running; i++) {
      const k = this.next++;
      if (now - this.deadline(k) > this.lateMs) this.lateTicks++;
      this.ticks++;
      try {
        this.onTick(k);
      } catch (err) {
        this.errors++;
        this.onError?.(err);
      }
      now = this.now();
    }
    if (this.running) this.schedule();
  }
}
