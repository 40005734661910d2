import { describe, expect, it } from 'vitest';
import { MIX_FRAME_SAMPLES } from '../../src/mix/format.js';
import { dominantFrequency, goertzelPower } from '../../src/mix/goertzel.js';
import { SpeakerBuffer, type SinkFrame } from '../../src/mix/speaker-buffer.js';

function frame(samples: Int16Array, sampleRate = 48_000, channelCount = 1): SinkFrame {
  return {
    samples,
    sampleRate,
    bitsPerSample: 16,
    channelCount,
    numberOfFrames: samples.length / channelCount,
  };
}

/** 10 ms chunks of a sine, continuing phase across calls. */
function sineSource(freq: number, sampleRate: number, amp = 10_000, channels = 1) {
  let t = 0;
  return (): SinkFrame => {
    const n = sampleRate / 100;
    const s = new Int16Array(n * channels);
    for (let i = 0; i < n; i++, t++) {
      const v = Math.round(amp * Math.sin((2 * Math.PI * freq * t) / sampleRate));
      for (let c = 0; c < channels; c++) s[i * channels + c] = v;
    }
    return frame(s, sampleRate, channels);
  };
}

function drain(buf: SpeakerBuffer, frames: number): Int16Array {
  const all = new Int16Array(frames * MIX_FRAME_SAMPLES);
  const out = new Int16Array(MIX_FRAME_SAMPLES);
  for (let f = 0; f < frames; f++) {
    expect(buf.pull(out)).toBe(true);
    all.set(out, f * MIX_FRAME_SAMPLES);
  }
  return all;
}

