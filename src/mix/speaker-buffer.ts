import { DEFAULTS } from '../config.js';
import { MIX_FRAME_SAMPLES, MIX_SAMPLE_RATE } from './format.js';

/** A frame as `@roamhq/wrtc`'s `RTCAudioSink.ondata` delivers it (interleaved when stereo). */
export interface SinkFrame {
  samples: Int16Array;
  sampleRate: number;
  bitsPerSample: number;
  channelCount: number;
  numberOfFrames: number;
}

export interface SpeakerBufferOptions {
  /** Queue bound in 20 ms frames; above it the oldest audio is dropped. Default `config.media.maxBufferedFrames`. */
  maxBufferedFrames?: number;
  /**
   * Frames held in reserve before the first pull (and after every underrun): pulling starts once
   * `primeFrames + 1` frames are queued. A multiple of 0.5 (libwebrtc delivers 10 ms at a time).
   * Default 0.5: one 10 ms delivery in reserve, enough to absorb the engine's scheduling jitter.
   */
  primeFrames?: number;
  /** Depth (in frames) the queue is cut down to when it overflows. Default `max(primeFrames + 1, floor(max / 2))`, capped at max. */
  catchUpFrames?: number;
}

export interface SpeakerBufferStats {
  /** Frames accepted by push(). */
  framesIn: number;
  /** Frames rejected by push() (malformed, wrong bit depth, empty). */
  badFrames: number;
  /** 20 ms frames handed out by pull(). */
  framesOut: number;
  /** pull() calls that found too little audio after having been primed. */
  underruns: number;
  /** Times the queue exceeded its bound. */
  overflows: number;
  /** 48 kHz samples discarded by overflows. */
  samplesDropped: number;
}

/** Module-local copies: hot loops must not read imported bindings (transpilers turn them into getters). */
const FRAME = MIX_FRAME_SAMPLES;
const OUT_RATE = MIX_SAMPLE_RATE;
const MIN_RATE = 8_000;
const MAX_RATE = 192_000;
const MAX_CHANNELS = 8;

/**
 * Per-speaker jitter buffer: converts sink frames to 48 kHz mono (downmix by averaging, linear-interpolation
 * resampling with state carried across frames), queues them in a ring, and hands out 20 ms frames.
 * Never throws on bad input; a stalled speaker just makes pull() return false.
 */
export class SpeakerBuffer {
  readonly stats: SpeakerBufferStats = {
    framesIn: 0,
    badFrames: 0,
    framesOut: 0,
    underruns: 0,
    overflows: 0,
    samplesDropped: 0,
  };
  private readonly ring: Int16Array;
  private readonly cap: number;
  private readonly limit: number;
  private readonly catchUp: number;
  private readonly primeSamples: number;
  /** Next write index. */
  private w = 0;
  /** Queued samples; the oldest is at (w - count) mod cap. */
  private count = 0;
  private primed = false;
  /** Mono scratch for non-48 kHz input (grows rarely). */
  private scratch = new Float32Array(0);
  // Resampler state.
  private rsRate = 0;
  /** Position of the next output sample relative to the next input chunk, in 1/48000 input samples (>= -48000). */
  private rsPos = 0;
  private rsPrev = 0;
  private rsHasPrev = false;

