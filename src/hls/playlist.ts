/**
 * Pure LL-HLS playlist rendering and blocking-reload classification (draft-pantos-hls-rfc8216bis).
 * No I/O, no clock: everything comes in through the arguments.
 */

/** EXT-X-MAP without I-frames needs 6; LL-HLS players (hls.js, AVPlayer) accept 9, as used by Apple's examples. */
export const HLS_VERSION = 9;

export const INIT_URI = 'init.mp4';
export const MEDIA_PLAYLIST_URI = 'audio.m3u8';
export const segmentUri = (msn: number): string => `seg/${msn}.m4s`;
export const partUri = (msn: number, part: number): string => `part/${msn}.${part}.m4s`;

export interface PlaylistPart {
  durationSec: number;
}

export interface PlaylistSegment {
  msn: number;
  /** Sum of its parts. */
  durationSec: number;
  /** Wall-clock time of the first sample (EXT-X-PROGRAM-DATE-TIME). */
  programDateTimeMs: number;
  /** Its parts (omitted or empty when they are no longer advertised, e.g. in VOD). */
  parts?: readonly PlaylistPart[];
}

export interface MediaPlaylistInput {
  /** EXT-X-TARGETDURATION, integer seconds. */
  targetDurationSec: number;
  /** EXT-X-PART-INF PART-TARGET, seconds. */
  partTargetSec: number;
  /** Completed segments in the window, ascending and contiguous msn. */
  segments: readonly PlaylistSegment[];
  /** The segment being built (live only): its msn, parts so far and the PDT of its first part. */
  current?: { msn: number; programDateTimeMs?: number; parts: readonly PlaylistPart[] };
  ended: boolean;
  /**
   * Completed segments whose parts are still listed (live). Default 3: parts older than ~3 target durations from
   * the end are not needed by clients (segments are about one target duration long here).
   */
  partSegments?: number;
}

const fmt = (n: number): string => {
  const s = n.toFixed(5).replace(/0+$/, '');
  return s.endsWith('.') ? `${s}0` : s;
};
const pdt = (ms: number): string => `#EXT-X-PROGRAM-DATE-TIME:${new Date(ms).toISOString()}`;

/** Media playlist: live LL-HLS form, or VOD (PLAYLIST-TYPE:VOD + ENDLIST, no parts) once `ended`. */
export function renderMediaPlaylist(p: MediaPlaylistInput): string {
  const firstMsn = p.segments[0]?.msn ?? p.current?.msn ?? 0;
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${HLS_VERSION}`, `#EXT-X-TARGETDURATION:${p.targetDurationSec}`];
  if (p.ended) {
    lines.push('#EXT-X-PLAYLIST-TYPE:VOD');
  } else {
    // PART-HOLD-BACK MUST be >= 2 and SHOULD be >= 3 part targets; HOLD-BACK MUST be >= 3 target durations.
    lines.push(
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${fmt(3 * p.partTargetSec)},HOLD-BACK=${fmt(3 * p.targetDurationSec)}`,
      `#EXT-X-PART-INF:PART-TARGET=${fmt(p.partTargetSec)}`,
    );
  }
  lines.push(
    `#EXT-X-MEDIA-SEQUENCE:${firstMsn}`,
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-MAP:URI="${INIT_URI}"`,
  );

  const firstWithParts = p.segments.length - (p.partSegments ?? 3);
  const partLines = (msn: number, parts: readonly PlaylistPart[] | undefined): void => {
    (parts ?? []).forEach((part, i) => {
      lines.push(`#EXT-X-PART:DURATION=${fmt(part.durationSec)},URI="${partUri(msn, i)}",INDEPENDENT=YES`);
    });
  };

  p.segments.forEach((seg, i) => {
    lines.push(pdt(seg.programDateTimeMs));
    if (!p.ended && i >= firstWithParts) partLines(seg.msn, seg.parts);
    lines.push(`#EXTINF:${fmt(seg.durationSec)},`, segmentUri(seg.msn));
  });

  if (!p.ended) {
    const cur = p.current ?? { msn: (p.segments.at(-1)?.msn ?? -1) + 1, parts: [] };
    if (cur.parts.length > 0 && cur.programDateTimeMs !== undefined) lines.push(pdt(cur.programDateTimeMs));
    partLines(cur.msn, cur.parts);
    lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${partUri(cur.msn, cur.parts.length)}"`);
  } else {
    lines.push('#EXT-X-ENDLIST');
  }
  return lines.join('\n') + '\n';
}

