import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ListenAccess } from '../../src/live/edge-access.js';
import { ListenerCounter } from '../../src/live/edge-counter.js';
import { createEdgeLive } from '../../src/live/edge-live.js';
import { ReactionTally, WindowRateLimiter } from '../../src/live/edge-reactions.js';
import { EdgeReporter } from '../../src/live/edge-reporter.js';
import { LiveHub } from '../../src/live/hub.js';
import type { EdgeReport } from '../../src/live/types.js';
import { TokenSigner } from '../../src/origin/tokens.js';

const T0 = 1_700_000_000_000;

describe('ListenerCounter', () => {
  it('counts distinct lids seen within the window', () => {
    const c = new ListenerCounter({ windowMs: 5000 });
    c.seen('s1', 'lid-aaaaaaaa', undefined, T0);
    c.seen('s1', 'lid-aaaaaaaa', undefined, T0 + 10); // same player again
    c.seen('s1', 'lid-bbbbbbbb', undefined, T0 + 1000);
    c.seen('s2', 'lid-aaaaaaaa', undefined, T0 + 1000); // the same lid in another Space is another pair
    expect(c.count('s1', T0 + 1000)).toBe(2);
    expect(c.count('s2', T0 + 1000)).toBe(1);
    expect(c.size).toBe(3);
    expect(c.count('s1', T0 + 5009)).toBe(2);
    expect(c.count('s1', T0 + 5010)).toBe(1); // a: last seen at T0+10
    expect(c.count('s1', T0 + 6000)).toBe(0);
    expect(c.spaceIds()).toEqual(['s2']);
    expect(c.size).toBe(1);
  });

  it('keeps a player that is seen again inside the window', () => {
    const c = new ListenerCounter({ windowMs: 5000 });
    c.seen('s1', 'lid-bbbbbbbb', undefined, T0);
    for (let t = 0; t <= 20_000; t += 2000) c.seen('s1', 'lid-aaaaaaaa', undefined, T0 + t);
    expect(c.count('s1', T0 + 20_000)).toBe(1);
  });

  it('forgets a lid at once on leave', () => {
    const c = new ListenerCounter();
    c.seen('s1', 'lid-aaaaaaaa', 'u1', T0);
    c.seen('s1', 'lid-bbbbbbbb', undefined, T0);
    expect(c.leave('s1', 'lid-aaaaaaaa')).toBe(true);
    expect(c.leave('s1', 'lid-aaaaaaaa')).toBe(false);
    expect(c.leave('nope', 'lid-aaaaaaaa')).toBe(false);
    expect(c.count('s1', T0)).toBe(1);
    expect(c.sample('s1', 20)).toEqual([]);
  });

  it('refuses new lids beyond maxLids (reported once) and accepts again after expiry', () => {
    const limits: number[] = [];
    const c = new ListenerCounter({ windowMs: 5000, maxLids: 3, onLimit: (n) => limits.push(n) });
    expect(c.seen('s1', 'lid-00000001', undefined, T0)).toBe(true);
    expect(c.seen('s1', 'lid-00000002', undefined, T0)).toBe(true);
    expect(c.seen('s2', 'lid-00000003', undefined, T0 + 3000)).toBe(true);
    expect(c.seen('s2', 'lid-00000004', undefined, T0 + 3000)).toBe(false);
    expect(c.seen('s1', 'lid-00000005', undefined, T0 + 3000)).toBe(false);
    expect(c.seen('s1', 'lid-00000001', undefined, T0 + 3000)).toBe(true); // known lids still refresh
    expect(c.refused).toBe(2);
    expect(limits).toEqual([3]);
    c.sweep(T0 + 5000); // lid 2 expires
    expect(c.size).toBe(2);
    expect(c.seen('s2', 'lid-00000004', undefined, T0 + 5000)).toBe(true);
    expect(c.seen('s2', 'lid-00000006', undefined, T0 + 5000)).toBe(false);
    expect(limits).toEqual([3]);
  });

  it('samples distinct signed-in user ids, up to the max asked', () => {
    const c = new ListenerCounter();
    for (let i = 0; i < 30; i++) c.seen('s1', `lid-${String(i).padStart(8, '0')}`, `u${i % 25}`, T0);
    c.seen('s1', 'lid-anonymous', undefined, T0);
    const s = c.sample('s1', 20);
    expect(s).toHaveLength(20);
    expect(new Set(s).size).toBe(20);
    expect(c.sample('s1', 100)).toHaveLength(25);
  });
});

