/**
 * Who is signed in: one small store shared by every page. `GET /api/auth/me` on load, but only
 * with evidence of a session, so that an anonymous listener's page asks the origin nothing (it
 * then needs only the edge). Evidence: this browser's note that it was signed in last time (kept
 * in localStorage, in case the cookies were cleared apart), or the readable
 * `tribune_csrf` cookie (every /api answer sets it, sign-in included), unless /api/auth/me already
 * said "nobody" while that same CSRF cookie was set.
 */
import { useSyncExternalStore } from 'react';
import { client, toApiError, type ApiError, type UserRef } from './api.js';
import { exposeHooks } from './testHooks.js';

const CSRF_COOKIE_RE = /(?:^|;\s*)tribune_csrf=([^;]+)/;
/**
 * localStorage key: `1` while this browser was last known to be signed in; `0:<csrf cookie>` when
 * it was last known to be anonymous with that CSRF cookie.
 */
const SESSION_NOTE = 'tribune.signedIn';

function csrfCookie(): string | undefined {
  return CSRF_COOKIE_RE.exec(document.cookie)?.[1];
}

function readNote(): string | null {
  try {
    return localStorage.getItem(SESSION_NOTE);
  } catch {
    return null; // storage disabled: the CSRF cookie is the only evidence
  }
}

/** Whether this browser may have a session (so asking /api/auth/me is worth it). */
export function hasSessionEvidence(): boolean {
  if (typeof document === 'undefined') return true;
  const note = readNote();
  if (note === '1') return true;
  const csrf = csrfCookie();
  return csrf !== undefined && note !== `0:${csrf}`;
}

function rememberSignedIn(signedIn: boolean): void {
  if (typeof document === 'undefined') return;
  try {
    const csrf = csrfCookie();
    if (signedIn) localStorage.setItem(SESSION_NOTE, '1');
    else if (csrf) localStorage.setItem(SESSION_NOTE, `0:${csrf}`);
    else localStorage.removeItem(SESSION_NOTE);
  } catch {
    // storage disabled
  }
}

export interface SessionState {
  /** False until the first /api/auth/me answered (or failed). */
  ready: boolean;
  user: UserRef | null;
  error: ApiError | null;
}

// No evidence of a session: anonymous from the first render, without a request.
let state: SessionState = { ready: !hasSessionEvidence(), user: null, error: null };
if (state.ready && typeof window !== 'undefined') exposeHooks({ user: null });
const listeners = new Set<() => void>();
let loading: Promise<void> | null = null;

function set(next: Partial<SessionState>): void {
  state = { ...state, ...next };
  // An answer (not a failure to reach the server) says whether this browser is signed in.
  if (state.ready && !state.error) rememberSignedIn(!!state.user);
  exposeHooks({ user: state.user });
  for (const l of listeners) l();
}

/**
 * Fetches /api/auth/me (retrying network failures every 3 s until it answers); without evidence of
 * a session, settles on anonymous at once.
 */
export function refreshSession(): Promise<void> {
  if (loading) return loading;
  if (!hasSessionEvidence()) {
    set({ ready: true, user: null, error: null });
    return Promise.resolve();
  }
  loading = (async () => {
    for (;;) {
      try {
        const me = await client.me();
        set({ ready: true, user: me.user, error: null });
        return;
      } catch (err) {
        const e = toApiError(err);
        if (e.status >= 400 && e.status < 500) {
          set({ ready: true, user: null, error: null });
          return;
        }
        // Unreachable: show the app as signed out for now, keep trying.
        set({ ready: true, error: e });
        await new Promise((r) => setTimeout(r, 3000));
      }
    }
  })().finally(() => {
    loading = null;
  });
  return loading;
}

export function setSessionUser(user: UserRef | null): void {
  set({ ready: true, user, error: null });
}

export async function signOut(): Promise<void> {
  try {
    await client.signOut();
  } finally {
    setSessionUser(null);
  }
}

function subscribe(l: () => void): () => void {
  listeners.add(l);
  if (!state.ready && !loading) void refreshSession();
  return () => listeners.delete(l);
}

export function useSession(): SessionState {
  return useSyncExternalStore(subscribe, () => state);
}
