/**
 * Edge access control for Spaces that require sign-in. The origin marks such a Space's responses
 * with `x-tribune-access: signed-in`; the edge remembers the flag per Space (from the latest origin
 * response) and then asks every request of that Space (cache HITs included) for a listen token,
 * verified locally with the shared token secret: no origin call per check. Verified tokens are
 * kept in a small bounded cache so a busy Space does not pay one HMAC per request.
 */
import { TokenSigner, type TokenClaims } from '../origin/tokens.js';

/** `expiresAtMs`: when the token stops being valid (long-lived responses end then). */
export type AccessCheck = { ok: true; userId: string | undefined; expiresAtMs?: number } | { ok: false };

export interface ListenAccessOptions {
  /** The token secret (TRIBUNE_TOKEN_SECRET); without it no token is ever valid. */
  tokenSecret?: Buffer;
  /** Spaces whose flag is remembered. Default 100,000 (the oldest is forgotten first). */
  maxSpaces?: number;
  /** Verified tokens cached. Default 50,000. */
  maxTokens?: number;
}

export class ListenAccess {
  private readonly signer: TokenSigner | undefined;
  /** Space -> clock time of the origin response that last set the flag; present = signed-in. */
  private readonly signedIn = new Map<string, number>();
  /** Same, for Spaces the latest response said are public (to order flag updates). */
  private readonly publicAt = new Map<string, number>();
  private readonly verified = new Map<string, TokenClaims>();
  private readonly maxSpaces: number;
  private readonly maxTokens: number;

  constructor(opts: ListenAccessOptions = {}) {
    this.signer =
      opts.tokenSecret && opts.tokenSecret.length > 0 ? new TokenSigner(opts.tokenSecret) : undefined;
    this.maxSpaces = opts.maxSpaces ?? 100_000;
    this.maxTokens = opts.maxTokens ?? 50_000;
  }

  /**
   * Learns a Space's flag from an origin answer (`access` = its x-tribune-access header, `atMs`
   * when it was loaded). Only successful answers count, and an older answer never overrides a
   * newer one. Any answer may turn the flag on; only an `authoritative` one (the state doc, which
   * the live routes always label) may turn it off, so an origin object served without the header
   * cannot open a signed-in Space.
   */
  note(
    spaceId: string,
    status: number,
    access: string | undefined,
    atMs: number,
    authoritative = true,
  ): void {
    if (status < 200 || status >= 300) return;
    const signedIn = isSignedIn(access);
    if (!signedIn && !authoritative) return;
    const last = Math.max(this.signedIn.get(spaceId) ?? -Infinity, this.publicAt.get(spaceId) ?? -Infinity);
    // Already known from this very answer (every HIT of a cached object notes it again): nothing to do.
    if (atMs <= last && (signedIn ? this.signedIn : this.publicAt).get(spaceId) === last) return;
    if (atMs < last) return;
    if (signedIn) {
      this.publicAt.delete(spaceId);
      remember(this.signedIn, spaceId, atMs, this.maxSpaces);
    } else {
      this.signedIn.delete(spaceId);
      remember(this.publicAt, spaceId, atMs, this.maxSpaces);
    }
  }

  /** True when the latest origin answer for this Space said it requires sign-in. */
  requiresToken(spaceId: string): boolean {
    return this.signedIn.has(spaceId);
  }

  /** Whether `token` is a valid, unexpired listen token for `spaceId`. */
  check(spaceId: string, token: string | undefined, nowMs = Date.now()): AccessCheck {
    const c = this.claims(token, nowMs);
    if (!c || c.r !== 'listen' || c.s !== spaceId) return { ok: false };
    return c.e === undefined ? { ok: true, userId: c.u } : { ok: true, userId: c.u, expiresAtMs: c.e * 1000 };
  }

  private claims(token: string | undefined, nowMs: number): TokenClaims | null {
    if (!token || !this.signer) return null;
    const nowSec = nowMs / 1000;
    const cached = this.verified.get(token);
    if (cached) {
      if (cached.e !== undefined && cached.e <= nowSec) {
        this.verified.delete(token);
        return null;
      }
      return cached;
    }
    const c = this.signer.verify(token, nowSec);
    if (c && c.r === 'listen') remember(this.verified, token, c, this.maxTokens);
    return c;
  }
}

export function isSignedIn(access: string | undefined): boolean {
  return access !== undefined && access.trim().toLowerCase() === 'signed-in';
}

function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}
