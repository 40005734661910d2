import { afterAll, describe, expect, it } from 'vitest';
import { TribuneError } from '../../src/errors.js';
import { EnginePool } from '../../src/media/pool.js';
import type { SpeakerLevel } from '../../src/media/protocol.js';
import { MIX_FRAME_SAMPLES } from '../../src/mix/format.js';
import { goertzelPower } from '../../src/mix/goertzel.js';
import { Mixer } from '../../src/mix/mixer.js';
import type { SinkFrame } from '../../src/mix/speaker-buffer.js';
import { hasTone } from '../support/spectrum.js';
import { ToneGenerator } from '../support/tone.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient } from '../support/whip-client.js';

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

  it('mute mid-stream: silence from the next tick, buffer keeps draining, unmute back within one frame', () => {
    // 500 and 1000 Hz are whole periods in one 20 ms frame, so each frame can be analysed on its own.
    const FRAME = MIX_FRAME_SAMPLES;
    const mixer = new Mixer();
    for (const id of ['a', 'b', 'c']) mixer.addSpeaker(id);
    const sources = new Map([
      ['a', sine(500, 8000)],
      ['b', sine(1000, 8000)],
      ['c', sine(500, 0)],
    ]);
    const step = () => {
      for (const [id, src] of sources) {
        mixer.push(id, src());
        mixer.push(id, src());
      }
      return mixer.tick();
    };
    for (const [id, src] of sources) mixer.push(id, src()); // priming reserve
    for (let k = 0; k < 10; k++) step();
    let r = step();
    const b = r.byId.get('b')!;
    expect(amp(r.program, 1000)).toBeCloseTo(8000, -2);
    expect(b.level).toBeGreaterThan(0.5);
    expect(b.speaking).toBe(true);

    expect(mixer.setMuted('b', true)).toBe(true);
    // Reported at once, before the next tick.
    expect(b.level).toBe(0);
    expect(b.speaking).toBe(false);
    expect(b.muted).toBe(true);
    const outBefore = mixer.bufferStats('b')!.framesOut;
    for (let k = 0; k < 20; k++) {
      r = step();
      expect(amp(r.program, 1000)).toBeLessThan(10);
      expect(amp(r.program, 500)).toBeCloseTo(8000, -2);
      for (const other of ['a', 'c']) expect(amp(r.byId.get(other)!.mixMinus, 1000)).toBeLessThan(10);
      expect(amp(r.byId.get('c')!.mixMinus, 500)).toBeCloseTo(8000, -2);
      // The muted speaker still hears everyone else.
      expect(amp(b.mixMinus, 500)).toBeCloseTo(8000, -2);
      expect(b.level).toBe(0);
      expect(b.dbfs).toBe(-100);
      expect(b.speaking).toBe(false);
      expect(b.active).toBe(true);
    }
    // b's jitter buffer drained exactly like a's (never muted): one frame per tick, nothing piled up.
    expect(mixer.bufferStats('b')!.framesOut - outBefore).toBe(20);
    expect(mixer.bufferStats('b')!.framesOut).toBe(mixer.bufferStats('a')!.framesOut);
    expect(mixer.bufferStats('b')!.overflows).toBe(0);

    expect(mixer.setMuted('b', false)).toBe(true);
    r = step(); // the very first frame after unmuting
    expect(amp(r.program, 1000)).toBeCloseTo(8000, -2);
    expect(amp(r.program, 500)).toBeCloseTo(8000, -2);
    for (const other of ['a', 'c']) expect(amp(r.byId.get(other)!.mixMinus, 1000)).toBeCloseTo(8000, -2);
    expect(amp(b.mixMinus, 1000)).toBeLessThan(10);
    expect(b.muted).toBe(false);
    expect(b.speaking).toBe(true);
    expect(b.level).toBeGreaterThan(0.5);
    expect(r.program.length).toBe(FRAME);
  });

  it("a mute set before the speaker's first audio holds once the audio arrives", () => {
    const mixer = new Mixer();
    mixer.addSpeaker('a');
    mixer.addSpeaker('b');
    expect(mixer.setMuted('b', true)).toBe(true);
    for (let k = 0; k < 3; k++) mixer.tick(); // ticks before b sends anything
    const a = sine(500, 8000);
    const b = sine(1000, 8000);
    mixer.push('a', a());
    mixer.push('b', b());
    let delivered = 0;
    for (let k = 0; k < 20; k++) {
      mixer.push('a', a());
      mixer.push('a', a());
      mixer.push('b', b());
      mixer.push('b', b());
      const r = mixer.tick();
      const sb = r.byId.get('b')!;
      if (sb.active) delivered++;
      expect(amp(r.program, 1000)).toBeLessThan(10);
      expect(amp(r.byId.get('a')!.mixMinus, 1000)).toBeLessThan(10);
      expect(sb.level).toBe(0);
      expect(sb.speaking).toBe(false);
      expect(sb.muted).toBe(true);
    }
    expect(delivered).toBe(20);
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

describe('setMuted through the EnginePool (engine process, real WebRTC speakers)', () => {
  const pool = new EnginePool(1);
  const clients: NodeWhipClient[] = [];
  afterAll(async () => {
    for (const c of clients) c.abruptClose();
    await pool.close();
  });

  it('is routed to the Space engine; the mute holds from before the first audio, and toggles', async () => {
    await pool.start();
    const spaceId = 'mute-space';
    await pool.request({
      op: 'openSpace',
      spaceId,
      config: {
        partFrames: 10,
        opusBitrate: 32_000,
        maxBufferedFrames: 6,
        maxSpeakers: 13,
        timelineStartSamples: 0,
      },
    });
    const talkerLevels: SpeakerLevel[] = [];
    pool.on('levels', (e) => {
      const l = e.spaceId === spaceId && e.levels.find((x) => x.speakerId === 'talker');
      if (l) talkerLevels.push(l);
    });
    const publish =
      (speakerId: string, mutedBeforeAnswer = false) =>
      async (offerSdp: string) => {
        const { answerSdp } = await pool.request({ op: 'publish', spaceId, speakerId, offerSdp });
        // The client has no answer yet, so no audio can have reached the engine.
        if (mutedBeforeAnswer) await pool.request({ op: 'setMuted', spaceId, speakerId, muted: true });
        return { answerSdp };
      };

    // 'hearer' only listens (it sends silence) and records its mix-minus: the talker alone.
    const hearer = new NodeWhipClient();
    clients.push(hearer);
    await hearer.connect(new ToneGenerator({ freqHz: 440, continuous: false }), publish('hearer'));
    const talker = new NodeWhipClient({ record: false });
    clients.push(talker);
    await talker.connect(new ToneGenerator({ freqHz: 1000, amplitude: 0.3 }), publish('talker', true));

    /** Waits for `frames` more 10 ms frames at the hearer and returns them. */
    const nextAudio = async (frames: number): Promise<Int16Array> => {
      const from = hearer.received.length;
      await waitFor(`${frames} frames at the hearer`, () => hearer.received.length >= from + frames);
      const chunk = hearer.received.slice(from, from + frames);
      const pcm = new Int16Array(frames * 480);
      chunk.forEach((f, i) => pcm.set(f.pcm.subarray(0, 480), i * 480));
      return pcm;
    };

    // Muted before its first audio: 1.5 s of media and the tone never reaches the other speaker.
    const mutedAudio = await nextAudio(150);
    expect(hasTone(mutedAudio, 1000)).toBe(false);
    expect(talker.framesSent).toBeGreaterThan(100);
    await waitFor('level reports for the talker', () => talkerLevels.length >= 5);
    expect(talkerLevels.every((l) => l.level === 0 && !l.speaking)).toBe(true);

    // Unmute: the tone and the level come back.
    await pool.request({ op: 'setMuted', spaceId, speakerId: 'talker', muted: false });
    await waitFor('the tone after unmuting', async () => hasTone(await nextAudio(20), 1000));
    await waitFor(
      'the talker speaking',
      () => talkerLevels.at(-1)?.speaking && talkerLevels.at(-1)!.level > 0,
    );

    // Mute again mid-stream: gone once the media in flight has played out, and it stays gone.
    await pool.request({ op: 'setMuted', spaceId, speakerId: 'talker', muted: true });
    await waitFor('silence after muting', async () => !hasTone(await nextAudio(20), 1000));
    expect(hasTone(await nextAudio(100), 1000)).toBe(false);
    expect(talkerLevels.at(-1)).toEqual({ speakerId: 'talker', level: 0, speaking: false });

    // Unknown speaker or Space.
    const unknownSpeaker = await pool
      .request({ op: 'setMuted', spaceId, speakerId: 'ghost', muted: true })
      .catch((e: unknown) => e);
    expect(unknownSpeaker).toBeInstanceOf(TribuneError);
    expect((unknownSpeaker as TribuneError).code).toBe('SPEAKER_NOT_FOUND');
    const unknownSpace = await pool
      .request({ op: 'setMuted', spaceId: 'nope', speakerId: 'talker', muted: true })
      .catch((e: unknown) => e);
    expect((unknownSpace as TribuneError).code).toBe('SPACE_NOT_FOUND');
    await pool.request({ op: 'closeSpace', spaceId });
  });
});