describe('ReactionTally and WindowRateLimiter', () => {
  it('tallies per Space and drains to empty', () => {
    const t = new ReactionTally();
    t.add('s1', '👏');
    t.add('s1', '👏');
    t.add('s1', '🔥');
    t.add('s2', '🎉', 3);
    const d = t.drain();
    expect(Object.fromEntries(d)).toEqual({ s1: { '👏': 2, '🔥': 1 }, s2: { '🎉': 3 } });
    expect(t.size).toBe(0);
    expect(t.drain().size).toBe(0);
  });

  it('bounds the Spaces it holds', () => {
    const t = new ReactionTally(2);
    expect(t.add('a', '👏')).toBe(true);
    expect(t.add('b', '👏')).toBe(true);
    expect(t.add('c', '👏')).toBe(false);
    expect(t.add('a', '🔥')).toBe(true);
    expect(t.refused).toBe(1);
  });

  it('allows max per window per key and says when to retry', () => {
    const l = new WindowRateLimiter(10, 5000);
    for (let i = 0; i < 10; i++) expect(l.take('1.2.3.4 s1', T0 + i * 100).ok).toBe(true);
    const refused = l.take('1.2.3.4 s1', T0 + 1000);
    expect(refused).toEqual({ ok: false, retryAfterMs: 4000 });
    expect(l.take('1.2.3.4 s2', T0 + 1000).ok).toBe(true); // another key
    expect(l.take('5.6.7.8 s1', T0 + 1000).ok).toBe(true);
    expect(l.take('1.2.3.4 s1', T0 + 4999).ok).toBe(false);
    expect(l.take('1.2.3.4 s1', T0 + 5000).ok).toBe(true); // a new window
    expect(l.size).toBe(3);
    l.take('x', T0 + 20_000); // expired windows are dropped as time goes on
    expect(l.size).toBe(1);
  });

  it('holds at most maxKeys windows', () => {
    const l = new WindowRateLimiter(1, 5000, 100);
    for (let i = 0; i < 1000; i++) l.take(`k${i}`, T0);
    expect(l.size).toBe(100);
  });
});

describe('ListenAccess', () => {
  const secret = Buffer.from('edge-unit-secret');
  const signer = new TokenSigner(secret);
  const nowSec = Math.floor(T0 / 1000);
  const listen = (s: string, extra: { u?: string; e?: number } = {}) =>
    signer.sign({ s, r: 'listen', i: nowSec, ...extra });

  it('accepts only unexpired listen tokens for that very Space', () => {
    const a = new ListenAccess({ tokenSecret: secret });
    expect(a.check('s1', listen('s1', { u: 'u1' }), T0)).toEqual({ ok: true, userId: 'u1' });
    expect(a.check('s1', listen('s1'), T0)).toEqual({ ok: true, userId: undefined });
    expect(a.check('s1', listen('s2'), T0).ok).toBe(false);
    expect(a.check('s1', signer.sign({ s: 's1', r: 'host', i: nowSec }), T0).ok).toBe(false);
    expect(a.check('s1', undefined, T0).ok).toBe(false);
    expect(a.check('s1', 'garbage.token', T0).ok).toBe(false);
    expect(
      a.check('s1', new TokenSigner(Buffer.from('other')).sign({ s: 's1', r: 'listen', i: 1 }), T0).ok,
    ).toBe(false);
    const expiring = listen('s1', { e: nowSec + 60 });
    expect(a.check('s1', expiring, T0).ok).toBe(true); // now cached
    expect(a.check('s1', expiring, T0 + 60_000).ok).toBe(false); // the cache honours expiry
  });

  it('never accepts a token without a secret', () => {
    expect(new ListenAccess().check('s1', listen('s1'), T0).ok).toBe(false);
  });

  it('remembers the flag from the latest successful origin answer', () => {
    const a = new ListenAccess({ tokenSecret: secret });
    expect(a.requiresToken('s1')).toBe(false);
    a.note('s1', 200, 'signed-in', 10);
    expect(a.requiresToken('s1')).toBe(true);
    a.note('s1', 404, undefined, 20); // errors say nothing about the Space's access
    expect(a.requiresToken('s1')).toBe(true);
    a.note('s1', 200, undefined, 5); // older than what we know
    expect(a.requiresToken('s1')).toBe(true);
    a.note('s1', 200, undefined, 30);
    expect(a.requiresToken('s1')).toBe(false);
    a.note('s1', 200, 'signed-in', 25);
    expect(a.requiresToken('s1')).toBe(false);
    // Only the state doc may turn the flag off: an HLS object served without the header cannot.
    a.note('s1', 200, 'signed-in', 40, false);
    expect(a.requiresToken('s1')).toBe(true);
    a.note('s1', 200, undefined, 50, false);
    expect(a.requiresToken('s1')).toBe(true);
    a.note('s1', 200, undefined, 60, true);
    expect(a.requiresToken('s1')).toBe(false);
  });
});

