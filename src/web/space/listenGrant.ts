/**
 * The listen grant while listening: the edge URLs, with a listen token when the Space requires
 * sign-in. Retries on errors; `refresh` (after 401s from the edge) is rate-limited.
 * A visitor who is not signed in, on an open Space, needs no token: the grant is the SpaceView's
 * own URLs, and the origin is not asked (`POST /api/spaces/:id/listen` is for signed-in users,
 * whose token also names them in the edges' listener sample, and for Spaces that require sign-in).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { client, toApiError, type ApiError, type ListenGrant, type SpaceView, type UserRef } from '../api.js';
import { exposeHooks } from '../testHooks.js';

/** Retry delay after a failed load (SpaceView, listen grant). */
export const RETRY_MS = 3000;
/** Listen-token refreshes (after 401s from the edge) are at most this often. */
const GRANT_REFRESH_MIN_MS = 5000;

/** The listen grant while listening (a token when the Space requires sign-in). */
export function useListenGrant(space: SpaceView | null, enabled: boolean, user: UserRef | null) {
  const [grant, setGrant] = useState<ListenGrant | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [key, setKey] = useState(0);
  const lastRefresh = useRef(0);
  const spaceId = space?.id;
  const requireSignIn = space?.requireSignIn ?? false;
  const fallback = useRef<ListenGrant | null>(null);
  fallback.current = space ? { token: null, playbackUrl: space.playbackUrl, stateUrl: space.stateUrl } : null;
  const needSignIn = requireSignIn && !user;

  const anonymousOpen = !user && !requireSignIn;
  useEffect(() => {
    if (!spaceId || !enabled || needSignIn) return;
    if (anonymousOpen) {
      setGrant(fallback.current);
      setError(null);
      exposeHooks({ listenToken: null });
      return;
    }
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const get = async (): Promise<void> => {
      try {
        const g = await client.listen(spaceId);
        if (stopped) return;
        setGrant(g);
        setError(null);
        exposeHooks({ listenToken: g.token });
      } catch (err) {
        if (stopped) return;
        const e = toApiError(err);
        if (!requireSignIn && fallback.current) {
          // Open Space: the edge needs no token, play what the SpaceView says.
          setGrant((g) => g ?? fallback.current);
          exposeHooks({ listenToken: null });
        } else {
          setError(e);
          if (e.code !== 'SIGN_IN_REQUIRED' && e.code !== 'BLOCKED')
            timer = setTimeout(() => void get(), RETRY_MS);
        }
      }
    };
    void get();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [spaceId, enabled, needSignIn, requireSignIn, anonymousOpen, user?.id, key]);

  const refresh = useCallback(() => {
    const now = Date.now();
    if (now - lastRefresh.current < GRANT_REFRESH_MIN_MS) return;
    lastRefresh.current = now;
    setKey((k) => k + 1);
  }, []);

  return { grant: enabled && !needSignIn ? grant : null, error, needSignIn, refresh };
}
