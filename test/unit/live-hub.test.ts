import { describe, expect, it } from 'vitest';
import { TribuneError } from '../../src/errors.js';
import { LiveHub, type LiveClock, type LiveHubOptions } from '../../src/live/hub.js';
import type { EdgeReport, LiveBase, LiveDoc, LiveSpeaker } from '../../src/live/types.js';

/** A manual clock: timers fire only inside advance(), in time order. */
class FakeClock implements LiveClock {
  t = 1_000_000;
  private seq = 0;
  readonly timers = new Map<number, { at: number; fn: () => void }>();
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.timers.delete(h as number);
  };
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

const speaker = (over: Partial<LiveSpeaker> = {}): LiveSpeaker => ({
  userId: 'u1',
  handle: 'ann',
  name: 'Ann',
  role: 'host',
  connected: true,
  muted: false,
  speaking: false,
  level: 0,
  ...over,
});

const base = (over: Partial<LiveBase> = {}): LiveBase => ({
  state: 'live',
  title: 'Morning show',
  speakers: [speaker()],
  ...over,
});

function setup(opts: Partial<LiveHubOptions> = {}) {
  const clock = new FakeClock();
  const hub = new LiveHub({ clock, ...opts });
  const published: LiveDoc[] = [];
  hub.on('doc', (_id, doc) => published.push(doc));
  return { clock, hub, published };
}

function report(edgeId: string, atMs: number, spaces: EdgeReport['spaces']): EdgeReport {
  return { edgeId, atMs, spaces };
}

const entry = (
  listeners: number,
  reactions: EdgeReport['spaces'][string]['reactions'] = {},
  sample: string[] = [],
) => ({
  listeners,
  reactions,
  sample,
});

/** Observes a promise without awaiting it. */
function track<T>(p: Promise<T>) {
  const s: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  p.then(
    (value) => Object.assign(s, { settled: true, value }),
    (error: unknown) => Object.assign(s, { settled: true, error }),
  );
  return s;
}
const flush = () => new Promise((r) => setImmediate(r));

describe('LiveHub versioning and publishing', () => {
  it('opens a Space at v=1 with its base, no listeners and no reactions', () => {
    const { hub, clock, published } = setup();
    hub.open('s1', base());
    const doc = hub.doc('s1');
    expect(doc).toEqual({
      v: 1,
      spaceId: 's1',
      state: 'live',
      title: 'Morning show',
      listeners: 0,
      speakers: [speaker()],
      reactions: { seq: 0, counts: {} },
      updatedAtMs: clock.t,
    });
    expect(published).toEqual([doc]);
    expect(hub.has('s1')).toBe(true);
    expect(() => hub.doc('nope')).toThrow(TribuneError);
  });

  it('publishes at most once per publishIntervalMs and coalesces the changes in between', () => {
    const { hub, clock, published } = setup();
    hub.open('s1', base());
    hub.update('s1', { title: 'A' });
    hub.update('s1', { title: 'B' });
    expect(hub.doc('s1').v).toBe(1); // the open itself was the last publish: wait for the interval
    clock.advance(100);
    hub.update('s1', { title: 'C', speakers: [speaker({ speaking: true, level: 0.7 })] });
    clock.advance(149);
    expect(hub.doc('s1').v).toBe(1);
    clock.advance(1);
    expect(hub.doc('s1')).toMatchObject({ v: 2, title: 'C', speakers: [{ speaking: true, level: 0.7 }] });
    expect(published.map((d) => d.v)).toEqual([1, 2]);
    // After a quiet period a change publishes at once (leading edge).
    clock.advance(400);
    hub.update('s1', { title: 'D' });
    expect(hub.doc('s1')).toMatchObject({ v: 3, title: 'D' });
  });

  it('does not publish when nothing visible changed', () => {
    const { hub, clock, published } = setup();
    hub.open('s1', base());
    clock.advance(1000);
    hub.update('s1', { title: 'Morning show' });
    hub.update('s1', { speakers: [speaker()] });
    clock.advance(1000);
    expect(hub.doc('s1').v).toBe(1);
    expect(published).toHaveLength(1);
  });

  it('copies the base: mutating the caller’s speakers does not change a published doc', () => {
    const { hub } = setup();
    const b = base();
    hub.open('s1', b);
    b.speakers[0].speaking = true;
    expect(hub.doc('s1').speakers[0].speaking).toBe(false);
  });

  it('a throwing doc listener neither breaks the hub nor the other listeners', () => {
    const errors: unknown[] = [];
    const { hub, clock, published } = setup({ onListenerError: (e) => errors.push(e) });
    hub.on('doc', () => {
      throw new Error('boom');
    });
    const seen: number[] = [];
    hub.on('doc', (_id, d) => seen.push(d.v));
    hub.open('s1', base());
    clock.advance(300);
    hub.update('s1', { title: 'x' });
    expect(hub.doc('s1').v).toBe(2);
    expect(published.map((d) => d.v)).toEqual([1, 2]);
    expect(seen).toEqual([1, 2]);
    expect(errors).toHaveLength(2);
    expect((errors[0] as Error).message).toBe('boom');
  });
});

