/**
 * HyperLogLog (Flajolet, Fusy, Gandouet & Meunier 2007) of the client addresses an edge saw in a
 * telemetry window: 2^HLL_P one-byte registers (1 KiB, ~3% standard error) that the origin merges
 * across edges and seconds by register-wise max, so "how many distinct clients" survives being
 * summed over a fleet without shipping addresses. Input is a 32-bit hash32(): the register index
 * is its top HLL_P bits, the rank the position of the first 1 in the remaining 22 bits.
 */
import { HLL_P } from './types.js';

/** Registers: 2^HLL_P. */
export const HLL_M = 1 << HLL_P;
const RANK_BITS = 32 - HLL_P;
/** A register holds 1..RANK_BITS + 1 (all 22 rank bits zero), or 0 when never written. */
const MAX_RANK = RANK_BITS + 1;
const ALPHA = 0.7213 / (1 + 1.079 / HLL_M);
const TWO_32 = 2 ** 32;
/** 2^-r for every possible register value, so estimate() does no Math.pow. */
const INV_POW2 = Float64Array.from({ length: 34 }, (_, r) => 2 ** -r);

export class Hll {
  readonly registers = new Uint8Array(HLL_M);

  /** Adds one item by its 32-bit hash (hash32). No allocation. */
  add(hash: number): void {
    const index = hash >>> RANK_BITS;
    const rest = hash << HLL_P; // the low 22 bits, moved to the top
    const rank = rest === 0 ? MAX_RANK : Math.clz32(rest) + 1;
    if (rank > this.registers[index]) this.registers[index] = rank;
  }

  /** Union with another sketch (or its raw registers): register-wise max. */
  merge(other: Hll | Uint8Array): void {
    const regs = other instanceof Hll ? other.registers : other;
    if (regs.length !== HLL_M) throw new RangeError(`HLL merge: ${regs.length} registers, expected ${HLL_M}`);
    const mine = this.registers;
    for (let i = 0; i < HLL_M; i++) if (regs[i] > mine[i]) mine[i] = regs[i];
  }

  /**
   * The distinct-count estimate: the raw harmonic-mean estimator, with linear counting below
   * 2.5 m while some registers are still empty (where the raw estimator is biased), and the
   * 32-bit hash-collision correction at the very top of the range.
   */
  estimate(): number {
    const regs = this.registers;
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < HLL_M; i++) {
      const r = regs[i];
      sum += INV_POW2[r];
      if (r === 0) zeros++;
    }
    let e = (ALPHA * HLL_M * HLL_M) / sum;
    if (e <= 2.5 * HLL_M) {
      if (zeros > 0) e = HLL_M * Math.log(HLL_M / zeros);
    } else if (e > TWO_32 / 30) {
      e = -TWO_32 * Math.log(1 - e / TWO_32);
    }
    return e;
  }

  /** The registers as base64 (what DefenceWindow.clientsHll carries). */
  toBase64(): string {
    return Buffer.from(this.registers.buffer, this.registers.byteOffset, HLL_M).toString('base64');
  }

  /** Reads toBase64()'s output; RangeError unless it decodes to exactly 2^HLL_P valid registers. */
  static fromBase64(s: string): Hll {
    const bytes = Buffer.from(s, 'base64');
    if (bytes.length !== HLL_M) throw new RangeError(`HLL: ${bytes.length} bytes, expected ${HLL_M}`);
    const hll = new Hll();
    for (let i = 0; i < HLL_M; i++) {
      if (bytes[i] > MAX_RANK) throw new RangeError(`HLL: register ${i} is ${bytes[i]}, over ${MAX_RANK}`);
      hll.registers[i] = bytes[i];
    }
    return hll;
  }

  clear(): void {
    this.registers.fill(0);
  }
}
