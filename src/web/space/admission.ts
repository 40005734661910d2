/**
 * The listener's place at the edge (issue 7): `GET …/spaces/:id/admit` on the edge that serves the
 * Space's media, before playback and while waiting in a lobby.
 * - Admitted: an admission token the player sends with every media request; renewed at the time
 *   the edge says (`renewInMs`), given back on the way out (leave beacon).
 * - Queued: a signed ticket, kept in localStorage so a reload keeps the place; asked again exactly
 *   when the edge says (`retryInMs`, already jittered there); position and honest wait shown.
 * - An edge without admission (404 NOT_FOUND, an older edge): plays without a token.
 * - A ticket or token the edge refuses (forged, expired, replayed): dropped, and a fresh request.
 * - 429 (a flood limit) waits Retry-After; network errors and 5xx retry with backoff.
 * - Under-attack mode (issue 9): a newcomer (no token, no ticket) may get `{ admitted: false,
 *   challenge }` instead of a place: a small proof of work, solved in a Web Worker (pow.ts), then
 *   asked again with `challenge=&answer=`. A newcomer asks at once, with `rate=` (this device's
 *   hash rate, so the edge sizes the puzzle) only when it is already known (cached for a day). A
 *   challenge sized without it is dropped: the rate is measured then (in the worker) and a fresh,
 *   sized challenge asked for. A refused proof (POW_*) is dropped for a fresh one.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { PowChallenge, PowCode } from '../../edge/defence/pow.js';
import { LISTEN_TOKEN_HEADER } from '../../live/types.js';
import { PAGE_LID } from '../live.js';
import { exposeHooks } from '../testHooks.js';
import { cachedHashRate, measureHashRate, solveChallenge } from './pow.js';

export type Admission =
  | { kind: 'asking' }
  | { kind: 'admitted'; token: string | null; joinWindowMs: number }
  | { kind: 'queued'; position: number; waitMs: number | null; nextAskMs: number }
  | { kind: 'busy'; retryInMs: number }
  /** Solving the edge's proof-of-work puzzle (under-attack mode); about `targetMs`. */
  | { kind: 'challenge'; targetMs: number };

interface Stored {
  ticket?: string;
  admission?: string;
  expiresAtMs?: number;
}

const storageKey = (spaceId: string): string => `tribune.admission.${spaceId}`;

function load(spaceId: string): Stored {
  try {
    const v = JSON.parse(localStorage.getItem(storageKey(spaceId)) ?? '{}') as Stored;
    return typeof v === 'object' && v ? v : {};
  } catch {
    return {};
  }
}

function save(spaceId: string, v: Stored): void {
  try {
    if (!v.ticket && !v.admission) localStorage.removeItem(storageKey(spaceId));
    else localStorage.setItem(storageKey(spaceId), JSON.stringify(v));
  } catch {
    // private mode: the place lasts as long as the page
  }
}

/** `…/master.m3u8` -> `…/admit` on the same edge. */
export function admitUrlFor(playbackUrl: string): string {
  const u = new URL(playbackUrl, window.location.href);
  u.pathname = u.pathname.replace(/[^/]*$/, 'admit');
  u.search = '';
  return u.href;
}

type AdmitBody =
  | { admitted: true; admission: string; expiresAtMs: number; renewInMs: number; joinWindowMs: number }
  | { admitted: false; ticket: string; position: number; waitMs: number | null; retryInMs: number }
  | { admitted: false; challenge: PowChallenge };

function isChallenge(c: unknown): c is PowChallenge {
  const v = c as PowChallenge | null;
  return (
    !!v &&
    typeof v === 'object' &&
    typeof v.token === 'string' &&
    typeof v.difficulty === 'number' &&
    v.difficulty >= 1 &&
    typeof v.targetMs === 'number'
  );
}

const REFUSED = new Set([
  'TICKET_INVALID',
  'TICKET_EXPIRED',
  'TICKET_REPLAYED',
  'ADMISSION_INVALID',
  'ADMISSION_REPLAYED',
  'ADMISSION_EXPIRED',
]);

