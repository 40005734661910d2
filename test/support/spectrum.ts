import { goertzelPower } from '../../src/mix/goertzel.js';

/** Full scale of 16-bit PCM. */
export const FULL_SCALE = 32768;

export interface TimedPcm {
  pcm: Int16Array;
  /** performance.now() when these samples arrived */
  t: number;
}

/**
 * Goertzel power at `freq` (rectangular window): about A^2 for a sinusoid of amplitude A sample
 * units whose frequency falls on a bin of the window (see src/mix/goertzel.ts).
 */
export function toneEnergy(
  pcm: Int16Array | Float32Array,
  freq: number,
  sampleRate = 48_000,
  start = 0,
  length = pcm.length - start,
): number {
  return goertzelPower(pcm, sampleRate, freq, start, length);
}

/** Estimated amplitude of the tone at `freq` as a fraction of full scale (0..~1). */
export function toneAmplitude(
  pcm: Int16Array | Float32Array,
  freq: number,
  sampleRate = 48_000,
  start = 0,
  length = pcm.length - start,
): number {
  return Math.sqrt(toneEnergy(pcm, freq, sampleRate, start, length)) / FULL_SCALE;
}

function hann(pcm: Int16Array | Float32Array): Float32Array {
  const n = pcm.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++)
    out[i] = pcm[i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / Math.max(1, n - 1)));
  return out;
}

/** Default off-frequencies used as the noise reference around `freq`. */
export function defaultOffFrequencies(freq: number): number[] {
  return [freq * 0.7, freq * 0.83, freq * 1.2, freq * 1.42];
}

export interface ToneCheckOptions {
  sampleRate?: number;
  /** power(freq) / mean power(offFreqs) must reach this (default 10, i.e. +10 dB) */
  minRatio?: number;
  /** reference frequencies (default: ±17..42 % around freq); keep clear of other tones present */
  offFreqs?: number[];
  /** also require the tone amplitude (fraction of full scale, Hann-corrected) to reach this (default 0.001) */
  minAmplitude?: number;
}

/**
 * Power at `freq` over the mean power at off-frequencies, Hann-windowed (low leakage), and the tone
 * amplitude (fraction of full scale).
 */
export function toneRatio(
  pcm: Int16Array | Float32Array,
  freq: number,
  opts: Omit<ToneCheckOptions, 'minRatio' | 'minAmplitude'> = {},
): { ratio: number; amplitude: number } {
  const sr = opts.sampleRate ?? 48_000;
  if (pcm.length === 0) return { ratio: 0, amplitude: 0 };
  const w = hann(pcm);
  const on = goertzelPower(w, sr, freq);
  const offs = opts.offFreqs ?? defaultOffFrequencies(freq);
  let off = 0;
  for (const f of offs) off += goertzelPower(w, sr, f);
  off /= Math.max(1, offs.length);
  // Hann coherent gain is 0.5: the amplitude estimate is sqrt(power) / 0.5
  const amplitude = (2 * Math.sqrt(on)) / FULL_SCALE;
  const ratio = on / Math.max(off, 1e-9);
  return { ratio, amplitude };
}

/** Is a tone at `freq` clearly present (power ratio vs off-frequencies, and a minimum level)? */
export function hasTone(pcm: Int16Array | Float32Array, freq: number, opts: ToneCheckOptions = {}): boolean {
  const { ratio, amplitude } = toneRatio(pcm, freq, opts);
  return ratio >= (opts.minRatio ?? 10) && amplitude >= (opts.minAmplitude ?? 0.001);
}

/** RMS level in dBFS (-Infinity for digital silence). */
export function rmsDb(pcm: Int16Array | Float32Array, start = 0, length = pcm.length - start): number {
  const end = Math.min(pcm.length, start + length);
  if (end <= start) return -Infinity;
  let sum = 0;
  for (let i = start; i < end; i++) sum += pcm[i] * pcm[i];
  const rms = Math.sqrt(sum / (end - start));
  return rms === 0 ? -Infinity : 20 * Math.log10(rms / FULL_SCALE);
}

/**
 * Longest run of consecutive windows whose RMS is below `thresholdDb` dBFS, in ms (gap detection).
 * A trailing partial window counts by its real length.
 */