describe('LiveHub listener counts from edge reports', () => {
  it('sums the latest report of each fresh edge and drops an edge after staleMs', () => {
    const { hub, clock } = setup();
    hub.open('s1', base());
    clock.advance(1000);
    hub.ingest(report('A', 1, { s1: entry(300) }));
    hub.ingest(report('B', 1, { s1: entry(200) }));
    expect(hub.listeners('s1')).toBe(500);
    clock.advance(250);
    expect(hub.doc('s1').listeners).toBe(500);
    // A's next report replaces its previous one; a Space it leaves out counts 0 for it.
    clock.advance(1000);
    hub.ingest(report('A', 2, { s1: entry(310) }));
    hub.ingest(report('B', 2, {}));
    expect(hub.listeners('s1')).toBe(310);
    // A stops reporting: 3 s after its last report it no longer counts.
    clock.advance(1000);
    hub.ingest(report('B', 3, { s1: entry(10) }));
    clock.advance(1000);
    hub.ingest(report('B', 4, { s1: entry(10) }));
    expect(hub.listeners('s1')).toBe(320);
    clock.advance(1000); // 3000 ms since A's last report
    expect(hub.listeners('s1')).toBe(10);
    clock.advance(1000); // the next window tick publishes the drop
    expect(hub.doc('s1').listeners).toBe(10);
    expect(hub.edgeCount()).toBe(1); // B's latest report is 2000 ms old: still fresh
  });

  it('ignores out-of-order or replayed reports, and unknown Spaces', () => {
    const { hub, clock } = setup();
    hub.open('s1', base());
    clock.advance(1000);
    expect(hub.ingest(report('A', 10, { s1: entry(5), ghost: entry(99) }))).toBe(true);
    expect(hub.ingest(report('A', 10, { s1: entry(7) }))).toBe(false);
    expect(hub.ingest(report('A', 9, { s1: entry(8) }))).toBe(false);
    expect(hub.listeners('s1')).toBe(5);
    expect(hub.has('ghost')).toBe(false);
  });

  it('samples signed-in user ids from fresh edges, at most 50', () => {
    const { hub, clock } = setup();
    hub.open('s1', base());
    const ids = (p: string, n: number) => Array.from({ length: n }, (_, i) => `${p}${i}`);
    hub.ingest(report('A', 1, { s1: entry(20, {}, ids('a', 20)) }));
    hub.ingest(report('B', 1, { s1: entry(20, {}, ids('b', 20)) }));
    hub.ingest(report('C', 1, { s1: entry(20, {}, ids('c', 20)) }));
    const s = hub.sample('s1');
    expect(s).toHaveLength(50);
    expect(new Set(s).size).toBe(50);
    clock.advance(3000);
    expect(hub.sample('s1')).toEqual([]);
  });
});

