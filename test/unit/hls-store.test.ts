import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TribuneError } from '../../src/errors.js';
import { hlsOriginRoutes } from '../../src/hls/routes.js';
import { HlsStore, type HlsLogger, type HlsStoreOptions } from '../../src/hls/store.js';

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const INIT = Uint8Array.of(0xaa, 0xbb);
let dir: string;
let n = 0;
let stores: HlsStore[] = [];

const silent: HlsLogger = { error: () => undefined, warn: () => undefined };
function makeStore(opts: Partial<HlsStoreOptions> = {}): HlsStore {
  const s = new HlsStore({ dir, log: silent, ...opts });
  stores.push(s);
  s.setInit(INIT);
  return s;
}
/** Part bytes encode a running counter so concatenations can be checked. */
function add(s: HlsStore, count = 1): void {
  for (let i = 0; i < count; i++, n++) {
    s.addPart({ bytes: Uint8Array.of(n & 0xff), durationSec: 0.2, programDateTimeMs: T0 + n * 200 });
  }
}
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.unreachable('expected a rejection'),
    (e: unknown) => e,
  );
}
async function code(p: Promise<unknown>): Promise<string | undefined> {
  const e = await rejection(p);
  return e instanceof TribuneError ? e.code : String(e);
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tribune-hls-'));
  n = 0;
  stores = [];
});
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(stores.map((s) => s.flushed()));
  await rm(dir, { recursive: true, force: true });
});

describe('HlsStore numbering and playlist', () => {
  it('numbers parts and closes a segment every segmentParts parts', async () => {
    const s = makeStore();
    const refs = Array.from({ length: 12 }, () => {
      const r = s.addPart({ bytes: Uint8Array.of(n), durationSec: 0.2, programDateTimeMs: T0 + n++ * 200 });
      return `${r?.msn}.${r?.part}`;
    });
    expect(refs).toEqual([
      '0.0',
      '0.1',
      '0.2',
      '0.3',
      '0.4',
      '1.0',
      '1.1',
      '1.2',
      '1.3',
      '1.4',
      '2.0',
      '2.1',
    ]);
    expect(s.nextPart).toEqual({ msn: 2, part: 2 });
    const { body } = await s.playlist();
    expect(body).toContain('#EXTINF:1.0,\nseg/0.m4s');
    expect(body).toContain('seg/1.m4s');
    expect(body).not.toContain('seg/2.m4s');
    expect(body).toContain(`#EXT-X-PROGRAM-DATE-TIME:${new Date(T0 + 1000).toISOString()}`);
    expect(body).toContain('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part/2.2.m4s"');
    expect(Array.from(await s.segment(1))).toEqual([5, 6, 7, 8, 9]);
    expect(Array.from(await s.part(2, 1))).toEqual([11]);
    expect(s.masterPlaylist()).toContain('CODECS="opus"');
  });

  it('drops segments outside the live window from memory (HLS_GONE) but keeps them on disk', async () => {
    const s = makeStore({ liveWindowSegments: 3 });
    add(s, 5 * 5);
    const { body } = await s.playlist();
    expect(body).toContain('#EXT-X-MEDIA-SEQUENCE:2');
    expect(body).not.toContain('seg/1.m4s');
    expect(await code(s.segment(1))).toBe('HLS_GONE');
    expect(await code(s.part(0, 0))).toBe('HLS_GONE');
    expect(await code(s.part(9, 0))).toBe('NOT_FOUND');
    expect(await code(s.segment(9))).toBe('NOT_FOUND');
    await s.flushed();
    expect(Array.from(await readFile(path.join(dir, 'seg/0.m4s')))).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(await readFile(path.join(dir, 'init.mp4')))).toEqual(Array.from(INIT));
  });

  it('logs disk write errors instead of throwing into the media path', async () => {
    const file = path.join(dir, 'not-a-dir');
    await writeFile(file, 'x');
    const log = { error: vi.fn(), warn: vi.fn() };
    const s = new HlsStore({ dir: path.join(file, 'space'), log });
    s.setInit(INIT);
    expect(() => add(s, 5)).not.toThrow();
    await s.flushed();
    expect(log.error).toHaveBeenCalled();
  });
});

