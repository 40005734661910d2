/**
 * Messages between the main (HTTP) process and the media engine child process.
 * The engine owns every WebRTC peer, the mixers, Opus encoders and CMAF packagers;
 * the main process only ever sees SDP, parts and levels.
 */

export interface SpaceMediaConfig {
  partFrames: number;
  opusBitrate: number;
  maxBufferedFrames: number;
  maxSpeakers: number;
  /** Where the Space's media timeline starts, in 48 kHz samples (non-zero when an engine takes over a live Space). */
  timelineStartSamples: number;
  /**
   * A green room (a scheduled Space whose stage rehearses): speakers are mixed and each gets their
   * mix-minus, but the program is neither encoded nor packaged (no init, no parts) until `goLive`.
   */
  greenRoom?: boolean;
}

export type EngineRequest =
  | { op: 'openSpace'; spaceId: string; config: SpaceMediaConfig }
  | { op: 'closeSpace'; spaceId: string }
  /**
   * A green room goes live: from the next tick the program is encoded and packaged, its timeline
   * starting at `timelineStartSamples`; the speakers' peers carry on untouched. No-op when live.
   */
  | { op: 'goLive'; spaceId: string; timelineStartSamples: number }
  | { op: 'publish'; spaceId: string; speakerId: string; offerSdp: string }
  | { op: 'unpublish'; spaceId: string; speakerId: string }
  /** Server-side mute of one speaker (silence in the program and every mix-minus, level 0). SPEAKER_NOT_FOUND if unknown. */
  | { op: 'setMuted'; spaceId: string; speakerId: string; muted: boolean }
  | { op: 'stats' };

export interface EngineResults {
  openSpace: { ok: true };
  closeSpace: { ok: true };
  goLive: { ok: true };
  publish: { answerSdp: string };
  unpublish: { ok: true };
  setMuted: { ok: true };
  stats: EngineStats;
}

export interface EngineStats {
  cpuUserUs: number;
  cpuSystemUs: number;
  spaces: number;
  speakers: number;
  ticks: number;
  lateTicks: number;
  skippedTicks: number;
  /** Times a live speaker's jitter buffer ran dry (each inserts up to 20 ms of silence for them). */
  underruns: number;
}

export interface SpeakerLevel {
  speakerId: string;
  level: number;
  speaking: boolean;
}

export type EngineEvent =
  | { type: 'init'; spaceId: string; bytes: Uint8Array }
  | { type: 'part'; spaceId: string; bytes: Uint8Array; durationSec: number; programDateTimeMs: number }
  | { type: 'levels'; spaceId: string; levels: SpeakerLevel[] }
  | { type: 'speaker-gone'; spaceId: string; speakerId: string; reason: string }
  | { type: 'ready' };

export type EngineReply =
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: { code: string; detail?: string } };

export type EngineMessage = EngineEvent | EngineReply;

export interface EngineEnvelope {
  id: number;
  req: EngineRequest;
}
