/** Who is signed in: one small store shared by every page (GET /api/auth/me on load). */
import { useSyncExternalStore } from 'react';
import { client, toApiError, type ApiError, type UserRef } from './api.js';
import { exposeHooks } from './testHooks.js';

export interface SessionState {
  /** False until the first /api/auth/me answered (or failed). */
  ready: boolean;
  user: UserRef | null;
  error: ApiError | null;
}

let state: SessionState = { ready: false, user: null, error: null };
const listeners = new Set<() => void>();
let loading: Promise<void> | null = null;

function set(next: Partial<SessionState>): void {
  state = { ...state, ...next };
  exposeHooks({ user: state.user });
  for (const l of listeners) l();
}

/** Fetches /api/auth/me (retrying network failures every 3 s until it answers). */
export function refreshSession(): Promise<void> {
  if (loading) return loading;
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
