import { describe, expect, it } from 'vitest';
import { parseLivePlaylist, partAfter } from '../../src/edge/stream-feed.js';
import {
  chunkFrame,
  partsPerWrite,
  StreamHub,
  type StreamListener,
  type StreamSink,
} from '../../src/edge/stream-hub.js';

/** A socket stand-in that records writes; `backlog` plays the role of writableLength. */
class FakeSink implements StreamSink {
  writes: Buffer[] = [];
  backlog = 0;
  destroyed = false;
  ended = false;
  write(chunk: Buffer): boolean {
    this.writes.push(chunk);
    return true;
  }
  get writableLength(): number {
    return this.backlog;
  }
  destroy(): void {
    this.destroyed = true;
  }
  end(): void {
    this.ended = true;
  }
  /** The chunk payloads (HTTP chunk framing removed), concatenated. */
  payload(): Buffer {
    return Buffer.concat(this.writes.map(unframe));
  }
}

function unframe(frame: Buffer): Buffer {
  const crlf = frame.indexOf('\r\n');
  const len = parseInt(frame.toString('latin1', 0, crlf), 16);
  expect(frame.length).toBe(crlf + 2 + len + 2);
  expect(frame.toString('latin1', frame.length - 2)).toBe('\r\n');
  return frame.subarray(crlf + 2, crlf + 2 + len);
}

const INIT = Buffer.from('INIT');
const part = (n: number): Buffer => Buffer.from(`P${n};`);
let seq = 0;
const listener = (address = '10.0.0.1'): { l: StreamListener; sink: FakeSink; done: string[] } => {
  const sink = new FakeSink();
  const done: string[] = [];
  return {
    l: { sink, address, lid: `lid-${seq++}-xxxxxx`, userId: undefined, onDone: (r) => done.push(r) },
    sink,
    done,
  };
};

