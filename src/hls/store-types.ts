/**
 * Public types of `HlsStore` (options, inputs, results), re-exported by store.ts; kept apart so the recording and
 * write-queue modules can use them without importing the store.
 */
import type { PlaylistSegment } from './playlist.js';

/** pino-compatible subset. */
export interface HlsLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface HlsStoreOptions {
  /** Where init.mp4, seg/{msn}.m4s and the final audio.m3u8 are written. */
  dir: string;
  /** 20 ms frames per part (default 10 = 200 ms). */
  partFrames?: number;
  /** Parts per segment (default 5). */
  segmentParts?: number;
  /** Completed segments kept in memory and in the live playlist (default 12). */
  liveWindowSegments?: number;
  /** Master playlist BANDWIDTH in bit/s (default 64000: 32 kb/s VBR Opus peaks plus fMP4 overhead). */
  bandwidth?: number;
  /** How long blocking requests wait before HLS_NOT_AVAILABLE (default 3 x target duration). */
  blockingTimeoutMs?: number;
  log?: HlsLogger;
}

/** Options of a replay: the store's options plus the host's trim. */
export interface ReplayOptions extends Omit<HlsStoreOptions, 'dir'> {
  /** Seconds cut from the start of the replay (see `setTrimStartSec`); default 0. */
  trimStartSec?: number;
}

/** A completed segment and where it sits in the recording. */
export interface RecordedSegment extends PlaylistSegment {
  /** Media time of its first sample from the start of the recording (0 = the Space's first audio), seconds. */
  startSec: number;
}

export interface AddPartInput {
  /** moof + mdat of one part. */
  bytes: Uint8Array;
  durationSec: number;
  /** Wall-clock time of the part's first sample. */
  programDateTimeMs: number;
}

export interface PlaylistResult {
  body: string;
  ended: boolean;
  /** True when the request carried blocking-reload directives. */
  blocking: boolean;
}

export interface PartRef {
  msn: number;
  part: number;
}
