import {
  appendFile,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TribuneError } from '../../src/errors.js';
import { deleteRecording, recordingDir } from '../../src/hls/replay.js';
import { HlsStore, type HlsLogger, type HlsStoreOptions } from '../../src/hls/store.js';

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
/** Where the wall clock is when the process comes back: a minute of downtime. */
const T_RESTART = T0 + 60_000;
const INIT = Uint8Array.of(0xaa, 0xbb);
const silent: HlsLogger = { error: () => undefined, warn: () => undefined };

let root: string;
let dir: string;
let n = 0;
let stores: HlsStore[] = [];

function track(s: HlsStore): HlsStore {
  stores.push(s);
  return s;
}
function makeStore(opts: Partial<HlsStoreOptions> = {}): HlsStore {
  const s = track(new HlsStore({ dir, log: silent, ...opts }));
  s.setInit(INIT);
  return s;
}
const openLive = async (opts: Partial<HlsStoreOptions> = {}): Promise<HlsStore> =>
  track(await HlsStore.openLive(dir, { log: silent, ...opts }));

/** Part bytes are a running counter (mod 256) so segments can be checked; PDTs follow `t0`. */
function add(s: HlsStore, count: number, t0 = T0): void {
  for (let i = 0; i < count; i++, n++) {
    s.addPart({ bytes: Uint8Array.of(n & 0xff), durationSec: 0.2, programDateTimeMs: t0 + i * 200 });
  }
}
const pdtLine = (ms: number): string => `#EXT-X-PROGRAM-DATE-TIME:${new Date(ms).toISOString()}`;
const segUris = (playlist: string): string[] => playlist.match(/^seg\/\d+\.m4s$/gm) ?? [];
const indexLines = async (): Promise<{ msn: number }[]> =>
  (await readFile(path.join(dir, 'segments.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { msn: number });

async function code(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e instanceof TribuneError ? e.code : String(e);
  }
  return expect.unreachable('expected a TribuneError');
}

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'tribune-replay-'));
  dir = path.join(root, 'space1');
  n = 0;
  stores = [];
});
afterEach(async () => {
  await Promise.all(stores.map((s) => s.flushed()));
  await rm(root, { recursive: true, force: true });
});

