/**
 * A Space's recording on disk as `HlsStore` finds it again after a restart or a crash: the segment index
 * (`segments.jsonl`, one JSON line per completed segment), the final VOD playlist of an ended Space, and the
 * history both rebuild for `HlsStore.openLive` and `HlsStore.openReplay`; plus the replay-trim arithmetic.
 * The parsers and the trim are pure; only `loadTrustedIndex`, `recoverLive` and `recoverReplay` touch the disk.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { TribuneError } from '../errors.js';
import { INIT_URI, MEDIA_PLAYLIST_URI, segmentUri, type PlaylistSegment } from './playlist.js';
import type { HlsLogger } from './store-types.js';

/** Append-only index of completed segments, for rebuilding a replay or a live Space after a crash or restart. */
export const SEGMENT_INDEX = 'segments.jsonl';
/** Tolerance for comparisons of media times that are sums of floating-point durations. */
const TIME_EPSILON_SEC = 1e-6;
/** Index entries at the end of the index whose segment files are checked for their full size when reopening. */
const CHECKED_TAIL_SEGMENTS = 3;

/** One line of the segment index: a completed segment and, since openLive exists, its size in bytes. */
export interface IndexEntry extends PlaylistSegment {
  size?: number;
}

/** One line of the segment index (`segments.jsonl`); null for a torn or foreign line. */
export function parseIndexLine(line: string): IndexEntry | null {
  try {
    const v = JSON.parse(line) as Partial<IndexEntry> | null;
    if (
      v &&
      Number.isSafeInteger(v.msn) &&
      v.msn! >= 0 &&
      typeof v.durationSec === 'number' &&
      v.durationSec > 0 &&
      typeof v.programDateTimeMs === 'number'
    ) {
      const entry: IndexEntry = {
        msn: v.msn!,
        durationSec: v.durationSec,
        programDateTimeMs: v.programDateTimeMs,
      };
      if (Number.isSafeInteger(v.size) && v.size! > 0) entry.size = v.size;
      return entry;
    }
  } catch {
    // torn write at a crash
  }
  return null;
}

/** The text of one index line, newline included. */
export function formatIndexLine(entry: IndexEntry): string {
  return `${JSON.stringify(entry)}\n`;
}

export function toPlaylistSegment(e: IndexEntry): PlaylistSegment {
  return { msn: e.msn, durationSec: e.durationSec, programDateTimeMs: e.programDateTimeMs };
}

/**
 * The segments an index describes, in order from msn 0. A line for an msn already seen replaces that segment and
 * everything after it (a store that restarted its numbering); a line that would leave a gap is ignored.
 */
export function parseIndex(text: string): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const line of text.split('\n')) {
    const e = parseIndexLine(line);
    if (!e) continue;
    if (e.msn <= out.length) {
      out.length = e.msn;
      out.push(e);
    }
  }
  return out;
}

/**
 * The segments a final VOD playlist (`audio.m3u8` written by `end()`) lists, or undefined when the text is not a
 * final playlist (no EXT-X-ENDLIST: the Space did not end cleanly).
 */
export function parseVodPlaylist(text: string): PlaylistSegment[] | undefined {
  if (!/^#EXT-X-ENDLIST$/m.test(text)) return undefined;
  const out: PlaylistSegment[] = [];
  let pdt = 0;
  let duration = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(25));
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else {
      const m = /^seg\/(\d+)\.m4s$/.exec(line);
      if (m) out.push({ msn: Number(m[1]), durationSec: duration, programDateTimeMs: pdt });
    }
  }
  return out;
}

/**
 * How many whole segments at the start of `history` a replay trim of `sec` seconds leaves out: those that end at or
 * before `sec`. Throws BAD_REQUEST when that would leave nothing. `sec` must already be a finite number >= 0.
 */
export function trimmedSegmentCount(history: readonly PlaylistSegment[], sec: number): number {
  let keep = 0;
  if (sec > 0) {
    let end = 0;
    while (keep < history.length) {
      end += history[keep].durationSec;
      if (end > sec + TIME_EPSILON_SEC) break;
      keep++;
    }
    if (keep >= history.length) {
      throw new TribuneError(
        'BAD_REQUEST',
        `trimStartSec ${sec} leaves nothing of the ${Number(end.toFixed(3))} s recording`,
      );
    }
  }
  return keep;
}

