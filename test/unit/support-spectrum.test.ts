import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  OnsetDetector,
  concatPcm,
  findBurstOnsets,
  hasTone,
  longestSilenceMs,
  toneAmplitude,
  toneEnergy,
  type TimedPcm,
} from '../support/spectrum.js';
import { ToneGenerator } from '../support/tone.js';
import { decodeWav, writeToneWav } from '../support/wav.js';

describe('ToneGenerator', () => {
  it('produces 10 ms frames with continuous phase', () => {
    const gen = new ToneGenerator({ freqHz: 1000, amplitude: 0.5 });
    const a = gen.nextFrame();
    const b = gen.nextFrame();
    expect(a.length).toBe(480);
    expect(b.length).toBe(480);
    const both = concatPcm([a, b]);
    // no discontinuity at the frame boundary: the step there is like any other step
    let maxStep = 0;
    for (let i = 1; i < both.length; i++) maxStep = Math.max(maxStep, Math.abs(both[i] - both[i - 1]));
    expect(Math.abs(both[480] - both[479])).toBeLessThanOrEqual(maxStep);
    // 1 kHz over 20 ms: amplitude 0.5 of full scale
    expect(toneAmplitude(both, 1000)).toBeCloseTo(0.5, 2);
    expect(gen.samplesProduced).toBe(960);
  });

  it('is silent between bursts and marks the burst start time', () => {
    const gen = new ToneGenerator({ freqHz: 1000, continuous: false });
    const starts: number[] = [];
    gen.onBurstStart = (m) => starts.push(m.startMs);
    expect(gen.nextFrame().every((s) => s === 0)).toBe(true);
    gen.startBurst(30);
    expect(gen.inBurst).toBe(true);
    const burst = [gen.nextFrame(), gen.nextFrame(), gen.nextFrame()];
    expect(gen.bursts).toHaveLength(1);
    expect(gen.bursts[0].sampleIndex).toBe(480);
    expect(starts).toEqual([gen.bursts[0].startMs]);
    for (const f of burst) expect(toneAmplitude(f, 1000)).toBeGreaterThan(0.45);
    expect(gen.nextFrame().every((s) => s === 0)).toBe(true);
    expect(gen.inBurst).toBe(false);
  });

  it('auto bursts are counted in samples', () => {
    const gen = new ToneGenerator({ freqHz: 1000, autoBurst: { periodMs: 100, onMs: 20 } });
    gen.render(1);
    expect(gen.bursts.map((b) => b.sampleIndex)).toEqual(Array.from({ length: 10 }, (_, i) => i * 4800));
  });
});

describe('writeToneWav', () => {
  it('writes a 16-bit mono PCM WAV of the tone, with bursts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tribune-wav-'));
    try {
      const path = join(dir, 'tone.wav');
      await writeToneWav(path, { freqHz: 440, seconds: 1, burst: { periodMs: 500, onMs: 100 } });
      const buf = readFileSync(path);
      expect(buf.length).toBe(44 + 48_000 * 2);
      const wav = decodeWav(buf);
      expect(wav.sampleRate).toBe(48_000);
      expect(wav.channels).toBe(1);
      expect(wav.samples.length).toBe(48_000);
      expect(hasTone(wav.samples.subarray(0, 4800), 440)).toBe(true);
      expect(wav.samples.subarray(4800, 24_000).every((s) => s === 0)).toBe(true);
      expect(hasTone(wav.samples.subarray(24_000, 28_800), 440)).toBe(true);
      expect(longestSilenceMs(wav.samples)).toBe(400);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('spectrum helpers', () => {
  const tone = (freq: number, seconds: number, amplitude = 0.5) =>
    new ToneGenerator({ freqHz: freq, amplitude }).render(seconds);

  it('toneEnergy ~ A^2 on bin', () => {
    const pcm = tone(1000, 0.1, 0.25);
    expect(Math.sqrt(toneEnergy(pcm, 1000))).toBeCloseTo(0.25 * 32767, -2);
  });

  it('hasTone separates present and absent tones, even in a mix', () => {
    const a = tone(440, 0.5);
    const b = tone(1000, 0.5);
    const mix = new Int16Array(a.length);
    for (let i = 0; i < a.length; i++) mix[i] = (a[i] + b[i]) >> 1;
    expect(hasTone(mix, 440)).toBe(true);
    expect(hasTone(mix, 1000)).toBe(true);
    expect(hasTone(mix, 660)).toBe(false);
    expect(hasTone(new Int16Array(24_000), 440)).toBe(false);
    // white noise has no tone
    const noise = new Int16Array(24_000).map(() => Math.round((Math.random() - 0.5) * 20_000));
    expect(hasTone(noise, 440)).toBe(false);
  });

  it('longestSilenceMs finds a gap', () => {
    const pcm = tone(440, 1);
    pcm.fill(0, 12_000, 12_000 + 4_800); // a 100 ms hole
    expect(longestSilenceMs(pcm, 48_000, 20)).toBeGreaterThanOrEqual(80);
    expect(longestSilenceMs(pcm, 48_000, 20)).toBeLessThanOrEqual(100);
    expect(longestSilenceMs(tone(440, 1))).toBe(0);
    expect(longestSilenceMs(new Int16Array(48_000))).toBe(1000);
  });

  it('finds burst onsets in timed frames of any size', () => {
    const gen = new ToneGenerator({
      freqHz: 1000,
      autoBurst: { periodMs: 500, onMs: 100, startDelayMs: 130 },
    });
    const pcm = gen.render(2);
    // chop into 20 ms "packets", each arriving 20 ms apart starting at t=1000
    const frames: TimedPcm[] = [];
    for (let i = 0; i < pcm.length; i += 960)
      frames.push({ pcm: pcm.subarray(i, i + 960), t: 1000 + (i / 960) * 20 });
    const first = findBurstOnsets(frames, 1000, 0.1)[0];
    expect(first).toBeDefined();
    expect(first!.frameIndex).toBe(6); // 130 ms is in the 7th 20 ms frame
    expect(first!.t).toBe(1120);
    const all = findBurstOnsets(frames, 1000, 0.1);
    expect(all.map((o) => o.frameIndex)).toEqual([6, 31, 56, 81]);
    // the wrong frequency is not detected
    expect(findBurstOnsets(frames, 2000, 0.1)[0]).toBeUndefined();
  });

  it('OnsetDetector handles frames shorter than its window', () => {
    const gen = new ToneGenerator({ freqHz: 1000, continuous: false });
    const det = new OnsetDetector({ freq: 1000, threshold: 0.1, windowMs: 5 });
    let t = 0;
    const found: number[] = [];
    for (let i = 0; i < 40; i++) {
      if (i === 10) gen.startBurst(100);
      const f = gen.nextFrame();
      // split each 10 ms frame in 3 uneven pieces
      for (const piece of [f.subarray(0, 100), f.subarray(100, 300), f.subarray(300)]) {
        const o = det.push(piece, t++);
        if (o) found.push(i);
      }
    }
    expect(found).toEqual([10]);
  });
});
