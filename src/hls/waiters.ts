/**
 * Blocked LL-HLS requests of one store (blocking playlist reload, preload-hinted part, init, segment in progress):
 * each waits until its condition holds or the store is released (ended), and fails on timeout (HLS_NOT_AVAILABLE)
 * or abort. The store calls `wake()` after every change.
 */
import { TribuneError } from '../errors.js';

interface Waiter {
  check(): void;
  fail(err: unknown): void;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

export class Waiters {
  private readonly timeoutMs: number;
  private readonly released: () => boolean;
  private readonly waiters = new Set<Waiter>();

  /** `released()` true ends every wait successfully (the store ended). */
  constructor(timeoutMs: number, released: () => boolean) {
    this.timeoutMs = timeoutMs;
    this.released = released;
  }

  /** Number of blocked requests. */
  get size(): number {
    return this.waiters.size;
  }

  /** Re-checks every waiter. */
  wake(): void {
    for (const w of [...this.waiters]) w.check();
  }

  /** Fails every blocked request with `err` (the store was abandoned: its Space moved elsewhere). */
  failAll(err: unknown): void {
    for (const w of [...this.waiters]) w.fail(err);
  }

  /** Resolves when `ready()` holds or the store is released; rejects on timeout (HLS_NOT_AVAILABLE) or abort. */
  waitUntil(ready: () => boolean, signal?: AbortSignal): Promise<void> {
    if (this.released() || ready()) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const finish = (err?: unknown): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(waiter);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onAbort = (): void => finish(abortReason(signal as AbortSignal));
      const waiter: Waiter = {
        check: () => {
          if (this.released() || ready()) finish();
        },
        fail: (err) => finish(err),
      };
      const timer = setTimeout(
        () => finish(new TribuneError('HLS_NOT_AVAILABLE', `not produced within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      this.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
