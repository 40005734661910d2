/**
 * Under-attack mode's proof of work (issue 9): a newcomer without an admission token or ticket gets
 * a small signed challenge instead of a place, solves it in a Web Worker (src/web/space/pow-worker.ts)
 * and asks again with `?challenge=<token>&answer=<answer>`. Listeners already holding a token are
 * never challenged. Pure: no I/O, the clock is injectable.
 *
 * - The challenge is a signed claims document (kind `p`, tokens.ts): Space, random nonce,
 *   difficulty `d` (expected hashes), issue and expiry times. Nothing is kept per challenge issued.
 * - The proof: a decimal `answer` (at most 20 digits) such that the first 48 bits (big-endian) of
 *   SHA-256(`${challengeToken}:${answer}`) are ≤ floor(2^48 / d). The edge checks it with one
 *   HMAC (the challenge's signature) and one SHA-256.
 * - A redeemed nonce is remembered until its challenge expires, so a proof admits once. Entries are
 *   created only by valid proofs (each cost real work); the table is capped, and when it is full
 *   the edge refuses (BROWNOUT) rather than forget.
 * - Difficulty follows the client's measured hash rate (clamped) so a mid-range phone solves in
 *   about `targetMs` (250 ms) at rest, longer under load or risk, never over `maxTargetMs` (0.9 s).
 */
import { createHash, randomBytes } from 'node:crypto';
import { TribuneError, type ErrorCode } from '../../errors.js';
import { ClaimsSigner, deriveKey, type PowChallengeClaims } from '../admission/tokens.js';
import { OneUse } from './one-use.js';

export type PowCode = 'POW_INVALID' | 'POW_EXPIRED' | 'POW_WRONG_SPACE' | 'POW_INSUFFICIENT' | 'POW_REPLAYED';

export type PowCheck = { ok: true } | { ok: false; code: PowCode | 'BROWNOUT' };

export interface PowChallenge {
  /** The signed challenge: what the client hashes (with `:answer`) and sends back as `challenge=`. */
  token: string;
  /** Expected hashes. */
  difficulty: number;
  /** About how long the client should take at its (clamped) rate, ms. */
  targetMs: number;
  expiresAtMs: number;
}

export interface DifficultyInput {
  /** The client's measured hash rate, hashes per second (absent: `defaultRate`). */
  rate?: number;
  /** The edge's load, 0..1. */
  load: number;
  /** How suspicious this request looks, 0..1. */
  risk: number;
}

export interface ProofOfWorkOptions {
  /** The token secret (TRIBUNE_TOKEN_SECRET); the challenge key is derived from it. */
  secret: Buffer;
  now?: () => number;
  /** A challenge is good this long. Default 2 min. */
  ttlMs?: number;
  /** Solve time at rest (no load, no risk). Default 250 ms. */
  targetMs?: number;
  /** Longest solve time asked of anyone. Default 900 ms. */
  maxTargetMs?: number;
  /** Default 256. */
  minDifficulty?: number;
  /** Default 2^32. */
  maxDifficulty?: number;
  /** The rate assumed when the client gave none: a mid-range phone with a JS SHA-256. Default 200,000 H/s. */
  defaultRate?: number;
  /** Most redeemed nonces remembered at once. Default 200,000. */
  maxRedeemed?: number;
}

/** A client's claimed rate is clamped to this range (hashes per second). */
export const MIN_RATE = 20_000;
export const MAX_RATE = 50_000_000;
/** Longest decimal answer accepted. */
export const MAX_ANSWER_CHARS = 20;
const TWO_48 = 2 ** 48;
const ANSWER = new RegExp(`^[0-9]{1,${MAX_ANSWER_CHARS}}$`);
const RATE = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

const clamp01 = (x: number): number => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);

/** The largest 48-bit prefix that meets difficulty `d`. */
export function powThreshold(difficulty: number): number {
  return Math.floor(TWO_48 / Math.max(1, difficulty));
}

/** The first 48 bits (big-endian) of SHA-256(`${token}:${answer}`). */
export function powPrefix(token: string, answer: string): number {
  return createHash('sha256').update(`${token}:${answer}`).digest().readUIntBE(0, 6);
}

/**
 * `?rate=` from a client: undefined when absent; a TribuneError('POW_BAD_DIFFICULTY') when absurd
 * (not a plain non-negative number, ≤ 0, over 1e12, over 15 characters). Not clamped here
 * (difficultyFor clamps).
 */
export function parseRate(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw.length > 15 || !RATE.test(raw)) throw new TribuneError('POW_BAD_DIFFICULTY', 'rate');
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 1e12) throw new TribuneError('POW_BAD_DIFFICULTY', 'rate');
  return n;
}

