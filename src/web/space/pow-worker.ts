/**
 * The proof-of-work solver (under-attack mode, issue 9), run as a module Web Worker (pow.ts starts
 * it) so the page stays responsive. Finds a decimal `answer` such that the first 48 bits of
 * SHA-256(`${token}:${answer}`) are ≤ floor(2^48 / difficulty) — what the edge checks
 * (src/edge/defence/pow.ts).
 *
 * Messages in: `{ token, difficulty }` (solve) or `{ measure: true }` (hash rate over ~60 ms).
 * Messages out: `{ answer }`, or `{ rate }`; `{ error }` when the input is unusable. (pow.ts times
 * the solve itself.)
 *
 * The prefix is hashed once: whole 64-byte blocks of `${token}:` are compressed up front and each
 * attempt clones that state and hashes only the tail, the answer's digits and the padding.
 */
import { sha256 } from '@noble/hashes/sha2.js';

const TWO_48 = 2 ** 48;
const MAX_ANSWER = 1e19; // 20 decimal digits at most (the edge's limit)

export interface SearchResult {
  /** The answer found, or null when `maxHashes` ran out first. */
  answer: string | null;
  hashes: number;
  ms: number;
}

/**
 * Tries answers `from`, `from + 1`, … until one meets `difficulty`, `maxHashes` are spent or
 * `maxMs` passes.
 */
export function search(
  token: string,
  difficulty: number,
  opts: { from?: number; maxHashes?: number; maxMs?: number } = {},
): SearchResult {
  const threshold = Math.floor(TWO_48 / Math.max(1, difficulty));
  const prefix = new TextEncoder().encode(`${token}:`);
  const whole = prefix.length - (prefix.length % 64);
  const base = sha256.create();
  if (whole > 0) base.update(prefix.subarray(0, whole));
  const tailLen = prefix.length - whole;
  // tail of the prefix, then up to 20 digits
  const msg = new Uint8Array(tailLen + 20);
  msg.set(prefix.subarray(whole), 0);
  const work = base.clone();
  const out = new Uint8Array(32);
  const start = performance.now();
  const maxHashes = opts.maxHashes ?? Infinity;
  const maxMs = opts.maxMs ?? Infinity;
  let n = opts.from ?? 0;
  let hashes = 0;
  while (hashes < maxHashes && n < MAX_ANSWER) {
    // digits of n into msg after the tail
    const digits = String(n);
    for (let i = 0; i < digits.length; i++) msg[tailLen + i] = digits.charCodeAt(i);
    base._cloneInto(work);
    work.update(msg.subarray(0, tailLen + digits.length));
    work.digestInto(out);
    hashes++;
    // first 48 bits, big-endian
    const hi =
      ((out[0] << 16) | (out[1] << 8) | out[2]) * 16_777_216 + ((out[3] << 16) | (out[4] << 8) | out[5]);
    if (hi <= threshold) return { answer: digits, hashes, ms: performance.now() - start };
    n++;
    if ((hashes & 2047) === 0 && performance.now() - start >= maxMs) break;
  }
  return { answer: null, hashes, ms: performance.now() - start };
}

/** Hashes per second of `search`, measured over about `ms`. */
export function measure(ms = 80): number {
  // Warm up until the JIT has optimised the loop (a count of 2,000 hashes measured half the real
  // speed in Chromium: bench:attack), then measure with a difficulty no answer meets.
  search('tribune-measure-warm-up-0123456789-0123456789-0123456789-0123456789', 2 ** 60, { maxMs: 40 });
  const r = search('tribune-measure-rate-0123456789-0123456789-0123456789-0123456789', 2 ** 60, {
    maxMs: ms,
  });
  return Math.round((r.hashes * 1000) / Math.max(1, r.ms));
}

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(msg: unknown): void;
}

// Only inside a worker: pow.ts may load `search` and `measure` for its main-thread fallback.
if (typeof window === 'undefined' && typeof self !== 'undefined') {
  const scope = self as unknown as WorkerScope;
  scope.onmessage = (e: MessageEvent) => {
    const m = e.data as { token?: unknown; difficulty?: unknown; measure?: unknown } | null;
    if (m && m.measure === true) {
      scope.postMessage({ rate: measure() });
      return;
    }
    if (!m || typeof m.token !== 'string' || typeof m.difficulty !== 'number' || !(m.difficulty >= 1)) {
      scope.postMessage({ error: 'bad challenge' });
      return;
    }
    const r = search(m.token, m.difficulty);
    if (r.answer === null) scope.postMessage({ error: 'no answer' });
    else scope.postMessage({ answer: r.answer });
  };
}