describe('HlsStore.openLive', () => {
  it('continues msn numbering and the media time, with the last segments back in the live window', async () => {
    const before = makeStore();
    add(before, 23); // segments 0..3 complete, 3 parts of segment 4 in progress
    await before.flushed(); // then the process dies: no end()

    const s = await openLive({ liveWindowSegments: 3 });
    expect(s.ended).toBe(false);
    expect(s.mediaDurationSec).toBeCloseTo(4, 9);
    expect(s.nextPart).toEqual({ msn: 4, part: 0 });
    const { body } = await s.playlist();
    expect(body).toContain('#EXT-X-MEDIA-SEQUENCE:1');
    expect(segUris(body)).toEqual(['seg/1.m4s', 'seg/2.m4s', 'seg/3.m4s']);
    expect(body).not.toContain('#EXT-X-PART:'); // parts died with the process: whole segments only
    expect(body).toContain('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part/4.0.m4s"');
    expect(body).toContain(pdtLine(T0 + 3000));
    expect(body).not.toContain('DISCONTINUITY');
    expect(Array.from(await s.init())).toEqual(Array.from(INIT));
    // Loaded from disk into memory: served at once, even after the files are gone.
    await rm(path.join(dir, 'seg'), { recursive: true });
    expect(Array.from(await s.segment(3))).toEqual([15, 16, 17, 18, 19]);
    expect(Array.from(await s.segment(1))).toEqual([5, 6, 7, 8, 9]);
    expect(await code(s.segment(0))).toBe('HLS_GONE');
    expect(await code(s.part(3, 0))).toBe('NOT_FOUND');
  });

  it('gives new segments their real program date-time and renders the whole recording when ended', async () => {
    const before = makeStore();
    add(before, 12);
    await before.flushed();
    const s = await openLive();
    expect(s.mediaDurationSec).toBeCloseTo(2, 9);
    const ref = s.addPart({ bytes: Uint8Array.of(0x77), durationSec: 0.2, programDateTimeMs: T_RESTART });
    expect(ref).toEqual({ msn: 2, part: 0 });
    add(s, 6, T_RESTART + 200); // completes segment 2, starts 3
    const live = (await s.playlist()).body;
    expect(live).toContain(`seg/1.m4s\n${pdtLine(T_RESTART)}\n#EXT-X-PART:DURATION=0.2,URI="part/2.0.m4s"`);
    expect(live).toContain(
      '#EXT-X-PART:DURATION=0.2,URI="part/2.4.m4s",INDEPENDENT=YES\n#EXTINF:1.0,\nseg/2.m4s',
    );
    expect(live).toContain(`seg/2.m4s\n${pdtLine(T_RESTART + 1000)}\n`);
    expect(s.mediaDurationSec).toBeCloseTo(3.4, 9);
    await s.end();
    const vod = (await s.playlist()).body;
    expect(segUris(vod)).toEqual(['seg/0.m4s', 'seg/1.m4s', 'seg/2.m4s', 'seg/3.m4s']);
    expect(vod).toContain(`${pdtLine(T0 + 1000)}\n#EXTINF:1.0,\nseg/1.m4s`);
    expect(vod).toContain(`${pdtLine(T_RESTART)}\n#EXTINF:1.0,\nseg/2.m4s`);
    expect(vod).not.toContain('DISCONTINUITY');
    const replay = track(await HlsStore.openReplay(dir, { log: silent }));
    expect((await replay.playlist()).body).toBe(vod);
    expect(Array.from(await replay.segment(2))).toEqual([0x77, 12, 13, 14, 15]);
    expect(Array.from(await replay.segment(0))).toEqual([0, 1, 2, 3, 4]);
  });

  it('makes blocking requests for the next part wait until it arrives', async () => {
    const before = makeStore();
    add(before, 20);
    await before.flushed();
    const s = await openLive();
    let done = false;
    const playlist = s.playlist({ msn: '4', part: '0' }).then((r) => {
      done = true;
      return r;
    });
    const part = s.part(4, 0);
    const seg = s.segment(4);
    expect((await s.playlist({ msn: '3', part: '4' })).body).toContain('seg/3.m4s'); // already there
    await Promise.resolve();
    expect(done).toBe(false);
    expect(s.waiterCount).toBe(3);
    expect(await code(s.playlist({ msn: '7' }))).toBe('HLS_BAD_BLOCKING_REQUEST');
    add(s, 1, T_RESTART);
    expect((await playlist).body).toContain('#EXT-X-PART:DURATION=0.2,URI="part/4.0.m4s"');
    expect(Array.from(await part)).toEqual([20]);
    expect(s.waiterCount).toBe(1); // the segment waits for its 5th part
    add(s, 4, T_RESTART + 200);
    expect(Array.from(await seg)).toEqual([20, 21, 22, 23, 24]);
    expect(s.waiterCount).toBe(0);
  });

  it('does not trust an index line whose segment file is missing or short (crash mid-segment)', async () => {
    const before = makeStore();
    add(before, 25); // segments 0..4
    await before.flushed();
    await rm(path.join(dir, 'seg/4.m4s'));
    await truncate(path.join(dir, 'seg/3.m4s'), 2); // torn write
    await appendFile(path.join(dir, 'segments.jsonl'), '{"msn":5,"dur'); // torn append
    const s = await openLive();
    expect(s.mediaDurationSec).toBeCloseTo(3, 9);
    expect(s.nextPart).toEqual({ msn: 3, part: 0 });
    expect(segUris((await s.playlist()).body)).toEqual(['seg/0.m4s', 'seg/1.m4s', 'seg/2.m4s']);
    expect((await indexLines()).map((l) => l.msn)).toEqual([0, 1, 2]);
    add(s, 5, T_RESTART); // a new segment 3 replaces the torn one
    await s.end();
    expect((await indexLines()).map((l) => l.msn)).toEqual([0, 1, 2, 3]);
    expect(Array.from(await readFile(path.join(dir, 'seg/3.m4s')))).toEqual([25, 26, 27, 28, 29]);
    const vod = (await s.playlist()).body;
    expect(vod).toContain(`${pdtLine(T_RESTART)}\n#EXTINF:1.0,\nseg/3.m4s`);
    expect(segUris(vod)).toHaveLength(4);
  });

  it('is idempotent: reopening twice gives the same store and leaves the disk as it was', async () => {
    const before = makeStore();
    add(before, 17);
    await before.flushed();
    const a = await openLive();
    const indexA = await readFile(path.join(dir, 'segments.jsonl'), 'utf8');
    const b = await openLive();
    expect(await readFile(path.join(dir, 'segments.jsonl'), 'utf8')).toBe(indexA);
    expect((await b.playlist()).body).toBe((await a.playlist()).body);
    expect(b.mediaDurationSec).toBe(a.mediaDurationSec);
    expect(b.nextPart).toEqual({ msn: 3, part: 0 });
  });

  it('returns a fresh live store when nothing usable was recorded', async () => {
    const fresh = await openLive(); // no directory at all
    expect(fresh.nextPart).toEqual({ msn: 0, part: 0 });
    expect(fresh.mediaDurationSec).toBe(0);
    expect(segUris((await fresh.playlist()).body)).toEqual([]);
    const waiting = fresh.init();
    expect(fresh.waiterCount).toBe(1);
    fresh.setInit(INIT);
    expect(Array.from(await waiting)).toEqual(Array.from(INIT));

    // An index without init.mp4: fresh, and the index starts over.
    await rm(dir, { recursive: true });
    await mkdir(path.join(dir, 'seg'), { recursive: true });
    await writeFile(path.join(dir, 'seg/0.m4s'), Uint8Array.of(1));
    await writeFile(path.join(dir, 'segments.jsonl'), '{"msn":0,"durationSec":1,"programDateTimeMs":1}\n');
    const noInit = await openLive();
    expect(noInit.nextPart).toEqual({ msn: 0, part: 0 });
    expect(await readFile(path.join(dir, 'segments.jsonl'), 'utf8')).toBe('');

    // init.mp4 but no index (went live, produced nothing).
    await rm(path.join(dir, 'segments.jsonl'));
    await writeFile(path.join(dir, 'init.mp4'), INIT);
    const noIndex = await openLive();
    expect(noIndex.mediaDurationSec).toBe(0);
    expect(noIndex.nextPart).toEqual({ msn: 0, part: 0 });
  });

  it('removes a final playlist of an earlier end, so a later crash rebuilds the replay from the index', async () => {
    const first = makeStore();
    add(first, 10);
    await first.end();
    const s = await openLive();
    await expect(lstat(path.join(dir, 'audio.m3u8'))).rejects.toThrow();
    add(s, 5, T_RESTART);
    await s.flushed(); // and the process dies
    const replay = track(await HlsStore.openReplay(dir, { log: silent }));
    expect(segUris((await replay.playlist()).body)).toEqual(['seg/0.m4s', 'seg/1.m4s', 'seg/2.m4s']);
  });

  it('suspend() closes the segment in progress so a clean restart loses no part', async () => {
    const s = makeStore();
    add(s, 8); // segment 0 and 3 parts of 1
    await s.suspend();
    expect(s.ended).toBe(false);
    const again = await openLive();
    expect(again.mediaDurationSec).toBeCloseTo(1.6, 9);
    expect(again.nextPart).toEqual({ msn: 2, part: 0 });
    expect((await again.playlist()).body).toContain('#EXTINF:0.6,\nseg/1.m4s');
  });
});