describe('LiveHub reaction windows', () => {
  it('publishes each non-empty window once with seq+1, then {} after an empty window', () => {
    const { hub, clock } = setup();
    hub.open('s1', base()); // windows close at +1000, +2000, ...
    clock.advance(200);
    hub.ingest(report('A', 1, { s1: entry(0, { '👏': 3 }) }));
    hub.ingest(report('B', 1, { s1: entry(0, { '👏': 2, '🔥': 1 }) }));
    clock.advance(300);
    expect(hub.doc('s1').reactions).toEqual({ seq: 0, counts: {} }); // window still open
    clock.advance(500); // +1000: window closes
    expect(hub.doc('s1').reactions).toEqual({ seq: 1, counts: { '👏': 5, '🔥': 1 } });
    const vAfterFirst = hub.doc('s1').v;
    hub.ingest(report('A', 2, { s1: entry(0, { '❤️': 1, nope: 4 } as Record<string, number>) }));
    clock.advance(1000); // +2000
    expect(hub.doc('s1').reactions).toEqual({ seq: 2, counts: { '❤️': 1 } });
    expect(hub.doc('s1').v).toBe(vAfterFirst + 1);
    clock.advance(1000); // +3000: an empty window clears the counts (a change)
    expect(hub.doc('s1').reactions).toEqual({ seq: 2, counts: {} });
    expect(hub.doc('s1').v).toBe(vAfterFirst + 2);
    clock.advance(1000); // another empty window: nothing to publish
    expect(hub.doc('s1').v).toBe(vAfterFirst + 2);
  });

  it('ignores negative, fractional and absurd counts', () => {
    const { hub, clock } = setup();
    hub.open('s1', base());
    hub.ingest(report('A', 1, { s1: entry(0, { '👏': -3, '🔥': 1.5, '🎉': 2 }) }));
    clock.advance(1000);
    expect(hub.doc('s1').reactions.counts).toEqual({ '🎉': 2 });
  });
});

