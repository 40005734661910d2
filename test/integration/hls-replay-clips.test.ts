/**
 * Live Spaces across a restart, trimmed replays and clips, with real Opus in CMAF (src/hls/encoder.ts +
 * src/hls/cmaf.ts) decoded by ffmpeg.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TribuneError } from '../../src/errors.js';
import { CmafPackager } from '../../src/hls/cmaf.js';
import { createClip, lastSecondsRange } from '../../src/hls/clips.js';
import { OPUS_FRAME_SAMPLES, OPUS_PRE_SKIP, OpusEncoder } from '../../src/hls/encoder.js';
import { deleteRecording } from '../../src/hls/replay.js';
import { hlsOriginRoutes } from '../../src/hls/routes.js';
import { HlsStore, type HlsLogger } from '../../src/hls/store.js';

const RATE = 48_000;
const FRAME_MS = 20;
const silent: HlsLogger = { error: () => undefined, warn: () => undefined };

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'tribune-replay-clips-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/**
 * What a media engine does for one Space: a sine through a fresh Opus encoder and CMAF packager into the store.
 * The packager's timeline starts at the store's `mediaDurationSec` (how the origin restarts an engine), wall-clock
 * PDTs from `wallStartMs`. Returns the number of 20 ms frames pushed.
 */
function feed(store: HlsStore, opts: { seconds: number; freqHz: number; wallStartMs: number }): number {
  const frames = Math.round((opts.seconds * 1000) / FRAME_MS);
  const timelineStart = Math.round(store.mediaDurationSec * RATE);
  const enc = new OpusEncoder(32_000);
  let pushed = 0;
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
  for (let f = 0; f < frames; f++, pushed++) {
    for (let i = 0; i < pcm.length; i++) {
      const t = (f * OPUS_FRAME_SAMPLES + i) / RATE;
      pcm[i] = Math.round(8000 * Math.sin(2 * Math.PI * opts.freqHz * t));
    }
    pk.push(enc.encode(pcm), timelineStart + f * OPUS_FRAME_SAMPLES);
  }
  return pushed;
}

/** Decodes a playlist (file or URL) with ffmpeg; fails on any ffmpeg error. */
function decode(input: string): Int16Array {
  const r = spawnSync(
    '/usr/bin/ffmpeg',
    ['-v', 'error', '-i', input, '-f', 's16le', '-ac', '1', '-ar', '48000', '-'],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  expect(r.stderr.toString(), input).toBe('');
  expect(r.status, input).toBe(0);
  return new Int16Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength / 2);
}

/** Same, asynchronously (while this process serves the input over HTTP). */
function decodeAsync(input: string): Promise<{ pcm: Int16Array; stderr: string; status: number | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/ffmpeg', [
      '-v',
      'error',
      '-i',
      input,
      '-f',
      's16le',
      '-ac',
      '1',
      '-ar',
      '48000',
      '-',
    ]);
    const out: Buffer[] = [];
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.on('error', reject);
    p.on('close', (status) => {
      const buf = Buffer.concat(out);
      resolve({ pcm: new Int16Array(buf.buffer, buf.byteOffset, buf.byteLength / 2), stderr, status });
    });
  });
}

/** Packet timestamps (seconds) and durations as ffprobe reads them from a playlist. */
function packets(input: string): { pts: number; duration: number }[] {
  const r = spawnSync(
    '/usr/bin/ffprobe',
    [
      '-v',
      'error',
      '-select_streams',
      'a:0',
      '-show_entries',
      'packet=pts_time,duration_time',
      '-of',
      'csv=p=0',
      input,
    ],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
  );
  expect(r.stderr, input).toBe('');
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => {
      const [pts, duration] = l.split(',').map(Number);
      return { pts, duration };
    });
}

/** Goertzel power of `hz` relative to the signal's energy, over `pcm`. */
function toneShare(pcm: Int16Array, hz: number): number {
  const k = 2 * Math.cos((2 * Math.PI * hz) / RATE);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (const v of pcm) {
    const s = v + k * s1 - s2;
    s2 = s1;
    s1 = s;
    energy += v * v;
  }
  const power = s1 * s1 + s2 * s2 - k * s1 * s2;
  return (2 * power) / (pcm.length * energy || 1);
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return e instanceof TribuneError ? e.code : String(e);
  }
  return expect.unreachable('expected a TribuneError');
}