export interface MasterPlaylistInput {
  /** Peak bits per second of the rendition, container overhead included. */
  bandwidth: number;
  averageBandwidth?: number;
  uri?: string;
}

/**
 * Master playlist with one audio-only rendition. CODECS="opus": MP4RA names the sample entry `Opus`, but the
 * MSE implementations (Chrome, Firefox, Safari) expect lowercase `opus` for audio/mp4, hls.js accepts and
 * normalises either spelling, and Apple's players accept `opus`.
 */
export function renderMasterPlaylist(m: MasterPlaylistInput): string {
  const attrs = [`BANDWIDTH=${Math.ceil(m.bandwidth)}`];
  if (m.averageBandwidth !== undefined) attrs.push(`AVERAGE-BANDWIDTH=${Math.ceil(m.averageBandwidth)}`);
  attrs.push('CODECS="opus"');
  return [
    '#EXTM3U',
    `#EXT-X-VERSION:${HLS_VERSION}`,
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-STREAM-INF:${attrs.join(',')}`,
    m.uri ?? MEDIA_PLAYLIST_URI,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------- blocking playlist reload (6.2.5.2)

export interface BlockingState {
  /** msn of the last completed segment in the playlist, -1 if none. */
  lastSegmentMsn: number;
  /** The most recent part published (msn, index), if any. */
  lastPart?: { msn: number; part: number };
  /** Parts per segment, used to measure the distance between parts across segments. */
  segmentParts: number;
  partTargetSec: number;
  ended: boolean;
}

export type BlockingDecision =
  { kind: 'ready' } | { kind: 'wait'; msn: number; part?: number } | { kind: 'bad-request'; reason: string };

/** Advance Part Limit: 3 / PART-TARGET if the part target is under 1 s, else 3. */
export function advancePartLimit(partTargetSec: number): number {
  return partTargetSec < 1 ? Math.floor(3 / partTargetSec) : 3;
}

function parseDirective(v: unknown): number | undefined | 'invalid' {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : 'invalid';
  if (typeof v !== 'string' || !/^\d{1,15}$/.test(v)) return 'invalid';
  return Number(v);
}

/** True when (msn, part) is already in the playlist described by `s`. */
export function isBlockingTargetReady(s: BlockingState, msn: number, part?: number): boolean {
  if (s.ended) return true;
  if (part === undefined) return s.lastSegmentMsn >= msn;
  if (s.lastSegmentMsn > msn) return true;
  const lp = s.lastPart;
  return lp !== undefined && (lp.msn > msn || (lp.msn === msn && lp.part >= part));
}

/**
 * Classifies `_HLS_msn` / `_HLS_part` (raw query values). Per rfc8216bis 6.2.5.2: `_HLS_part` needs `_HLS_msn`;
 * values are decimal integers; an msn more than two beyond the last segment, or a part more than the Advance
 * Part Limit beyond the last part, is answered 400 at once. An ended playlist never blocks.
 */
export function classifyBlockingRequest(
  query: { _HLS_msn?: unknown; _HLS_part?: unknown },
  s: BlockingState,
): BlockingDecision {
  const msn = parseDirective(query._HLS_msn);
  const part = parseDirective(query._HLS_part);
  if (msn === 'invalid')
    return { kind: 'bad-request', reason: '_HLS_msn must be a non-negative decimal integer' };
  if (part === 'invalid')
    return { kind: 'bad-request', reason: '_HLS_part must be a non-negative decimal integer' };
  if (msn === undefined) {
    return part === undefined
      ? { kind: 'ready' }
      : { kind: 'bad-request', reason: '_HLS_part requires _HLS_msn' };
  }
  if (s.ended || isBlockingTargetReady(s, msn, part)) return { kind: 'ready' };
  if (msn > s.lastSegmentMsn + 2) {
    return {
      kind: 'bad-request',
      reason: `_HLS_msn=${msn} is more than 2 segments past ${s.lastSegmentMsn}`,
    };
  }
  if (part !== undefined) {
    const limit = advancePartLimit(s.partTargetSec);
    const last = s.lastPart ? s.lastPart.msn * s.segmentParts + s.lastPart.part : -1;
    const want = msn * s.segmentParts + part;
    if (want - last > limit) {
      return {
        kind: 'bad-request',
        reason: `_HLS_part=${part} of ${msn} is beyond the Advance Part Limit (${limit})`,
      };
    }
    return { kind: 'wait', msn, part };
  }
  return { kind: 'wait', msn };
}
