import { describe, expect, it } from 'vitest';
import { SigninThrottle, type SigninCheck } from '../../src/accounts/throttle.js';

const MIN = 60_000;

function clock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** One attempt that fails; returns the check result. */
function failOnce(th: SigninThrottle, handle: string, address: string): SigninCheck {
  const c = th.begin(handle, address);
  if (c.ok) c.attempt.fail();
  return c;
}

describe('SigninThrottle', () => {
  it('refuses after 5 failures with a Retry-After that doubles per extra failure, capped at 15 min', () => {
    const c = clock();
    const th = new SigninThrottle({ now: c.now });
    for (let i = 0; i < 5; i++) expect(failOnce(th, 'alice', '10.0.0.1').ok).toBe(true);
    expect(th.begin('alice', '10.0.0.1')).toEqual({ ok: false, retryAfterSec: 2 });
    // From another address too (the handle is locked), and still while the lock runs.
    expect(th.begin('alice', '10.0.0.99')).toEqual({ ok: false, retryAfterSec: 2 });
    c.advance(1_500);
    expect(th.begin('alice', '10.0.0.1')).toEqual({ ok: false, retryAfterSec: 1 });
    c.advance(500);
    // The lock is over: one more try; failing it doubles the lock-out.
    const expected = [4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900];
    for (const sec of expected) {
      expect(failOnce(th, 'alice', '10.0.0.1').ok).toBe(true);
      expect(th.begin('alice', '10.0.0.1')).toEqual({ ok: false, retryAfterSec: sec });
      expect(th.retryAfterSec('alice', '10.0.0.1')).toBe(sec);
      c.advance(sec * 1000);
    }
  });

  it('forgets failures older than the window', () => {
    const c = clock();
    const th = new SigninThrottle({ now: c.now });
    for (let i = 0; i < 4; i++) failOnce(th, 'bob', '10.0.0.2');
    c.advance(15 * MIN);
    for (let i = 0; i < 4; i++) expect(failOnce(th, 'bob', '10.0.0.2').ok).toBe(true);
    expect(th.begin('bob', '10.0.0.2').ok).toBe(true);
  });

  it('counts the quiet window from the end of the last lock-out', () => {
    const c = clock();
    const th = new SigninThrottle({ now: c.now });
    for (let i = 0; i < 9; i++) {
      expect(failOnce(th, 'bo', '10.0.0.12').ok).toBe(true);
      c.advance(th.retryAfterSec('bo', '10.0.0.12') * 1000);
    }
    // The 9th failure locked for 32 s. 15 minutes after the failure (but not after the lock): still counted.
    c.advance(15 * MIN - 32_000);
    expect(failOnce(th, 'bo', '10.0.0.12').ok).toBe(true);
    expect(th.retryAfterSec('bo', '10.0.0.12')).toBe(64);
    // 15 quiet minutes after the lock-out: forgotten, 5 free failures again.
    c.advance(64_000 + 15 * MIN);
    for (let i = 0; i < 5; i++) expect(failOnce(th, 'bo', '10.0.0.12').ok).toBe(true);
    expect(th.begin('bo', '10.0.0.12')).toEqual({ ok: false, retryAfterSec: 2 });
  });

  it("a success clears the handle's counter but not the address's", () => {
    const c = clock();
    const th = new SigninThrottle({ now: c.now });
    for (let i = 0; i < 4; i++) failOnce(th, 'carol', '10.0.0.3');
    const ok = th.begin('carol', '10.0.0.3');
    expect(ok.ok).toBe(true);
    if (ok.ok) ok.attempt.succeed();
    // The handle starts over from another address: 4 failures allowed again...
    for (let i = 0; i < 4; i++) expect(failOnce(th, 'carol', '10.0.0.4').ok).toBe(true);
    expect(th.begin('carol', '10.0.0.4').ok).toBe(true);
    // ...while the first address keeps its 4 failures: one more locks it for any handle.
    failOnce(th, 'someone', '10.0.0.3');
    expect(th.begin('dave', '10.0.0.3')).toEqual({ ok: false, retryAfterSec: 2 });
  });

  it('limits one address across many handles', () => {
    const c = clock();
    const th = new SigninThrottle({ now: c.now });
    for (let i = 0; i < 5; i++) expect(failOnce(th, `user${i}`, '192.0.2.7').ok).toBe(true);
    expect(th.begin('user5', '192.0.2.7')).toEqual({ ok: false, retryAfterSec: 2 });
    expect(th.begin('user5', '192.0.2.8').ok).toBe(true);
  });

  it('counts attempts in flight, so parallel guesses cannot pass the limit', () => {
    const c = clock();
    const th = new SigninThrottle({ now: c.now });
    const started = Array.from({ length: 8 }, () => th.begin('erin', '10.0.0.5'));
    expect(started.filter((s) => s.ok)).toHaveLength(5);
    expect(started[5]).toEqual({ ok: false, retryAfterSec: 1 });
    for (const s of started) if (s.ok) s.attempt.fail();
    expect(th.begin('erin', '10.0.0.5')).toEqual({ ok: false, retryAfterSec: 2 });
  });

  it('releases the slot of an attempt that ended without a verdict, and ignores a second verdict', () => {
    const c = clock();
    const th = new SigninThrottle({ now: c.now });
    for (let i = 0; i < 5; i++) {
      const s = th.begin('frank', '10.0.0.6');
      expect(s.ok).toBe(true);
      if (s.ok) {
        s.attempt.release();
        s.attempt.fail(); // ignored: the attempt already ended
      }
    }
    expect(th.begin('frank', '10.0.0.6').ok).toBe(true);
    expect(th.size).toBe(2);
  });

  it('stays bounded, dropping the least recently used keys', () => {
    const c = clock();
    const th = new SigninThrottle({ now: c.now, maxKeys: 100 });
    for (let i = 0; i < 5; i++) failOnce(th, 'target', '10.0.0.7');
    expect(th.begin('target', '10.0.0.7').ok).toBe(false);
    for (let i = 0; i < 1_000; i++) {
      failOnce(th, `h${i}`, `198.51.100.${i}`);
      expect(th.size).toBeLessThanOrEqual(100);
    }
    expect(th.size).toBe(100);
    // The oldest keys were dropped; the newest are still tracked.
    expect(th.retryAfterSec('target', '10.0.0.7')).toBe(0);
    for (let i = 0; i < 4; i++) failOnce(th, 'h999', '203.0.113.1');
    expect(th.begin('h999', '203.0.113.2')).toEqual({ ok: false, retryAfterSec: 2 });
  });

  it('forgets expired keys and keeps no state for successful sign-ins', () => {
    const c = clock();
    const th = new SigninThrottle({ now: c.now });
    const s = th.begin('gina', '10.0.0.8');
    if (s.ok) s.attempt.succeed();
    expect(th.size).toBe(0);
    failOnce(th, 'hank', '10.0.0.9');
    expect(th.size).toBe(2);
    c.advance(16 * MIN);
    failOnce(th, 'ivan', '10.0.0.10');
    // hank's and 10.0.0.9's entries expired and were swept while touching new keys.
    expect(th.size).toBe(2);
  });
});