describe('stream hub', () => {
  it('frames a batch once as one HTTP chunk and writes the same Buffer to every listener', () => {
    const hub = new StreamHub();
    const ls = Array.from({ length: 5 }, () => listener());
    ls.forEach(({ l }) => hub.join('s', l));
    hub.setInit('s', INIT);
    hub.push('s', part(1));
    // The first part welcomes everyone with init + part (their own frame).
    for (const { sink } of ls) expect(sink.payload().toString()).toBe('INITP1;');
    hub.push('s', part(2));
    const frames = ls.map(({ sink }) => sink.writes.at(-1));
    for (const f of frames) expect(f).toBe(frames[0]); // the very same Buffer object
    expect(unframe(frames[0]!).toString()).toBe('P2;');
    expect(hub.stats().listeners).toBe(5);
  });

  it('starts a joiner at the newest part, then gives it every later part exactly once', () => {
    const hub = new StreamHub();
    const first = listener();
    hub.join('s', first.l);
    hub.setInit('s', INIT);
    for (let i = 1; i <= 4; i++) hub.push('s', part(i));
    const late = listener();
    hub.join('s', late.l);
    expect(late.sink.payload().toString()).toBe('INITP4;'); // init + the newest part at once
    hub.push('s', part(5));
    hub.push('s', part(6));
    expect(late.sink.payload().toString()).toBe('INITP4;P5;P6;');
    expect(first.sink.payload().toString()).toBe('INITP1;P2;P3;P4;P5;P6;');
  });

  it('batches parts per write by load, and a mid-batch joiner gets no part twice', () => {
    const steps = [
      { listeners: 0, parts: 1 },
      { listeners: 3, parts: 3 },
    ];
    expect(partsPerWrite(steps, 2)).toBe(1);
    expect(partsPerWrite(steps, 3)).toBe(3);
    const hub = new StreamHub({ batchSteps: steps });
    const ls = [listener(), listener(), listener()];
    ls.forEach(({ l }) => hub.join('s', l));
    expect(hub.batch).toBe(3);
    hub.setInit('s', INIT);
    hub.push('s', part(1)); // welcomed with init + P1, batch holds P1
    const writesAfterWelcome = ls[0]!.sink.writes.length;
    hub.push('s', part(2)); // batch not full: no write
    expect(ls[0]!.sink.writes.length).toBe(writesAfterWelcome);
    const mid = listener();
    hub.join('s', mid.l); // joins mid-batch: init + P1 P2 at once
    expect(mid.sink.payload().toString()).toBe('INITP1;P2;');
    hub.push('s', part(3)); // batch full: P1..P3 to the others, only P3 to the joiner
    for (const { sink } of ls) expect(sink.payload().toString()).toBe('INITP1;P2;P3;');
    expect(mid.sink.payload().toString()).toBe('INITP1;P2;P3;');
    hub.push('s', part(4));
    hub.push('s', part(5));
    hub.push('s', part(6));
    expect(mid.sink.payload().toString()).toBe('INITP1;P2;P3;P4;P5;P6;');
    expect(hub.stats().partsPerWrite).toBe(3);
  });

  it('cuts a listener whose backlog is past ~1 s of audio, and only that one', () => {
    let now = 0;
    const hub = new StreamHub({ maxBehindMs: 1000, partMs: 200, now: () => now });
    const ok = listener();
    const slow = listener();
    hub.join('s', ok.l);
    hub.join('s', slow.l);
    hub.setInit('s', INIT);
    const big = (n: number): Buffer => Buffer.alloc(1000, n);
    hub.push('s', big(1));
    slow.sink.backlog = 1000 * 7; // 7 parts behind: over 5 parts (1 s) + slack
    now += 200;
    hub.push('s', big(2));
    expect(slow.sink.destroyed).toBe(true);
    expect(slow.done).toEqual(['cut']);
    expect(ok.sink.destroyed).toBe(false);
    expect(hub.stats().cut).toBe(1);
    expect(hub.count('s')).toBe(1);
    // A small backlog that lasts longer than the limit is cut too.
    const sticky = listener();
    hub.join('s', sticky.l);
    sticky.sink.backlog = 100;
    for (let i = 0; i < 10 && !sticky.sink.destroyed; i++) {
      now += 200;
      hub.push('s', big(3 + i));
    }
    expect(sticky.sink.destroyed).toBe(true);
    expect(ok.sink.destroyed).toBe(false);
  });

  it('caps streams per address, and frees the place when one leaves', () => {
    const hub = new StreamHub({ perAddressMax: 2 });
    const a = listener('1.2.3.4');
    const b = listener('1.2.3.4');
    expect(hub.reserve('1.2.3.4')).toBe(true);
    hub.join('s', a.l);
    expect(hub.admit('1.2.3.4')).toBe(true);
    expect(hub.reserve('1.2.3.4')).toBe(true);
    hub.join('s', b.l);
    expect(hub.admit('1.2.3.4')).toBe(false);
    expect(hub.admit('5.6.7.8')).toBe(true);
    hub.leave('s', a.l);
    expect(hub.admit('1.2.3.4')).toBe(true);
    expect(a.done).toEqual(['closed']);
  });

  it('counts places taken by requests still on their way, so a burst cannot overrun the cap', () => {
    const hub = new StreamHub({ perAddressMax: 3 });
    // Three concurrent connects reserve before any of them has joined (their state doc is loading).
    expect([1, 2, 3, 4].map(() => hub.reserve('9.9.9.9'))).toEqual([true, true, true, false]);
    hub.release('9.9.9.9'); // one failed before joining (a 404, a hang-up): its place comes back
    expect(hub.reserve('9.9.9.9')).toBe(true);
    expect(hub.reserve('9.9.9.9')).toBe(false);
  });

  it('ends every response when the Space ends, flushing what is pending', () => {
    const hub = new StreamHub({ batchSteps: [{ listeners: 0, parts: 5 }] });
    const a = listener();
    hub.join('s', a.l);
    hub.setInit('s', INIT);
    hub.push('s', part(1));
    hub.push('s', part(2));
    hub.end('s');
    expect(a.sink.payload().toString()).toBe('INITP1;P2;');
    expect(a.sink.ended).toBe(true);
    expect(a.done).toEqual(['ended']);
    expect(hub.listeners).toBe(0);
    expect(hub.activeSpaces()).toEqual([]);
  });

  it('fans a frame out in slices, yielding between them, and keeps frames in order per socket', async () => {
    const hub = new StreamHub({ sliceSize: 2 });
    const ls = Array.from({ length: 5 }, () => listener());
    ls.forEach(({ l }) => hub.join('s', l));
    hub.setInit('s', INIT);
    hub.push('s', part(1)); // welcomes: written at once, to all
    hub.push('s', part(2));
    // Only the first slice of P2 went out synchronously.
    expect(ls.filter(({ sink }) => sink.payload().toString().includes('P2;'))).toHaveLength(2);
    hub.push('s', part(3)); // queued behind the rest of P2's pass
    const left = ls[4]!;
    hub.leave('s', left.l); // leaves mid-pass: gets nothing more
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    for (const { sink } of ls.slice(0, 4)) expect(sink.payload().toString()).toBe('INITP1;P2;P3;');
    expect(left.sink.payload().toString()).not.toContain('P3;');
  });

  it('chunkFrame writes hex length, payload and CRLF', () => {
    const f = chunkFrame([Buffer.alloc(20, 1), Buffer.alloc(7, 2)]);
    expect(f.toString('latin1', 0, 4)).toBe('1b\r\n');
    expect(f.length).toBe(4 + 27 + 2);
  });
});

describe('stream feed playlist reading', () => {
  it('finds parts, the preload hint and the end', () => {
    const text = [
      '#EXTM3U',
      '#EXT-X-MAP:URI="init.mp4"',
      '#EXT-X-PART:DURATION=0.2,URI="part/7.3.m4s",INDEPENDENT=YES',
      '#EXT-X-PART:DURATION=0.2,URI="part/7.4.m4s",INDEPENDENT=YES',
      '#EXTINF:1.0,',
      'seg/7.m4s',
      '#EXT-X-PART:DURATION=0.2,URI="part/8.0.m4s",INDEPENDENT=YES',
      '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part/8.1.m4s"',
    ].join('\n');
    const info = parseLivePlaylist(text);
    expect(info.parts).toEqual([
      { msn: 7, part: 3 },
      { msn: 7, part: 4 },
      { msn: 8, part: 0 },
    ]);
    expect(info.hint).toEqual({ msn: 8, part: 1 });
    expect(info.ended).toBe(false);
    expect(parseLivePlaylist('#EXTM3U\n#EXT-X-ENDLIST\n').ended).toBe(true);
    expect(partAfter({ msn: 8, part: 0 }, { msn: 7, part: 4 })).toBe(true);
    expect(partAfter({ msn: 7, part: 4 }, { msn: 7, part: 4 })).toBe(false);
  });
});
