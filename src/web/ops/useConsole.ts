/** The operator console's data: who may see it, and the defence overview polled while shown. */
import type { ApiError } from '../api.js';
import { opsApi, useOperatorAccess, type DefenceOverview } from '../ops-api.js';
import { usePolling } from '../poll.js';
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
  const { data, error, offer } = usePolling(opsApi.overview, {
    intervalMs: POLL_MS,
    enabled,
    pick: newer,
    // not an operator (or signed out): stop asking
    stopOn: (e) => e.status === 401 || e.status === 403,
  });
  return { overview: data, error, apply: offer };
}
