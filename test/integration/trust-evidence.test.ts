/**
 * Evidence kept for DSA notices (src/trust/evidence.ts) with real recordings: Opus in CMAF (src/hls/encoder.ts +
 * src/hls/cmaf.ts) in a real HlsStore, copies decoded by ffmpeg.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TribuneError } from '../../src/errors.js';
import { CmafPackager } from '../../src/hls/cmaf.js';
import { createClip, lastSecondsRange } from '../../src/hls/clips.js';
import { OPUS_FRAME_SAMPLES, OpusEncoder } from '../../src/hls/encoder.js';
import { deleteRecording } from '../../src/hls/replay.js';
import { HlsStore, type HlsLogger } from '../../src/hls/store.js';
import { SqliteStorage } from '../../src/store/sqlite.js';
import { EvidenceKeeper, type EvidenceStore } from '../../src/trust/evidence.js';
import type { EvidenceRecord } from '../../src/trust/model.js';

const RATE = 48_000;
const FRAME_MS = 20;
const MAX_SEC = 300;
const DAY = 86_400_000;
const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const silent: HlsLogger = { error: () => undefined, warn: () => undefined };
const iso = (ms: number): string => new Date(ms).toISOString();

let root: string;
let recordings: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'tribune-evidence-'));
  recordings = path.join(root, 'spaces');
});
afterAll(async () => {
  for (const s of opened) await s.close();
  await rm(root, { recursive: true, force: true });
});

/** A media engine: a sine through a fresh Opus encoder and CMAF packager (200 ms parts, 1 s segments) into the store. */
function feed(store: HlsStore, opts: { seconds: number; freqHz: number; wallStartMs: number }): void {
  const frames = Math.round((opts.seconds * 1000) / FRAME_MS);
  const timelineStart = Math.round(store.mediaDurationSec * RATE);
  const enc = new OpusEncoder(32_000);
  const pk = new CmafPackager({
    partFrames: 10,
    onInit: (b) => store.setInit(b),
    onPart: (p) =>
      store.addPart({
        bytes: p.bytes,
        durationSec: p.durationSec,
        programDateTimeMs: opts.wallStartMs + ((p.firstSampleTime - timelineStart) / RATE) * 1000,
      }),
  });
  const pcm = new Int16Array(OPUS_FRAME_SAMPLES);
  for (let f = 0; f < frames; f++) {
    for (let i = 0; i < pcm.length; i++) {
      const t = (f * OPUS_FRAME_SAMPLES + i) / RATE;
      pcm[i] = Math.round(8000 * Math.sin(2 * Math.PI * opts.freqHz * t));
    }
    pk.push(enc.encode(pcm), timelineStart + f * OPUS_FRAME_SAMPLES);
  }
}

