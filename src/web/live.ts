/**
 * The audience's side of a Space's live state, all served by the edge (never the origin):
 * - the state document long-poll `GET {stateUrl}?v=&lid=[&token=]` (the edge counts listeners by
 *   distinct `lid`, so only pages whose user is not on stage poll);
 * - the leave beacon `POST {leaveUrl} {lid}` on pagehide (and when a page stops listening);
 * - reactions `POST {reactionsUrl} {emoji, lid}`.
 */
import { useEffect, useRef } from 'react';
import type { LiveDoc } from '../live/types.js';
import { ApiError } from './api.js';
import { exposeHooks } from './testHooks.js';

export { REACTION_EMOJI, type LiveDoc, type LiveSpeaker, type ReactionEmoji } from '../live/types.js';

function randomId(bytes: number): string {
  const a = new Uint8Array(bytes);
  crypto.getRandomValues(a);
  let s = '';
  for (const b of a) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** This page load's listener id ([A-Za-z0-9_-]{22}). */
export const PAGE_LID = randomId(16);

const RETRY_MS = 1000;

function isLiveDoc(v: unknown): v is LiveDoc {
  const d = v as Partial<LiveDoc> | null;
  return (
    typeof d === 'object' &&
    d !== null &&
    typeof d.v === 'number' &&
    typeof d.state === 'string' &&
    Array.isArray(d.speakers)
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** Tells the edge this page stopped listening (best effort; the edge also times listeners out). */
export function sendLeave(leaveUrl: string, token: string | null): void {
  try {
    const url = new URL(leaveUrl, window.location.href);
    if (token) url.searchParams.set('token', token);
    navigator.sendBeacon(url.href, JSON.stringify({ lid: PAGE_LID }));
  } catch {
    // the edge forgets us after a few seconds anyway
  }
}

export interface LivePollOptions {
  stateUrl: string | null;
  leaveUrl: string | null;
  /** Listen token (Spaces that require sign-in); read at every request. */
  token: string | null;
  enabled: boolean;
  onDoc: (doc: LiveDoc) => void;
  /** 401/403 from the edge: the listen token is missing or expired. */
  onAuthError?: () => void;
}

/**
 * Long-polls the state document while `enabled`: first without `v`, then with the last `v`; after an
 * error it waits 1 s and retries (a 400 also forgets `v`). Stopping sends the leave beacon.
 */
export function useLiveDocPoll(opts: LivePollOptions): void {
  const { stateUrl, leaveUrl, enabled } = opts;
  const latest = useRef(opts);
  latest.current = opts;

  useEffect(() => {
    if (!enabled || !stateUrl) return;
    const ctrl = new AbortController();
    const { signal } = ctrl;
    let received = 0;
    exposeHooks({ polling: true, lid: PAGE_LID });

    const loop = async (): Promise<void> => {
      let v: number | undefined;
      while (!signal.aborted) {
        const url = new URL(stateUrl, window.location.href);
        if (v !== undefined) url.searchParams.set('v', String(v));
        url.searchParams.set('lid', PAGE_LID);
        const token = latest.current.token;
        if (token) url.searchParams.set('token', token);
        const t0 = performance.now();
        let wait = true;
        try {
          const res = await fetch(url.href, { signal, headers: { accept: 'application/json' } });
          if (res.status === 200) {
            const body: unknown = await res.json();
            if (isLiveDoc(body)) {
              const changed = body.v !== v;
              v = body.v;
              received++;
              exposeHooks({ docsReceived: received });
              latest.current.onDoc(body);
              // An answer that came back at once with nothing new must not spin.
              wait = !changed && performance.now() - t0 < 250;
            }
          } else if (res.status === 204 || res.status === 304) {
            wait = performance.now() - t0 < 250;
          } else {
            if (res.status === 400) v = undefined;
            if (res.status === 401 || res.status === 403) latest.current.onAuthError?.();
            await res.body?.cancel().catch(() => undefined);
          }
        } catch {
          if (signal.aborted) return;
        }
        if (wait) await sleep(RETRY_MS, signal);
      }
    };
    void loop();

    const onPageHide = (): void => {
      if (leaveUrl) sendLeave(leaveUrl, latest.current.token);
    };
    window.addEventListener('pagehide', onPageHide);
    return () => {
      ctrl.abort();
      window.removeEventListener('pagehide', onPageHide);
      if (leaveUrl) sendLeave(leaveUrl, latest.current.token);
      exposeHooks({ polling: false });
    };
  }, [stateUrl, leaveUrl, enabled]);
}

/** Sends one reaction. Throws ApiError (RATE_LIMITED on 429). */
export async function sendReaction(reactionsUrl: string, emoji: string, token: string | null): Promise<void> {
  const url = new URL(reactionsUrl, window.location.href);
  if (token) url.searchParams.set('token', token);
  let res: Response;
  try {
    res = await fetch(url.href, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ emoji, lid: PAGE_LID }),
    });
  } catch (err) {
    throw new ApiError('NETWORK', err instanceof Error ? err.message : String(err), 0);
  }
  if (res.ok) {
    // Read the (tiny) reply: a body left unread keeps the request open in the browser until the
    // page goes away.
    await res.arrayBuffer().catch(() => undefined);
    return;
  }
  let code = res.status === 429 ? 'RATE_LIMITED' : `HTTP_${res.status}`;
  let message = res.statusText;
  try {
    const body = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === 'string') code = body.error.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    // not JSON
  }
  const retry = Number(res.headers.get('retry-after'));
  throw new ApiError(code, message, res.status, Number.isFinite(retry) && retry > 0 ? retry : undefined);
}
