import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { TribuneError } from '../errors.js';

/** Password length bounds, in Unicode code points (the same unit JSON Schema's minLength/maxLength use). */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 200;

/** Parameters for new hashes. Stored hashes carry their own, so these can be raised later. */
export const SCRYPT_PARAMS = { N: 16384, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

// Bounds on parameters read back from a stored hash, so a corrupt or hostile row cannot make
// verification allocate gigabytes or run for minutes.
const MAX_LOG2_N = 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_N_TIMES_R = 2 ** 21; // 128 * N * r bytes <= 256 MiB

const B64URL = /^[A-Za-z0-9_-]+$/;

export interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function scryptAsync(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  // The callback form runs on libuv's threadpool: the event loop keeps serving while it hashes.
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function options(N: number, r: number, p: number): ScryptOptions {
  // scrypt needs about 128 * N * r bytes (plus 128 * r * p); leave headroom over Node's 32 MiB default.
  return { N, r, p, maxmem: Math.max(32 * 1024 * 1024, 256 * N * r + 128 * r * p) };
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function decodeB64url(s: string): Buffer | null {
  if (!B64URL.test(s)) return null;
  const buf = Buffer.from(s, 'base64url');
  return buf.toString('base64url') === s ? buf : null;
}

function parseIntStrict(s: string): number | null {
  return /^[1-9][0-9]{0,9}$/.test(s) ? Number(s) : null;
}

/** Parses `scrypt$N$r$p$salt$hash`; null when malformed or when the parameters are out of bounds. */
export function parseHash(stored: string): ParsedHash | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const N = parseIntStrict(parts[1]!);
  const r = parseIntStrict(parts[2]!);
  const p = parseIntStrict(parts[3]!);
  if (N === null || r === null || p === null) return null;
  if (N < 2 || (N & (N - 1)) !== 0 || N > 2 ** MAX_LOG2_N) return null;
  if (r > MAX_R || p > MAX_P || N * r > MAX_N_TIMES_R) return null;
  const salt = decodeB64url(parts[4]!);
  const hash = decodeB64url(parts[5]!);
  if (!salt || !hash || salt.length < 8 || hash.length < 16 || hash.length > 64) return null;
  return { N, r, p, salt, hash };
}

/**
 * Hashes a password with scrypt (N=16384, r=8, p=1, 16-byte salt, 32-byte key) into
 * `scrypt$N$r$p$salt$hash` (base64url). Throws BAD_REQUEST outside 8..200 characters.
 */
export async function hashPassword(password: string): Promise<string> {
  const length = codePoints(password);
  if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) {
    throw new TribuneError(
      'BAD_REQUEST',
      `password must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`,
    );
  }
  const { N, r, p } = SCRYPT_PARAMS;
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(password.normalize('NFC'), salt, KEY_BYTES, options(N, r, p));
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/**
 * Checks a password against a stored hash, with the parameters the hash was made with.
 * False for a wrong password and for a malformed or out-of-bounds stored string.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const { N, r, p, salt, hash } = parsed;
  const candidate = await scryptAsync(password.normalize('NFC'), salt, hash.length, options(N, r, p));
  return timingSafeEqual(candidate, hash);
}

/** True when a stored hash was made with weaker parameters than today's (rehash it at the next sign-in). */
export function needsRehash(stored: string): boolean {
  const parsed = parseHash(stored);
  if (!parsed) return true;
  return (
    parsed.N < SCRYPT_PARAMS.N ||
    parsed.r < SCRYPT_PARAMS.r ||
    parsed.p < SCRYPT_PARAMS.p ||
    parsed.hash.length < KEY_BYTES ||
    parsed.salt.length < SALT_BYTES
  );
}
