/**
 * The one catalogue of Tribune error codes. Every error a client can see is created here,
 * with its HTTP status; the README's "Error codes" table mirrors this list. Codes are never reused.
 */
export const ERRORS = {
  BAD_REQUEST: { status: 400, message: 'The request is malformed' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is over the size limit' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Wrong Content-Type for this endpoint' },
  SDP_INVALID: { status: 400, message: 'The SDP offer is malformed or not acceptable' },
  SDP_NO_AUDIO: { status: 400, message: 'The SDP offer has no usable audio section' },
  UNAUTHORIZED: { status: 401, message: 'A valid bearer token is required' },
  FORBIDDEN: { status: 403, message: 'This token does not allow that action' },
  SPACE_NOT_FOUND: { status: 404, message: 'No such Space' },
  SPEAKER_NOT_FOUND: { status: 404, message: 'No such speaker session' },
  NOT_FOUND: { status: 404, message: 'No such resource' },
  SPACE_FULL: { status: 409, message: 'The Space already has the maximum number of speakers' },
  SPACE_ENDED: { status: 409, message: 'The Space has ended' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed on this resource' },
  HLS_BAD_BLOCKING_REQUEST: {
    status: 400,
    message: 'Invalid _HLS_msn/_HLS_part: malformed, or too far beyond the live edge',
  },
  HLS_NOT_AVAILABLE: { status: 503, message: 'The requested playlist or part is not available yet' },
  HLS_GONE: { status: 404, message: 'The requested segment or part is no longer available' },
  // accounts and sessions
  HANDLE_TAKEN: { status: 409, message: 'That handle is already taken' },
  BAD_CREDENTIALS: { status: 401, message: 'Wrong handle or password' },
  SIGNIN_THROTTLED: { status: 429, message: 'Too many failed sign-ins; wait before trying again' },
  SIGN_IN_REQUIRED: { status: 401, message: 'Sign in first' },
  SESSION_INVALID: { status: 401, message: 'The session cookie is invalid or expired; sign in again' },
  CSRF_FAILED: { status: 403, message: 'Missing or wrong X-CSRF-Token header' },
  USER_NOT_FOUND: { status: 404, message: 'No such user' },
  // Spaces, roles and requests
  BLOCKED: { status: 403, message: 'You were removed from this Space' },
  FORCE_MUTED: { status: 403, message: 'The host muted you and does not allow unmuting' },
  COHOSTS_FULL: { status: 409, message: 'The Space already has the maximum number of co-hosts' },
  SPEAKERS_FULL: { status: 409, message: 'The Space already has the maximum number of speakers' },
  SPACE_NOT_LIVE: { status: 409, message: 'The Space is not live' },
  SPACE_NOT_SCHEDULED: { status: 409, message: 'The Space is not scheduled' },
  SCHEDULE_OUT_OF_RANGE: { status: 400, message: 'A Space can be scheduled from now up to 14 days ahead' },
  REQUEST_NOT_FOUND: { status: 404, message: 'No such request to speak' },
  NOT_A_MEMBER: { status: 404, message: 'That user has no role in this Space' },
  // reactions, live state, replays and clips
  UNKNOWN_EMOJI: { status: 400, message: 'That emoji is not an allowed reaction' },
  STATE_BAD_VERSION: { status: 400, message: 'Invalid v: malformed, or beyond the next version' },
  LISTEN_TOKEN_REQUIRED: { status: 401, message: 'This Space requires a valid listen token' },
  REPLAY_NOT_AVAILABLE: { status: 404, message: 'This Space has no replay (not ended, deleted or expired)' },
  CLIP_OUT_OF_RANGE: { status: 400, message: 'The clip range is outside the recording' },
  CLIP_NOT_FOUND: { status: 404, message: 'No such clip' },
  RATE_LIMITED: { status: 429, message: 'Too many requests' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request headers did not arrive in time' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large' },
  URI_TOO_LONG: { status: 414, message: 'The request URL is too long' },
  // profiles, follows, search and embeds (issue 11)
  CANNOT_FOLLOW_SELF: { status: 400, message: 'You cannot follow yourself' },
  FOLLOW_LIMIT_REACHED: { status: 409, message: 'You follow the maximum number of people' },
  QUERY_TOO_LONG: { status: 400, message: 'The search query is over 200 characters' },
  EMBED_NOT_AVAILABLE: {
    status: 403,
    message: 'This Space cannot be embedded (its listeners must sign in on Tribune)',
  },
  // admission, waiting room, rehearsal and capacity (issue 7)
  ADMISSION_REQUIRED: {
    status: 429,
    message: 'This edge is at capacity: ask /hls/spaces/:id/admit for a place (Retry-After says when)',
  },
  ADMISSION_INVALID: {
    status: 403,
    message: 'The admission token is forged, malformed or for another Space',
  },
  ADMISSION_EXPIRED: { status: 403, message: 'The admission token has expired; renew it at /admit' },
  ADMISSION_REPLAYED: { status: 409, message: 'The admission token is in use from too many addresses' },
  TICKET_INVALID: { status: 403, message: 'The queue ticket is forged, malformed or for another Space' },
  TICKET_EXPIRED: { status: 403, message: 'The queue ticket has expired; join the queue again' },
  TICKET_REPLAYED: { status: 409, message: 'This queue ticket was already admitted from another address' },
  REHEARSAL_TOKEN_REQUIRED: { status: 401, message: 'A rehearsal token (X-Tribune-Rehearsal) is required' },
  REHEARSAL_TOKEN_INVALID: { status: 403, message: 'The rehearsal token is forged or malformed' },
  REHEARSAL_TOKEN_EXPIRED: { status: 403, message: 'The rehearsal token has expired' },
  CAPACITY_OUT_OF_RANGE: { status: 400, message: 'A capacity input is missing or outside its range' },
  ORIGIN_UNAVAILABLE: { status: 502, message: 'The edge could not reach the origin' },
  // under-attack mode: proof of work and the no-JavaScript path (issue 9)
  POW_INVALID: {
    status: 400,
    message: 'The proof-of-work challenge is forged or malformed, or the answer is not a short decimal',
  },
  POW_EXPIRED: { status: 410, message: 'The proof-of-work challenge has expired; ask for a new one' },
  POW_WRONG_SPACE: { status: 400, message: 'The proof-of-work challenge is for another Space' },
  POW_INSUFFICIENT: { status: 400, message: 'The proof-of-work answer does not meet the difficulty' },
  POW_REPLAYED: { status: 409, message: 'This proof-of-work challenge was already redeemed' },
  POW_BAD_DIFFICULTY: { status: 400, message: 'The claimed hash rate is not a sensible number' },
  POW_EARLY: { status: 429, message: 'The delay pass is not ready yet; the page waits and moves on' },
  BROWNOUT: { status: 503, message: 'The edge is shedding this work under overload; retry later' },
  OPERATOR_REQUIRED: { status: 403, message: 'Only operators of this deployment may do that' },
  STATUS_SIGNATURE_INVALID: { status: 400, message: 'The status document does not match its signature' },
  // trust and safety: DSA notices, moderation, complaints (issue 10)
  NOTICE_INVALID: {
    status: 400,
    message: 'The notice is missing an element Art. 16 DSA asks for, or has a bad one',
  },
  NOTICE_RATE_LIMITED: { status: 429, message: 'Too many notices from this address or account; retry later' },
  NOTIFIER_PAUSED: {
    status: 403,
    message: 'Notices from you are paused for a while: several were manifestly unfounded (Art. 23(2) DSA)',
  },
  RANGE_OUT_OF_RECORDING: { status: 400, message: 'The time range is outside what the Space recorded' },
  CONTENT_GONE: { status: 410, message: 'The reported content was deleted' },
  CASE_NOT_FOUND: { status: 404, message: 'No such case, or the link is not valid' },
  COMPLAINT_NOT_ALLOWED: {
    status: 403,
    message: 'Only the affected user or the notifier can complain about this case',
  },
  COMPLAINT_WINDOW_CLOSED: {
    status: 409,
    message: 'The 6-month complaint window for this decision has closed',
  },
  COMPLAINT_NOT_FOUND: { status: 404, message: 'No such complaint' },
  COMPLAINT_DECIDED: { status: 409, message: 'This complaint is already decided' },
  SAME_DECIDER: {
    status: 409,
    message: 'A complaint is decided by a moderator other than the one who took the decision',
  },
  MODERATOR_REQUIRED: { status: 403, message: 'Only moderators of this deployment may do that' },
  ADMIN_REQUIRED: { status: 403, message: 'Only admins of this deployment may do that' },
  ACTION_INVALID: { status: 400, message: 'The action is missing its ground, explanation or parameters' },
  ACTION_NOT_APPLICABLE: { status: 409, message: 'That action does not apply to this case now' },
  ACCOUNT_SUSPENDED: { status: 403, message: 'This account is suspended; see the statement of reasons' },
  GEO_RESTRICTED: { status: 451, message: 'This Space is not available in your country' },
  EVIDENCE_NOT_FOUND: { status: 404, message: 'No such evidence, or it was deleted' },
  STATEMENT_CHAIN_BROKEN: {
    status: 422,
    message: 'The statements-of-reasons log does not verify',
  },
  REPORT_RANGE_INVALID: { status: 400, message: 'The report period is malformed or longer than 400 days' },
  // several origins (issue 8)
  SPACE_MOVING: {
    status: 503,
    message: 'The Space is moving to another origin (its origin stopped); retry in a second',
  },
  LEASE_LOST: {
    status: 409,
    message: 'This origin no longer runs the Space: another origin took it over; retry',
  },
  MEDIA_UNAVAILABLE: { status: 503, message: 'The media engine is not available' },
  STORE_UNAVAILABLE: { status: 503, message: 'Shared state is unavailable; retry shortly' },
  INTERNAL: { status: 500, message: 'Internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class TribuneError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${ERRORS[code].message}: ${detail}` : ERRORS[code].message, options);
    this.name = 'TribuneError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.detail = detail;
  }

  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export function isTribuneError(err: unknown): err is TribuneError {
  return err instanceof TribuneError;
}
