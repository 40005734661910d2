import { describe, expect, it } from 'vitest';
import type { CacheEntry } from '../../src/edge/cache.js';
import { StreamFeeds } from '../../src/edge/stream-feed.js';
import { StreamHub, type StreamListener, type StreamSink } from '../../src/edge/stream-hub.js';

/** A fake live origin: parts appear when `produce()` is called; blocking reloads wait for them. */
class FakeOrigin {
  parts: { msn: number; part: number }[] = [];
  ended = false;
  requests: string[] = [];
  private waiters: (() => void)[] = [];
  constructor(private readonly perSegment = 3) {}

  produce(n = 1): void {
    for (let i = 0; i < n; i++) {
      const last = this.parts.at(-1);
      const next = !last
        ? { msn: 0, part: 0 }
        : last.part + 1 < this.perSegment
          ? { msn: last.msn, part: last.part + 1 }
          : { msn: last.msn + 1, part: 0 };
      this.parts.push(next);
    }
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  private playlist(): string {
    const lines = ['#EXTM3U', '#EXT-X-MAP:URI="init.mp4"'];
    for (const p of this.parts.slice(-6))
      lines.push(`#EXT-X-PART:DURATION=0.2,URI="part/${p.msn}.${p.part}.m4s"`);
    if (this.ended) lines.push('#EXT-X-ENDLIST');
    else {
      const last = this.parts.at(-1)!;
      const hint = last.part + 1 < this.perSegment ? `${last.msn}.${last.part + 1}` : `${last.msn + 1}.0`;
      lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part/${hint}.m4s"`);
    }
    return lines.join('\n');
  }

  async get(key: string, signal: AbortSignal): Promise<CacheEntry> {
    this.requests.push(key);
    const entry = (status: number, body: string): CacheEntry => ({
      status,
      contentType: undefined,
      cacheControl: undefined,
      access: undefined,
      body: Buffer.from(body),
      storedAt: 0,
      expiresAt: 0,
    });
    const m = /audio\.m3u8\?_HLS_msn=(\d+)&_HLS_part=(\d+)/.exec(key);
    if (m) {
      const want = { msn: Number(m[1]), part: Number(m[2]) };
      const has = (): boolean =>
        this.ended || this.parts.some((p) => p.msn > want.msn || (p.msn === want.msn && p.part >= want.part));
      while (!has()) {
        await new Promise<void>((resolve, reject) => {
          this.waiters.push(resolve);
          signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
        });
      }
      return entry(200, this.playlist());
    }
    if (key.endsWith('audio.m3u8')) return entry(200, this.playlist());
    if (key.endsWith('init.mp4')) return entry(200, 'I');
    const pm = /part\/(\d+)\.(\d+)\.m4s$/.exec(key);
    if (pm) return entry(200, `[${pm[1]}.${pm[2]}]`);
    return entry(404, '');
  }
}

class Sink implements StreamSink {
  data = '';
  ended = false;
  write(b: Buffer): boolean {
    const s = b.toString('latin1');
    const crlf = s.indexOf('\r\n');
    this.data += s.slice(crlf + 2, s.length - 2);
    return true;
  }
  readonly writableLength = 0;
  destroy(): void {}
  end(): void {
    this.ended = true;
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await tick();
  expect(cond()).toBe(true);
}

describe('stream feed', () => {
  it('starts at the newest part, follows every part across segments once, and ends with the Space', async () => {
    const origin = new FakeOrigin();
    origin.produce(4); // 0.0 0.1 0.2 1.0
    const hub = new StreamHub();
    const feeds = new StreamFeeds({
      hub,
      cached: (k, s) => origin.get(k, s),
      direct: (k, s) => origin.get(k, s),
    });
    const sink = new Sink();
    const l: StreamListener = { sink, address: 'a', lid: 'lid-00000001', userId: undefined };
    hub.join('s', l);
    feeds.ensure('s');
    await until(() => sink.data === 'I[1.0]');
    origin.produce(1);
    await until(() => sink.data.endsWith('[1.1]'));
    origin.produce(3); // 1.2 2.0 2.1 at once
    await until(() => sink.data.endsWith('[2.1]'));
    expect(sink.data).toBe('I[1.0][1.1][1.2][2.0][2.1]');
    // Each part was fetched once.
    const partFetches = origin.requests.filter((k) => k.includes('/part/'));
    expect(new Set(partFetches).size).toBe(partFetches.length);
    origin.end();
    await until(() => sink.ended);
    expect(hub.listeners).toBe(0);
    feeds.close();
  });

  it('skips to the newest part when it fell behind the playlist window, and counts what it skipped', async () => {
    const origin = new FakeOrigin();
    origin.produce(2); // 0.0 0.1
    const hub = new StreamHub();
    const feeds = new StreamFeeds({
      hub,
      cached: (k, s) => origin.get(k, s),
      direct: (k, s) => origin.get(k, s),
    });
    const sink = new Sink();
    hub.join('s', { sink, address: 'a', lid: 'lid-00000003', userId: undefined });
    feeds.ensure('s');
    await until(() => sink.data === 'I[0.1]');
    origin.produce(10); // 0.2 .. 3.2 at once; the playlist lists only the last 6 (2.0 .. 3.2)
    await until(() => sink.data.endsWith('[3.2]'));
    expect(sink.data).toBe('I[0.1][3.2]');
    expect(feeds.skipped).toBe(5);
    origin.produce(1);
    await until(() => sink.data.endsWith('[4.0]'));
    expect(sink.data).toBe('I[0.1][3.2][4.0]');
    feeds.close();
  });

  it('stops following when the last listener leaves', async () => {
    const origin = new FakeOrigin();
    origin.produce(2);
    const hub = new StreamHub();
    const feeds = new StreamFeeds({
      hub,
      cached: (k, s) => origin.get(k, s),
      direct: (k, s) => origin.get(k, s),
    });
    const sink = new Sink();
    const l: StreamListener = { sink, address: 'a', lid: 'lid-00000002', userId: undefined };
    hub.join('s', l);
    feeds.ensure('s');
    await until(() => sink.data.length > 0);
    hub.leave('s', l);
    origin.produce(1);
    await until(() => feeds.size === 0);
    feeds.close();
  });
});
