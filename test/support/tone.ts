import { performance } from 'node:perf_hooks';

export interface ToneOptions {
  freqHz: number;
  sampleRate?: number;
  /** 0..1 of full scale */
  amplitude?: number;
  /**
   * true (default): the tone plays all the time. false: silence except during bursts
   * (started by startBurst() or by `autoBurst`).
   */
  continuous?: boolean;
  /** periodic bursts counted in samples (drift-free): on for onMs at the start of every periodMs */
  autoBurst?: { periodMs: number; onMs: number; startDelayMs?: number };
}

export interface BurstMark {
  /** performance.now() when the first frame of the burst was produced (handed to the sender) */
  startMs: number;
  /** sample index (from the generator's start) of the first burst sample */
  sampleIndex: number;
}

/**
 * Sine generator producing 10 ms Int16Array frames with continuous phase across frames, with
 * optional timed bursts for latency measurement. The burst time is marked with performance.now()
 * at the moment the first burst frame is produced, i.e. when the sender hands it to WebRTC.
 */
export class ToneGenerator {
  readonly freqHz: number;
  readonly sampleRate: number;
  readonly amplitude: number;
  readonly frameSamples: number;
  continuous: boolean;
  /** every burst that started, in order */
  readonly bursts: BurstMark[] = [];
  /** called when a burst's first frame is produced */
  onBurstStart?: (mark: BurstMark) => void;

  private phase = 0;
  private readonly phaseStep: number;
  private sampleIndex = 0;
  private armedBurstSamples = 0;
  private burstRemaining = 0;
  private readonly autoBurst?: { periodSamples: number; onSamples: number; startSamples: number };

  constructor(opts: ToneOptions) {
    this.freqHz = opts.freqHz;
    this.sampleRate = opts.sampleRate ?? 48_000;
    this.amplitude = opts.amplitude ?? 0.5;
    this.continuous = opts.continuous ?? !opts.autoBurst;
    this.frameSamples = Math.round(this.sampleRate / 100);
    this.phaseStep = (2 * Math.PI * this.freqHz) / this.sampleRate;
    if (opts.autoBurst) {
      this.autoBurst = {
        periodSamples: Math.round((opts.autoBurst.periodMs * this.sampleRate) / 1000),
        onSamples: Math.round((opts.autoBurst.onMs * this.sampleRate) / 1000),
        startSamples: Math.round(((opts.autoBurst.startDelayMs ?? 0) * this.sampleRate) / 1000),
      };
    }
  }

  /** Arm a burst of `durationMs`: it begins with the next frame produced (then marked). */
  startBurst(durationMs = 200): void {
    this.armedBurstSamples = Math.max(1, Math.round((durationMs * this.sampleRate) / 1000));
  }

  /** true while a burst is playing or armed */
  get inBurst(): boolean {
    return this.burstRemaining > 0 || this.armedBurstSamples > 0;
  }

  /** total samples produced so far */
  get samplesProduced(): number {
    return this.sampleIndex;
  }

  /** The next 10 ms frame. */
  nextFrame(): Int16Array {
    const n = this.frameSamples;
    const out = new Int16Array(n);
    const scale = this.amplitude * 32767;
    let marked = false;
    for (let i = 0; i < n; i++) {
      const idx = this.sampleIndex + i;
      if (this.autoBurst && idx >= this.autoBurst.startSamples) {
        const pos = (idx - this.autoBurst.startSamples) % this.autoBurst.periodSamples;
        if (pos === 0) this.armedBurstSamples = this.autoBurst.onSamples;
      }
      if (this.armedBurstSamples > 0) {
        this.burstRemaining = this.armedBurstSamples;
        this.armedBurstSamples = 0;
        if (!marked) {
          marked = true;
          const mark: BurstMark = { startMs: performance.now(), sampleIndex: idx };
          this.bursts.push(mark);
          this.onBurstStart?.(mark);
        }
      }
      let on = this.continuous;
      if (this.burstRemaining > 0) {
        on = true;
        this.burstRemaining--;
      }
      out[i] = on ? Math.round(Math.sin(this.phase) * scale) : 0;
      this.phase += this.phaseStep;
      if (this.phase > 2 * Math.PI) this.phase -= 2 * Math.PI;
    }
    this.sampleIndex += n;
    return out;
  }

  /** `seconds` of audio in one buffer (for files and offline tests). */
  render(seconds: number): Int16Array {
    const frames = Math.ceil((seconds * this.sampleRate) / this.frameSamples);
    const out = new Int16Array(frames * this.frameSamples);
    for (let f = 0; f < frames; f++) out.set(this.nextFrame(), f * this.frameSamples);
    return out.subarray(0, Math.round(seconds * this.sampleRate));
  }
}
