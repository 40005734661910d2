import { describe, expect, it } from 'vitest';
import {
  ADMISSION_COOKIE,
  admissionCookie,
  admissionFromCookie,
  DELAY_PASS_GRACE_MS,
  endedPage,
  escapeHtml,
  listenPage,
  NoJsPasses,
  queuePage,
  waitPage,
} from '../../src/edge/defence/nojs.js';
import { ERRORS } from '../../src/errors.js';

const secret = Buffer.from('nojs test secret');
const T0 = 5_000_000;

describe('delay passes', () => {
  const passes = new NoJsPasses({ secret, now: () => T0 });
  const pass = passes.issueDelayPass('space1', 5000);

  it('is early before its delay, good after, expired 10 minutes past it', () => {
    expect(passes.checkDelayPass('space1', pass, T0)).toEqual({
      ok: false,
      code: 'POW_EARLY',
      remainingMs: 5000,
    });
    expect(passes.checkDelayPass('space1', pass, T0 + 4999)).toEqual({
      ok: false,
      code: 'POW_EARLY',
      remainingMs: 1,
    });
    expect(passes.checkDelayPass('space1', pass, T0 + 5000)).toMatchObject({
      ok: true,
      claims: { s: 'space1' },
    });
    expect(passes.checkDelayPass('space1', pass, T0 + 5000 + DELAY_PASS_GRACE_MS).ok).toBe(true);
    expect(passes.checkDelayPass('space1', pass, T0 + 5001 + DELAY_PASS_GRACE_MS)).toEqual({
      ok: false,
      code: 'POW_EXPIRED',
    });
  });

  it('uses the configured delay and the injected clock by default', () => {
    let t = T0;
    const p = new NoJsPasses({ secret, now: () => t, delayMs: 2000 });
    const tok = p.issueDelayPass('s');
    expect(p.checkDelayPass('s', tok).ok).toBe(false);
    expect(p.checkDelayPass('s', p.issueDelayPass('s'))).toEqual({
      ok: false,
      code: 'POW_EARLY',
      remainingMs: 2000,
    });
    t += 2000;
    expect(p.checkDelayPass('s', tok).ok).toBe(true);
    expect(p.checkDelayPass('s', tok).ok).toBe(true); // checking does not use it up
  });

  it('admits once per pass: a redeemed pass is POW_REPLAYED, an early one is not used up', () => {
    let t = T0;
    const p = new NoJsPasses({ secret, now: () => t, delayMs: 1000 });
    const tok = p.issueDelayPass('s');
    expect(p.redeemDelayPass('s', tok)).toMatchObject({ ok: false, code: 'POW_EARLY' });
    t += 1000;
    expect(p.redeemDelayPass('s', tok).ok).toBe(true);
    expect(p.redeemDelayPass('s', tok)).toEqual({ ok: false, code: 'POW_REPLAYED' });
    expect(p.redeemDelayPass('s', p.issueDelayPass('s'))).toMatchObject({ code: 'POW_EARLY' });
  });

  it('refuses forged passes and passes for another Space', () => {
    const [body, sig] = pass.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as object;
    const noDelay = Buffer.from(JSON.stringify({ ...claims, d: 0 })).toString('base64url');
    expect(passes.checkDelayPass('space1', `${noDelay}.${sig}`, T0)).toEqual({
      ok: false,
      code: 'POW_INVALID',
    });
    const flipped = pass.slice(0, -2) + (pass.at(-2) === 'A' ? 'B' : 'A') + pass.at(-1);
    expect(passes.checkDelayPass('space1', flipped, T0 + 6000)).toEqual({ ok: false, code: 'POW_INVALID' });
    expect(passes.checkDelayPass('space1', undefined, T0 + 6000)).toEqual({ ok: false, code: 'POW_INVALID' });
    expect(passes.checkDelayPass('space1', 'garbage', T0 + 6000)).toEqual({ ok: false, code: 'POW_INVALID' });
    const other = new NoJsPasses({ secret: Buffer.from('other'), now: () => T0 }).issueDelayPass('space1', 0);
    expect(passes.checkDelayPass('space1', other, T0 + 6000)).toEqual({ ok: false, code: 'POW_INVALID' });
    expect(passes.checkDelayPass('space2', pass, T0 + 6000)).toEqual({ ok: false, code: 'POW_WRONG_SPACE' });
    expect(ERRORS.POW_EARLY.status).toBe(429);
  });
});

