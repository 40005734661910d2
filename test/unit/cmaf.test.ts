import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CmafPackager, type CmafPart } from '../../src/hls/cmaf.js';
import { OPUS_FRAME_SAMPLES, OpusEncoder } from '../../src/hls/encoder.js';
import { HlsStore } from '../../src/hls/store.js';

const RATE = 48_000;
const FRAMES = 150; // 3 s
const START = 48_000 * 7; // a live clock does not start at 0

function tone(frame: number, hz = 440): Int16Array {
  const pcm = new Int16Array(OPUS_FRAME_SAMPLES);
  for (let i = 0; i < pcm.length; i++) {
    pcm[i] = Math.round(10_000 * Math.sin((2 * Math.PI * hz * (frame * OPUS_FRAME_SAMPLES + i)) / RATE));
  }
  return pcm;
}

/** Goertzel power of `hz` in `x`. */
function goertzel(x: Float64Array, hz: number): number {
  const k = 2 * Math.cos((2 * Math.PI * hz) / RATE);
  let s1 = 0;
  let s2 = 0;
  for (const v of x) {
    const s = v + k * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return s1 * s1 + s2 * s2 - k * s1 * s2;
}

/** Reads a big-endian box tree to find `path` (e.g. moof/traf/tfdt) and returns its payload. */
function findBox(buf: Uint8Array, boxPath: string[]): Uint8Array | undefined {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off + 8 <= buf.byteLength) {
    const size = dv.getUint32(off);
    const type = String.fromCharCode(...buf.subarray(off + 4, off + 8));
    if (type === boxPath[0]) {
      const body = buf.subarray(off + 8, off + size);
      return boxPath.length === 1 ? body : findBox(body, boxPath.slice(1));
    }
    off += size;
  }
  return undefined;
}

describe('OpusEncoder + CmafPackager', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tribune-cmaf-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const enc = new OpusEncoder(32_000);
  const inits: Uint8Array[] = [];
  const parts: CmafPart[] = [];
  const events: string[] = [];
  const pk = new CmafPackager({
    partFrames: 10,
    onInit: (b) => inits.push(b),
    onPart: (p) => parts.push(p),
  });
  for (let f = 0; f < FRAMES; f++) {
    pk.push(enc.encode(tone(f)), START + f * OPUS_FRAME_SAMPLES);
    events.push(`${f}:${parts.length}`);
  }
  pk.flush();
  const file = path.join(dir, 'tone.mp4');
  writeFileSync(file, Buffer.concat([...inits, ...parts.map((p) => p.bytes)]));

  it('emits one init and a part as soon as its 10th packet is in', () => {
    expect(inits).toHaveLength(1);
    expect(parts).toHaveLength(FRAMES / 10);
    expect(events[8]).toBe('8:0');
    expect(events[9]).toBe('9:1'); // no extra frame of latency
    expect(parts.every((p) => p.frames === 10 && Math.abs(p.durationSec - 0.2) < 1e-9)).toBe(true);
    expect(parts.map((p) => p.sequence)).toEqual(parts.map((_, i) => i + 1));
  });

  it('has an Opus sample entry with dOps in the init segment', () => {
    const stsd = findBox(inits[0], ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd']);
    expect(stsd).toBeDefined();
    const text = Buffer.from(stsd!).toString('latin1');
    expect(text).toContain('Opus');
    expect(text).toContain('dOps');
    expect(findBox(inits[0], ['moov', 'mvex', 'trex'])).toBeDefined();
  });

  it('has continuous tfdt and sync samples in every part', () => {
    parts.forEach((p, i) => {
      const tfdt = findBox(p.bytes, ['moof', 'traf', 'tfdt'])!;
      const t = Number(new DataView(tfdt.buffer, tfdt.byteOffset).getBigUint64(4));
      expect(t).toBe(START + i * 10 * OPUS_FRAME_SAMPLES);
      expect(p.firstSampleTime).toBe(t);
      const tfhd = findBox(p.bytes, ['moof', 'traf', 'tfhd'])!;
      const flags = new DataView(tfhd.buffer, tfhd.byteOffset).getUint32(12); // default_sample_flags
      expect(flags & 0x00010000).toBe(0); // not "non-sync"
    });
  });

  it('is read by ffprobe as 3 s of 48 kHz Opus', () => {
    const out = execFileSync('/usr/bin/ffprobe', ['-v', 'error', '-show_streams', '-show_format', file], {
      encoding: 'utf8',
    });
    expect(out).toMatch(/^codec_name=opus$/m);
    expect(out).toMatch(/^sample_rate=48000$/m);
    expect(out).toMatch(/^channels=1$/m);
    // mov reports the end time as duration for fragmented files: subtract the live start (tfdt of part 0).
    const format = out.slice(out.indexOf('[FORMAT]'));
    const start = Number(/^start_time=([\d.]+)$/m.exec(format)?.[1]);
    expect(start).toBeCloseTo(START / RATE, 3);
    const duration = Number(/^duration=([\d.]+)$/m.exec(format)?.[1]) - start;
    expect(duration).toBeGreaterThan(2.9);
    expect(duration).toBeLessThan(3.1);
  });

  it('decodes with ffmpeg, without errors, to a 440 Hz tone', () => {
    const r = spawnSync(
      '/usr/bin/ffmpeg',
      ['-v', 'error', '-i', file, '-f', 's16le', '-ac', '1', '-ar', '48000', '-'],
      {
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    expect(r.status).toBe(0);
    expect(r.stderr.toString()).toBe('');
    const pcm = new Int16Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength / 2);
    expect(pcm.length / RATE).toBeGreaterThan(2.9);
    // 0.5 s window from the middle: the 440 Hz bin must dominate its neighbours and other test tones.
    const win = Float64Array.from(pcm.subarray(RATE, RATE + RATE / 2));
    const at = (hz: number): number => goertzel(win, hz);
    const p440 = at(440);
    let best = 0;
    let bestHz = 0;
    for (let hz = 100; hz <= 4000; hz += 10) {
      const p = at(hz);
      if (p > best) [best, bestHz] = [p, hz];
    }
    expect(bestHz).toBeGreaterThanOrEqual(430);
    expect(bestHz).toBeLessThanOrEqual(450);
    for (const hz of [220, 330, 550, 880, 1000]) expect(p440).toBeGreaterThan(100 * at(hz));
  });

  it('gives a VOD recording (HlsStore on disk) that ffmpeg reads end to end', async () => {
    const store = new HlsStore({ dir: path.join(dir, 'space') });
    const pk2 = new CmafPackager({
      onInit: (b) => store.setInit(b),
      onPart: (p) =>
        store.addPart({ bytes: p.bytes, durationSec: p.durationSec, programDateTimeMs: Date.now() }),
    });
    const enc2 = new OpusEncoder(32_000);
    for (let f = 0; f < 130; f++) pk2.push(enc2.encode(tone(f)), f * OPUS_FRAME_SAMPLES); // 2.6 s: short last segment
    pk2.flush();
    await store.end();
    const r = spawnSync('/usr/bin/ffmpeg', [
      '-v',
      'error',
      '-i',
      path.join(dir, 'space', 'audio.m3u8'),
      '-f',
      's16le',
      '-',
    ]);
    expect(r.stderr.toString()).toBe('');
    expect(r.stdout.byteLength / 2).toBe(130 * OPUS_FRAME_SAMPLES - 312); // minus the Opus pre-skip
  });
});
