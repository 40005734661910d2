import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** What a Space token allows: host (publish, end) or speaker (publish from an invite link). */
export interface TokenClaims {
  /** Space id */
  s: string;
  r: 'host' | 'speaker';
  /** issued at, seconds */
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

  /** Returns the claims, or null for anything forged, truncated or malformed. Never throws. */
  verify(token: string | undefined): TokenClaims | null {
    if (!token || token.length > 512) return null;
    const dot = token.indexOf('.');
    if (dot <= 0 || dot !== token.lastIndexOf('.')) return null;
    const body = token.slice(0, dot);
    const sig = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.mac(body), 'base64url');
    if (sig.length !== expected.length || !timingSafeEqual(sig, expected)) return null;
    try {
      const c = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<TokenClaims>;
      if (typeof c.s !== 'string' || (c.r !== 'host' && c.r !== 'speaker') || typeof c.i !== 'number')
        return null;
      return { s: c.s, r: c.r, i: c.i };
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