describe('no-JavaScript pages', () => {
  const hostile = '<script>alert("x")</script> & \'friends\'';
  const pages = {
    wait: waitPage({ spaceTitle: hostile, delaySec: 5, nextUrl: '/spaces/abc?nojs=1&pass=a.b' }),
    queue: queuePage({ position: 1234, retrySec: 7.2, nextUrl: '/hls/spaces/abc/nojs?ticket=x"y' }),
    listen: listenPage({ spaceTitle: hostile, streamUrl: '/hls/spaces/abc/stream.mp4?x=1&y=<2>' }),
    ended: endedPage(),
  };

  it('escape a hostile title and contain no script at all', () => {
    for (const [name, html] of Object.entries(pages)) {
      expect(html, name).not.toMatch(/<script/i);
      expect(html, name).not.toMatch(/\son[a-z]+=/i);
      expect(html, name).not.toMatch(/javascript:/i);
      expect(html, name).toMatch(/^<!doctype html>\n<html lang="en">/);
      expect(html, name).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
      expect(html, name).toContain('<meta charset="utf-8">');
    }
    expect(pages.wait).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;friends&#39;');
    expect(pages.listen).toContain('<h1>&lt;script&gt;');
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('say what happens and move on by themselves', () => {
    expect(pages.wait).toContain(
      'Checking that you are a person: this takes 5 seconds, no JavaScript needed.',
    );
    expect(pages.wait).toContain(
      '<meta http-equiv="refresh" content="5; url=/spaces/abc?nojs=1&amp;pass=a.b">',
    );
    expect(pages.wait).toContain('<a href="/spaces/abc?nojs=1&amp;pass=a.b">continue</a>');
    expect(pages.queue).toContain('You are number 1,234 in line.');
    expect(pages.queue).toContain('content="8; url=/hls/spaces/abc/nojs?ticket=x&quot;y"');
    expect(pages.listen).toContain(
      '<audio controls autoplay preload="none" src="/hls/spaces/abc/stream.mp4?x=1&amp;y=&lt;2&gt;">',
    );
    expect(pages.listen).toContain('If the audio stops, reload this page.');
    expect(pages.listen).not.toContain('http-equiv="refresh"');
    expect(pages.ended).toContain('This Space has ended.');
    expect(waitPage({ delaySec: 1, nextUrl: '?nojs=1' })).toContain('this takes 1 second,');
  });

  it('refuse to link anywhere but pages and http(s) URLs', () => {
    expect(() => waitPage({ delaySec: 5, nextUrl: 'javascript:alert(1)' })).toThrow(RangeError);
    expect(() => listenPage({ streamUrl: '//evil.example/x' })).toThrow(RangeError);
    expect(() => queuePage({ position: 1, retrySec: 1, nextUrl: 'data:text/html,x' })).toThrow(RangeError);
    expect(() => queuePage({ position: 1, retrySec: 1, nextUrl: ' JavaScript:x' })).toThrow(RangeError);
    expect(() => listenPage({ streamUrl: '\\\\evil.example/x' })).toThrow(RangeError);
    expect(listenPage({ streamUrl: 'stream.mp4' })).toContain('src="stream.mp4"');
    expect(waitPage({ delaySec: 5, nextUrl: 'nojs?pass=a.b' })).toContain('content="5; url=nojs?pass=a.b"');
    expect(listenPage({ streamUrl: 'https://edge.example/hls/spaces/a/stream.mp4' })).toContain(
      'src="https://edge.example/hls/spaces/a/stream.mp4"',
    );
  });
});

describe('admission cookie', () => {
  it('builds a Set-Cookie value scoped to the Space media', () => {
    expect(admissionCookie('abc_1', 'eyJ.sig-_', 60)).toBe(
      'tribune_admission=eyJ.sig-_; Max-Age=60; Path=/hls/spaces/abc_1/; HttpOnly; SameSite=Lax',
    );
    expect(admissionCookie('abc', 't.s', 90.7, true)).toMatch(/; Max-Age=90; .*; Secure$/);
    expect(() => admissionCookie('../x', 't.s', 60)).toThrow(RangeError);
    expect(() => admissionCookie('abc', 't.s\r\nSet-Cookie: x=1', 60)).toThrow(RangeError);
    expect(() => admissionCookie('abc', 'a;b', 60)).toThrow(RangeError);
  });

  it('parses it from a Cookie header', () => {
    expect(ADMISSION_COOKIE).toBe('tribune_admission');
    expect(admissionFromCookie(undefined)).toBeUndefined();
    expect(admissionFromCookie('')).toBeUndefined();
    expect(admissionFromCookie('tribune_admission=abc.def')).toBe('abc.def');
    expect(admissionFromCookie('a=1; tribune_admission=abc.def; b=2')).toBe('abc.def');
    expect(admissionFromCookie('a=1;tribune_admission = abc.def')).toBe('abc.def');
    expect(admissionFromCookie('xtribune_admission=no; b=2')).toBeUndefined();
    expect(admissionFromCookie('xtribune_admission=no; tribune_admission=yes')).toBe('yes');
    expect(admissionFromCookie('tribune_admission_old=no')).toBeUndefined();
    expect(admissionFromCookie('tribune_admission=')).toBeUndefined();
    expect(admissionFromCookie('a=tribune_admission=zz')).toBeUndefined();
    expect(admissionFromCookie(`tribune_admission=${'x'.repeat(600)}`)).toBeUndefined();
  });
});