describe('replay trim', () => {
  async function recorded(): Promise<HlsStore> {
    const s = makeStore();
    add(s, 27); // 5 segments of 1 s and one of 0.4 s
    await s.end();
    return s;
  }

  it('leaves out whole segments that end at or before the trim and keeps the others as they were', async () => {
    const s = await recorded();
    const full = (await s.playlist()).body;
    expect(s.replayDurationSec).toBeCloseTo(5.4, 9);
    s.setTrimStartSec(2);
    expect(s.trimStartSec).toBe(2);
    const trimmed = (await s.playlist()).body;
    expect(trimmed).toContain('#EXT-X-MEDIA-SEQUENCE:2');
    expect(segUris(trimmed)).toEqual(['seg/2.m4s', 'seg/3.m4s', 'seg/4.m4s', 'seg/5.m4s']);
    expect(trimmed).toContain(`#EXT-X-MAP:URI="init.mp4"\n${pdtLine(T0 + 2000)}\n#EXTINF:1.0,\nseg/2.m4s`);
    expect(trimmed).toContain(`${pdtLine(T0 + 5000)}\n#EXTINF:0.4,\nseg/5.m4s`);
    expect(trimmed.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    expect(s.replayDurationSec).toBeCloseTo(3.4, 9);
    expect(s.recordedSegments().map((r) => [r.msn, r.startSec])).toEqual([
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
    ]);
    expect(await code(s.segment(1))).toBe('NOT_FOUND');
    expect(await code(s.segment(0))).toBe('NOT_FOUND'); // even though still in memory
    expect(await code(s.part(1, 0))).toBe('NOT_FOUND');
    expect(Array.from(await s.segment(2))).toEqual([10, 11, 12, 13, 14]);

    s.setTrimStartSec(2.5); // inside segment 2: segment granularity keeps it
    expect(segUris((await s.playlist()).body)[0]).toBe('seg/2.m4s');
    s.setTrimStartSec(5.3);
    expect(segUris((await s.playlist()).body)).toEqual(['seg/5.m4s']);
    expect(s.replayDurationSec).toBeCloseTo(0.4, 9);

    s.setTrimStartSec(0);
    expect((await s.playlist()).body).toBe(full);
    expect(s.replayDurationSec).toBeCloseTo(5.4, 9);
    // The playlist on disk stays complete.
    expect(await readFile(path.join(dir, 'audio.m3u8'), 'utf8')).toBe(full);
  });

  it('refuses a trim beyond the recording, a bad value, or a live Space', async () => {
    const live = makeStore({ dir: path.join(root, 'live') });
    add(live, 5);
    expect(await code(() => live.setTrimStartSec(1))).toBe('REPLAY_NOT_AVAILABLE');
    const s = await recorded();
    for (const bad of [5.4, 6, 1e9, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const e = await code(() => s.setTrimStartSec(bad));
      expect(e, String(bad)).toBe('BAD_REQUEST');
    }
    expect(() => s.setTrimStartSec(7)).toThrow(/leaves nothing of the 5\.4 s recording/);
    expect(segUris((await s.playlist()).body)).toHaveLength(6); // unchanged
  });

  it('openReplay applies trimStartSec, from the final playlist or rebuilt from the index', async () => {
    const s = await recorded();
    s.setTrimStartSec(3);
    const expected = (await s.playlist()).body;
    const r = track(await HlsStore.openReplay(dir, { log: silent, trimStartSec: 3 }));
    expect((await r.playlist()).body).toBe(expected);
    expect(r.replayDurationSec).toBeCloseTo(2.4, 9);
    expect(await code(r.segment(2))).toBe('NOT_FOUND');
    await rm(path.join(dir, 'audio.m3u8'));
    const rebuilt = track(await HlsStore.openReplay(dir, { log: silent, trimStartSec: 3 }));
    expect((await rebuilt.playlist()).body).toBe(expected);
    expect(await code(HlsStore.openReplay(dir, { log: silent, trimStartSec: 60 }))).toBe('BAD_REQUEST');
  });
});

describe('deleteRecording', () => {
  it('deletes a recording directory with everything in it, once', async () => {
    const s = makeStore();
    add(s, 12);
    await s.end();
    const outside = await mkdtemp(path.join(tmpdir(), 'tribune-outside-'));
    try {
      await writeFile(path.join(outside, 'keep.txt'), 'x');
      await symlink(outside, path.join(dir, 'link')); // a link inside is removed, not followed
      expect(await deleteRecording(root, 'space1')).toBe(true);
      await expect(lstat(dir)).rejects.toThrow();
      expect(await readFile(path.join(outside, 'keep.txt'), 'utf8')).toBe('x');
      expect(await readdir(root)).toEqual([]); // nothing left behind
      expect(await deleteRecording(root, 'space1')).toBe(false);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('deletes an empty directory and one with only an index', async () => {
    await mkdir(path.join(root, 'empty'));
    expect(await deleteRecording(root, 'empty')).toBe(true);
    await mkdir(path.join(root, 'idx'));
    await writeFile(path.join(root, 'idx', 'segments.jsonl'), '');
    expect(await deleteRecording(root, 'idx')).toBe(true);
    expect(await readdir(root)).toEqual([]);
  });

  it('refuses bad ids and anything that is not a recording directory under the root', async () => {
    const victim = path.join(root, 'victim');
    await mkdir(path.join(victim, 'inner'), { recursive: true });
    await writeFile(path.join(victim, 'init.mp4'), INIT);
    await writeFile(path.join(victim, 'inner', 'init.mp4'), INIT);
    const sub = path.join(root, 'sub');
    await mkdir(sub);
    for (const id of ['', '.', '..', '../victim', 'victim/inner', 'a b', 'x'.repeat(65), '%2e%2e', 'ü']) {
      expect(await code(deleteRecording(sub, id)), JSON.stringify(id)).toBe('BAD_REQUEST');
    }
    expect(() => recordingDir(sub, '../victim')).toThrow(TribuneError);
    expect(recordingDir(sub, 'ok_id-1')).toBe(path.join(sub, 'ok_id-1'));

    await symlink(victim, path.join(sub, 'link'));
    expect(await code(deleteRecording(sub, 'link'))).toBe('BAD_REQUEST');
    await writeFile(path.join(sub, 'file'), 'x');
    expect(await code(deleteRecording(sub, 'file'))).toBe('BAD_REQUEST');
    await mkdir(path.join(sub, 'other'));
    await writeFile(path.join(sub, 'other', 'notes.txt'), 'x');
    expect(await code(deleteRecording(sub, 'other'))).toBe('BAD_REQUEST');

    expect((await readdir(victim)).sort()).toEqual(['init.mp4', 'inner']);
    expect((await readdir(sub)).sort()).toEqual(['file', 'link', 'other']);
  });
});