export class ProofOfWork {
  private readonly signer: ClaimsSigner<PowChallengeClaims>;
  private readonly now: () => number;
  readonly ttlMs: number;
  readonly targetMs: number;
  readonly maxTargetMs: number;
  readonly minDifficulty: number;
  readonly maxDifficulty: number;
  readonly defaultRate: number;
  private readonly redeemed: OneUse;
  private readonly tally = { issued: 0, solved: 0, failed: 0 };

  constructor(opts: ProofOfWorkOptions) {
    this.signer = new ClaimsSigner(deriveKey(opts.secret, 'p'), 'p');
    this.now = opts.now ?? Date.now;
    this.ttlMs = opts.ttlMs ?? 120_000;
    this.targetMs = opts.targetMs ?? 250;
    this.maxTargetMs = opts.maxTargetMs ?? 900;
    this.minDifficulty = Math.max(1, Math.floor(opts.minDifficulty ?? 256));
    this.maxDifficulty = Math.max(this.minDifficulty, Math.floor(opts.maxDifficulty ?? 2 ** 32));
    this.defaultRate = opts.defaultRate ?? 200_000;
    this.redeemed = new OneUse(opts.maxRedeemed ?? 200_000);
  }

  /** The client's claimed rate, clamped (absent or not a number: the default). */
  rateOf(rate: number | undefined): number {
    if (rate === undefined || !Number.isFinite(rate) || rate <= 0) return this.defaultRate;
    return Math.min(MAX_RATE, Math.max(MIN_RATE, rate));
  }

  /** How long a client should spend, ms: targetMs × (1 + 2·load) × (1 + risk), at most maxTargetMs. */
  solveMsFor(load: number, risk: number): number {
    return Math.min(this.maxTargetMs, this.targetMs * (1 + 2 * clamp01(load)) * (1 + clamp01(risk)));
  }

  /** Expected hashes: the (clamped) rate × the target time, within [minDifficulty, maxDifficulty]. */
  difficultyFor(input: DifficultyInput): number {
    const d = Math.round((this.rateOf(input.rate) * this.solveMsFor(input.load, input.risk)) / 1000);
    return Math.min(this.maxDifficulty, Math.max(this.minDifficulty, d));
  }

  challenge(spaceId: string, opts: DifficultyInput = { load: 0, risk: 0 }): PowChallenge {
    const now = this.now();
    const difficulty = this.difficultyFor(opts);
    const expiresAtMs = now + this.ttlMs;
    const token = this.signer.sign({
      k: 'p',
      s: spaceId,
      n: randomBytes(12).toString('base64url'),
      d: difficulty,
      e: expiresAtMs,
      i: now,
    });
    this.tally.issued++;
    return {
      token,
      difficulty,
      targetMs: Math.max(1, Math.round((difficulty * 1000) / this.rateOf(opts.rate))),
      expiresAtMs,
    };
  }

  /** Checks a proof for `spaceId`; a valid one is redeemed (a second use gets POW_REPLAYED). */
  verify(spaceId: string, token: string | undefined, answer: string | undefined): PowCheck {
    const r = this.check(spaceId, token, answer);
    if (r.ok) this.tally.solved++;
    else this.tally.failed++;
    return r;
  }

  private check(spaceId: string, token: string | undefined, answer: string | undefined): PowCheck {
    if (typeof answer !== 'string' || !ANSWER.test(answer)) return { ok: false, code: 'POW_INVALID' };
    const c = this.signer.verify(token);
    if (
      !c ||
      typeof c.s !== 'string' ||
      typeof c.n !== 'string' ||
      typeof c.e !== 'number' ||
      !Number.isSafeInteger(c.d) ||
      c.d < 1
    )
      return { ok: false, code: 'POW_INVALID' };
    if (c.s !== spaceId) return { ok: false, code: 'POW_WRONG_SPACE' };
    const now = this.now();
    if (c.e <= now) return { ok: false, code: 'POW_EXPIRED' };
    if (this.redeemed.has(c.n)) return { ok: false, code: 'POW_REPLAYED' };
    if (powPrefix(token as string, answer) > powThreshold(c.d))
      return { ok: false, code: 'POW_INSUFFICIENT' };
    const r = this.redeemed.redeem(c.n, c.e, now);
    if (r === 'full') return { ok: false, code: 'BROWNOUT' };
    return r === 'ok' ? { ok: true } : { ok: false, code: 'POW_REPLAYED' };
  }

  /** Nonces remembered now. */
  get redeemedCount(): number {
    return this.redeemed.size;
  }

  drainCounts(): { issued: number; solved: number; failed: number } {
    const out = { ...this.tally };
    this.tally.issued = this.tally.solved = this.tally.failed = 0;
    return out;
  }
}

/** The HTTP error for a refused proof (status and message from the catalogue). */
export function powError(code: PowCode | 'BROWNOUT'): TribuneError {
  return new TribuneError(code satisfies ErrorCode);
}
