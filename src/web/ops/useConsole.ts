/** The operator console's data: who may see it, and the defence overview polled while shown. */
import { useEffect, useState } from 'react';
import { toApiError, type ApiError } from '../api.js';
import { opsApi, useOperatorAccess, type DefenceOverview } from '../ops-api.js';
import { useSession } from '../session.js';

/** How often the overview is asked for while the page is shown. */
export const POLL_MS = 2000;

/** Keeps the newest overview (by atMs): a poll sent before a change must not undo it. */
function newer(prev: DefenceOverview | null, next: DefenceOverview): DefenceOverview {
  return prev && prev.atMs > next.atMs ? prev : next;
}

export type Access = 'checking' | 'signed-out' | 'denied' | 'operator';

export function useConsoleAccess(): Access {
  const { ready, user } = useSession();
  const { operator, error } = useOperatorAccess(user?.id ?? null);
  if (!ready) return 'checking';
  if (!user) return 'signed-out';
  if (operator === true) return 'operator';
  if (operator === false) return 'denied';
  if (error) {
    if (error.status === 401) return 'signed-out';
    if (error.status === 403) return 'denied';
    // No access endpoint (or it failed): let the overview itself answer.
    return 'operator';
  }
  return 'checking';
}

/** Applies an overview a change answered with (kept only if newer than the one shown). */
export type ApplyOverview = (o: DefenceOverview) => void;

export function useOverview(enabled: boolean): {
  overview: DefenceOverview | null;
  error: ApiError | null;
  apply: ApplyOverview;
} {
  const [overview, setOverview] = useState<DefenceOverview | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    if (!enabled) return;
    let stopped = false;
    let inFlight = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async (): Promise<void> => {
      clearTimeout(timer);
      if (stopped || inFlight || document.hidden) return;
      inFlight = true;
      try {
        const o = await opsApi.overview();
        if (stopped) return;
        setOverview((p) => newer(p, o));
        setError(null);
      } catch (err) {
        if (stopped) return;
        const e = toApiError(err);
        setError(e);
        if (e.status === 401 || e.status === 403) {
          stopped = true; // not an operator (or signed out): stop asking
          return;
        }
      } finally {
        inFlight = false;
      }
      if (!stopped && !document.hidden) timer = setTimeout(() => void load(), POLL_MS);
    };
    const onVisibility = (): void => {
      if (document.hidden) clearTimeout(timer);
      else void load();
    };
    document.addEventListener('visibilitychange', onVisibility);
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [enabled]);
  const apply: ApplyOverview = (o) => setOverview((p) => newer(p, o));
  return { overview, error, apply };
}
