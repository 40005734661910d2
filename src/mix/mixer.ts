import { DEFAULTS } from '../config.js';
import { MIX_FRAME_SAMPLES, MIX_MAX_SPEAKERS } from './format.js';
import { LevelMeter, SILENCE_DBFS, type LevelMeterOptions } from './levels.js';
import { Limiter, type LimiterOptions } from './limiter.js';
import {
  SpeakerBuffer,
  type SinkFrame,
  type SpeakerBufferOptions,
  type SpeakerBufferStats,
} from './speaker-buffer.js';

/** Module-local copy: loops must not read an imported binding per iteration (transpilers make it a getter). */
const FRAME = MIX_FRAME_SAMPLES;

export interface MixerOptions {
  /** Default `config.limits.maxSpeakers`; may not exceed 13. */
  maxSpeakers?: number;
  /** Per-speaker jitter buffer settings (maxBufferedFrames defaults to `config.media.maxBufferedFrames`). */
  buffer?: SpeakerBufferOptions;
  limiter?: LimiterOptions;
  levels?: LevelMeterOptions;
}

/** addSpeaker() outcome. 'SPACE_FULL' maps 1:1 to the ErrorCode of the same name. */
export type AddSpeakerResult = 'added' | 'exists' | 'SPACE_FULL';

/** One speaker's share of a tick. The object (and its mixMinus buffer) is reused on every tick. */
export interface SpeakerMix {
  readonly id: string;
  /** Everyone but this speaker, limited. Overwritten by the next tick(). */
  readonly mixMinus: Int16Array;
  /** Smoothed level 0..1 (0 while muted or silent). */
  readonly level: number;
  /** RMS of this tick's frame in dBFS (-100 when no audio / muted). */
  readonly dbfs: number;
  readonly speaking: boolean;
  /** True when this speaker delivered 20 ms of audio this tick. */
  readonly active: boolean;
  readonly muted: boolean;
}

type MutableSpeakerMix = { -readonly [K in keyof SpeakerMix]: SpeakerMix[K] };

/**
 * Output of tick(). The same object, arrays and buffers are returned by every call: copy `program`
 * / `mixMinus` if they must outlive the next tick().
 */
export interface MixResult {
  /** Tick counter, starting at 1. */
  tick: number;
  /** All unmuted speakers, limited. Int16Array(960). */
  readonly program: Int16Array;
  /** Current speakers (order is not stable across removeSpeaker()). */
  readonly speakers: readonly SpeakerMix[];
  readonly byId: ReadonlyMap<string, SpeakerMix>;
}

interface Slot {
  readonly buffer: SpeakerBuffer;
  readonly frame: Int16Array;
  readonly limiter: Limiter;
  readonly meter: LevelMeter;
  readonly out: MutableSpeakerMix;
  contributes: boolean;
}

/**
 * Mixer for one Space: per-speaker jitter buffers -> 48 kHz mono program mix and per-speaker mix-minus,
 * each through its own peak limiter. No allocation per tick.
 */
export class Mixer {
  readonly maxSpeakers: number;
  private readonly opts: MixerOptions;
  private readonly slots: Slot[] = [];
  private readonly slotById = new Map<string, Slot>();
  private readonly sum = new Int32Array(MIX_FRAME_SAMPLES);
  private readonly programLimiter: Limiter;
  private readonly outSpeakers: SpeakerMix[] = [];
  private readonly outById = new Map<string, SpeakerMix>();
  private readonly result: MixResult;

  constructor(opts: MixerOptions = {}) {
    const max = opts.maxSpeakers ?? DEFAULTS.limits.maxSpeakers;
    if (!Number.isInteger(max) || max < 1 || max > MIX_MAX_SPEAKERS)
      throw new RangeError(`maxSpeakers must be an integer in [1, ${MIX_MAX_SPEAKERS}], got ${max}`);
    this.maxSpeakers = max;
    this.opts = opts;
    this.programLimiter = new Limiter(opts.limiter);
    this.result = {
      tick: 0,
      program: new Int16Array(MIX_FRAME_SAMPLES),
      speakers: this.outSpeakers,
      byId: this.outById,
    };
  }