describe('EdgeReporter', () => {
  function parts() {
    const counter = new ListenerCounter({ windowMs: 5000 });
    const tally = new ReactionTally();
    const sent: EdgeReport[] = [];
    let t = T0;
    let fail = false;
    const reporter = new EdgeReporter({
      counter,
      tally,
      edgeId: 'edge-1',
      now: () => t,
      send: (r) => {
        if (fail) throw new Error('origin down');
        sent.push(r);
      },
    });
    return {
      counter,
      tally,
      sent,
      reporter,
      setNow: (v: number) => (t = v),
      setFail: (v: boolean) => (fail = v),
    };
  }

  it('reports counts, reactions and samples; a Space that fell to zero once, then not at all', async () => {
    const p = parts();
    p.counter.seen('s1', 'lid-aaaaaaaa', 'u1', T0);
    p.counter.seen('s1', 'lid-bbbbbbbb', undefined, T0);
    p.tally.add('s1', '👏');
    p.tally.add('s2', '🔥');
    await p.reporter.tick();
    expect(p.sent[0]).toEqual({
      edgeId: 'edge-1',
      atMs: T0,
      spaces: {
        s1: { listeners: 2, reactions: { '👏': 1 }, sample: ['u1'] },
        s2: { listeners: 0, reactions: { '🔥': 1 }, sample: [] },
      },
    });
    p.counter.leave('s1', 'lid-bbbbbbbb');
    await p.reporter.tick(); // same clock: atMs still increases
    expect(p.sent[1].atMs).toBe(T0 + 1);
    expect(p.sent[1].spaces).toEqual({
      s1: { listeners: 1, reactions: {}, sample: ['u1'] },
      s2: { listeners: 0, reactions: {}, sample: [] }, // dropped to zero: reported once
    });
    p.setNow(T0 + 6000); // lid a expires
    await p.reporter.tick();
    expect(p.sent[2].spaces).toEqual({ s1: { listeners: 0, reactions: {}, sample: [] } });
    await p.reporter.tick();
    expect(p.sent[3].spaces).toEqual({});
  });

  it('counts failures and never throws; reports again once the origin is back', async () => {
    const p = parts();
    p.setFail(true);
    await expect(p.reporter.tick()).resolves.toBeUndefined();
    await p.reporter.tick();
    expect(p.reporter.failures).toBe(2);
    p.setFail(false);
    await p.reporter.tick();
    expect(p.reporter.sent).toBe(1);
  });

  it('feeds a LiveHub in process through createEdgeLive({ sink }) and counts its metrics', async () => {
    const hub = new LiveHub();
    hub.open('s1', { state: 'live', title: 't', speakers: [] });
    const registry = new Registry();
    const live = createEdgeLive({
      tokenSecret: Buffer.from('x'),
      sink: (r) => hub.ingest(r),
      registry,
      autoStart: false,
    });
    live.listeners.seen('s1', 'lid-aaaaaaaa', undefined, live.now());
    live.reactions.add('s1', '🎉');
    live.countReaction();
    await live.reporter.tick();
    expect(hub.listeners('s1')).toBe(1);
    const text = await registry.metrics();
    expect(text).toMatch(/^tribune_edge_listeners 1$/m);
    expect(text).toMatch(/^tribune_edge_reactions_total 1$/m);
    expect(text).toMatch(/^tribune_edge_reports_sent_total 1$/m);
    expect(text).toMatch(/^tribune_edge_report_failures_total 0$/m);
    live.close();
    hub.dispose();
  });

  it('refuses to start without a token secret, with a message naming TRIBUNE_TOKEN_SECRET', () => {
    expect(() => createEdgeLive({ tokenSecret: Buffer.alloc(0), originUrl: 'http://x' })).toThrow(
      /TRIBUNE_TOKEN_SECRET must be the same on the origin and every edge/,
    );
  });
});