describe('SpeakerBuffer', () => {
  it('turns 10 ms 48 kHz mono frames into 20 ms frames with exact sample continuity', () => {
    const buf = new SpeakerBuffer({ maxBufferedFrames: 6, primeFrames: 1 });
    const out = new Int16Array(MIX_FRAME_SAMPLES);
    let next = 0;
    const push10 = (): void => {
      const s = new Int16Array(480);
      for (let i = 0; i < 480; i++) s[i] = (next++ % 30000) - 15000;
      expect(buf.push(frame(s))).toBe(true);
    };
    // Priming: nothing until 2 frames (1 pulled + 1 in reserve) are queued.
    push10();
    push10();
    expect(buf.pull(out)).toBe(false);
    push10();
    push10();
    let expected = 0;
    for (let f = 0; f < 50; f++) {
      expect(buf.pull(out)).toBe(true);
      for (let i = 0; i < MIX_FRAME_SAMPLES; i++) expect(out[i]).toBe((expected++ % 30000) - 15000);
      push10();
      push10();
    }
    expect(buf.stats.underruns).toBe(0);
    expect(buf.stats.samplesDropped).toBe(0);
    expect(buf.bufferedFrames).toBe(2);
  });

  it('returns false on underrun, then re-primes', () => {
    const buf = new SpeakerBuffer({ primeFrames: 1 });
    const src = sineSource(440, 48_000);
    const out = new Int16Array(MIX_FRAME_SAMPLES);
    for (let i = 0; i < 4; i++) buf.push(src());
    expect(buf.pull(out)).toBe(true);
    expect(buf.pull(out)).toBe(true);
    expect(buf.pull(out)).toBe(false);
    expect(buf.stats.underruns).toBe(1);
    buf.push(src());
    buf.push(src());
    expect(buf.pull(out)).toBe(false); // priming again: needs 2 frames
    buf.push(src());
    buf.push(src());
    expect(buf.pull(out)).toBe(true);
  });

  it('resamples 16 kHz to 48 kHz preserving frequency and amplitude, 480 samples per 10 ms', () => {
    const buf = new SpeakerBuffer({ maxBufferedFrames: 100, primeFrames: 0 });
    const src = sineSource(1000, 16_000);
    for (let i = 0; i < 20; i++) buf.push(src()); // 200 ms
    // Steady state produces exactly 3x the input samples (the first chunk is 2 short).
    expect(buf.bufferedSamples).toBeGreaterThanOrEqual(20 * 480 - 2);
    expect(buf.bufferedSamples).toBeLessThanOrEqual(20 * 480);
    const pcm = drain(buf, 9);
    expect(dominantFrequency(pcm, 48_000, { minHz: 100, maxHz: 4000, stepHz: 10 })).toBe(1000);
    const amp = Math.sqrt(goertzelPower(pcm, 48_000, 1000));
    expect(amp).toBeGreaterThan(9_500);
    expect(amp).toBeLessThan(10_100);
    // Continuity: no jumps between chunks larger than a 1 kHz sine can make (2*pi*f/fs*A ~ 1309).
    let maxStep = 0;
    for (let i = 1; i < pcm.length; i++) maxStep = Math.max(maxStep, Math.abs(pcm[i] - pcm[i - 1]));
    expect(maxStep).toBeLessThan(1400);
  });

  it('downmixes interleaved stereo by averaging', () => {
    const buf = new SpeakerBuffer({ primeFrames: 0 });
    // Left 440 Hz, right silent -> half amplitude 440 Hz.
    const n = 480;
    let t = 0;
    for (let k = 0; k < 4; k++) {
      const s = new Int16Array(n * 2);
      for (let i = 0; i < n; i++, t++)
        s[2 * i] = Math.round(20_000 * Math.sin((2 * Math.PI * 440 * t) / 48_000));
      expect(buf.push(frame(s, 48_000, 2))).toBe(true);
    }
    const pcm = drain(buf, 2);
    expect(dominantFrequency(pcm, 48_000, { minHz: 100, maxHz: 4000 })).toBe(440);
    const amp = Math.sqrt(goertzelPower(pcm, 48_000, 440, 0, 1200 * 1.5)); // 1800 samples = 16.5 periods
    expect(amp).toBeGreaterThan(9_000);
    expect(amp).toBeLessThan(11_000);
  });

  it('handles 16 kHz stereo, then a switch to 48 kHz mono', () => {
    const buf = new SpeakerBuffer({ maxBufferedFrames: 100, primeFrames: 0 });
    const a = sineSource(500, 16_000, 8000, 2);
    for (let i = 0; i < 10; i++) buf.push(a());
    const b = sineSource(500, 48_000, 8000, 1);
    for (let i = 0; i < 10; i++) buf.push(b());
    const pcm = drain(buf, 9);
    expect(dominantFrequency(pcm.subarray(0, 4800), 48_000, { minHz: 100, maxHz: 4000 })).toBe(500);
    expect(dominantFrequency(pcm.subarray(4800), 48_000, { minHz: 100, maxHz: 4000 })).toBe(500);
  });

  it('drops the oldest audio on overflow and bounds the queue', () => {
    const buf = new SpeakerBuffer({ maxBufferedFrames: 6, primeFrames: 1 });
    let next = 0;
    for (let k = 0; k < 40; k++) {
      const s = new Int16Array(480);
      for (let i = 0; i < 480; i++) s[i] = next++ % 32000;
      buf.push(frame(s));
      expect(buf.bufferedFrames).toBeLessThanOrEqual(6);
    }
    expect(buf.stats.overflows).toBeGreaterThan(0);
    expect(buf.stats.samplesDropped + buf.bufferedSamples).toBe(40 * 480);
    // What remains is the newest audio, contiguous and ending with the last sample pushed.
    const remaining = buf.bufferedSamples;
    const frames = Math.floor(remaining / MIX_FRAME_SAMPLES);
    const pcm = drain(buf, frames);
    const first = 40 * 480 - remaining;
    for (let i = 0; i < pcm.length; i++) expect(pcm[i]).toBe((first + i) % 32000);
  });

  it('survives odd-length, truncated and garbage frames without throwing', () => {
    const buf = new SpeakerBuffer({ primeFrames: 0 });
    expect(buf.push(frame(new Int16Array(479)))).toBe(true);
    // Stereo frame with an odd number of samples (mid-frame disconnect): trailing half-frame ignored.
    expect(buf.push({ ...frame(new Int16Array(957), 48_000, 2), numberOfFrames: 480 })).toBe(true);
    expect(buf.push(frame(new Int16Array(161), 16_000))).toBe(true);
    expect(buf.push(frame(new Int16Array(0)))).toBe(false);
    expect(buf.push({ ...frame(new Int16Array(480)), sampleRate: NaN })).toBe(false);
    expect(buf.push({ ...frame(new Int16Array(480)), bitsPerSample: 8 })).toBe(false);
    expect(buf.push({ ...frame(new Int16Array(480)), channelCount: 0 })).toBe(true); // treated as mono
    expect(buf.push({ ...frame(new Int16Array(480)), numberOfFrames: -3 })).toBe(true);
    expect(buf.push({ samples: new Float32Array(480) } as unknown as SinkFrame)).toBe(false);
    expect(buf.push(null as unknown as SinkFrame)).toBe(false);
    expect(buf.stats.badFrames).toBe(5);
    const out = new Int16Array(MIX_FRAME_SAMPLES);
    expect(() => buf.pull(out)).not.toThrow();
    expect(() => buf.pull(new Int16Array(10))).toThrow(RangeError);
  });
});