describe('a live Space across a crash', () => {
  it('resumes live after openLive and ends as one continuous VOD that ffmpeg decodes', async () => {
    const dir = path.join(root, 'crash');
    const wall0 = Date.now() - 120_000;
    const first = new HlsStore({ dir, log: silent });
    const framesBefore = feed(first, { seconds: 5.3, freqHz: 440, wallStartMs: wall0 }); // 5 segments + 1 part
    expect(framesBefore).toBe(265);
    expect(first.nextPart).toEqual({ msn: 5, part: 1 });
    await first.flushed(); // … and the process is killed: no end(), the part in progress is lost

    const wallRestart = Date.now();
    const s = await HlsStore.openLive(dir, { log: silent });
    expect(s.ended).toBe(false);
    expect(s.mediaDurationSec).toBeCloseTo(5, 9);
    expect(s.nextPart).toEqual({ msn: 5, part: 0 });
    const live = (await s.playlist()).body;
    expect(live.match(/^seg\/\d+\.m4s$/gm)).toEqual([0, 1, 2, 3, 4].map((i) => `seg/${i}.m4s`));
    expect(live).toContain('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part/5.0.m4s"');
    expect((await s.segment(4)).byteLength).toBeGreaterThan(100); // straight from the reloaded window

    const framesAfter = feed(s, { seconds: 4, freqHz: 660, wallStartMs: wallRestart });
    expect(s.nextPart).toEqual({ msn: 9, part: 0 });
    await s.end();
    const vodFile = path.join(dir, 'audio.m3u8');
    const vod = (await s.playlist()).body;
    expect(vod).toContain(
      `#EXT-X-PROGRAM-DATE-TIME:${new Date(wallRestart).toISOString()}\n#EXTINF:1.0,\nseg/5.m4s`,
    );
    expect(vod).toContain(
      `#EXT-X-PROGRAM-DATE-TIME:${new Date(wall0 + 4000).toISOString()}\n#EXTINF:1.0,\nseg/4.m4s`,
    );

    const pcm = decode(vodFile);
    const recordedFrames = 250 + framesAfter; // the lost part (15 frames) is not in the recording
    expect(pcm.length).toBe(recordedFrames * OPUS_FRAME_SAMPLES - OPUS_PRE_SKIP);
    expect(pcm.length / RATE).toBeCloseTo(5 + 4, 1);
    // One continuous timeline: every packet starts where the one before ended.
    const pk = packets(vodFile);
    expect(pk).toHaveLength(recordedFrames);
    for (let i = 1; i < pk.length; i++) expect(pk[i].pts, `packet ${i}`).toBeCloseTo(pk[i - 1].pts + 0.02, 4);
    // Both sides of the restart are there.
    expect(toneShare(pcm.subarray(RATE, 2 * RATE), 440)).toBeGreaterThan(0.5);
    expect(toneShare(pcm.subarray(6 * RATE, 7 * RATE), 660)).toBeGreaterThan(0.5);
  });
});

describe('clips', () => {
  let dir: string;
  let clipsDir: string;
  let store: HlsStore;
  beforeAll(async () => {
    dir = path.join(root, 'recordings', 'space42');
    clipsDir = path.join(root, 'clips');
    store = new HlsStore({ dir, log: silent });
    feed(store, { seconds: 42, freqHz: 440, wallStartMs: Date.now() - 60_000 });
  });

  it('cuts 30 s of a live Space that ffmpeg decodes, and that still plays after the recording is deleted', async () => {
    const range = lastSecondsRange(store, 30);
    expect(range).toEqual({ startSec: 12, durationSec: 30 });
    const out = path.join(clipsDir, 'fromlive');
    expect(await createClip({ store, startSec: 5, durationSec: 30, outDir: out })).toEqual({
      startSec: 5,
      durationSec: 30,
    });
    await createClip({ store, ...range, outDir: path.join(clipsDir, 'last30') });

    await store.end();
    const ended = path.join(clipsDir, 'fromreplay');
    expect(await createClip({ store, startSec: 5, durationSec: 30, outDir: ended })).toEqual({
      startSec: 5,
      durationSec: 30,
    });
    for (const clip of [out, ended, path.join(clipsDir, 'last30')]) {
      const pcm = decode(path.join(clip, 'clip.m3u8'));
      expect(Math.abs(pcm.length / RATE - 30), clip).toBeLessThan(1);
      expect(toneShare(pcm.subarray(RATE, 2 * RATE), 440), clip).toBeGreaterThan(0.5);
    }

    expect(await deleteRecording(path.join(root, 'recordings'), 'space42')).toBe(true);
    expect(await readdir(path.join(root, 'recordings'))).toEqual([]);
    const again = decode(path.join(ended, 'clip.m3u8'));
    expect(Math.abs(again.length / RATE - 30)).toBeLessThan(1);
  });
});