  constructor(opts: SpeakerBufferOptions = {}) {
    const max = opts.maxBufferedFrames ?? DEFAULTS.media.maxBufferedFrames;
    const prime = opts.primeFrames ?? 0.5;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxBufferedFrames must be an integer >= 1`);
    if (!Number.isInteger(prime * 2) || prime < 0)
      throw new RangeError(`primeFrames must be a multiple of 0.5 >= 0`);
    const catchUp = Math.min(max, opts.catchUpFrames ?? Math.max(Math.ceil(prime + 1), Math.floor(max / 2)));
    this.limit = max * MIX_FRAME_SAMPLES;
    this.catchUp = Math.max(1, catchUp) * MIX_FRAME_SAMPLES;
    this.primeSamples = Math.round(Math.min(prime + 1, Math.max(max, 1)) * MIX_FRAME_SAMPLES);
    this.cap = this.limit + MIX_FRAME_SAMPLES;
    this.ring = new Int16Array(this.cap);
  }

  /** Queued 48 kHz mono samples. */
  get bufferedSamples(): number {
    return this.count;
  }

  /** Queued audio in 20 ms frames (may be fractional). */
  get bufferedFrames(): number {
    return this.count / MIX_FRAME_SAMPLES;
  }

  /** Drops everything queued and the resampler state (e.g. on track replacement). */
  reset(): void {
    this.count = 0;
    this.primed = false;
    this.rsRate = 0;
    this.rsPos = 0;
    this.rsHasPrev = false;
  }

  /** Appends one sink frame. Returns false (and counts it) when the frame is unusable; never throws. */
  push(frame: SinkFrame): boolean {
    if (frame === null || typeof frame !== 'object') return this.bad();
    const { samples, bitsPerSample, channelCount } = frame;
    const sampleRate = Math.round(frame.sampleRate);
    if (!(samples instanceof Int16Array) || (bitsPerSample !== undefined && bitsPerSample !== 16))
      return this.bad();
    if (!(sampleRate >= MIN_RATE && sampleRate <= MAX_RATE)) return this.bad();
    const ch =
      Number.isInteger(channelCount) && channelCount >= 1 && channelCount <= MAX_CHANNELS ? channelCount : 1;
    let n = Math.floor(samples.length / ch);
    const declared = frame.numberOfFrames;
    if (Number.isInteger(declared) && declared > 0 && declared < n) n = declared;
    if (n <= 0) return this.bad();
    this.stats.framesIn++;

    if (sampleRate === OUT_RATE) {
      if (this.rsRate !== OUT_RATE) this.resetResampler(OUT_RATE);
      if (ch === 1) this.writeMono(samples, n);
      else this.writeDownmixed(samples, n, ch);
      this.rsPrev = ch === 1 ? samples[n - 1] : this.ring[this.w === 0 ? this.cap - 1 : this.w - 1];
      this.rsHasPrev = true;
    } else {
      if (this.rsRate !== sampleRate) this.resetResampler(sampleRate);
      if (this.scratch.length < n) this.scratch = new Float32Array(Math.max(n, 2 * this.scratch.length));
      const mono = this.scratch;
      if (ch === 1) for (let i = 0; i < n; i++) mono[i] = samples[i];
      else {
        for (let i = 0, j = 0; i < n; i++) {
          let s = 0;
          for (let c = 0; c < ch; c++) s += samples[j++];
          mono[i] = s / ch;
        }
      }
      this.resample(mono, n, this.rsRate);
    }
    this.enforceBound();
    return true;
  }

  /**
   * Copies the oldest 20 ms (960 samples) into `out` and returns true; returns false (out untouched) when
   * not enough audio is queued or the buffer is (re)priming. `out.length` must be 960.
   */
  pull(out: Int16Array): boolean {
    if (out.length !== MIX_FRAME_SAMPLES)
      throw new RangeError(`pull() needs an Int16Array(${MIX_FRAME_SAMPLES})`);
    if (!this.primed) {
      if (this.count < this.primeSamples) return false;
      this.primed = true;
    }
    if (this.count < FRAME) {
      this.primed = false;
      this.stats.underruns++;
      return false;
    }
    const ring = this.ring;
    const cap = this.cap;
    let r = this.w - this.count;
    if (r < 0) r += cap;
    for (let i = 0; i < FRAME; i++) {
      out[i] = ring[r];
      if (++r === cap) r = 0;
    }
    this.count -= FRAME;
    this.stats.framesOut++;
    return true;
  }

  private bad(): false {
    this.stats.badFrames++;
    return false;
  }

  private resetResampler(rate: number): void {
    this.rsRate = rate;
    this.rsPos = 0;
    // Keep rsPrev/rsHasPrev: interpolating from the last sample smooths a rate switch.
    if (!this.rsHasPrev) this.rsPrev = 0;
  }

  private writeMono(src: Int16Array, n: number): void {
    const ring = this.ring;
    const cap = this.cap;
    let w = this.w;
    for (let i = 0; i < n; i++) {
      ring[w] = src[i];
      if (++w === cap) w = 0;
    }
    this.w = w;
    this.count += n;
  }

  private writeDownmixed(src: Int16Array, n: number, ch: number): void {
    const ring = this.ring;
    const cap = this.cap;
    let w = this.w;
    if (ch === 2) {
      for (let i = 0, j = 0; i < n; i++, j += 2) {
        ring[w] = (src[j] + src[j + 1]) >> 1;
        if (++w === cap) w = 0;
      }
    } else {
      for (let i = 0, j = 0; i < n; i++) {
        let s = 0;
        for (let c = 0; c < ch; c++) s += src[j++];
        ring[w] = Math.round(s / ch);
        if (++w === cap) w = 0;
      }
    }
    this.w = w;
    this.count += n;
  }

  /**
   * Linear interpolation from `rate` to 48 kHz. Positions are exact integers in units of 1/48000 of an input
   * sample (no floating drift); the next output position carries over to the next chunk.
   */
  private resample(x: Float32Array, n: number, rate: number): void {
    const ring = this.ring;
    const cap = this.cap;
    const OUT = OUT_RATE;
    let w = this.w;
    let pos = this.rsPos;
    // Without a previous sample the first output is aligned on x[0].
    if (!this.rsHasPrev && pos < 0) pos = 0;
    const prev = this.rsPrev;
    const last = n - 1;
    const end = last * OUT;
    let written = 0;
    while (pos <= end) {
      const i = Math.floor(pos / OUT);
      const frac = (pos - i * OUT) / OUT;
      const a = i < 0 ? prev : x[i];
      const b = i < last ? x[i + 1] : x[last];
      ring[w] = Math.round(a + (b - a) * frac);
      if (++w === cap) w = 0;
      written++;
      pos += rate;
    }
    this.rsPos = pos - n * OUT;
    this.rsPrev = x[last];
    this.rsHasPrev = true;
    this.w = w;
    this.count += written;
  }

  private enforceBound(): void {
    if (this.count <= this.limit) return;
    this.stats.overflows++;
    this.stats.samplesDropped += this.count - this.catchUp;
    this.count = this.catchUp;
  }
}
