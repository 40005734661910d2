/**
 * Clips: a stand-alone VOD copy of a few seconds of a Space's recording (live or replay). A clip is its own directory
 * (init.mp4, seg/0.m4s…, clip.m3u8) and keeps playing after the Space's recording is deleted.
 */
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TribuneError } from '../errors.js';
import { INIT_URI, renderMediaPlaylist, segmentUri, type PlaylistSegment } from './playlist.js';
import type { HlsStore, RecordedSegment } from './store.js';

export const CLIP_PLAYLIST_URI = 'clip.m3u8';
/** Longest clip one can ask for, seconds. */
export const MAX_CLIP_SEC = 30;
/** Tolerance for media times that are sums of floating-point durations. */
const EPSILON_SEC = 1e-6;

export interface ClipRange {
  /** Offset into the recording, seconds (0 = the Space's first audio). */
  startSec: number;
  durationSec: number;
}

export interface CreateClipOptions extends ClipRange {
  /** A live store (its completed segments) or an ended one (its replay, trimmed or not). */
  store: HlsStore;
  /** Directory the clip is created as; must not exist yet (its parent is created if needed). */
  outDir: string;
  /** Longest range that may be asked for, seconds (default MAX_CLIP_SEC; evidence keeps longer ranges). */
  maxSec?: number;
}

function checkDuration(durationSec: number, maxSec: number): void {
  if (
    typeof durationSec !== 'number' ||
    !Number.isFinite(durationSec) ||
    durationSec <= 0 ||
    durationSec > maxSec
  )
    throw new TribuneError('BAD_REQUEST', `a clip lasts more than 0 and at most ${maxSec} seconds`);
}

/** The segments available for clips and where they start: the trim of a replay, else the first segment. */
function available(store: HlsStore): { segments: RecordedSegment[]; fromSec: number; toSec: number } {
  const segments = store.recordedSegments();
  const last = segments.at(-1);
  if (!last) throw new TribuneError('CLIP_OUT_OF_RANGE', 'nothing has been recorded yet');
  return {
    segments,
    fromSec: Math.max(store.trimStartSec, segments[0].startSec),
    toSec: last.startSec + last.durationSec,
  };
}

/**
 * The last `seconds` (at most `maxSec`, default 30) of what a Space recorded so far, snapped to a segment boundary so
 * it never exceeds `seconds`; shorter when less is recorded. CLIP_OUT_OF_RANGE when nothing is.
 */
export function lastSecondsRange(store: HlsStore, seconds = MAX_CLIP_SEC, maxSec = MAX_CLIP_SEC): ClipRange {
  checkDuration(seconds, maxSec);
  const { segments, fromSec, toSec } = available(store);
  const first = segments.find(
    (s) => s.startSec >= toSec - seconds - EPSILON_SEC && s.startSec >= fromSec - EPSILON_SEC,
  );
  // No boundary inside the window (a single segment longer than `seconds`) or only a trimmed one: take the last segment.
  const startSec = first?.startSec ?? Math.max(fromSec, segments[segments.length - 1].startSec);
  return { startSec: round(startSec, 6), durationSec: round(toSec - startSec, 6) };
}

/**
 * Copies the segments covering [startSec, startSec + durationSec) of the store's recording into `outDir` as a
 * stand-alone VOD clip: init.mp4, seg/0.m4s, seg/1.m4s… and clip.m3u8 (the segments' original program date-times).
 * Whole segments are copied, so the clip can start up to a segment earlier and end up to a segment later than asked;
 * the range actually cut is returned. Rules: 0 < durationSec <= maxSec (default 30; else BAD_REQUEST); the range lies
 * within what is available (from the replay's trim, or 0, to the end of the last completed segment), else
 * CLIP_OUT_OF_RANGE. The clip appears atomically (written to a temporary directory, then renamed).
 */
export async function createClip(opts: CreateClipOptions): Promise<ClipRange> {
  const { store, startSec, durationSec, outDir, maxSec = MAX_CLIP_SEC } = opts;
  checkDuration(durationSec, maxSec);
  if (typeof startSec !== 'number' || !Number.isFinite(startSec))
    throw new TribuneError('BAD_REQUEST', 'startSec must be a number of seconds');
  const { segments, fromSec, toSec } = available(store);
  const endSec = startSec + durationSec;
  if (startSec < fromSec - EPSILON_SEC || endSec > toSec + EPSILON_SEC) {
    throw new TribuneError(
      'CLIP_OUT_OF_RANGE',
      `${startSec}–${endSec} s is outside the recording (${round(fromSec)}–${round(toSec)} s)`,
    );
  }
  const picked = segments.filter(
    (s) => s.startSec < endSec - EPSILON_SEC && s.startSec + s.durationSec > startSec + EPSILON_SEC,
  );
  if (picked.length === 0) throw new TribuneError('CLIP_OUT_OF_RANGE', 'the range covers no recorded audio');
  // Every segment listed so far is on disk once the writes queued before now are done.
  await store.flushed();
  const init = await store.init();

  if (await exists(outDir)) throw new TribuneError('BAD_REQUEST', 'a clip with this id already exists');
  const parent = path.dirname(outDir);
  await mkdir(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(outDir)}.tmp-${randomUUID()}`);
  try {
    await mkdir(path.join(tmp, path.dirname(segmentUri(0))), { recursive: true });
    await writeFile(path.join(tmp, INIT_URI), init);
    const listed: PlaylistSegment[] = [];
    for (const [i, seg] of picked.entries()) {
      try {
        await copyFile(store.segmentPath(seg.msn), path.join(tmp, segmentUri(i)));
      } catch (err) {
        throw new TribuneError('NOT_FOUND', `segment ${seg.msn} of the recording is missing on disk`, {
          cause: err,
        });
      }
      listed.push({ msn: i, durationSec: seg.durationSec, programDateTimeMs: seg.programDateTimeMs });
    }
    const playlist = renderMediaPlaylist({
      targetDurationSec: store.targetDurationSec,
      partTargetSec: store.partTargetSec,
      segments: listed,
      ended: true,
    });
    await writeFile(path.join(tmp, CLIP_PLAYLIST_URI), playlist);
    await rename(tmp, outDir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    if (!(err instanceof TribuneError) && (await exists(outDir)))
      throw new TribuneError('BAD_REQUEST', 'a clip with this id already exists', { cause: err });
    throw err;
  }
  return {
    startSec: round(picked[0].startSec, 6),
    durationSec: round(
      picked.reduce((t, s) => t + s.durationSec, 0),
      6,
    ),
  };
}

function round(sec: number, digits = 3): number {
  return Number(sec.toFixed(digits));
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
