import { timingSafeEqual } from 'node:crypto';

/** Methods that must not change state, so they need no CSRF token. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface CsrfInput {
  method: string;
  /** The request carried a non-empty Cookie header (so a browser may have attached ambient credentials). */
  cookieHeaderPresent: boolean;
  /** Value of the `tribune_csrf` cookie, if any. */
  csrfCookie: string | undefined;
  /** Value of the `x-csrf-token` header, if any (an array when the header was repeated). */
  csrfHeader: string | string[] | undefined;
}

/**
 * Double-submit CSRF check. Safe methods pass. Unsafe methods pass when the request carries no
 * cookies at all (no ambient authority: bearer-token and anonymous clients); otherwise the
 * `x-csrf-token` header must be non-empty and equal the `tribune_csrf` cookie.
 */
export function checkCsrf({ method, cookieHeaderPresent, csrfCookie, csrfHeader }: CsrfInput): boolean {
  if (SAFE_METHODS.has(method.toUpperCase())) return true;
  if (!cookieHeaderPresent) return true;
  if (typeof csrfHeader !== 'string' || typeof csrfCookie !== 'string') return false;
  if (csrfHeader.length === 0 || csrfCookie.length === 0) return false;
  const a = Buffer.from(csrfHeader, 'utf8');
  const b = Buffer.from(csrfCookie, 'utf8');
  // Only the length can leak, and token lengths are public.
  return a.length === b.length && timingSafeEqual(a, b);
}