  get size(): number {
    return this.slots.length;
  }

  has(id: string): boolean {
    return this.slotById.has(id);
  }

  /** Registers a speaker. Idempotent for a known id; 'SPACE_FULL' when maxSpeakers are present. */
  addSpeaker(id: string): AddSpeakerResult {
    if (this.slotById.has(id)) return 'exists';
    if (this.slots.length >= this.maxSpeakers) return 'SPACE_FULL';
    const out: MutableSpeakerMix = {
      id,
      mixMinus: new Int16Array(MIX_FRAME_SAMPLES),
      level: 0,
      dbfs: -100,
      speaking: false,
      active: false,
      muted: false,
    };
    const slot: Slot = {
      buffer: new SpeakerBuffer(this.opts.buffer),
      frame: new Int16Array(MIX_FRAME_SAMPLES),
      limiter: new Limiter(this.opts.limiter),
      meter: new LevelMeter(this.opts.levels),
      out,
      contributes: false,
    };
    this.slots.push(slot);
    this.slotById.set(id, slot);
    this.outSpeakers.push(out);
    this.outById.set(id, out);
    return 'added';
  }

  /** Returns false for an unknown id. */
  removeSpeaker(id: string): boolean {
    const slot = this.slotById.get(id);
    if (!slot) return false;
    const i = this.slots.indexOf(slot);
    const last = this.slots.length - 1;
    this.slots[i] = this.slots[last];
    this.slots.pop();
    this.outSpeakers[i] = this.outSpeakers[last];
    this.outSpeakers.pop();
    this.slotById.delete(id);
    this.outById.delete(id);
    return true;
  }

  /** Queues a sink frame for a speaker. False for an unknown id or an unusable frame; never throws. */
  push(id: string, frame: SinkFrame): boolean {
    const slot = this.slotById.get(id);
    return slot ? slot.buffer.push(frame) : false;
  }

  /**
   * Server-side mute. While muted a speaker's audio is treated as silence: left out of the program and
   * of everyone's mix-minus, level 0 and not speaking (at once, no decay). Their jitter buffer keeps
   * draining at the normal pace, so unmuting is heard from the next tick without a backlog. May be set
   * before the speaker's first audio. They still receive their own mix-minus. False for an unknown id.
   */
  setMuted(id: string, muted: boolean): boolean {
    const slot = this.slotById.get(id);
    if (!slot) return false;
    slot.out.muted = muted;
    if (muted) Mixer.silenceMeter(slot);
    return true;
  }

  private static silenceMeter(slot: Slot): void {
    slot.meter.reset();
    slot.out.level = 0;
    slot.out.dbfs = SILENCE_DBFS;
    slot.out.speaking = false;
  }

  /** Jitter-buffer counters for diagnostics/metrics. */
  bufferStats(id: string): Readonly<SpeakerBufferStats> | undefined {
    return this.slotById.get(id)?.buffer.stats;
  }

  /** Mixes the next 20 ms. See MixResult for buffer ownership. */
  tick(): MixResult {
    const sum = this.sum;
    sum.fill(0);
    const slots = this.slots;
    const n = slots.length;
    for (let s = 0; s < n; s++) {
      const slot = slots[s];
      const out = slot.out;
      const got = slot.buffer.pull(slot.frame);
      const contributes = got && !out.muted;
      slot.contributes = contributes;
      out.active = got;
      if (contributes) {
        const f = slot.frame;
        for (let i = 0; i < FRAME; i++) sum[i] += f[i];
      }
      if (out.muted) {
        Mixer.silenceMeter(slot);
      } else {
        const meter = slot.meter.update(contributes ? slot.frame : null);
        out.level = meter.level;
        out.dbfs = meter.dbfs;
        out.speaking = meter.speaking;
      }
    }
    this.programLimiter.process(sum, null, this.result.program);
    for (let s = 0; s < n; s++) {
      const slot = slots[s];
      slot.limiter.process(sum, slot.contributes ? slot.frame : null, slot.out.mixMinus);
    }
    this.result.tick++;
    return this.result;
  }
}
