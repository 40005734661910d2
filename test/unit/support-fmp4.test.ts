import { writeFfmpegOpusFmp4 } from '../fixtures/ffmpeg-fmp4.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import opus from '@discordjs/opus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dominantFrequency } from '../../src/mix/goertzel.js';
import { extractSamples, parseFragments, parseInit, readBoxes } from '../support/fmp4.js';
import { concatPcm } from '../support/spectrum.js';

// CommonJS addon: named ESM imports are not detected by Node
const { OpusEncoder } = opus;

describe('test/support/fmp4 on ffmpeg fragmented Opus MP4', () => {
  let dir: string;
  let file: Buffer;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tribune-fmp4-'));
    const out = join(dir, 'out.mp4');
    // the command from the test plan: 2 s of 440 Hz, Opus, 200 ms fragments
    writeFfmpegOpusFmp4(out);
    file = readFileSync(out);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the init segment', () => {
    const init = parseInit(file);
    expect(init.codec).toBe('Opus');
    expect(init.timescale).toBe(48_000);
    expect(init.channelCount).toBe(1);
    expect(init.trackId).toBe(1);
    expect(init.preSkip).toBeGreaterThan(0);
  });

  it('extracts every Opus packet of every fragment (including default sample sizes)', () => {
    const init = parseInit(file);
    const frags = parseFragments(file, init);
    expect(frags.length).toBeGreaterThanOrEqual(10);
    // sequence numbers count up, decode times are contiguous
    for (let i = 1; i < frags.length; i++) {
      expect(frags[i].sequenceNumber).toBe(frags[i - 1].sequenceNumber + 1);
      const prev = frags[i - 1];
      const end = prev.baseMediaDecodeTime + prev.samples.reduce((a, s) => a + s.duration, 0);
      expect(frags[i].baseMediaDecodeTime).toBe(end);
    }
    const packets = frags.flatMap((f) => f.samples);
    // 2 s of 20 ms packets, plus the pre-skip packet
    expect(packets.length).toBeGreaterThanOrEqual(100);
    expect(packets.length).toBeLessThanOrEqual(102);
    // every packet is 20 ms except the last one (trimmed to the end of the stream)
    packets.slice(0, -1).forEach((p) => expect(p.duration).toBe(960));
    expect(packets.at(-1)!.duration).toBeLessThanOrEqual(960);
    for (const p of packets) expect(p.data.length).toBeGreaterThan(10);
  });

  it('parses each moof+mdat pair on its own (like an LL-HLS part) to the same packets', () => {
    const init = parseInit(file);
    const whole = extractSamples(file, init);
    const boxes = readBoxes(file);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < boxes.length; i++) {
      if (boxes[i].type === 'moof' && boxes[i + 1]?.type === 'mdat') {
        parts.push(file.subarray(boxes[i].start, boxes[i + 1].end));
      }
    }
    const fromParts = parts.flatMap((p) => extractSamples(p, init));
    expect(fromParts.length).toBe(whole.length);
    fromParts.forEach((p, i) => expect(Buffer.from(p).equals(Buffer.from(whole[i]))).toBe(true));
  });

  it('decodes the packets back to a 440 Hz tone with @discordjs/opus', () => {
    const init = parseInit(file);
    const dec = new OpusEncoder(48_000, 1);
    const chunks = extractSamples(file, init).map((p) => {
      const b = dec.decode(Buffer.from(p));
      const out = new Int16Array(b.length / 2);
      for (let i = 0; i < out.length; i++) out[i] = b.readInt16LE(i * 2);
      return out;
    });
    const pcm = concatPcm(chunks).subarray(init.preSkip ?? 0);
    expect(pcm.length).toBeGreaterThanOrEqual(96_000 - 960);
    expect(dominantFrequency(pcm.subarray(4800, 4800 + 48_000), 48_000, { minHz: 100, maxHz: 4000 })).toBe(
      440,
    );
  });

  it('rejects a truncated part', () => {
    const boxes = readBoxes(file);
    const moof = boxes.find((b) => b.type === 'moof')!;
    expect(() => parseFragments(file.subarray(moof.start, moof.end + 100))).toThrow(/fmp4/);
  });
});
