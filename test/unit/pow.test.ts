import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ERRORS, TribuneError } from '../../src/errors.js';
import { parseRate, powPrefix, powThreshold, ProofOfWork } from '../../src/edge/defence/pow.js';
import { NoJsPasses } from '../../src/edge/defence/nojs.js';

const secret = Buffer.from('pow test secret');

/** The client's search, with node:crypto (the page uses @noble/hashes in a worker). */
function solve(token: string, difficulty: number, from = 0): string {
  const threshold = Math.floor(2 ** 48 / difficulty);
  for (let i = from; i < from + 50_000_000; i++) {
    const h = createHash('sha256').update(`${token}:${i}`).digest();
    if (h.readUIntBE(0, 6) <= threshold) return String(i);
  }
  throw new Error('no answer');
}

/** An answer that does not meet the difficulty of `token`. */
function wrongAnswer(token: string, difficulty: number): string {
  for (let i = 0; ; i++) if (powPrefix(token, String(i)) > powThreshold(difficulty)) return String(i);
}

function setup(opts: { maxRedeemed?: number } = {}) {
  let t = 1_000_000;
  const pow = new ProofOfWork({ secret, now: () => t, minDifficulty: 1, ...opts });
  return { pow, advance: (ms: number) => (t += ms) };
}

describe('ProofOfWork', () => {
  it('accepts a real solve once, then refuses its replay', () => {
    const { pow } = setup();
    const ch = pow.challenge('space1', { rate: 20_000, load: 0, risk: 0 });
    expect(ch.difficulty).toBe(5000); // 20k H/s × 250 ms
    expect(ch.expiresAtMs).toBe(1_000_000 + 120_000);
    const answer = solve(ch.token, ch.difficulty);
    expect(
      createHash('sha256').update(`${ch.token}:${answer}`).digest().readUIntBE(0, 6),
    ).toBeLessThanOrEqual(Math.floor(2 ** 48 / ch.difficulty));
    expect(pow.verify('space1', ch.token, answer)).toEqual({ ok: true });
    expect(pow.verify('space1', ch.token, answer)).toEqual({ ok: false, code: 'POW_REPLAYED' });
    expect(pow.drainCounts()).toEqual({ issued: 1, solved: 1, failed: 1 });
    expect(pow.drainCounts()).toEqual({ issued: 0, solved: 0, failed: 0 });
  });

  it('refuses a forged or garbled challenge and a non-decimal answer (POW_INVALID)', () => {
    const { pow } = setup();
    const ch = pow.challenge('space1', { rate: 20_000, load: 0, risk: 0 });
    const answer = solve(ch.token, ch.difficulty);
    const flip = (s: string, i: number): string =>
      s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    expect(pow.verify('space1', flip(ch.token, 5), answer)).toEqual({ ok: false, code: 'POW_INVALID' });
    expect(pow.verify('space1', flip(ch.token, ch.token.length - 3), answer)).toEqual({
      ok: false,
      code: 'POW_INVALID',
    });
    // a challenge signed with another secret, and one with a lower difficulty written in
    const other = new ProofOfWork({ secret: Buffer.from('other'), minDifficulty: 1 }).challenge('space1', {
      rate: 20_000,
      load: 0,
      risk: 0,
    });
    expect(pow.verify('space1', other.token, solve(other.token, other.difficulty)).ok).toBe(false);
    const [body, sig] = ch.token.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as { d: number };
    const easier = Buffer.from(JSON.stringify({ ...claims, d: 1 })).toString('base64url');
    expect(pow.verify('space1', `${easier}.${sig}`, '0')).toEqual({ ok: false, code: 'POW_INVALID' });
    for (const bad of ['', '-1', '1.5', 'abc', '1'.repeat(21), ' 1', undefined])
      expect(pow.verify('space1', ch.token, bad)).toEqual({ ok: false, code: 'POW_INVALID' });
    expect(pow.verify('space1', undefined, answer)).toEqual({ ok: false, code: 'POW_INVALID' });
    expect(pow.verify('space1', ch.token, answer)).toEqual({ ok: true });
  });

  it('refuses an answer computed for another challenge (POW_INSUFFICIENT)', () => {
    const { pow } = setup();
    const a = pow.challenge('space1', { rate: 400_000, load: 0, risk: 0 });
    const b = pow.challenge('space1', { rate: 400_000, load: 0, risk: 0 });
    let answer = solve(a.token, a.difficulty);
    // (one in `difficulty` answers also meets the other challenge: pick one that does not)
    while (powPrefix(b.token, answer) <= powThreshold(b.difficulty))
      answer = solve(a.token, a.difficulty, Number(answer) + 1);
    expect(pow.verify('space1', b.token, answer)).toEqual({ ok: false, code: 'POW_INSUFFICIENT' });
    expect(pow.verify('space1', b.token, wrongAnswer(b.token, b.difficulty))).toEqual({
      ok: false,
      code: 'POW_INSUFFICIENT',
    });
    expect(pow.verify('space1', a.token, answer)).toEqual({ ok: true });
  });

  it('refuses a challenge for another Space (POW_WRONG_SPACE) and an expired one (POW_EXPIRED)', () => {
    const { pow, advance } = setup();
    const ch = pow.challenge('space1', { rate: 20_000, load: 0, risk: 0 });
    const answer = solve(ch.token, ch.difficulty);
    expect(pow.verify('space2', ch.token, answer)).toEqual({ ok: false, code: 'POW_WRONG_SPACE' });
    advance(119_999);
    const late = pow.challenge('space1', { rate: 20_000, load: 0, risk: 0 });
    advance(1);
    expect(pow.verify('space1', ch.token, answer)).toEqual({ ok: false, code: 'POW_EXPIRED' });
    expect(pow.verify('space1', late.token, solve(late.token, late.difficulty))).toEqual({ ok: true });
  });

  it('forgets redeemed nonces after expiry and refuses rather than forget when full', () => {
    const { pow, advance } = setup({ maxRedeemed: 2 });
    const solved = () => {
      const ch = pow.challenge('s', { rate: 20_000, load: 0, risk: 0 });
      return { ch, answer: solve(ch.token, ch.difficulty) };
    };
    const [a, b, c] = [solved(), solved(), solved()];
    expect(pow.verify('s', a.ch.token, a.answer).ok).toBe(true);
    expect(pow.verify('s', b.ch.token, b.answer).ok).toBe(true);
    expect(pow.verify('s', c.ch.token, c.answer)).toEqual({ ok: false, code: 'BROWNOUT' });
    expect(pow.verify('s', a.ch.token, a.answer)).toEqual({ ok: false, code: 'POW_REPLAYED' });
    advance(120_000);
    const d = solved();
    expect(pow.verify('s', d.ch.token, d.answer).ok).toBe(true);
    expect(pow.redeemedCount).toBe(1);
  });

  it('sets difficulty from the clamped rate: ~250 ms at rest, never over 0.9 s at 200k H/s', () => {
    const pow = new ProofOfWork({ secret });
    expect(pow.difficultyFor({ rate: 200_000, load: 0, risk: 0 })).toBe(50_000);
    expect(pow.difficultyFor({ load: 0, risk: 0 })).toBe(50_000); // default rate
    for (const load of [0, 0.25, 0.5, 1, 5, -1, NaN])
      for (const risk of [0, 0.5, 1, 9, NaN]) {
        const d = pow.difficultyFor({ rate: 200_000, load, risk });
        expect(d / 200_000).toBeLessThanOrEqual(0.9);
        expect(d).toBeGreaterThanOrEqual(50_000);
      }
    expect(pow.difficultyFor({ rate: 200_000, load: 1, risk: 1 })).toBe(180_000);
    expect(pow.difficultyFor({ rate: 200_000, load: 0.1, risk: 0 })).toBe(60_000);
    // absurd claims are clamped to [20k, 50M] H/s
    expect(pow.difficultyFor({ rate: 1, load: 0, risk: 0 })).toBe(5000);
    expect(pow.difficultyFor({ rate: 1e12, load: 0, risk: 0 })).toBe(12_500_000);
    expect(pow.difficultyFor({ rate: -5, load: 0, risk: 0 })).toBe(50_000);
    expect(pow.difficultyFor({ rate: Infinity, load: 0, risk: 0 })).toBe(50_000);
    // and within [minDifficulty, maxDifficulty]
    const tight = new ProofOfWork({ secret, minDifficulty: 10_000, maxDifficulty: 20_000 });
    expect(tight.difficultyFor({ rate: 20_000, load: 0, risk: 0 })).toBe(10_000);
    expect(tight.difficultyFor({ rate: 1e7, load: 0, risk: 0 })).toBe(20_000);
    const ch = pow.challenge('s', { rate: 200_000, load: 0, risk: 0 });
    expect(ch).toMatchObject({ difficulty: 50_000, targetMs: 250 });
  });

  it('parseRate takes sensible numbers and refuses absurd ones with POW_BAD_DIFFICULTY', () => {
    expect(parseRate(undefined)).toBeUndefined();
    expect(parseRate('')).toBeUndefined();
    expect(parseRate('200000')).toBe(200_000);
    expect(parseRate('1234.5')).toBe(1234.5);
    expect(parseRate('2e5')).toBe(200_000);
    expect(parseRate('1000000000000')).toBe(1e12);
    for (const bad of [
      'abc',
      '0',
      '-5',
      'NaN',
      'Infinity',
      '1e13',
      '1000000000001',
      '1'.repeat(16),
      '0000000000000001',
      '0x10',
      ' 5',
      '1e400',
    ]) {
      let err: unknown;
      try {
        parseRate(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(TribuneError);
      expect((err as TribuneError).code).toBe('POW_BAD_DIFFICULTY');
    }
    expect(ERRORS.POW_BAD_DIFFICULTY.status).toBe(400);
    expect(ERRORS.POW_REPLAYED.status).toBe(409);
  });

  it('a challenge is not a delay pass, nor the other way round (separate keys)', () => {
    const { pow } = setup();
    const passes = new NoJsPasses({ secret, now: () => 2_000_000 });
    const pass = passes.issueDelayPass('s', 0);
    expect(pow.verify('s', pass, '0')).toEqual({ ok: false, code: 'POW_INVALID' });
    const ch = pow.challenge('s', { rate: 20_000, load: 0, risk: 0 });
    expect(passes.checkDelayPass('s', ch.token).ok).toBe(false);
  });
});
