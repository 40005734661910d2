import { describe, expect, it } from 'vitest';
import { MIX_FRAME_SAMPLES } from '../../src/mix/format.js';
import { goertzelPower } from '../../src/mix/goertzel.js';
import { Mixer } from '../../src/mix/mixer.js';
import type { SinkFrame } from '../../src/mix/speaker-buffer.js';

const SR = 48_000;

/** 10 ms 48 kHz mono chunks of a sine with continuous phase. */
function sine(freq: number, amp: number) {
  let t = 0;
  return (): SinkFrame => {
    const s = new Int16Array(480);
    for (let i = 0; i < 480; i++, t++) s[i] = Math.round(amp * Math.sin((2 * Math.PI * freq * t) / SR));
    return { samples: s, sampleRate: SR, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 };
  };
}

interface Capture {
  program: Int16Array;
  mm: Map<string, Int16Array>;
}

/** Feeds each source 20 ms per tick (after a priming push) and records `ticks` ticks of output. */
function run(mixer: Mixer, sources: Map<string, () => SinkFrame>, ticks: number, warmup = 5): Capture {
  const feed = (): void => {
    for (const [id, src] of sources) {
      mixer.push(id, src());
      mixer.push(id, src());
    }
  };
  feed(); // priming reserve
  for (let k = 0; k < warmup; k++) {
    feed();
    mixer.tick();
  }
  const program = new Int16Array(ticks * MIX_FRAME_SAMPLES);
  const mm = new Map<string, Int16Array>();
  for (let k = 0; k < ticks; k++) {
    feed();
    const r = mixer.tick();
    program.set(r.program, k * MIX_FRAME_SAMPLES);
    for (const s of r.speakers) {
      if (!mm.has(s.id)) mm.set(s.id, new Int16Array(ticks * MIX_FRAME_SAMPLES));
      mm.get(s.id)!.set(s.mixMinus, k * MIX_FRAME_SAMPLES);
    }
  }
  return { program, mm };
}

/** Amplitude of `freq` in `pcm` (9600 samples = whole periods of 440 and 1000 Hz). */
const amp = (pcm: Int16Array, freq: number): number => Math.sqrt(goertzelPower(pcm, SR, freq));

