import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TribuneError } from '../../src/errors.js';
import { createClip, lastSecondsRange } from '../../src/hls/clips.js';
import { deleteRecording } from '../../src/hls/replay.js';
import { HlsStore, type HlsLogger } from '../../src/hls/store.js';

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const INIT = Uint8Array.of(0xaa, 0xbb);
const silent: HlsLogger = { error: () => undefined, warn: () => undefined };

let root: string;
let clipsDir: string;
let stores: HlsStore[] = [];

/** A store in root/<id> with `parts` parts of 200 ms; part i has the byte i & 0xff and PDT T0 + 200 i ms. */
function recording(id: string, parts: number): HlsStore {
  const s = new HlsStore({ dir: path.join(root, id), log: silent });
  stores.push(s);
  s.setInit(INIT);
  for (let i = 0; i < parts; i++)
    s.addPart({ bytes: Uint8Array.of(i & 0xff), durationSec: 0.2, programDateTimeMs: T0 + i * 200 });
  return s;
}
const segBytes = (msn: number): number[] => [0, 1, 2, 3, 4].map((i) => (msn * 5 + i) & 0xff);
const pdt = (ms: number): string => `#EXT-X-PROGRAM-DATE-TIME:${new Date(ms).toISOString()}`;

async function code(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e instanceof TribuneError ? e.code : String(e);
  }
  return expect.unreachable('expected a TribuneError');
}

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'tribune-clips-'));
  clipsDir = path.join(root, 'clips');
  stores = [];
});
afterEach(async () => {
  await Promise.all(stores.map((s) => s.flushed()));
  await rm(root, { recursive: true, force: true });
});