/** A refused proof of work (or an absurd `rate=`): drop it and ask for a fresh challenge. */
const POW_REFUSED: Record<PowCode | 'POW_BAD_DIFFICULTY', true> = {
  POW_INVALID: true,
  POW_EXPIRED: true,
  POW_WRONG_SPACE: true,
  POW_INSUFFICIENT: true,
  POW_REPLAYED: true,
  POW_BAD_DIFFICULTY: true,
};
const isPowRefusal = (code: string): boolean => Object.prototype.hasOwnProperty.call(POW_REFUSED, code);

/**
 * The admission for `spaceId` while `enabled` (listening, or waiting in the lobby), against the
 * edge of `playbackUrl`. `listenToken`: for Spaces that require sign-in.
 */
export function useAdmission(
  spaceId: string | undefined,
  playbackUrl: string | undefined,
  listenToken: string | null,
  enabled: boolean,
) {
  const [admission, setAdmission] = useState<Admission>({ kind: 'asking' });
  const [kick, setKick] = useState(0);
  const tokenRef = useRef<string | null>(null);
  const leaveRef = useRef<(() => void) | null>(null);
  const listenRef = useRef(listenToken);
  listenRef.current = listenToken;

  useEffect(() => {
    if (!enabled || !spaceId || !playbackUrl) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    /** A solved challenge to present on the next ask (once). */
    let proof: { challenge: string; answer: string } | null = null;
    /** Bad `rate=` once: stop sending it. */
    let sendRate = true;
    /** This device's hash rate, once measured here (localStorage may not keep it). */
    let rate: number | undefined;
    const solving = new AbortController();
    const url = admitUrlFor(playbackUrl);
    const later = (ms: number): void => {
      clearTimeout(timer);
      timer = setTimeout(() => void ask(), Math.max(0, ms));
    };
    /** Solves `ch` in the worker, then asks again with the proof. */
    const solve = (ch: PowChallenge): void => {
      solveChallenge(ch, solving.signal).then(
        ({ answer, ms }) => {
          if (stopped) return;
          exposeHooks({ powSolveMs: ms });
          proof = { challenge: ch.token, answer };
          later(0);
        },
        () => {
          if (stopped) return;
          later(Math.min(8000, 1000 * 2 ** failures++));
        },
      );
    };
    const ask = async (): Promise<void> => {
      const stored = load(spaceId);
      const u = new URL(url);
      /** Whether this ask told the edge our hash rate (a challenge it answers is sized for us). */
      let sized = false;
      if (stored.admission && (stored.expiresAtMs ?? 0) > Date.now())
        u.searchParams.set('admission', stored.admission);
      else if (stored.ticket) u.searchParams.set('ticket', stored.ticket);
      else if (proof) {
        u.searchParams.set('challenge', proof.challenge);
        u.searchParams.set('answer', proof.answer);
        proof = null;
      } else if (sendRate) {
        // The edge sizes a puzzle from it (only a newcomer is ever challenged). Never waited for:
        // without a known rate the ask goes at once, and the rate is measured if a puzzle comes.
        rate ??= cachedHashRate();
        if (rate) {
          u.searchParams.set('rate', String(Math.round(rate)));
          sized = true;
        }
      }
      let res: Response;
      let body: unknown;
      try {
        const headers: Record<string, string> = { accept: 'application/json' };
        if (listenRef.current) headers[LISTEN_TOKEN_HEADER] = listenRef.current;
        res = await fetch(u.href, { headers, cache: 'no-store', credentials: 'omit' });
        body = await res.json().catch(() => null);
      } catch {
        if (stopped) return;
        later(Math.min(8000, 1000 * 2 ** failures++));
        return;
      }
      if (stopped) return;
      const code = (body as { error?: { code?: string } } | null)?.error?.code;
      if (res.ok && body && typeof (body as AdmitBody).admitted === 'boolean') {
        const b = body as AdmitBody;
        // (a challenge does not reset the backoff: a proof refused again and again slows down)
        if (!b.admitted && 'challenge' in b) {
          if (!isChallenge(b.challenge)) {
            later(Math.min(8000, 1000 * 2 ** failures++));
            return;
          }
          const ch = b.challenge;
          tokenRef.current = null;
          setAdmission({ kind: 'challenge', targetMs: ch.targetMs });
          if (!sized && sendRate && rate === undefined) {
            // Sized for a device we know nothing of: measure ours, then ask for one sized for it
            // (this one is dropped). Should measuring fail, this puzzle is solved as it is.
            measureHashRate().then(
              (r) => {
                if (stopped) return;
                rate = r;
                later(0);
              },
              () => {
                if (stopped) return;
                sendRate = false;
                solve(ch);
              },
            );
            return;
          }
          solve(ch);
          return;
        }
        failures = 0;
        if (b.admitted) {
          save(spaceId, { ticket: stored.ticket, admission: b.admission, expiresAtMs: b.expiresAtMs });
          tokenRef.current = b.admission;
          setAdmission((cur) =>
            cur.kind === 'admitted' && cur.token !== null && cur.joinWindowMs === b.joinWindowMs
              ? cur.token === b.admission
                ? cur
                : { ...cur, token: b.admission }
              : { kind: 'admitted', token: b.admission, joinWindowMs: b.joinWindowMs },
          );
          later(b.renewInMs);
        } else {
          save(spaceId, { ticket: b.ticket });
          tokenRef.current = null;
          setAdmission({ kind: 'queued', position: b.position, waitMs: b.waitMs, nextAskMs: b.retryInMs });
          later(b.retryInMs);
        }
        return;
      }
      if (code === 'SPACE_ENDED' || code === 'SPACE_NOT_FOUND') {
        // Over (the page learns it from the state document too): nothing to wait for.
        setAdmission({ kind: 'admitted', token: null, joinWindowMs: 0 });
        return;
      }
      if (res.status === 404) {
        // This edge does not admit (an older edge, or none in front): play without a token.
        setAdmission({ kind: 'admitted', token: null, joinWindowMs: 0 });
        return;
      }
      if (code && isPowRefusal(code)) {
        // A stale or refused proof: a fresh challenge (at once the first time, then with backoff).
        if (code === 'POW_BAD_DIFFICULTY') sendRate = false;
        proof = null;
        later(failures++ === 0 ? 0 : 2000);
        return;
      }
      if (code && REFUSED.has(code)) {
        save(spaceId, {});
        tokenRef.current = null;
        later(failures++ === 0 ? 0 : 2000);
        return;
      }
      if (res.status === 429) {
        const retry = Math.max(1, Number(res.headers.get('retry-after')) || 5) * 1000;
        setAdmission((cur) => (cur.kind === 'admitted' ? cur : { kind: 'busy', retryInMs: retry }));
        later(retry);
        return;
      }
      later(Math.min(8000, 1000 * 2 ** failures++));
    };
    void ask();
    leaveRef.current = () => {
      // The page is going: give the place back (best effort; it lapses by itself otherwise).
      const token = tokenRef.current;
      if (!token) return;
      try {
        const leave = new URL(playbackUrl, window.location.href);
        leave.pathname = leave.pathname.replace(/[^/]*$/, 'leave');
        leave.search = '';
        navigator.sendBeacon(leave.href, JSON.stringify({ lid: PAGE_LID, admission: token }));
        // The token is kept until it expires: a reload from this address asks with it and, in
        // under-attack mode, is not challenged again (the edge knows whom it issued it to).
      } catch {
        // lapses by itself
      }
    };
    const onHide = (e: PageTransitionEvent): void => {
      if (!e.persisted) leaveRef.current?.();
    };
    window.addEventListener('pagehide', onHide);
    return () => {
      stopped = true;
      clearTimeout(timer);
      solving.abort();
      window.removeEventListener('pagehide', onHide);
    };
  }, [spaceId, playbackUrl, enabled, kick]);

  useEffect(() => {
    exposeHooks({ admission });
  }, [admission]);

  /** The player was refused (token expired or unknown at this edge): ask again now. */
  const refresh = useCallback(() => {
    if (spaceId) {
      const s = load(spaceId);
      save(spaceId, { ticket: s.ticket });
    }
    tokenRef.current = null;
    setKick((k) => k + 1);
  }, [spaceId]);

  return { admission: enabled ? admission : ({ kind: 'asking' } as Admission), refresh };
}
