import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * What a Space token allows:
 * - `publish`: WHIP ingest into Space `s` as user `u` (a standard WHIP client such as OBS can use it);
 * - `listen`: playback of Space `s` through any edge (needed when the Space requires sign-in), `u` if signed in;
 * - `invite`: an invite link to speak in Space `s`, redeemed by a signed-in user;
 * - `host` / `speaker`: legacy Space-wide tokens.
 */
export type TokenRole = 'host' | 'speaker' | 'publish' | 'listen' | 'invite';
const ROLES: readonly string[] = ['host', 'speaker', 'publish', 'listen', 'invite'];

export interface TokenClaims {
  /** Space id */
  s: string;
  r: TokenRole;
  /** user id, when the token is bound to an account */
  u?: string;
  /** expires at, unix seconds (none: no expiry) */
  e?: number;
  /** issued at, unix seconds */
  i: number;
}

const b64 = (b: Buffer): string => b.toString('base64url');

/** HMAC-SHA256 signed tokens, verifiable anywhere the secret is (origins, and later edges), with no lookup. */
export class TokenSigner {
  constructor(private readonly secret: Buffer) {}

  sign(claims: TokenClaims): string {
    const body = b64(Buffer.from(JSON.stringify(claims)));
    return `${body}.${this.mac(body)}`;
  }

  /** Returns the claims, or null for anything forged, truncated, malformed or expired. Never throws. */
  verify(token: string | undefined, nowSec = Date.now() / 1000): TokenClaims | null {
    if (!token || token.length > 512) return null;
    const dot = token.indexOf('.');
    if (dot <= 0 || dot !== token.lastIndexOf('.')) return null;
    const body = token.slice(0, dot);
    const sig = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.mac(body), 'base64url');
    if (sig.length !== expected.length || !timingSafeEqual(sig, expected)) return null;
    try {
      const c = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<TokenClaims>;
      if (
        typeof c.s !== 'string' ||
        typeof c.r !== 'string' ||
        !ROLES.includes(c.r) ||
        typeof c.i !== 'number'
      )
        return null;
      if (c.u !== undefined && typeof c.u !== 'string') return null;
      if (c.e !== undefined && (typeof c.e !== 'number' || c.e <= nowSec)) return null;
      const claims: TokenClaims = { s: c.s, r: c.r, i: c.i };
      if (c.u !== undefined) claims.u = c.u;
      if (c.e !== undefined) claims.e = c.e;
      return claims;
    } catch {
      return null;
    }
  }

  private mac(body: string): string {
    return b64(createHmac('sha256', this.secret).update(body).digest());
  }
}

/** The configured secret, or the one kept in the data dir (created on first start). */
export async function loadSecret(configured: string, dataDir: string): Promise<Buffer> {
  if (configured) return Buffer.from(configured, 'utf8');
  const file = path.join(dataDir, 'secret');
  try {
    return Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
  } catch {
    const secret = randomBytes(32);
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, secret.toString('hex'), { mode: 0o600 });
    return secret;
  }
}

export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return m?.[1];
}
