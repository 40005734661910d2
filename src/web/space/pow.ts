/**
 * The page's side of under-attack mode (issue 9): measures this device's hash rate (so the edge
 * can size the puzzle to about a quarter second here) and solves the edge's proof-of-work
 * challenge in a module Web Worker (pow-worker.ts; Vite bundles it). Without workers (very old
 * browsers, or the worker fails to start) it solves on the main thread in short slices, with the
 * same code loaded only then (a dynamic import: the solver stays out of the main bundle).
 */
import type { PowChallenge as EdgeChallenge } from '../../edge/defence/pow.js';

const RATE_KEY = 'tribune.powRate';
const RATE_TTL_MS = 86_400_000;
/** If measuring fails: a mid-range phone with a JS SHA-256. */
const FALLBACK_RATE = 200_000;

/** What the solver needs of the edge's challenge (src/edge/defence/pow.ts). */
export type PowChallenge = Pick<EdgeChallenge, 'token' | 'difficulty'>;

/** The solver, on the main thread: only when no worker runs it. */
const loadSolver = (): Promise<typeof import('./pow-worker.js')> => import('./pow-worker.js');

function startWorker(): Worker | null {
  try {
    return new Worker(new URL('./pow-worker.ts', import.meta.url), { type: 'module' });
  } catch {
    return null;
  }
}

/** Measured in this page (kept even where localStorage is not, e.g. private mode). */
let measured: { rate: number; at: number } | null = null;

/** This device's hash rate if measured in the last day (here or in localStorage); never waits. */
export function cachedHashRate(): number | undefined {
  if (measured && Date.now() - measured.at < RATE_TTL_MS) return measured.rate;
  try {
    const v = JSON.parse(localStorage.getItem(RATE_KEY) ?? 'null') as { rate?: unknown; at?: unknown } | null;
    if (
      v &&
      typeof v.rate === 'number' &&
      v.rate > 0 &&
      typeof v.at === 'number' &&
      Date.now() - v.at < RATE_TTL_MS &&
      v.at <= Date.now()
    )
      return v.rate;
  } catch {
    // unreadable: measure again
  }
  return undefined;
}

let measuring: Promise<number> | null = null;

/** Hashes per second this device manages in the solver (cached for a day in localStorage). */
export function measureHashRate(): Promise<number> {
  const cached = cachedHashRate();
  if (cached !== undefined) return Promise.resolve(cached);
  measuring ??= new Promise<number>((resolve) => {
    const done = (rate: number): void => {
      const r = Number.isFinite(rate) && rate > 0 ? Math.round(rate) : FALLBACK_RATE;
      measured = { rate: r, at: Date.now() };
      try {
        localStorage.setItem(RATE_KEY, JSON.stringify({ rate: r, at: Date.now() }));
      } catch {
        // private mode: measured again next time
      }
      measuring = null;
      resolve(r);
    };
    const here = (): void => {
      loadSolver().then(
        (m) => done(m.measure(60)),
        () => done(FALLBACK_RATE),
      );
    };
    const w = startWorker();
    if (!w) {
      here();
      return;
    }
    const timer = setTimeout(() => {
      w.terminate();
      done(FALLBACK_RATE);
    }, 3000);
    w.onmessage = (e: MessageEvent) => {
      const rate = (e.data as { rate?: unknown } | null)?.rate;
      if (typeof rate !== 'number') return;
      clearTimeout(timer);
      w.terminate();
      done(rate);
    };
    w.onerror = () => {
      clearTimeout(timer);
      w.terminate();
      here();
    };
    w.postMessage({ measure: true });
  });
  return measuring;
}

const abortError = (): DOMException => new DOMException('The puzzle was abandoned', 'AbortError');

/** The main-thread fallback: 20 ms slices, yielding between them. */
async function solveHere(ch: PowChallenge, signal?: AbortSignal): Promise<{ answer: string; ms: number }> {
  const start = performance.now();
  const { search } = await loadSolver();
  let from = 0;
  return new Promise((resolve, reject) => {
    const slice = (): void => {
      if (signal?.aborted) return reject(abortError());
      const r = search(ch.token, ch.difficulty, { from, maxMs: 20 });
      if (r.answer !== null) return resolve({ answer: r.answer, ms: Math.round(performance.now() - start) });
      from += r.hashes;
      setTimeout(slice, 0);
    };
    slice();
  });
}

/**
 * Solves `ch` in a worker; resolves with the answer and the wall time it took (ms). Rejects with
 * an AbortError when `signal` aborts (the worker is stopped either way).
 */
export function solveChallenge(
  ch: PowChallenge,
  signal?: AbortSignal,
): Promise<{ answer: string; ms: number }> {
  if (signal?.aborted) return Promise.reject(abortError());
  const w = startWorker();
  if (!w) return solveHere(ch, signal);
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const finish = (): void => {
      w.terminate();
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      finish();
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    w.onmessage = (e: MessageEvent) => {
      const m = e.data as { answer?: unknown; error?: unknown } | null;
      if (typeof m?.answer === 'string') {
        finish();
        resolve({ answer: m.answer, ms: Math.round(performance.now() - start) });
      } else if (m?.error !== undefined) {
        finish();
        reject(new Error(`proof of work: ${String(m.error)}`));
      }
    };
    w.onerror = (e) => {
      // the worker did not start (or broke): solve here instead
      e.preventDefault();
      finish();
      solveHere(ch, signal).then(resolve, reject);
    };
    w.postMessage({ token: ch.token, difficulty: ch.difficulty });
  });
}
