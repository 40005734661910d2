/**
 * The edge's signed admission documents, verified locally with keys derived from the token secret
 * (TRIBUNE_TOKEN_SECRET): no lookup, no origin call. Each kind has its own key, so one can never
 * pass for another (nor for a Space token or an edge report signature).
 *
 * - admission token `a`: "this listener was admitted to Space `s` on an edge"; short-lived, renewed
 *   while listening; `a` = admission id (one place), `h` = tag of the address it was issued to.
 * - queue ticket `t`: number `n` in edge `g`'s queue (`g` = edge id + start epoch) for Space `s`,
 *   issued at `i`; survives a page reload (the page keeps it), not an edge restart.
 * - rehearsal token `r`: the operator lets `tribune rehearse` run against this deployment until `e`.
 * - proof-of-work challenge `p` (under-attack mode, defence/pow.ts): nonce `n`, difficulty `d`
 *   (expected hashes) for Space `s`, issued `i`, expires `e`.
 * - delay pass `w` (the no-JavaScript path, defence/nojs.ts): Space `s`, issued `i`, good after `d` ms.
 *
 * Format: base64url(JSON claims) "." base64url(HMAC-SHA256(key, first part)).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface AdmissionClaims {
  k: 'a';
  s: string;
  a: string;
  /** expires, unix ms */
  e: number;
  h: string;
}
export interface TicketClaims {
  k: 't';
  s: string;
  n: number;
  g: string;
  /** issued, unix ms */
  i: number;
}
export interface RehearsalClaims {
  k: 'r';
  /** expires, unix ms */
  e: number;
  /** free text: who asked, what for */
  note: string;
  /** issued, unix ms */
  i: number;
}
export interface PowChallengeClaims {
  k: 'p';
  s: string;
  /** random nonce, 12 bytes base64url */
  n: string;
  /** difficulty: expected hashes */
  d: number;
  /** expires, unix ms */
  e: number;
  /** issued, unix ms */
  i: number;
}
export interface DelayPassClaims {
  k: 'w';
  s: string;
  /** random nonce (a pass is good once) */
  n: string;
  /** issued, unix ms */
  i: number;
  /** delay, ms */
  d: number;
}
export type SignedClaims =
  AdmissionClaims | TicketClaims | RehearsalClaims | PowChallengeClaims | DelayPassClaims;

const b64 = (b: Buffer): string => b.toString('base64url');
const MAX_TOKEN_CHARS = 512;

export function deriveKey(tokenSecret: Buffer, kind: SignedClaims['k']): Buffer {
  if (tokenSecret.length === 0) throw new Error('the token secret must not be empty');
  return createHmac('sha256', tokenSecret).update(`tribune admission v1 ${kind}`).digest();
}

/** A short tag of a client address (never the address itself in a token). */
export function addressTag(key: Buffer, address: string): string {
  return createHash('sha256').update(key).update(address).digest('base64url').slice(0, 10);
}

export class ClaimsSigner<C extends SignedClaims> {
  constructor(
    private readonly key: Buffer,
    private readonly kind: C['k'],
  ) {}

  sign(claims: C): string {
    const body = b64(Buffer.from(JSON.stringify(claims)));
    return `${body}.${b64(createHmac('sha256', this.key).update(body).digest())}`;
  }

  /** The claims when the signature holds and the kind matches; null otherwise. Never throws. */
  verify(token: string | undefined): C | null {
    if (!token || token.length > MAX_TOKEN_CHARS) return null;
    const dot = token.indexOf('.');
    if (dot <= 0 || dot !== token.lastIndexOf('.')) return null;
    const body = token.slice(0, dot);
    const sig = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = createHmac('sha256', this.key).update(body).digest();
    if (sig.length !== expected.length || !timingSafeEqual(sig, expected)) return null;
    try {
      const c = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as C;
      return c && typeof c === 'object' && c.k === this.kind ? c : null;
    } catch {
      return null;
    }
  }
}

export function admissionSigner(secret: Buffer): ClaimsSigner<AdmissionClaims> {
  return new ClaimsSigner(deriveKey(secret, 'a'), 'a');
}
export function ticketSigner(secret: Buffer): ClaimsSigner<TicketClaims> {
  return new ClaimsSigner(deriveKey(secret, 't'), 't');
}
export function rehearsalSigner(secret: Buffer): ClaimsSigner<RehearsalClaims> {
  return new ClaimsSigner(deriveKey(secret, 'r'), 'r');
}

/** A rehearsal token valid for `ttlSec` (the operator runs `tribune rehearsal-token` where the secret is). */
export function issueRehearsalToken(secret: Buffer, ttlSec: number, note = '', nowMs = Date.now()): string {
  if (!Number.isFinite(ttlSec) || ttlSec <= 0 || ttlSec > 7 * 86_400)
    throw new RangeError('a rehearsal token lasts between 1 s and 7 days');
  return rehearsalSigner(secret).sign({
    k: 'r',
    e: nowMs + ttlSec * 1000,
    note: note.slice(0, 200),
    i: nowMs,
  });
}

export type RehearsalCheck =
  | { ok: true; claims: RehearsalClaims }
  | { ok: false; code: 'REHEARSAL_TOKEN_INVALID' | 'REHEARSAL_TOKEN_EXPIRED' };

export function checkRehearsalToken(
  secret: Buffer,
  token: string | undefined,
  nowMs = Date.now(),
): RehearsalCheck {
  const c = rehearsalSigner(secret).verify(token);
  if (!c || typeof c.e !== 'number') return { ok: false, code: 'REHEARSAL_TOKEN_INVALID' };
  if (c.e <= nowMs) return { ok: false, code: 'REHEARSAL_TOKEN_EXPIRED' };
  return { ok: true, claims: c };
}

export { ADMISSION_HEADER, REHEARSAL_HEADER } from '../../live/types.js';