describe('createClip', () => {
  it('copies init and the covering segments and writes a VOD playlist with the original PDTs', async () => {
    const s = recording('sp', 50); // 10 segments
    await s.end();
    const outDir = path.join(clipsDir, 'c1');
    expect(await createClip({ store: s, startSec: 2, durationSec: 3, outDir })).toEqual({
      startSec: 2,
      durationSec: 3,
    });
    expect((await readdir(clipsDir)).sort()).toEqual(['c1']); // no temporary directory left
    expect((await readdir(outDir)).sort()).toEqual(['clip.m3u8', 'init.mp4', 'seg']);
    expect(Array.from(await readFile(path.join(outDir, 'init.mp4')))).toEqual(Array.from(INIT));
    expect((await readdir(path.join(outDir, 'seg'))).sort()).toEqual(['0.m4s', '1.m4s', '2.m4s']);
    for (let i = 0; i < 3; i++)
      expect(Array.from(await readFile(path.join(outDir, `seg/${i}.m4s`)))).toEqual(segBytes(2 + i));
    expect(await readFile(path.join(outDir, 'clip.m3u8'), 'utf8')).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:9',
        '#EXT-X-TARGETDURATION:1',
        '#EXT-X-PLAYLIST-TYPE:VOD',
        '#EXT-X-MEDIA-SEQUENCE:0',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-MAP:URI="init.mp4"',
        pdt(T0 + 2000),
        '#EXTINF:1.0,',
        'seg/0.m4s',
        pdt(T0 + 3000),
        '#EXTINF:1.0,',
        'seg/1.m4s',
        pdt(T0 + 4000),
        '#EXTINF:1.0,',
        'seg/2.m4s',
        '#EXT-X-ENDLIST',
        '',
      ].join('\n'),
    );
    // A copy: it outlives the recording.
    expect(await deleteRecording(root, 'sp')).toBe(true);
    expect(Array.from(await readFile(path.join(outDir, 'seg/2.m4s')))).toEqual(segBytes(4));
  });

  it('cuts whole segments and returns the range it cut', async () => {
    const s = recording('sp', 50);
    await s.end();
    const cut = await createClip({
      store: s,
      startSec: 2.5,
      durationSec: 3,
      outDir: path.join(clipsDir, 'a'),
    });
    expect(cut).toEqual({ startSec: 2, durationSec: 4 });
    const whole = await createClip({
      store: s,
      startSec: 0,
      durationSec: 10,
      outDir: path.join(clipsDir, 'b'),
    });
    expect(whole).toEqual({ startSec: 0, durationSec: 10 });
    expect(await readdir(path.join(clipsDir, 'b', 'seg'))).toHaveLength(10);
  });

  it('enforces 0 < durationSec <= 30 and a range inside the recording', async () => {
    const s = recording('sp', 50);
    await s.end();
    const out = path.join(clipsDir, 'x');
    for (const durationSec of [0, -1, 30.5, Number.NaN, Number.POSITIVE_INFINITY])
      expect(
        await code(createClip({ store: s, startSec: 0, durationSec, outDir: out })),
        String(durationSec),
      ).toBe('BAD_REQUEST');
    expect(await code(createClip({ store: s, startSec: Number.NaN, durationSec: 1, outDir: out }))).toBe(
      'BAD_REQUEST',
    );
    for (const [startSec, durationSec] of [
      [-1, 2],
      [8, 3],
      [10, 1],
      [100, 30],
    ])
      expect(
        await code(createClip({ store: s, startSec, durationSec, outDir: out })),
        `${startSec}+${durationSec}`,
      ).toBe('CLIP_OUT_OF_RANGE');
    expect(await createClip({ store: s, startSec: 7, durationSec: 3, outDir: out })).toEqual({
      startSec: 7,
      durationSec: 3,
    });
    await expect(readdir(clipsDir)).resolves.toEqual(['x']); // failures left nothing behind
  });

  it('respects the trim of a replay', async () => {
    const s = recording('sp', 50);
    await s.end();
    s.setTrimStartSec(5);
    const out = (id: string): string => path.join(clipsDir, id);
    expect(await code(createClip({ store: s, startSec: 4, durationSec: 2, outDir: out('a') }))).toBe(
      'CLIP_OUT_OF_RANGE',
    );
    expect(await code(createClip({ store: s, startSec: 0, durationSec: 3, outDir: out('a') }))).toBe(
      'CLIP_OUT_OF_RANGE',
    );
    expect(await createClip({ store: s, startSec: 5, durationSec: 5, outDir: out('a') })).toEqual({
      startSec: 5,
      durationSec: 5,
    });
    expect(lastSecondsRange(s, 30)).toEqual({ startSec: 5, durationSec: 5 });
  });

  it('clips a live Space from its completed segments, without waiting for the disk', async () => {
    const s = recording('sp', 17); // segments 0..2 complete, 2 parts in progress; writes still queued
    const outDir = path.join(clipsDir, 'live');
    expect(await code(createClip({ store: s, startSec: 1, durationSec: 2.5, outDir }))).toBe(
      'CLIP_OUT_OF_RANGE',
    );
    expect(await createClip({ store: s, startSec: 1, durationSec: 2, outDir })).toEqual({
      startSec: 1,
      durationSec: 2,
    });
    expect(Array.from(await readFile(path.join(outDir, 'seg/1.m4s')))).toEqual(segBytes(2));
    expect(s.ended).toBe(false);
  });

  it('refuses an existing clip directory and an empty recording', async () => {
    const s = recording('sp', 10);
    await s.end();
    const outDir = path.join(clipsDir, 'dup');
    await mkdir(outDir, { recursive: true });
    expect(await code(createClip({ store: s, startSec: 0, durationSec: 1, outDir }))).toBe('BAD_REQUEST');
    expect(await readdir(clipsDir)).toEqual(['dup']);
    const empty = recording('empty', 0);
    expect(
      await code(createClip({ store: empty, startSec: 0, durationSec: 1, outDir: path.join(clipsDir, 'e') })),
    ).toBe('CLIP_OUT_OF_RANGE');
  });
});

describe('lastSecondsRange', () => {
  it('is the last N seconds of what is recorded, shorter when less is', async () => {
    const long = recording('long', 40 * 5 + 3); // 40 complete segments and 3 parts
    expect(lastSecondsRange(long, 30)).toEqual({ startSec: 10, durationSec: 30 });
    expect(lastSecondsRange(long)).toEqual({ startSec: 10, durationSec: 30 });
    expect(lastSecondsRange(long, 5)).toEqual({ startSec: 35, durationSec: 5 });
    expect(lastSecondsRange(long, 4.5)).toEqual({ startSec: 36, durationSec: 4 }); // never longer than asked
    const short = recording('short', 12);
    expect(lastSecondsRange(short, 30)).toEqual({ startSec: 0, durationSec: 2 });
    expect(await code(() => lastSecondsRange(recording('none', 4), 30))).toBe('CLIP_OUT_OF_RANGE');
    expect(await code(() => lastSecondsRange(long, 31))).toBe('BAD_REQUEST');
  });

  it('gives a range createClip accepts', async () => {
    const s = recording('sp', 40 * 5);
    const range = lastSecondsRange(s, 30);
    const cut = await createClip({ store: s, ...range, outDir: path.join(clipsDir, 'last') });
    expect(cut).toEqual({ startSec: 10, durationSec: 30 });
    expect(await readdir(path.join(clipsDir, 'last', 'seg'))).toHaveLength(30);
  });
});
