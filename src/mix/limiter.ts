import { MIX_SAMPLE_RATE } from './format.js';

export interface LimiterOptions {
  /** Ceiling in dBFS. Default -1 dBFS (~29205). */
  thresholdDb?: number;
  /** Envelope attack time constant. Default 0.1 ms (~5 samples); 0 = instantaneous (no overshoot). */
  attackMs?: number;
  /** Time the envelope holds a peak before releasing (less gain ripple on low voices). Default 5 ms. */
  holdMs?: number;
  /** Envelope release time constant. Default 100 ms. */
  releaseMs?: number;
  sampleRate?: number;
}

/**
 * Look-ahead-free peak limiter: a peak envelope (fast attack, short hold, exponential release) drives the gain
 * `min(1, threshold / envelope)`; a final clamp to int16 catches the few samples that overshoot during the attack.
 * State (the envelope) persists across calls, so use one Limiter per output stream.
 */
export class Limiter {
  readonly threshold: number;
  private readonly attackCoef: number;
  private readonly releaseMul: number;
  private readonly holdSamples: number;
  private env = 0;
  private hold = 0;

  constructor(opts: LimiterOptions = {}) {
    const sr = opts.sampleRate ?? MIX_SAMPLE_RATE;
    this.threshold = 32768 * Math.pow(10, (opts.thresholdDb ?? -1) / 20);
    const attackMs = opts.attackMs ?? 0.1;
    this.attackCoef = attackMs <= 0 ? 1 : 1 - Math.exp(-1000 / (attackMs * sr));
    this.holdSamples = Math.round(((opts.holdMs ?? 5) * sr) / 1000);
    this.releaseMul = Math.exp(-1000 / ((opts.releaseMs ?? 100) * sr));
  }

  /** Current gain reduction factor (1 = none). */
  get gain(): number {
    return this.env > this.threshold ? this.threshold / this.env : 1;
  }

  /**
   * out[i] = limit(sum[i] - (minus ? minus[i] : 0)) for i < out.length, as int16. `sum` is the raw
   * (un-limited) total of all contributions.
   */
  process(sum: Int32Array, minus: Int16Array | null, out: Int16Array): void {
    const n = out.length;
    const thr = this.threshold;
    const att = this.attackCoef;
    const rel = this.releaseMul;
    const holdN = this.holdSamples;
    let env = this.env;
    let hold = this.hold;
    for (let i = 0; i < n; i++) {
      const x = minus === null ? sum[i] : sum[i] - minus[i];
      const a = x < 0 ? -x : x;
      if (a > env) {
        env += (a - env) * att;
        hold = holdN;
      } else if (hold > 0) hold--;
      else env *= rel;
      let y = env > thr ? (x * thr) / env : x;
      y = y < 0 ? y - 0.5 : y + 0.5; // round half away from zero via truncation below
      out[i] = y >= 32767 ? 32767 : y <= -32768 ? -32768 : y;
    }
    this.env = env < 1e-3 ? 0 : env;
    this.hold = hold;
  }

  reset(): void {
    this.env = 0;
    this.hold = 0;
  }
}
