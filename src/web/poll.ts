/**
 * Polling while the page is shown: asks at once, then `intervalMs` after each answer (never two
 * asks at a time), pauses while the tab is hidden and asks again as soon as it shows.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { toApiError, type ApiError } from './api.js';

export interface PollingOptions<T> {
  intervalMs: number;
  /** Default true. Turning it off stops the polling (the last answer is kept). */
  enabled?: boolean;
  /** Which answer to keep (e.g. the newer one, when a change's answer was applied meanwhile). Default: `next`. */
  pick?: (prev: T | null, next: T) => T;
  /** An error after which asking again is pointless (e.g. 401/403): polling stops. */
  stopOn?: (error: ApiError) => boolean;
}

export interface Polling<T> {
  data: T | null;
  /** The last failure, cleared by the next answer. */
  error: ApiError | null;
  /** Offers an answer obtained elsewhere (kept according to `pick`). */
  offer: (next: T) => void;
  /** Starts over: asks at once (after a stop, too). */
  reload: () => void;
}

export function usePolling<T>(load: () => Promise<T>, opts: PollingOptions<T>): Polling<T> {
  const { intervalMs, enabled = true } = opts;
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [round, setRound] = useState(0);
  // The latest callbacks, without restarting the loop when they change identity.
  const latest = useRef({ load, pick: opts.pick, stopOn: opts.stopOn });
  latest.current = { load, pick: opts.pick, stopOn: opts.stopOn };

  const offer = useCallback((next: T) => {
    const pick = latest.current.pick;
    setData((prev) => (pick ? pick(prev, next) : next));
  }, []);

  useEffect(() => {
    if (!enabled) return;
    let stopped = false;
    let inFlight = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async (): Promise<void> => {
      clearTimeout(timer);
      if (stopped || inFlight || document.hidden) return;
      inFlight = true;
      try {
        const next = await latest.current.load();
        if (stopped) return;
        offer(next);
        setError(null);
      } catch (err) {
        if (stopped) return;
        const e = toApiError(err);
        setError(e);
        if (latest.current.stopOn?.(e)) {
          stopped = true;
          return;
        }
      } finally {
        inFlight = false;
      }
      if (!stopped && !document.hidden) timer = setTimeout(() => void tick(), intervalMs);
    };
    const onVisibility = (): void => {
      if (document.hidden) clearTimeout(timer);
      else void tick();
    };
    document.addEventListener('visibilitychange', onVisibility);
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [enabled, intervalMs, round, offer]);

  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { data, error, offer, reload };
}
