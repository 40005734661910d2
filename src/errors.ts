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
  RATE_LIMITED: { status: 429, message: 'Too many requests' },
  ORIGIN_UNAVAILABLE: { status: 502, message: 'The edge could not reach the origin' },
  MEDIA_UNAVAILABLE: { status: 503, message: 'The media engine is not available' },
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