describe('Mixer', () => {
  it('sums two tones and builds mix-minus without the own signal', () => {
    const mixer = new Mixer();
    expect(mixer.addSpeaker('a')).toBe('added');
    expect(mixer.addSpeaker('b')).toBe('added');
    expect(mixer.addSpeaker('a')).toBe('exists');
    const cap = run(
      mixer,
      new Map([
        ['a', sine(440, 8000)],
        ['b', sine(1000, 8000)],
      ]),
      10,
    );
    // Below the limiter threshold the mix is a plain sum.
    expect(amp(cap.program, 440)).toBeCloseTo(8000, -2);
    expect(amp(cap.program, 1000)).toBeCloseTo(8000, -2);
    const a = cap.mm.get('a')!;
    const b = cap.mm.get('b')!;
    expect(amp(a, 1000)).toBeCloseTo(8000, -2);
    expect(amp(a, 440)).toBeLessThan(10);
    expect(amp(b, 440)).toBeCloseTo(8000, -2);
    expect(amp(b, 1000)).toBeLessThan(10);
  });

  it('never wraps with 13 full-scale speakers in phase; peak settles near the limiter threshold', () => {
    const mixer = new Mixer({ maxSpeakers: 13 });
    const sources = new Map<string, () => SinkFrame>();
    for (let i = 0; i < 13; i++) {
      mixer.addSpeaker(`s${i}`);
      sources.set(`s${i}`, sine(440, 32767));
    }
    const cap = run(mixer, sources, 25, 0);
    const threshold = 32768 * Math.pow(10, -1 / 20);
    // Sign preservation is checked sample by sample in the next test.
    for (const pcm of [cap.program, ...cap.mm.values()]) {
      let peakAfterAttack = 0;
      for (let i = 0; i < pcm.length; i++) {
        expect(pcm[i]).toBeGreaterThanOrEqual(-32768);
        expect(pcm[i]).toBeLessThanOrEqual(32767);
        if (i >= 2 * MIX_FRAME_SAMPLES) peakAfterAttack = Math.max(peakAfterAttack, Math.abs(pcm[i]));
      }
      expect(peakAfterAttack).toBeLessThanOrEqual(threshold * 1.03);
      expect(peakAfterAttack).toBeGreaterThan(threshold * 0.9);
      // Still a clean 440 Hz tone: fundamental dominates, no wrap-around garbage.
      const tail = pcm.subarray(pcm.length - 9600);
      expect(amp(tail, 440)).toBeGreaterThan(0.85 * threshold);
    }
  });

  it('limits without sign flips: output sign follows the summed input sample by sample', () => {
    const mixer = new Mixer();
    const n = 13;
    const frames: Int16Array[] = [];
    for (let i = 0; i < n; i++) mixer.addSpeaker(`s${i}`);
    // Full-scale square-ish noise, identical across speakers.
    let seed = 1;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
    for (let k = 0; k < 20; k++) {
      const s = new Int16Array(480);
      for (let i = 0; i < 480; i++) s[i] = rnd() > 0 ? 32767 : -32768;
      frames.push(s);
    }
    const pushAll = (f: Int16Array): void => {
      for (let i = 0; i < n; i++)
        mixer.push(`s${i}`, {
          samples: f,
          sampleRate: SR,
          bitsPerSample: 16,
          channelCount: 1,
          numberOfFrames: 480,
        });
    };
    pushAll(frames[0]);
    pushAll(frames[1]);
    for (let k = 1; k < 10; k++) {
      pushAll(frames[2 * k]);
      pushAll(frames[2 * k + 1]);
      const r = mixer.tick();
      const input = new Int16Array(960);
      input.set(frames[2 * (k - 1)], 0);
      input.set(frames[2 * (k - 1) + 1], 480);
      for (let i = 0; i < 960; i++) {
        expect(Math.sign(r.program[i])).toBe(Math.sign(input[i]));
        expect(Math.sign(r.speakers[0].mixMinus[i])).toBe(Math.sign(input[i]));
      }
    }
  });

  it('a speaker without data contributes silence and does not stall the mix', () => {
    const mixer = new Mixer();
    mixer.addSpeaker('talker');
    mixer.addSpeaker('quiet');
    const src = sine(440, 8000);
    mixer.push('quiet', src()); // a lone 10 ms that never fills a frame
    mixer.push('talker', src());
    mixer.push('talker', src());
    for (let k = 0; k < 20; k++) {
      mixer.push('talker', src());
      mixer.push('talker', src());
      const r = mixer.tick();
      expect(r.tick).toBe(k + 1);
      const quiet = r.byId.get('quiet')!;
      const talker = r.byId.get('talker')!;
      expect(quiet.active).toBe(false);
      if (k > 0) {
        expect(talker.active).toBe(true);
        // quiet's mix-minus is the talker; talker's mix-minus is silence.
        expect(Math.max(...quiet.mixMinus)).toBeGreaterThan(7000);
        expect(talker.mixMinus.every((v) => v === 0)).toBe(true);
      }
    }
    expect(mixer.bufferStats('quiet')?.framesOut).toBe(0);
  });

  it('removes speakers', () => {
    const mixer = new Mixer();
    for (const id of ['a', 'b', 'c']) mixer.addSpeaker(id);
    expect(mixer.removeSpeaker('b')).toBe(true);
    expect(mixer.removeSpeaker('b')).toBe(false);
    expect(mixer.size).toBe(2);
    expect(mixer.push('b', sine(440, 1)())).toBe(false);
    const cap = run(
      mixer,
      new Map([
        ['a', sine(440, 8000)],
        ['c', sine(1000, 8000)],
      ]),
      10,
    );
    expect([...cap.mm.keys()].sort()).toEqual(['a', 'c']);
    expect(amp(cap.program, 440)).toBeCloseTo(8000, -2);
    expect(amp(cap.mm.get('a')!, 440)).toBeLessThan(10);
    const r = mixer.tick();
    expect(r.byId.has('b')).toBe(false);
    expect(r.speakers.map((s) => s.id).sort()).toEqual(['a', 'c']);
  });

  it('refuses the 14th speaker (and honours a lower configured limit)', () => {
    const mixer = new Mixer({ maxSpeakers: 13 });
    for (let i = 0; i < 13; i++) expect(mixer.addSpeaker(`s${i}`)).toBe('added');
    expect(mixer.addSpeaker('s13')).toBe('SPACE_FULL');
    expect(mixer.size).toBe(13);
    mixer.removeSpeaker('s0');
    expect(mixer.addSpeaker('s13')).toBe('added');
    const small = new Mixer({ maxSpeakers: 2 });
    small.addSpeaker('a');
    small.addSpeaker('b');
    expect(small.addSpeaker('c')).toBe('SPACE_FULL');
    expect(() => new Mixer({ maxSpeakers: 14 })).toThrow(RangeError);
  });

  it('a muted speaker is excluded from the program and from the others mix-minus', () => {
    const mixer = new Mixer();
    mixer.addSpeaker('a');
    mixer.addSpeaker('b');
    mixer.addSpeaker('c');
    expect(mixer.setMuted('b', true)).toBe(true);
    expect(mixer.setMuted('zz', true)).toBe(false);
    const cap = run(
      mixer,
      new Map([
        ['a', sine(440, 8000)],
        ['b', sine(1000, 8000)],
        ['c', sine(440, 0)],
      ]),
      10,
    );
    expect(amp(cap.program, 1000)).toBeLessThan(10);
    expect(amp(cap.program, 440)).toBeCloseTo(8000, -2);
    expect(amp(cap.mm.get('c')!, 1000)).toBeLessThan(10);
    expect(amp(cap.mm.get('c')!, 440)).toBeCloseTo(8000, -2);
    // The muted speaker still hears the others.
    expect(amp(cap.mm.get('b')!, 440)).toBeCloseTo(8000, -2);
    const r = mixer.tick();
    expect(r.byId.get('b')!.muted).toBe(true);
    expect(r.byId.get('b')!.speaking).toBe(false);
    expect(r.byId.get('a')!.speaking).toBe(true);
    // Unmute: b is back in the program.
    mixer.setMuted('b', false);
    const cap2 = run(
      mixer,
      new Map([
        ['a', sine(440, 8000)],
        ['b', sine(1000, 8000)],
      ]),
      10,
    );
    expect(amp(cap2.program, 1000)).toBeCloseTo(8000, -2);
  });

  it('reuses output buffers across ticks', () => {
    const mixer = new Mixer();
    mixer.addSpeaker('a');
    const r1 = mixer.tick();
    const p1 = r1.program;
    const m1 = r1.speakers[0].mixMinus;
    const r2 = mixer.tick();
    expect(r2).toBe(r1);
    expect(r2.program).toBe(p1);
    expect(r2.speakers[0].mixMinus).toBe(m1);
  });
});