describe('clips of a trimmed replay', () => {
  it('refuses a range outside what the trim kept', async () => {
    const dir = path.join(root, 'trimmed');
    const s = new HlsStore({ dir, log: silent });
    feed(s, { seconds: 12, freqHz: 440, wallStartMs: Date.now() - 60_000 });
    await s.end();
    const replay = await HlsStore.openReplay(dir, { log: silent, trimStartSec: 6 });
    expect(replay.replayDurationSec).toBeCloseTo(6, 6);
    const out = path.join(root, 'trimmed-clips', 'a');
    expect(await code(createClip({ store: replay, startSec: 2, durationSec: 5, outDir: out }))).toBe(
      'CLIP_OUT_OF_RANGE',
    );
    expect(await code(createClip({ store: replay, startSec: 8, durationSec: 5, outDir: out }))).toBe(
      'CLIP_OUT_OF_RANGE',
    );
    expect(await createClip({ store: replay, startSec: 6, durationSec: 6, outDir: out })).toEqual({
      startSec: 6,
      durationSec: 6,
    });
    // The trimmed replay itself decodes, 6 s long.
    const pcm = decode(path.join(dir, 'audio.m3u8')); // the file on disk stays whole
    expect(pcm.length).toBe(600 * OPUS_FRAME_SAMPLES - OPUS_PRE_SKIP);
    expect(decode(path.join(out, 'clip.m3u8')).length / RATE).toBeCloseTo(6, 1);
  });
});

describe('origin clip routes', () => {
  let app: FastifyInstance;
  let clipsDir: string;
  beforeAll(async () => {
    clipsDir = path.join(root, 'served');
    const s = new HlsStore({ dir: path.join(root, 'served-src'), log: silent });
    feed(s, { seconds: 4, freqHz: 440, wallStartMs: Date.now() });
    await s.end();
    await createClip({ store: s, startSec: 1, durationSec: 3, outDir: path.join(clipsDir, 'clip1') });
    app = Fastify();
    await app.register(
      hlsOriginRoutes({
        lookup: () => undefined,
        clipDir: (id) => (id === 'clip1' ? path.join(clipsDir, id) : undefined),
      }),
      { prefix: '/origin' },
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => app.close());

  it('serves the clip files as immutable, and ffmpeg plays the clip over HTTP', async () => {
    for (const [file, type] of [
      ['clip.m3u8', /^application\/vnd\.apple\.mpegurl/],
      ['init.mp4', /^video\/mp4$/],
      ['seg/0.m4s', /^video\/mp4$/],
      ['seg/2.m4s', /^video\/mp4$/],
    ] as const) {
      const r = await app.inject({ method: 'GET', url: `/origin/clips/clip1/${file}` });
      expect(r.statusCode, file).toBe(200);
      expect(r.headers['content-type'], file).toMatch(type);
      expect(r.headers['cache-control'], file).toBe('public, max-age=31536000, immutable');
    }
    expect((await app.inject({ method: 'GET', url: '/origin/clips/clip1/seg/3.m4s' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/origin/clips/other/clip.m3u8' })).json()).toMatchObject({
      error: { code: 'CLIP_NOT_FOUND' },
    });

    const { port } = app.server.address() as AddressInfo;
    const r = await decodeAsync(`http://127.0.0.1:${port}/origin/clips/clip1/clip.m3u8`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.pcm.length).toBe(150 * OPUS_FRAME_SAMPLES - OPUS_PRE_SKIP);
  });
});