/** Seconds of audio ffmpeg decodes from a playlist; fails on any ffmpeg error. */
function decodedSec(input: string): number {
  const r = spawnSync(
    '/usr/bin/ffmpeg',
    ['-v', 'error', '-i', input, '-f', 's16le', '-ac', '1', '-ar', '48000', '-'],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  expect(r.stderr.toString(), input).toBe('');
  expect(r.status, input).toBe(0);
  return r.stdout.byteLength / 2 / RATE;
}

function code(fn: () => unknown): Promise<string | undefined> {
  return (async () => {
    try {
      await fn();
    } catch (e) {
      return e instanceof TribuneError ? e.code : String(e);
    }
    return expect.unreachable('expected a TribuneError');
  })();
}

const opened: SqliteStorage[] = [];
/** The real SQLite storage, one database per test. */
function evidenceStore(): SqliteStorage {
  const s = SqliteStorage.open(path.join(root, `trust-${opened.length}.db`));
  opened.push(s);
  return s;
}

function keeper(store: EvidenceStore, now = T0): EvidenceKeeper {
  return new EvidenceKeeper({ dir: path.join(root, 'evidence'), store, maxSec: MAX_SEC, now: () => now });
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** An ended Space of `seconds` (1 s segments) in <recordings>/<id>. */
async function replay(id: string, seconds: number): Promise<HlsStore> {
  const s = new HlsStore({ dir: path.join(recordings, id), log: silent });
  feed(s, { seconds, freqHz: 440, wallStartMs: T0 });
  await s.end();
  return s;
}

describe('keeping a range of a recording', () => {
  it('copies the segments covering a 60 s range as a VOD that outlives the replay', async () => {
    const hls = await replay('sp100', 100);
    expect(hls.recordedSegments()).toHaveLength(100);
    const ev = keeper(evidenceStore());
    const range = ev.rangeFor(hls, { startSec: 20.5, endSec: 80.5 });
    expect(range).toEqual({ startSec: 20.5, endSec: 80.5 });
    const e = await ev.keep({
      caseId: 'case_a',
      spaceId: 'sp100',
      hls,
      ...range,
      keepUntil: iso(T0 + 183 * DAY),
    });
    expect(e).toMatchObject({
      caseId: 'case_a',
      spaceId: 'sp100',
      startSec: 20.5,
      endSec: 80.5,
      copyStartSec: 20,
      createdAt: iso(T0),
      keepUntil: iso(T0 + 183 * DAY),
      deletedAt: null,
    });
    expect(e.id).toMatch(/^ev_[a-z2-7]{16}$/);
    expect(ev.markedRange(e)).toEqual({ fromSec: 0.5, toSec: 60.5 });

    // Segments 20..80 (outward to segment boundaries), with their original program date-times.
    const playlistFile = ev.file(e, 'clip.m3u8') as string;
    expect(playlistFile).toBe(path.join(root, 'evidence', e.id, 'clip.m3u8'));
    const playlist = await readFile(playlistFile, 'utf8');
    const uris = playlist.match(/^seg\/\d+\.m4s$/gm);
    expect(uris).toEqual(Array.from({ length: 61 }, (_, i) => `seg/${i}.m4s`));
    expect(playlist).toContain('#EXT-X-ENDLIST');
    expect(playlist).toContain(`#EXT-X-PROGRAM-DATE-TIME:${iso(T0 + 20_000)}\n#EXTINF:1.0,\nseg/0.m4s`);
    expect(playlist).toContain(`#EXT-X-PROGRAM-DATE-TIME:${iso(T0 + 80_000)}\n#EXTINF:1.0,\nseg/60.m4s`);
    const originals = await Promise.all([20, 50, 80].map((msn) => readFile(hls.segmentPath(msn))));
    expect((await readdir(path.join(root, 'evidence', e.id, 'seg'))).length).toBe(61);
    expect(decodedSec(playlistFile)).toBeCloseTo(61, 1);

    // The host deletes the replay: the evidence stays, byte for byte, and still plays.
    expect(await deleteRecording(recordings, 'sp100')).toBe(true);
    expect(await exists(path.join(recordings, 'sp100'))).toBe(false);
    for (const [i, msn] of [20, 50, 80].entries())
      expect((await readFile(ev.file(e, `seg/${msn - 20}.m4s`) as string)).equals(originals[i])).toBe(true);
    expect((await readFile(ev.file(e, 'init.mp4') as string)).byteLength).toBeGreaterThan(0);
    expect(decodedSec(playlistFile)).toBeCloseTo(61, 1);
  });

  it('refuses ranges outside the recording', async () => {
    const hls = await replay('sp40', 40);
    const ev = new EvidenceKeeper({ dir: path.join(root, 'evidence'), store: evidenceStore(), maxSec: 20 });
    const bad = [
      { startSec: -1, endSec: 5 }, // before the start
      { startSec: 30, endSec: 41.5 }, // after the end (more than 1 s)
      { startSec: 40.2, endSec: 41 }, // after the end, within the tolerance, but no audio
      { startSec: 10, endSec: 5 }, // reversed
      { startSec: 10, endSec: 10 }, // empty
      { startSec: 0, endSec: 20.5 }, // longer than maxSec
      { startSec: Number.NaN, endSec: 5 },
      { startSec: 0, endSec: Number.NaN },
      { startSec: 0, endSec: Number.POSITIVE_INFINITY },
      { startSec: 5 }, // no end
      { lastSec: Number.NaN },
      { lastSec: 0 },
      { lastSec: 21 }, // longer than maxSec
    ];
    for (const req of bad)
      expect(await code(() => ev.rangeFor(hls, req)), JSON.stringify(req)).toBe('RANGE_OUT_OF_RECORDING');
    expect(await code(() => ev.rangeFor(hls, {}))).toBe('BAD_REQUEST');
    expect(await code(() => ev.rangeFor(hls, { startSec: 1, endSec: 2, lastSec: 1 }))).toBe('BAD_REQUEST');
    // keep() checks the same way and copies nothing.
    const keepUntil = iso(T0 + DAY);
    for (const r of [
      { startSec: -1, endSec: 5 },
      { startSec: 30, endSec: 45 },
      { startSec: 5, endSec: 1 },
      { startSec: 0, endSec: 25 },
      { startSec: Number.NaN, endSec: 1 },
    ])
      expect(await code(() => ev.keep({ caseId: 'c', spaceId: 'sp40', hls, ...r, keepUntil }))).toBe(
        'RANGE_OUT_OF_RECORDING',
      );

    // An end up to 1 s after the recording is clamped to it.
    expect(ev.rangeFor(hls, { startSec: 25, endSec: 40.8 })).toEqual({ startSec: 25, endSec: 40 });
    expect(ev.rangeFor(hls, { startSec: 0, endSec: 20 })).toEqual({ startSec: 0, endSec: 20 });

    // A trimmed replay starts at its trim.
    hls.setTrimStartSec(10);
    expect(await code(() => ev.rangeFor(hls, { startSec: 9, endSec: 12 }))).toBe('RANGE_OUT_OF_RECORDING');
    expect(ev.rangeFor(hls, { startSec: 10, endSec: 12 })).toEqual({ startSec: 10, endSec: 12 });

    // Nothing recorded yet.
    const empty = new HlsStore({ dir: path.join(recordings, 'empty'), log: silent });
    expect(await code(() => ev.rangeFor(empty, { lastSec: 5 }))).toBe('RANGE_OUT_OF_RECORDING');
    expect(await code(() => ev.rangeFor(empty, { startSec: 0, endSec: 1 }))).toBe('RANGE_OUT_OF_RECORDING');
  });

  it('keeps the last seconds of a live Space', async () => {
    const hls = new HlsStore({ dir: path.join(recordings, 'live'), log: silent });
    feed(hls, { seconds: 50.3, freqHz: 440, wallStartMs: T0 }); // 50 complete segments and a part
    expect(hls.ended).toBe(false);
    const store = evidenceStore();
    const ev = keeper(store);
    expect(ev.rangeFor(hls, { lastSec: 20 })).toEqual({ startSec: 30, endSec: 50 });
    expect(ev.rangeFor(hls, { lastSec: 120 })).toEqual({ startSec: 0, endSec: 50 }); // clamped to what exists
    expect(ev.rangeFor(hls, { lastSec: 19.5 })).toEqual({ startSec: 30.5, endSec: 50 });

    const e = await ev.keep({
      caseId: 'case_live',
      spaceId: 'live',
      hls,
      ...ev.rangeFor(hls, { lastSec: 19.5 }),
      keepUntil: iso(T0 + DAY),
    });
    expect(e).toMatchObject({ startSec: 30.5, endSec: 50, copyStartSec: 30 });
    const playlistFile = ev.file(e, 'clip.m3u8') as string;
    const playlist = await readFile(playlistFile, 'utf8');
    expect(playlist.match(/^seg\/\d+\.m4s$/gm)).toHaveLength(20);
    expect(playlist).toContain(`#EXT-X-PROGRAM-DATE-TIME:${iso(T0 + 30_000)}\n#EXTINF:1.0,\nseg/0.m4s`);
    expect(decodedSec(playlistFile)).toBeCloseTo(20, 1);

    // The Space goes on: the copy does not change; later ranges follow the live edge.
    feed(hls, { seconds: 10, freqHz: 660, wallStartMs: T0 + 60_000 });
    expect(ev.rangeFor(hls, { lastSec: 5 })).toEqual({ startSec: 55, endSec: 60 });
    expect(await readFile(playlistFile, 'utf8')).toBe(playlist);
    expect(await store.evidenceForCase('case_live')).toEqual([e]);
    await hls.end();
  });
});

describe('clips.ts with a larger maximum', () => {
  it('copies more than 30 s only when maxSec allows it', async () => {
    const hls = await replay('sp-clip', 70);
    const outDir = path.join(root, 'clips-max', 'c');
    expect(await code(() => createClip({ store: hls, startSec: 0, durationSec: 60, outDir }))).toBe(
      'BAD_REQUEST',
    );
    expect(await createClip({ store: hls, startSec: 5, durationSec: 60, outDir, maxSec: 300 })).toEqual({
      startSec: 5,
      durationSec: 60,
    });
    expect(await readdir(path.join(outDir, 'seg'))).toHaveLength(60);
    expect(await code(() => lastSecondsRange(hls, 60))).toBe('BAD_REQUEST');
    expect(lastSecondsRange(hls, 60, 300)).toEqual({ startSec: 10, durationSec: 60 });
    expect(lastSecondsRange(hls, 30)).toEqual({ startSec: 40, durationSec: 30 });
  });
});

describe('retention', () => {
  it('extend postpones (never advances); sweep deletes only expired evidence, repeatably', async () => {
    const hls = await replay('sp-ret', 10);
    const store = evidenceStore();
    const ev = keeper(store);
    const keep = (caseId: string, startSec: number, days: number): Promise<EvidenceRecord> =>
      ev.keep({
        caseId,
        spaceId: 'sp-ret',
        hls,
        startSec,
        endSec: startSec + 2,
        keepUntil: iso(T0 + days * DAY),
      });
    const a1 = await keep('case_r1', 0, 1);
    const a2 = await keep('case_r1', 4, 1);
    const b = await keep('case_r2', 2, 2);
    const dirOf = (e: EvidenceRecord): string => path.join(root, 'evidence', e.id);

    const extended = await ev.extend('case_r1', iso(T0 + 3 * DAY));
    expect(extended.map((e) => e.keepUntil)).toEqual([iso(T0 + 3 * DAY), iso(T0 + 3 * DAY)]);
    await ev.extend('case_r1', iso(T0 + DAY / 2)); // earlier: no change
    for (const e of await store.evidenceForCase('case_r1')) expect(e.keepUntil).toBe(iso(T0 + 3 * DAY));
    expect((await store.evidenceForCase('case_r2'))[0].keepUntil).toBe(iso(T0 + 2 * DAY));
    expect(await code(() => ev.extend('case_r1', 'soon'))).toBe('BAD_REQUEST');

    expect(await ev.sweep(iso(T0 + DAY))).toBe(0); // a1, a2 were postponed, b is not due
    expect(await ev.sweep(iso(T0 + 2.5 * DAY))).toBe(1);
    const [bNow] = await store.evidenceForCase('case_r2');
    expect(bNow.deletedAt).toBe(iso(T0 + 2.5 * DAY));
    expect(await exists(dirOf(b))).toBe(false);
    expect(ev.file(bNow, 'clip.m3u8')).toBeNull();
    expect(await exists(dirOf(a1))).toBe(true);
    expect(await exists(dirOf(a2))).toBe(true);
    expect(await ev.sweep(iso(T0 + 2.5 * DAY))).toBe(0); // again: nothing more

    // Deleted evidence is not revived by extend.
    await ev.extend('case_r2', iso(T0 + 10 * DAY));
    expect((await store.evidenceForCase('case_r2'))[0]).toMatchObject({ deletedAt: iso(T0 + 2.5 * DAY) });

    expect(await ev.sweep(iso(T0 + 3 * DAY))).toBe(2); // keepUntil <= now
    expect(await exists(dirOf(a1))).toBe(false);
    expect(await exists(dirOf(a2))).toBe(false);
    expect(await ev.sweep(iso(T0 + 30 * DAY))).toBe(0);
    // A copy already gone from disk (a sweep that died after rm) is still marked.
    const c = await keep('case_r3', 0, 1);
    await rm(dirOf(c), { recursive: true });
    expect(await ev.sweep(iso(T0 + 30 * DAY))).toBe(1);
    expect((await store.evidenceForCase('case_r3'))[0].deletedAt).toBe(iso(T0 + 30 * DAY));
  });
});

describe('sweep failures', () => {
  it('logs a record it cannot mark, leaves it for the next pass and does not loop', async () => {
    const hls = await replay('sp-fail', 5);
    const db = evidenceStore();
    const warnings: string[] = [];
    let failing = true;
    const flaky: EvidenceStore = {
      createEvidence: (e) => db.createEvidence(e),
      evidenceForCase: (c) => db.evidenceForCase(c),
      expiredEvidence: (n, l) => db.expiredEvidence(n, l),
      putEvidence: async (e) => {
        if (failing) throw new Error('disk full');
        await db.putEvidence(e);
      },
    };
    const ev = new EvidenceKeeper({
      dir: path.join(root, 'evidence'),
      store: flaky,
      maxSec: MAX_SEC,
      log: { warn: (obj) => warnings.push(String(obj.evidenceId)) },
    });
    const e = await ev.keep({
      caseId: 'case_f',
      spaceId: 'sp-fail',
      hls,
      startSec: 0,
      endSec: 2,
      keepUntil: iso(T0),
    });
    expect(await ev.sweep(iso(T0 + DAY))).toBe(0);
    expect(warnings).toEqual([e.id]);
    failing = false;
    expect(await ev.sweep(iso(T0 + DAY))).toBe(1);
    expect((await db.evidenceForCase('case_f'))[0].deletedAt).toBe(iso(T0 + DAY));
  });
});

describe('file()', () => {
  it('serves only the copy’s playlist, init and segments', () => {
    const ev = keeper(evidenceStore());
    const e: EvidenceRecord = {
      id: 'ev_abcdefghijklmnop',
      caseId: 'c',
      spaceId: 's',
      startSec: 0,
      endSec: 1,
      copyStartSec: 0,
      createdAt: iso(T0),
      keepUntil: iso(T0 + DAY),
      deletedAt: null,
    };
    const base = path.join(root, 'evidence', e.id);
    expect(ev.file(e, 'clip.m3u8')).toBe(path.join(base, 'clip.m3u8'));
    expect(ev.file(e, 'init.mp4')).toBe(path.join(base, 'init.mp4'));
    expect(ev.file(e, 'seg/0.m4s')).toBe(path.join(base, 'seg', '0.m4s'));
    expect(ev.file(e, 'seg/012.m4s')).toBe(path.join(base, 'seg', '12.m4s'));
    for (const name of [
      '../x',
      'seg/../../x',
      'seg/../clip.m3u8',
      '/etc/passwd',
      path.join(base, 'clip.m3u8'),
      './clip.m3u8',
      'seg/0.m4s/..',
      'seg\\0.m4s',
      'seg/-1.m4s',
      'seg/0.m4s\0',
      'seg/a.m4s',
      'audio.m3u8',
      'segments.jsonl',
      'part/0.0.m4s',
      'seg',
      '',
      'CLIP.M3U8',
    ])
      expect(ev.file(e, name), name).toBeNull();
    // Ids that could name anything else, and deleted evidence.
    expect(ev.file({ ...e, id: '..' }, 'clip.m3u8')).toBeNull();
    expect(ev.file({ ...e, id: '../other' }, 'clip.m3u8')).toBeNull();
    expect(ev.file({ ...e, deletedAt: iso(T0) }, 'clip.m3u8')).toBeNull();
  });
});