export function longestSilenceMs(
  pcm: Int16Array | Float32Array,
  sampleRate = 48_000,
  windowMs = 20,
  thresholdDb = -50,
): number {
  const win = Math.max(1, Math.round((sampleRate * windowMs) / 1000));
  let best = 0;
  let run = 0;
  for (let start = 0; start < pcm.length; start += win) {
    const len = Math.min(win, pcm.length - start);
    if (rmsDb(pcm, start, len) < thresholdDb) {
      run += len;
      if (run > best) best = run;
    } else {
      run = 0;
    }
  }
  return (best * 1000) / sampleRate;
}

export interface Onset {
  /** index of the frame (in the sequence pushed) holding the onset */
  frameIndex: number;
  /** sample offset of the detecting window inside that frame */
  offsetSamples: number;
  /** arrival time of that frame */
  t: number;
  /** tone amplitude (fraction of full scale) in the detecting window */
  amplitude: number;
}

export interface OnsetDetectorOptions {
  freq: number;
  /** tone amplitude (fraction of full scale) that counts as "on"; e.g. 0.05 ≈ -26 dBFS */
  threshold: number;
  sampleRate?: number;
  /** analysis window (default 5 ms; 1 kHz / 200 Hz / 400 Hz... fall on bins) */
  windowMs?: number;
  /** after an onset, the tone must fall below threshold/2 for this long before the next onset (default 100 ms) */
  rearmMs?: number;
}

/**
 * Streaming rising-edge detector of a tone: push frames (any length) as they arrive, get onsets.
 * Windows are taken inside each frame (a trailing remainder shorter than a window is carried over
 * to the next frame and attributed to the frame where the window completes).
 */
export class OnsetDetector {
  readonly onsets: Onset[] = [];
  private readonly win: number;
  private readonly rearmSamples: number;
  private readonly sr: number;
  private carry: Int16Array = new Int16Array(0);
  private armed = true;
  private quietSamples = 0;
  private frameIndex = 0;

  constructor(private readonly opts: OnsetDetectorOptions) {
    this.sr = opts.sampleRate ?? 48_000;
    this.win = Math.max(1, Math.round((this.sr * (opts.windowMs ?? 5)) / 1000));
    this.rearmSamples = Math.round((this.sr * (opts.rearmMs ?? 100)) / 1000);
  }

  /** Feed the next frame; returns the onset if one was detected in it. */
  push(pcm: Int16Array, t: number): Onset | undefined {
    const idx = this.frameIndex++;
    let buf: Int16Array;
    if (this.carry.length > 0) {
      buf = new Int16Array(this.carry.length + pcm.length);
      buf.set(this.carry);
      buf.set(pcm, this.carry.length);
    } else {
      buf = pcm;
    }
    const carryLen = this.carry.length;
    let found: Onset | undefined;
    let pos = 0;
    for (; pos + this.win <= buf.length; pos += this.win) {
      const amp = toneAmplitude(buf, this.opts.freq, this.sr, pos, this.win);
      if (this.armed) {
        if (amp >= this.opts.threshold && !found) {
          found = { frameIndex: idx, offsetSamples: Math.max(0, pos - carryLen), t, amplitude: amp };
          this.onsets.push(found);
          this.armed = false;
          this.quietSamples = 0;
        }
      } else if (amp < this.opts.threshold / 2) {
        this.quietSamples += this.win;
        if (this.quietSamples >= this.rearmSamples) this.armed = true;
      } else {
        this.quietSamples = 0;
      }
    }
    this.carry = buf.slice(pos);
    return found;
  }
}

/** Every onset (rising edge, re-armed after rearmMs of quiet) in a sequence of timed frames. */
export function findBurstOnsets(
  frames: readonly TimedPcm[],
  freq: number,
  threshold: number,
  opts: Omit<OnsetDetectorOptions, 'freq' | 'threshold'> = {},
): Onset[] {
  const det = new OnsetDetector({ ...opts, freq, threshold });
  for (const f of frames) det.push(f.pcm, f.t);
  return det.onsets;
}

/** Concatenate PCM chunks. */
export function concatPcm(chunks: readonly Int16Array[]): Int16Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Int16Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