describe('HlsStore blocking', () => {
  it('resolves a blocking playlist request when the part arrives', async () => {
    const s = makeStore();
    add(s, 3);
    let done = false;
    const p = s.playlist({ msn: '0', part: '3' }).then((r) => {
      done = true;
      return r;
    });
    await Promise.resolve();
    expect(done).toBe(false);
    expect(s.waiterCount).toBe(1);
    add(s, 1);
    const r = await p;
    expect(r.blocking).toBe(true);
    expect(r.body).toContain('part/0.3.m4s');
    expect(s.waiterCount).toBe(0);
  });

  it('blocks on the preload-hinted part and on the segment in progress', async () => {
    const s = makeStore();
    add(s, 4);
    const part = s.part(0, 4);
    const seg = s.segment(0);
    expect(await code(s.part(1, 0))).toBe('NOT_FOUND'); // not the hinted one: no blocking
    expect(s.waiterCount).toBe(2);
    add(s, 1);
    expect(Array.from(await part)).toEqual([4]);
    expect(Array.from(await seg)).toEqual([0, 1, 2, 3, 4]);
    const nextSegFirstPart = s.part(1, 0);
    expect(s.waiterCount).toBe(1);
    add(s, 1);
    expect(Array.from(await nextSegFirstPart)).toEqual([5]);
    expect(s.waiterCount).toBe(0);
  });

  it('removes waiters on abort', async () => {
    const s = makeStore();
    const ac = new AbortController();
    const p = s.playlist({ msn: '0', part: '0' }, ac.signal);
    const q = s.part(0, 0, ac.signal);
    expect(s.waiterCount).toBe(2);
    ac.abort();
    expect((await rejection(p)) as Error).toHaveProperty('name', 'AbortError');
    await rejection(q);
    expect(s.waiterCount).toBe(0);
    expect(await code(s.playlist({ msn: '0' }, ac.signal))).toMatch(/AbortError/);
  });

  it('answers 400 for invalid or far-future blocking requests', async () => {
    const s = makeStore();
    add(s, 7); // segment 0 complete, last part 1.1
    for (const q of [{ msn: '4' }, { part: '1' }, { msn: '1', part: '30' }, { msn: 'x' }, { msn: '-1' }]) {
      const e = await rejection(s.playlist(q));
      expect(e).toBeInstanceOf(TribuneError);
      expect(e).toMatchObject({ code: 'HLS_BAD_BLOCKING_REQUEST', status: 400 });
    }
    expect(s.waiterCount).toBe(0);
  });

  it('times out with HLS_NOT_AVAILABLE after 3 target durations and leaves no timer', async () => {
    vi.useFakeTimers();
    const s = makeStore();
    const p = rejection(s.playlist({ msn: '0', part: '0' }));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(2999);
    expect(s.waiterCount).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await p).toMatchObject({ code: 'HLS_NOT_AVAILABLE', status: 503 });
    expect(s.waiterCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    // a resolved wait clears its timer too
    const q = s.part(0, 0);
    add(s, 1);
    await q;
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('HlsStore end and replay', () => {
  it('end() releases waiters, writes the VOD playlist and openReplay serves it', async () => {
    const s = makeStore();
    add(s, 12);
    const waitingPlaylist = s.playlist({ msn: '2', part: '4' });
    const waitingPart = code(s.part(2, 2));
    await s.end();
    expect(s.waiterCount).toBe(0);
    const vod = (await waitingPlaylist).body;
    expect(await waitingPart).toBe('NOT_FOUND');
    expect(vod).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(vod.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    expect(vod).toContain('#EXTINF:0.4,\nseg/2.m4s'); // short last segment
    expect(vod).not.toContain('#EXT-X-PART');
    expect(await readFile(path.join(dir, 'audio.m3u8'), 'utf8')).toBe(vod);
    expect(s.addPart({ bytes: INIT, durationSec: 0.2, programDateTimeMs: T0 })).toBeUndefined();

    const r = await HlsStore.openReplay(dir);
    expect(r.ended).toBe(true);
    expect((await r.playlist({ msn: '99', part: '0' })).body).toBe(vod);
    expect(Array.from(await r.init())).toEqual(Array.from(INIT));
    expect(Array.from(await r.segment(2))).toEqual([10, 11]);
    expect(Array.from(await r.segment(0))).toEqual([0, 1, 2, 3, 4]);
    expect(await code(r.segment(3))).toBe('NOT_FOUND');
    expect(await code(r.part(1, 0))).toBe('HLS_GONE');
  });

  it('openReplay rebuilds the replay of a Space that never ended (crash) from its segment index', async () => {
    const s = makeStore();
    add(s, 12); // segments 0 and 1 complete, 2 in progress
    await s.flushed();
    // A torn last line, as a crash mid-append leaves it.
    await writeFile(
      path.join(dir, 'segments.jsonl'),
      (await readFile(path.join(dir, 'segments.jsonl'), 'utf8')) + '{"msn":2,"dur',
    );
    const r = await HlsStore.openReplay(dir);
    expect(r.ended).toBe(true);
    const vod = (await r.playlist()).body;
    expect(vod).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(vod.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    expect(vod.match(/^seg\/\d+\.m4s$/gm)).toEqual(['seg/0.m4s', 'seg/1.m4s']);
    expect(vod).toContain(`#EXT-X-PROGRAM-DATE-TIME:${new Date(T0 + 1000).toISOString()}`);
    expect(Array.from(await r.segment(1))).toEqual([5, 6, 7, 8, 9].map((i) => i + (n - 12)));
    // The rebuilt playlist is now on disk: the next start reads it directly.
    expect(await readFile(path.join(dir, 'audio.m3u8'), 'utf8')).toBe(vod);
  });

  it('openReplay refuses a missing or unfinished recording', async () => {
    expect(await code(HlsStore.openReplay(path.join(dir, 'nope')))).toBe('NOT_FOUND');
    await writeFile(path.join(dir, 'audio.m3u8'), '#EXTM3U\n');
    await writeFile(path.join(dir, 'init.mp4'), INIT);
    expect(await code(HlsStore.openReplay(dir))).toBe('NOT_FOUND');
  });
});

describe('hlsOriginRoutes', () => {
  let app: FastifyInstance;
  let store: HlsStore;
  beforeEach(async () => {
    store = makeStore();
    app = Fastify();
    await app.register(hlsOriginRoutes({ lookup: async (id) => (id === 'sp1' ? store : undefined) }), {
      prefix: '/origin',
    });
  });
  afterEach(() => app.close());
  const get = (url: string) => app.inject({ method: 'GET', url: `/origin/spaces/${url}` });

  it('serves playlists with the right types and Cache-Control', async () => {
    add(store, 7);
    const master = await get('sp1/master.m3u8');
    expect(master.statusCode).toBe(200);
    expect(master.headers['content-type']).toMatch(/^application\/vnd\.apple\.mpegurl/);
    expect(master.body).toContain('audio.m3u8');

    const live = await get('sp1/audio.m3u8');
    expect(live.headers['cache-control']).toBe('public, max-age=1');
    expect(live.body).toContain('#EXT-X-PRELOAD-HINT');

    const ready = await get('sp1/audio.m3u8?_HLS_msn=1&_HLS_part=1');
    expect(ready.statusCode).toBe(200);
    expect(ready.headers['cache-control']).toBe('public, max-age=2');

    const blocked = get('sp1/audio.m3u8?_HLS_msn=1&_HLS_part=2');
    await vi.waitFor(() => expect(store.waiterCount).toBe(1));
    add(store, 1);
    const res = await blocked;
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('part/1.2.m4s');

    await store.end();
    const vod = await get('sp1/audio.m3u8');
    // A replay's playlist changes when the host trims it: cached briefly, unlike its segments.
    expect(vod.headers['cache-control']).toBe('public, max-age=5');
    expect(vod.body).toContain('#EXT-X-ENDLIST');
  });

  it('serves init, segments and parts as immutable', async () => {
    add(store, 6);
    for (const [url, body] of [
      ['sp1/init.mp4', [0xaa, 0xbb]],
      ['sp1/seg/0.m4s', [0, 1, 2, 3, 4]],
      ['sp1/part/1.0.m4s', [5]],
    ] as const) {
      const r = await get(url);
      expect(r.statusCode, url).toBe(200);
      expect(r.headers['content-type']).toBe('video/mp4');
      expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(Array.from(r.rawPayload)).toEqual(body);
    }
    const hinted = get('sp1/part/1.1.m4s');
    await vi.waitFor(() => expect(store.waiterCount).toBe(1));
    add(store, 1);
    expect((await hinted).statusCode).toBe(200);
  });

  it('maps errors to JSON with the TribuneError status', async () => {
    add(store, 2);
    const cases: [string, number, string][] = [
      ['nope/audio.m3u8', 404, 'SPACE_NOT_FOUND'],
      ['bad.id!/audio.m3u8', 400, 'BAD_REQUEST'],
      ['sp1/seg/x.m4s', 400, 'BAD_REQUEST'],
      ['sp1/part/1.m4s', 400, 'BAD_REQUEST'],
      ['sp1/audio.m3u8?_HLS_msn=9', 400, 'HLS_BAD_BLOCKING_REQUEST'],
      ['sp1/audio.m3u8?_HLS_part=1', 400, 'HLS_BAD_BLOCKING_REQUEST'],
      ['sp1/part/5.0.m4s', 404, 'NOT_FOUND'],
      ['sp1/seg/7.m4s', 404, 'NOT_FOUND'],
    ];
    for (const [url, status, errCode] of cases) {
      const r = await get(url);
      expect(r.statusCode, url).toBe(status);
      expect(r.json(), url).toMatchObject({ error: { code: errCode, message: expect.any(String) } });
      expect(r.headers['cache-control'], url).toBe('no-store');
    }
  });

  it('aborts the blocking wait when the client disconnects', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const req = http.get(`http://127.0.0.1:${port}/origin/spaces/sp1/audio.m3u8?_HLS_msn=0&_HLS_part=0`);
    req.on('error', () => undefined);
    await vi.waitFor(() => expect(store.waiterCount).toBe(1));
    req.destroy();
    await vi.waitFor(() => expect(store.waiterCount).toBe(0));
  });
});
