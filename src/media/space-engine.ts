import { TribuneError } from '../errors.js';
import { Mixer } from '../mix/mixer.js';
import { SpeakerPeer } from '../rtc/peer.js';
import { OpusEncoder } from '../hls/encoder.js';
import { CmafPackager } from '../hls/cmaf.js';
import type { EngineEvent, SpaceMediaConfig, SpeakerLevel } from './protocol.js';

const FRAME_SAMPLES = 960;
const LEVEL_EVERY_TICKS = 5; // 100 ms

/** The program's way to listeners: Opus encoder and CMAF packager (none while a green room). */
interface Program {
  encoder: OpusEncoder;
  packager: CmafPackager;
}

/**
 * The media of one Space inside the engine: speaker peers -> mixer -> (program) Opus -> CMAF parts,
 * and (mix-minus) back to each peer. Driven by the engine's shared 20 ms clock through tick().
 * A green room (config.greenRoom) mixes and returns the mix-minus only; goLive() adds the program.
 */
export class SpaceEngine {
  private readonly mixer: Mixer;
  private readonly peers = new Map<string, SpeakerPeer>();
  private program: Program | null = null;
  private timelineStartSamples: number;
  /** Ticks since the program started (or since the green room opened, before that). */
  private frameIndex = 0;
  private readonly partStarts: number[] = [];
  private closed = false;
  private pastUnderruns = 0;

  constructor(
    readonly spaceId: string,
    private readonly config: SpaceMediaConfig,
    private readonly emit: (e: EngineEvent) => void,
  ) {
    this.mixer = new Mixer({
      maxSpeakers: config.maxSpeakers,
      buffer: { maxBufferedFrames: config.maxBufferedFrames },
    });
    this.timelineStartSamples = config.timelineStartSamples;
    if (!config.greenRoom) this.program = this.openProgram();
  }

  /**
   * The green room goes live: the program is packaged from the next tick on, its timeline starting
   * at `timelineStartSamples` and its first part stamped with the wall clock of that tick. The
   * peers, their mutes and their jitter buffers are untouched. No-op when already live.
   */
  goLive(timelineStartSamples: number): void {
    if (this.closed) throw new TribuneError('SPACE_ENDED');
    if (this.program) return;
    if (!Number.isSafeInteger(timelineStartSamples) || timelineStartSamples < 0)
      throw new TribuneError('BAD_REQUEST', 'bad timeline start');
    this.timelineStartSamples = timelineStartSamples;
    this.frameIndex = 0;
    this.partStarts.length = 0;
    this.program = this.openProgram();
  }

  private openProgram(): Program {
    const spaceId = this.spaceId;
    const encoder = new OpusEncoder(this.config.opusBitrate);
    const packager = new CmafPackager({
      partFrames: this.config.partFrames,
      onInit: (bytes) => this.emit({ type: 'init', spaceId, bytes }),
      onPart: (part) => {
        const pdt = this.partStarts.shift() ?? Date.now();
        this.emit({
          type: 'part',
          spaceId,
          bytes: part.bytes,
          durationSec: part.durationSec,
          programDateTimeMs: pdt,
        });
      },
    });
    return { encoder, packager };
  }

  get speakerCount(): number {
    return this.peers.size;
  }

  /** Jitter-buffer underruns of the current speakers plus those who left. */
  get underruns(): number {
    let n = this.pastUnderruns;
    for (const id of this.peers.keys()) n += this.mixer.bufferStats(id)?.underruns ?? 0;
    return n;
  }

  async publish(speakerId: string, offerSdp: string): Promise<string> {
    if (this.closed) throw new TribuneError('SPACE_ENDED');
    if (this.peers.size >= this.config.maxSpeakers) throw new TribuneError('SPACE_FULL');
    // The mixer also holds speakers whose publish is still under way.
    if (this.peers.has(speakerId) || this.mixer.has(speakerId))
      throw new TribuneError('BAD_REQUEST', 'speaker id in use');
    if (this.mixer.addSpeaker(speakerId) === 'SPACE_FULL') throw new TribuneError('SPACE_FULL');
    try {
      const { peer, answerSdp } = await SpeakerPeer.answer(offerSdp, {
        onFrame: (frame) => this.mixer.push(speakerId, frame),
        onGone: (reason) => {
          this.drop(speakerId);
          this.emit({ type: 'speaker-gone', spaceId: this.spaceId, speakerId, reason });
        },
      });
      if (this.closed) {
        peer.close();
        throw new TribuneError('SPACE_ENDED');
      }
      this.peers.set(speakerId, peer);
      return answerSdp;
    } catch (err) {
      this.mixer.removeSpeaker(speakerId);
      throw err;
    }
  }

  unpublish(speakerId: string): void {
    if (!this.peers.has(speakerId)) throw new TribuneError('SPEAKER_NOT_FOUND');
    this.drop(speakerId);
  }

  /**
   * Server-side mute: the speaker's audio counts as silence in the program and in every mix-minus,
   * and their level reads 0. Accepted from the moment publish() starts (before any audio arrives)
   * and kept until unmuted or the speaker leaves; a new publish() of the same id starts unmuted.
   */
  setMuted(speakerId: string, muted: boolean): void {
    if (this.closed || !this.mixer.setMuted(speakerId, muted)) throw new TribuneError('SPEAKER_NOT_FOUND');
  }

  /** One 20 ms step: mix, send mix-minus, encode and package the program (not in a green room). */
  tick(): void {
    if (this.closed) return;
    const out = this.mixer.tick();
    for (const s of out.speakers) this.peers.get(s.id)?.send(s.mixMinus);
    const program = this.program;
    if (program) {
      if (this.frameIndex % this.config.partFrames === 0) this.partStarts.push(Date.now());
      const packet = program.encoder.encode(out.program);
      program.packager.push(packet, this.timelineStartSamples + this.frameIndex * FRAME_SAMPLES);
    }
    this.frameIndex++;
    if (this.frameIndex % LEVEL_EVERY_TICKS === 0 && this.peers.size > 0) {
      const levels: SpeakerLevel[] = [];
      for (const s of out.speakers) levels.push({ speakerId: s.id, level: s.level, speaking: s.speaking });
      this.emit({ type: 'levels', spaceId: this.spaceId, levels });
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.peers.keys()]) this.drop(id);
    this.program?.packager.flush();
  }

  private drop(speakerId: string): void {
    const peer = this.peers.get(speakerId);
    this.peers.delete(speakerId);
    peer?.close();
    this.pastUnderruns += this.mixer.bufferStats(speakerId)?.underruns ?? 0;
    this.mixer.removeSpeaker(speakerId);
  }
}