function asBytes(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * The index of `dir`, trusted as far as its segment files are there: it ends before the first line whose file is
 * missing, or (for the last `CHECKED_TAIL_SEGMENTS` and the `tailCount` ones that are read) whose file is empty or
 * not of the recorded size. Returns those entries and the bytes of the last `tailCount` of them.
 */
export async function loadTrustedIndex(
  dir: string,
  tailCount: number,
  log: HlsLogger,
): Promise<{ trusted: IndexEntry[]; tail: Uint8Array[] }> {
  const entries = parseIndex(await readFile(path.join(dir, SEGMENT_INDEX), 'utf8').catch(() => ''));
  const files = new Set(await readdir(path.join(dir, path.dirname(segmentUri(0)))).catch(() => []));
  let n = entries.findIndex((e) => !files.has(path.basename(segmentUri(e.msn))));
  if (n < 0) n = entries.length;
  // The tail is where a crash leaves damage: read those files and check their sizes.
  for (;;) {
    const from = Math.max(0, n - Math.max(tailCount, CHECKED_TAIL_SEGMENTS));
    const read = await Promise.all(
      entries
        .slice(from, n)
        .map((e) => readFile(path.join(dir, segmentUri(e.msn))).then(asBytes, () => undefined)),
    );
    const bad = read.findIndex(
      (b, i) => !b || b.byteLength === 0 || (entries[from + i].size ?? b.byteLength) !== b.byteLength,
    );
    if (bad < 0) {
      if (n < entries.length)
        log.warn(
          { dir, kept: n, dropped: entries.length - n },
          'HLS index lines without their complete segment file dropped',
        );
      return {
        trusted: entries.slice(0, n),
        tail: tailCount > 0 ? (read.slice(-tailCount) as Uint8Array[]) : [],
      };
    }
    n = from + bad;
  }
}

/** What a live Space left on disk that it can go on from. */
export interface LiveRecording {
  init: Uint8Array;
  /** Every trusted completed segment, from msn 0. */
  history: PlaylistSegment[];
  /** The last segments of `history` (up to the requested count) with their bytes, oldest first. */
  tail: Array<PlaylistSegment & { bytes: Uint8Array }>;
}

/**
 * Recovery for `HlsStore.openLive`: removes a final playlist (and its temp file) left by an earlier `end()`, then
 * reads init.mp4 and the trusted index. `recording` is undefined when there is nothing to go on from (no init or no
 * trusted segment); `indexText` is the index rewritten to exactly the trusted segments (empty without them).
 */
export async function recoverLive(
  dir: string,
  tailCount: number,
  log: HlsLogger,
): Promise<{ recording: LiveRecording | undefined; indexText: string }> {
  await rm(path.join(dir, MEDIA_PLAYLIST_URI), { force: true });
  await rm(path.join(dir, `${MEDIA_PLAYLIST_URI}.tmp`), { force: true });
  const init = await readFile(path.join(dir, INIT_URI)).catch(() => undefined);
  const { trusted, tail } = init ? await loadTrustedIndex(dir, tailCount, log) : { trusted: [], tail: [] };
  const indexText = trusted.map(formatIndexLine).join('');
  if (!init || trusted.length === 0) return { recording: undefined, indexText };
  const tailFrom = trusted.length - tail.length;
  return {
    recording: {
      init: asBytes(init),
      history: trusted.map(toPlaylistSegment),
      tail: tail.map((bytes, i) => ({ ...toPlaylistSegment(trusted[tailFrom + i]), bytes })),
    },
    indexText,
  };
}

/** What an ended (or crashed) Space left on disk for its replay. */
export interface ReplayRecording {
  init: Uint8Array;
  /** Every completed segment, untrimmed. */
  history: PlaylistSegment[];
  /** The final playlist on disk; undefined when it was rebuilt from the index and must be written again. */
  playlist: string | undefined;
}

/**
 * Recovery for `HlsStore.openReplay`: from the final VOD playlist when the Space ended cleanly, otherwise from the
 * trusted segment index. NOT_FOUND without init.mp4 or without any segment.
 */
export async function recoverReplay(dir: string, log: HlsLogger): Promise<ReplayRecording> {
  let init: Buffer;
  try {
    init = await readFile(path.join(dir, INIT_URI));
  } catch (err) {
    throw new TribuneError('NOT_FOUND', `no HLS recording in ${dir}`, { cause: err });
  }
  const text = await readFile(path.join(dir, MEDIA_PLAYLIST_URI), 'utf8').catch(() => '');
  const listed = parseVodPlaylist(text);
  if (listed) return { init: asBytes(init), history: listed, playlist: text };
  const { trusted } = await loadTrustedIndex(dir, 0, log);
  if (trusted.length === 0) throw new TribuneError('NOT_FOUND', `recording in ${dir} has no segments`);
  return { init: asBytes(init), history: trusted.map(toPlaylistSegment), playlist: undefined };
}
