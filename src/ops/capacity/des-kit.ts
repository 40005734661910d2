/**
 * Tools of the capacity simulation (des.ts): a seeded RNG, arrival draws, a min-heap of events,
 * bucketed counts and percentiles. Pure.
 */

export const BUCKET_MS = 100;

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  n: number;
}

/** Seeded uniform [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n sorted uniforms on [0, span) from exponential spacings (no sort). */
export function sortedUniforms(n: number, span: number, rnd: () => number): Float64Array {
  const out = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) {
    s += -Math.log(1 - rnd());
    out[i] = s;
  }
  const total = s - Math.log(1 - rnd());
  for (let i = 0; i < n; i++) out[i] = (out[i]! / total) * span;
  return out;
}

/** Binomial(n, p) draw: exact for small n, normal approximation above. */
export function binomial(n: number, p: number, rnd: () => number): number {
  if (n * p * (1 - p) < 50) {
    let k = 0;
    for (let i = 0; i < n; i++) if (rnd() < p) k++;
    return k;
  }
  const z = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  return Math.min(n, Math.max(0, Math.round(n * p + z * Math.sqrt(n * p * (1 - p)))));
}

/** Min-heap of (time, value) in two parallel arrays. */
export class Heap {
  private t: number[] = [];
  private v: number[] = [];
  get size(): number {
    return this.t.length;
  }
  topTime(): number {
    return this.t.length ? this.t[0]! : Infinity;
  }
  push(time: number, val: number): void {
    const t = this.t;
    const v = this.v;
    let i = t.length;
    t.push(time);
    v.push(val);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (t[p]! <= time) break;
      t[i] = t[p]!;
      v[i] = v[p]!;
      i = p;
    }
    t[i] = time;
    v[i] = val;
  }
  /** removes the earliest; returns its value (its time was topTime()) */
  pop(): number {
    const t = this.t;
    const v = this.v;
    const top = v[0]!;
    const lt = t.pop()!;
    const lv = v.pop()!;
    const n = t.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const c = l + 1 < n && t[l + 1]! < t[l]! ? l + 1 : l;
      if (t[c]! >= lt) break;
      t[i] = t[c]!;
      v[i] = v[c]!;
      i = c;
    }
    t[i] = lt;
    v[i] = lv;
    return top;
  }
}

/** Adds 1 at bucket floor(t / BUCKET_MS) of a growable count array. */
export function bump(a: number[], tMs: number): void {
  const b = Math.max(0, Math.floor(tMs / BUCKET_MS));
  while (a.length <= b) a.push(0);
  a[b]!++;
}

export function percentiles(xs: Float64Array): Percentiles {
  const s = Float64Array.from(xs.filter((x) => x >= 0)).sort();
  const at = (q: number) =>
    s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]! : NaN;
  let sum = 0;
  for (const x of s) sum += x;
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    p50: r(at(0.5)),
    p90: r(at(0.9)),
    p99: r(at(0.99)),
    max: r(s.length ? s[s.length - 1]! : NaN),
    mean: r(s.length ? sum / s.length : NaN),
    n: s.length,
  };
}