describe('LiveHub.wait (blocking reload)', () => {
  it('answers at once when v is absent or behind', async () => {
    const { hub, clock } = setup();
    hub.open('s1', base());
    clock.advance(300);
    hub.update('s1', { title: 'x' });
    expect((await hub.wait('s1', undefined)).v).toBe(2);
    expect((await hub.wait('s1', 0)).v).toBe(2);
    expect((await hub.wait('s1', 1)).v).toBe(2);
  });

  it('parks v === current and v === current + 1 until the next publish', async () => {
    const { hub, clock } = setup();
    hub.open('s1', base());
    const atCurrent = track(hub.wait('s1', 1));
    const oneAhead = track(hub.wait('s1', 2));
    await flush();
    expect(atCurrent.settled).toBe(false);
    expect(oneAhead.settled).toBe(false);
    expect(hub.waiterCount('s1')).toBe(2);
    clock.advance(300);
    hub.update('s1', { title: 'new' });
    await flush();
    expect(atCurrent.value).toMatchObject({ v: 2, title: 'new' });
    expect(oneAhead.value).toMatchObject({ v: 2, title: 'new' });
    expect(hub.waiterCount()).toBe(0);
  });

  it('answers a parked wait with the current doc after holdMs', async () => {
    const { hub, clock } = setup({ holdMs: 2000 });
    hub.open('s1', base());
    const w = track(hub.wait('s1', 1));
    clock.advance(1999);
    await flush();
    expect(w.settled).toBe(false);
    clock.advance(1);
    await flush();
    expect(w.value?.v).toBe(1);
    expect(hub.waiterCount()).toBe(0);
  });

  it('refuses versions beyond the next one and malformed ones with STATE_BAD_VERSION', async () => {
    const { hub } = setup();
    hub.open('s1', base());
    for (const v of [3, 1000, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 2]) {
      const err = await hub.wait('s1', v).catch((e: unknown) => e);
      expect(err, String(v)).toBeInstanceOf(TribuneError);
      expect((err as TribuneError).code, String(v)).toBe('STATE_BAD_VERSION');
    }
    const missing = await hub.wait('nope', 1).catch((e: unknown) => e);
    expect((missing as TribuneError).code).toBe('SPACE_NOT_FOUND');
    expect(hub.waiterCount()).toBe(0);
  });

  it('removes an aborted waiter and its hold timer (no leak)', async () => {
    const { hub, clock } = setup();
    hub.open('s1', base());
    const timersBefore = clock.timers.size; // the reaction-window ticker
    const acs = Array.from({ length: 100 }, () => new AbortController());
    const waits = acs.map((ac) => track(hub.wait('s1', 1, ac.signal)));
    expect(hub.waiterCount('s1')).toBe(100);
    expect(clock.timers.size).toBe(timersBefore + 100);
    for (const ac of acs.slice(0, 60)) ac.abort(new Error('gone'));
    await flush();
    expect(hub.waiterCount('s1')).toBe(40);
    expect(clock.timers.size).toBe(timersBefore + 40);
    expect(waits.slice(0, 60).every((w) => w.settled && (w.error as Error).message === 'gone')).toBe(true);
    const already = new AbortController();
    already.abort(new Error('early'));
    await expect(hub.wait('s1', 1, already.signal)).rejects.toThrow('early');
    expect(hub.waiterCount('s1')).toBe(40);
    clock.advance(300);
    hub.update('s1', { title: 'y' });
    await flush();
    expect(waits.slice(60).every((w) => w.value?.v === 2)).toBe(true);
    expect(hub.waiterCount()).toBe(0);
    expect(clock.timers.size).toBe(timersBefore);
  });
});

describe('LiveHub close, forget, dispose', () => {
  it('close publishes the final doc at once, answers waiters, keeps serving it, clears timers', async () => {
    const { hub, clock } = setup();
    hub.open('s1', base({ speakers: [speaker({ speaking: true, level: 0.9 })] }));
    hub.ingest(report('A', 1, { s1: entry(42, { '👏': 1 }) }));
    hub.update('s1', { title: 'pending change' }); // throttled: a publish timer is pending
    const w = track(hub.wait('s1', 1));
    hub.close('s1');
    await flush();
    const final = hub.doc('s1');
    expect(final).toMatchObject({
      v: 2,
      state: 'ended',
      title: 'pending change',
      listeners: 0,
      speakers: [{ connected: false, speaking: false, level: 0 }],
    });
    expect(w.value).toBe(final);
    expect(clock.timers.size).toBe(0);
    // An ended Space answers at once, and ignores further updates and reports.
    expect(await hub.wait('s1', 2)).toBe(final);
    hub.update('s1', { title: 'late' });
    hub.ingest(report('A', 2, { s1: entry(7) }));
    clock.advance(5000);
    expect(hub.doc('s1')).toBe(final);
    expect(clock.timers.size).toBe(0);
    hub.forget('s1');
    expect(hub.has('s1')).toBe(false);
    await expect(hub.wait('s1', undefined)).rejects.toMatchObject({ code: 'SPACE_NOT_FOUND' });
  });

  it('dispose clears every timer and answers every waiter', async () => {
    const { hub, clock } = setup();
    hub.open('a', base());
    hub.open('b', base());
    hub.update('a', { title: 'x' });
    const wa = track(hub.wait('a', 1));
    const wb = track(hub.wait('b', 2));
    expect(clock.timers.size).toBeGreaterThan(0);
    hub.dispose();
    await flush();
    expect(clock.timers.size).toBe(0);
    expect(wa.value?.spaceId).toBe('a');
    expect(wb.value?.spaceId).toBe('b');
    expect(hub.waiterCount()).toBe(0);
  });
});
