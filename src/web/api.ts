/**
 * The web app's one door to the Tribune API: the typed client (src/client) for every /api call,
 * plus the friendly wording of API errors. Edge calls (live state, reactions) live in live.ts.
 */
import { ApiError, TribuneClient } from '../client/index.js';
import type { ErrorCode } from '../errors.js';

export { ApiError } from '../client/index.js';
export type * from '../client/index.js';

/** The browser's client: same origin, cookies handled by the browser, CSRF header from the cookie. */
export const client = new TribuneClient();

/** Codes the web app makes up itself (never sent by the server). */
type ClientCode =
  | 'NETWORK'
  | 'MIC_DENIED'
  | 'MIC_NOT_FOUND'
  | 'MIC_UNSUPPORTED'
  | 'MIC_ERROR'
  | 'WEBRTC_ERROR'
  | 'PLAYBACK_ERROR';

const FRIENDLY: Partial<Record<ErrorCode | ClientCode, string>> = {
  NETWORK: "Can't reach Tribune right now. Check your connection; we'll keep trying.",
  BAD_REQUEST: 'Something in that request was not right. Please check and try again.',
  UNAUTHORIZED: 'Your access to this Space has expired. Reload the page.',
  FORBIDDEN: "You don't have permission to do that.",
  SPACE_NOT_FOUND: "This Space doesn't exist, or it was removed.",
  NOT_FOUND: "We couldn't find that.",
  SPACE_FULL: 'The stage is full right now.',
  SPACE_ENDED: 'This Space has ended.',
  HANDLE_TAKEN: 'That handle is already taken. Try another one.',
  BAD_CREDENTIALS: 'Wrong handle or password.',
  SIGNIN_THROTTLED: 'Too many failed sign-ins.',
  SIGN_IN_REQUIRED: 'Please sign in first.',
  SESSION_INVALID: 'Your session expired. Please sign in again.',
  CSRF_FAILED: 'Your session changed in another tab. Reload the page and try again.',
  USER_NOT_FOUND: 'No such user.',
  BLOCKED: 'You were removed from this Space.',
  FORCE_MUTED: 'The host muted you.',
  COHOSTS_FULL: 'This Space already has 2 co-hosts.',
  SPEAKERS_FULL: 'The stage is full (10 speakers).',
  SPACE_NOT_LIVE: "This Space isn't live.",
  SPACE_NOT_SCHEDULED: 'This Space is no longer scheduled.',
  SCHEDULE_OUT_OF_RANGE: 'Pick a time between now and 14 days from now.',
  REQUEST_NOT_FOUND: 'That request to speak is no longer pending.',
  NOT_A_MEMBER: 'That person is no longer in this Space.',
  UNKNOWN_EMOJI: "That reaction isn't available.",
  LISTEN_TOKEN_REQUIRED: 'Sign in to listen to this Space.',
  REPLAY_NOT_AVAILABLE: 'There is no replay for this Space.',
  CLIP_OUT_OF_RANGE: 'That moment is outside the recording.',
  CLIP_NOT_FOUND: "This clip doesn't exist, or it was removed.",
  RATE_LIMITED: "You're going a bit fast. Wait a moment and try again.",
  ORIGIN_UNAVAILABLE: 'Tribune is having trouble right now. Retrying…',
  MEDIA_UNAVAILABLE: 'The audio server is restarting. Retrying…',
  INTERNAL: 'Something went wrong on our side. Please try again.',
  MIC_DENIED: 'Microphone access was blocked. Allow it in your browser settings and try again.',
  MIC_NOT_FOUND: 'No microphone was found on this device.',
  MIC_UNSUPPORTED: 'This browser cannot use the microphone here (HTTPS is required).',
  MIC_ERROR: 'Could not start the microphone.',
  WEBRTC_ERROR: 'Could not connect the audio.',
  PLAYBACK_ERROR: 'This audio could not be played.',
};

/** Any thrown value as an ApiError (unknown errors become NETWORK / INTERNAL-like client errors). */
export function toApiError(err: unknown, fallbackCode = 'NETWORK'): ApiError {
  if (err instanceof ApiError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ApiError(fallbackCode, message, 0);
}

/** A sentence a person can read, for any error. */
export function friendlyMessage(err: unknown): string {
  const e = toApiError(err);
  const base = FRIENDLY[e.code as ErrorCode | ClientCode];
  if (e.code === 'SIGNIN_THROTTLED' || e.code === 'RATE_LIMITED') {
    const wait = e.retryAfterSec;
    if (wait) return `${base ?? e.message} Try again in ${formatWait(wait)}.`;
  }
  if (base) return base;
  if (e.status >= 500) return FRIENDLY.INTERNAL!;
  return e.message || 'Something went wrong.';
}

export function formatWait(sec: number): string {
  const s = Math.max(1, Math.ceil(sec));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  const r = s % 60;
  return r ? `${m} min ${r} s` : `${m} min`;
}

export function isAbortError(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}

/** Absolute URL for a same-origin path (links people will share). */
export function absoluteUrl(pathOrUrl: string): string {
  try {
    return new URL(pathOrUrl, window.location.origin).href;
  } catch {
    return pathOrUrl;
  }
}

export const spacePath = (id: string): string => `/s/${encodeURIComponent(id)}`;
export const clipPath = (id: string): string => `/clip/${encodeURIComponent(id)}`;
export const signInPath = (next?: string): string =>
  next ? `/signin?next=${encodeURIComponent(next)}` : '/signin';

/** The current in-app location, to come back to after signing in. */
export function here(): string {
  return window.location.pathname + window.location.search;
}
