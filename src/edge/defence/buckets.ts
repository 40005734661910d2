/**
 * Token buckets keyed by a string (a client address, an admission id) in one fixed table: no
 * allocation per key, no map growing with an attacker's address space, and constant work per
 * request (one hash, a few typed-array reads and writes). Two keys that land in the same slot share
 * a bucket: with 2^16 slots that is rare, and it can only make a limit stricter, never looser.
 *
 * A bucket holds up to `burst` tokens and refills at `ratePerSec`; a request takes one. Rate 0
 * turns the table off (every request passes).
 */
import { hash32 } from './hash.js';

export interface BucketLimits {
  /** Sustained requests per second per key; 0: unlimited. */
  ratePerSec: number;
  /** Requests a key may make at once after a quiet spell. */
  burst: number;
}

export class BucketTable {
  private readonly tokens: Float64Array;
  private readonly last: Float64Array;
  private readonly mask: number;
  private rate = 0;
  private burst = 0;
  /** Requests refused since the table was made. */
  refused = 0;

  constructor(limits: BucketLimits, slotsBits = 16) {
    if (!Number.isInteger(slotsBits) || slotsBits < 4 || slotsBits > 24)
      throw new RangeError('slotsBits must be an integer 4-24');
    this.tokens = new Float64Array(1 << slotsBits);
    this.last = new Float64Array(1 << slotsBits);
    this.mask = (1 << slotsBits) - 1;
    this.setLimits(limits);
  }

  setLimits(limits: BucketLimits): void {
    if (!(limits.ratePerSec >= 0) || !(limits.burst >= 1 || limits.ratePerSec === 0))
      throw new RangeError('ratePerSec must be ≥ 0 and burst ≥ 1');
    this.rate = limits.ratePerSec;
    this.burst = Math.max(1, limits.burst);
  }

  get limits(): BucketLimits {
    return { ratePerSec: this.rate, burst: this.burst };
  }

  get enabled(): boolean {
    return this.rate > 0;
  }

  /** Takes one token from `key`'s bucket: false when it is empty (answer 429). */
  take(key: string, nowMs: number): boolean {
    if (this.rate === 0) return true;
    return this.takeSlot(hash32(key) & this.mask, nowMs);
  }

  takeSlot(slot: number, nowMs: number): boolean {
    if (this.rate === 0) return true;
    const last = this.last[slot]!;
    // A slot never used (last 0) starts full.
    let t = last === 0 ? this.burst : this.tokens[slot]! + ((nowMs - last) * this.rate) / 1000;
    if (t > this.burst) t = this.burst;
    this.last[slot] = nowMs;
    if (t < 1) {
      this.tokens[slot] = t;
      this.refused++;
      return false;
    }
    this.tokens[slot] = t - 1;
    return true;
  }

  /**
   * How drained `key`'s bucket is now, 0 (full, or unlimited) to 1 (empty): a cheap risk score
   * (an address that has been busy gets a harder proof of work).
   */
  drained(key: string, nowMs: number): number {
    if (this.rate === 0) return 0;
    const slot = hash32(key) & this.mask;
    const last = this.last[slot]!;
    if (last === 0) return 0;
    const t = Math.min(this.burst, this.tokens[slot]! + ((nowMs - last) * this.rate) / 1000);
    return Math.min(1, Math.max(0, 1 - t / this.burst));
  }

  /** Seconds until an emptied bucket has a token again (the Retry-After of a 429), at least 1. */
  get retryAfterSec(): number {
    return this.rate === 0 ? 1 : Math.max(1, Math.ceil(1 / this.rate));
  }
}
