import { MIX_FRAME_MS } from './format.js';

/** dBFS reported for digital silence. */
export const SILENCE_DBFS = -100;

/** RMS of `samples[0..length)` in dBFS (full scale = 32768); SILENCE_DBFS for silence or empty input. Pure. */
export function rmsDbfs(samples: Int16Array, length = samples.length): number {
  const n = Math.min(length, samples.length);
  if (n <= 0) return SILENCE_DBFS;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const s = samples[i];
    acc += s * s;
  }
  if (acc === 0) return SILENCE_DBFS;
  const db = 10 * Math.log10(acc / n / (32768 * 32768));
  return db < SILENCE_DBFS ? SILENCE_DBFS : db;
}

/** Maps dBFS linearly onto 0..1: floorDb -> 0, 0 dBFS -> 1, clamped. Pure. */
export function dbfsToLevel(db: number, floorDb = -60): number {
  if (!(db > floorDb)) return 0;
  if (db >= 0) return 1;
  return (db - floorDb) / -floorDb;
}

export interface LevelMeterOptions {
  /** Duration of one update() frame. Default 20 ms. */
  frameMs?: number;
  /** dBFS mapped to level 0. Default -60. */
  floorDb?: number;
  /** Smoothing time constant when the level rises. Default 10 ms (a 20 ms frame moves ~86% of the way). */
  attackMs?: number;
  /** Smoothing time constant when the level falls. Default 250 ms. */
  releaseMs?: number;
  /** `speaking` turns on when a frame is at or above this. Default -45 dBFS. */
  onDb?: number;
  /** `speaking` turns off after holdMs of consecutive frames below this. Default -50 dBFS. */
  offDb?: number;
  /** Default 300 ms. */
  holdMs?: number;
}

/**
 * "Who is speaking" meter, fed one frame per mixer tick. Deterministic: time is counted in frames.
 * `level` is the smoothed 0..1 value (fast attack, slow release); `speaking` has hysteresis.
 */
export class LevelMeter {
  /** Smoothed level, 0..1. */
  level = 0;
  /** Raw RMS of the last frame, dBFS. */
  dbfs = SILENCE_DBFS;
  speaking = false;
  private belowMs = 0;
  private readonly frameMs: number;
  private readonly floorDb: number;
  private readonly attackCoef: number;
  private readonly releaseCoef: number;
  private readonly onDb: number;
  private readonly offDb: number;
  private readonly holdMs: number;

  constructor(opts: LevelMeterOptions = {}) {
    this.frameMs = opts.frameMs ?? MIX_FRAME_MS;
    this.floorDb = opts.floorDb ?? -60;
    this.attackCoef = 1 - Math.exp(-this.frameMs / (opts.attackMs ?? 10));
    this.releaseCoef = 1 - Math.exp(-this.frameMs / (opts.releaseMs ?? 250));
    this.onDb = opts.onDb ?? -45;
    this.offDb = opts.offDb ?? -50;
    this.holdMs = opts.holdMs ?? 300;
  }

  /** Feeds one frame; `null` means silence (no audio this tick, or muted). */
  update(samples: Int16Array | null, length?: number): this {
    return this.updateDb(samples === null ? SILENCE_DBFS : rmsDbfs(samples, length ?? samples.length));
  }

  /** Same as update() with a precomputed dBFS value. */
  updateDb(db: number): this {
    this.dbfs = db;
    const target = dbfsToLevel(db, this.floorDb);
    const coef = target > this.level ? this.attackCoef : this.releaseCoef;
    this.level += (target - this.level) * coef;
    if (this.level < 1e-4) this.level = 0;
    if (db >= this.onDb) {
      this.speaking = true;
      this.belowMs = 0;
    } else if (db < this.offDb) {
      this.belowMs += this.frameMs;
      if (this.belowMs >= this.holdMs) this.speaking = false;
    } else {
      this.belowMs = 0;
    }
    return this;
  }

  reset(): void {
    this.level = 0;
    this.dbfs = SILENCE_DBFS;
    this.speaking = false;
    this.belowMs = 0;
  }
}
