/**
 * LL-HLS state of one Space in the main thread: msn/part numbering, the live window in memory, the live and VOD
 * playlists, blocking reload, serving init/parts/segments, the replay trim, and what goes to disk as the Space
 * produces it. Reopening a recording after a restart (`openLive`, `openReplay`) reads it back through recording.ts;
 * blocked requests and disk writes are delegated to waiters.ts and write-queue.ts.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { TribuneError } from '../errors.js';
import {
  classifyBlockingRequest,
  isBlockingTargetReady,
  MEDIA_PLAYLIST_URI,
  INIT_URI,
  renderMasterPlaylist,
  renderMediaPlaylist,
  segmentUri,
  type BlockingState,
  type PlaylistSegment,
} from './playlist.js';
import {
  formatIndexLine,
  recoverLive,
  recoverReplay,
  SEGMENT_INDEX,
  trimmedSegmentCount,
  type IndexEntry,
} from './recording.js';
import type {
  AddPartInput,
  HlsLogger,
  HlsStoreOptions,
  PartRef,
  PlaylistResult,
  RecordedSegment,
  ReplayOptions,
} from './store-types.js';
import { Waiters } from './waiters.js';
import { WriteQueue } from './write-queue.js';

export { SEGMENT_INDEX } from './recording.js';
export type {
  AddPartInput,
  HlsLogger,
  HlsStoreOptions,
  PartRef,
  PlaylistResult,
  RecordedSegment,
  ReplayOptions,
} from './store-types.js';

interface PartEntry {
  bytes: Uint8Array;
  durationSec: number;
}
interface SegmentEntry {
  msn: number;
  programDateTimeMs: number;
  parts: PartEntry[];
  durationSec: number;
  bytes?: Uint8Array;
}
const consoleLog: HlsLogger = {
  error: (obj, msg) => console.error(msg, obj),
  warn: (obj, msg) => console.warn(msg, obj),
};

function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/**
 * LL-HLS state of one Space in the main thread: numbering, live window in memory, blocking reload, disk copy
 * (init, segments, final VOD playlist) and replay of ended Spaces.
 */
export class HlsStore {
  readonly dir: string;
  readonly partTargetSec: number;
  readonly segmentParts: number;
  readonly liveWindowSegments: number;
  readonly targetDurationSec: number;
  readonly blockingTimeoutMs: number;
  readonly bandwidth: number;
  private readonly log: HlsLogger;

  private initBytes: Uint8Array | undefined;
  private window: SegmentEntry[] = [];
  private current: SegmentEntry = { msn: 0, programDateTimeMs: 0, parts: [], durationSec: 0 };
  private producedSec = 0;
  /** Metadata of every completed segment since the start, for the VOD playlist. */
  private history: PlaylistSegment[] = [];
  /** Replay trim: seconds asked for, and the index in `history` of the first segment the replay lists. */
  private trimSec = 0;
  private keptFrom = 0;
  private lastPart: PartRef | undefined;
  private isEnded = false;
  /** Dropped by its origin (another one runs the Space now): nothing more is added or written. */
  private abandoned = false;
  private cachedPlaylist: string | undefined;
  private readonly waiters: Waiters;
  private readonly writes: WriteQueue;

  constructor(opts: HlsStoreOptions) {
    this.dir = opts.dir;
    this.partTargetSec = ((opts.partFrames ?? 10) * 20) / 1000;
    this.segmentParts = opts.segmentParts ?? 5;
    this.liveWindowSegments = opts.liveWindowSegments ?? 12;
    this.targetDurationSec = Math.max(1, Math.ceil(this.partTargetSec * this.segmentParts - 1e-9));
    this.blockingTimeoutMs = opts.blockingTimeoutMs ?? 3 * this.targetDurationSec * 1000;
    this.bandwidth = opts.bandwidth ?? 64_000;
    this.log = opts.log ?? consoleLog;
    this.waiters = new Waiters(this.blockingTimeoutMs, () => this.isEnded);
    this.writes = new WriteQueue(this.dir, this.log);
  }

  /**
   * Loads a recorded Space for replay: from its final VOD playlist when it ended cleanly, otherwise
   * (the process died while it was live) by rebuilding that playlist from the segment index.
   * `trimStartSec` applies the host's trim (see `setTrimStartSec`); the playlist on disk stays untrimmed.
   */
  static async openReplay(dir: string, opts: ReplayOptions = {}): Promise<HlsStore> {
    const { trimStartSec, ...storeOpts } = opts;
    const store = new HlsStore({ ...storeOpts, dir });
    const rec = await recoverReplay(dir, store.log);
    store.history = rec.history;
    if (rec.playlist !== undefined) {
      store.cachedPlaylist = rec.playlist;
    } else {
      store.isEnded = true;
      store.writes.write(MEDIA_PLAYLIST_URI, store.renderVod(store.history), 'atomic');
      await store.writes.flushed();
    }
    store.initBytes = rec.init;
    store.isEnded = true;
    store.producedSec = store.history.reduce((t, seg) => t + seg.durationSec, 0);
    store.current = {
      msn: (store.history.at(-1)?.msn ?? -1) + 1,
      programDateTimeMs: 0,
      parts: [],
      durationSec: 0,
    };
    if (trimStartSec) store.setTrimStartSec(trimStartSec);
    return store;
  }

  /**
   * Reopens a Space that was live when the process stopped (cleanly or killed), so it goes on live:
   *  - the history comes from the segment index, trusted only as far as its segment files are on disk (a line whose
   *    file is missing or short, as a crash can leave it, ends the history there), and the index is rewritten to
   *    exactly that history (a torn last line is dropped, later appends stay parseable);
   *  - the next segment continues the msn numbering; `mediaDurationSec` is the media time already recorded (sum of
   *    the segment durations), where the restarted packager continues the timeline;
   *  - the last `liveWindowSegments` segments are loaded back from disk into the live window, listed as whole
   *    segments (their parts died with the process); blocking requests for the next part wait as usual;
   *  - a final playlist left on disk by an earlier `end()` is removed: the index is the truth of a live Space.
   * Parts of the segment that was in progress are lost. If they were published before a crash, their URIs come back
   * with new audio; because the timeline continues from the last complete segment, a copy cached somewhere still
   * has the right duration and timestamps (it only holds the audio of before the restart).
   *
   * Why no EXT-X-DISCONTINUITY before the first new segment (draft-pantos-hls-rfc8216bis, EXT-X-DISCONTINUITY): the
   * tag is REQUIRED when the file format, the number, type or identifiers of tracks or the timestamp sequence
   * change, and RECOMMENDED when the encoding parameters or encoding sequence change. Here the init segment is the
   * same (its bytes are a function of constants), the track is the same, and the timestamps (tfdt) go on exactly
   * where the last complete segment ended, so none of the required cases applies. A new Opus encoder instance
   * restarts the "encoding sequence", but every Opus packet is a sync sample that decodes on its own, and that is
   * the same situation as a media engine restart within one process, which never marked a discontinuity: players
   * keep one continuous timeline, which is what listeners and the replay want. A discontinuity would instead make
   * players reset their timestamp mapping and would require EXT-X-DISCONTINUITY-SEQUENCE bookkeeping carried over
   * the sliding window and across restarts. The wall clock does jump by the downtime, but every segment carries its
   * own EXT-X-PROGRAM-DATE-TIME (its real capture time), and that tag "applies only to the next Media Segment", so
   * the date-to-segment mapping stays unambiguous (rfc8216bis forbids only ambiguous mappings). EXT-X-GAP does not
   * apply either: no media segment is missing from the timeline. hls.js uses PDTs to align different renditions,
   * which a single-rendition audio Space does not have.
   *
   * A directory without init.mp4 or without any usable index line (the Space went live but produced nothing) gives a
   * fresh, empty live store. Reopening is idempotent: it only rewrites the index to what it already says.
   */
  static async openLive(dir: string, opts: Omit<HlsStoreOptions, 'dir'> = {}): Promise<HlsStore> {
    const store = new HlsStore({ ...opts, dir });
    const { recording, indexText } = await recoverLive(dir, store.liveWindowSegments, store.log);
    if (recording) {
      store.initBytes = recording.init;
      store.history = recording.history;
      store.producedSec = store.history.reduce((t, seg) => t + seg.durationSec, 0);
      store.window = recording.tail.map((seg) => ({ ...seg, parts: [] }));
      const last = store.history[store.history.length - 1].msn;
      store.current = { msn: last + 1, programDateTimeMs: 0, parts: [], durationSec: 0 };
      // The last segment counts as complete up to its last part, so `_HLS_part` requests for the next part are
      // measured from there (Advance Part Limit) and wait instead of being refused.
      store.lastPart = { msn: last, part: store.segmentParts - 1 };
    }
    // Without trusted segments the index is emptied: the new segments start again at msn 0.
    store.writes.write(SEGMENT_INDEX, indexText, 'atomic');
    await store.writes.flushed();
    return store;
  }

  /**
   * Media time produced so far, in seconds: where a restarted packager must continue (live; after `openLive`, the
   * completed segments on disk), or the whole recording (replay, trim not counted).
   */
  get mediaDurationSec(): number {
    return this.producedSec;
  }

  get ended(): boolean {
    return this.isEnded;
  }

  /** Seconds the host cut from the start of the replay (0 when untrimmed). */
  get trimStartSec(): number {
    return this.trimSec;
  }

  /** Length of the replay: the completed segments it lists (after the trim), in seconds. */
  get replayDurationSec(): number {
    let t = 0;
    for (let i = this.keptFrom; i < this.history.length; i++) t += this.history[i].durationSec;
    return t;
  }

  /**
   * Completed segments a replay or a clip can use, with their offsets in the recording: every segment completed so
   * far while live, the segments the replay lists (after the trim) once ended. Their files are on disk once
   * `flushed()` resolves.
   */
  recordedSegments(): RecordedSegment[] {
    const out: RecordedSegment[] = [];
    let t = 0;
    this.history.forEach((seg, i) => {
      if (i >= this.keptFrom) out.push({ ...seg, startSec: t });
      t += seg.durationSec;
    });
    return out;
  }

  /** The file of segment `msn` on disk. */
  segmentPath(msn: number): string {
    return path.join(this.dir, segmentUri(msn));
  }

  /**
   * Trims the start of an ended Space's replay: its VOD playlist leaves out the whole segments that end at or before
   * `sec` (segment granularity), the others keep their program date-time, and the segments left out answer
   * NOT_FOUND. 0 restores the whole recording. Only the served playlist changes: files and the playlist on disk stay
   * complete, so the caller persists the trim and passes it to `openReplay` again.
   */
  setTrimStartSec(sec: number): void {
    if (!this.isEnded) throw new TribuneError('REPLAY_NOT_AVAILABLE', 'the Space is still live');
    if (typeof sec !== 'number' || !Number.isFinite(sec) || sec < 0)
      throw new TribuneError('BAD_REQUEST', 'trimStartSec must be a finite number of seconds >= 0');
    const keep = trimmedSegmentCount(this.history, sec);
    this.trimSec = sec;
    if (keep !== this.keptFrom) {
      this.keptFrom = keep;
      this.cachedPlaylist = undefined;
    }
  }

  /** Number of blocked requests (for metrics and leak tests). */
  get waiterCount(): number {
    return this.waiters.size;
  }

  /** The next part the store expects (the preload-hinted one). */
  get nextPart(): PartRef {
    return { msn: this.current.msn, part: this.current.parts.length };
  }

  setInit(bytes: Uint8Array): void {
    if (this.initBytes || this.abandoned) return; // the packager's init never changes for a Space
    this.initBytes = bytes;
    this.writes.write(INIT_URI, bytes);
    this.wake();
  }

  /** Appends the next part; closes the segment every `segmentParts` parts. Never throws into the media path. */
  addPart(p: AddPartInput): PartRef | undefined {
    if (this.abandoned) return undefined;
    if (this.isEnded) {
      this.log.warn({ dir: this.dir }, 'HLS part added after the Space ended; dropped');
      return undefined;
    }
    const cur = this.current;
    if (cur.parts.length === 0) cur.programDateTimeMs = p.programDateTimeMs;
    cur.parts.push({ bytes: p.bytes, durationSec: p.durationSec });
    cur.durationSec += p.durationSec;
    this.producedSec += p.durationSec;
    const ref = { msn: cur.msn, part: cur.parts.length - 1 };
    this.lastPart = ref;
    if (cur.parts.length >= this.segmentParts) this.closeSegment();
    this.cachedPlaylist = undefined;
    this.wake();
    return ref;
  }

  /** Finishes the last segment, switches to the VOD playlist, releases every waiter; resolves once on disk. */
  async end(): Promise<void> {
    if (!this.isEnded) {
      if (this.current.parts.length > 0) this.closeSegment();
      this.isEnded = true;
      this.cachedPlaylist = undefined;
      this.writes.write(MEDIA_PLAYLIST_URI, this.renderVod(this.history), 'atomic');
      this.wake();
    }
    await this.writes.flushed();
  }

  /**
   * Clean stop of a live Space that goes on after a restart (`openLive`): closes the segment in progress, even if
   * short, so no part that was published is lost, and resolves once everything is on disk. The store stays live; stop
   * feeding it parts first (parts added afterwards are lost with the process, as in a crash).
   */
  async suspend(): Promise<void> {
    if (!this.isEnded && this.current.parts.length > 0) {
      this.closeSegment();
      this.cachedPlaylist = undefined;
      this.wake();
    }
    await this.writes.flushed();
  }

  /**
   * Drops a live store without writing anything more (several origins: the Space's lease moved to
   * another origin, which continues the recording). Blocked requests fail with SPACE_MOVING, so
   * edges ask again and find the new origin.
   */
  abandon(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.waiters.failAll(new TribuneError('SPACE_MOVING'));
  }

  /** Resolves when every disk write queued so far has finished (errors are logged, never thrown). */
  flushed(): Promise<void> {
    return this.writes.flushed();
  }

  masterPlaylist(): string {
    return renderMasterPlaylist({ bandwidth: this.bandwidth });
  }

  /**
   * The media playlist. With `msn` (and optionally `part`), the `_HLS_msn`/`_HLS_part` raw query values, waits
   * until that segment/part is in the playlist (blocking reload).
   */
  async playlist(q: { msn?: unknown; part?: unknown } = {}, signal?: AbortSignal): Promise<PlaylistResult> {
    const decision = classifyBlockingRequest({ _HLS_msn: q.msn, _HLS_part: q.part }, this.blockingState());
    if (decision.kind === 'bad-request') throw new TribuneError('HLS_BAD_BLOCKING_REQUEST', decision.reason);
    if (decision.kind === 'wait') {
      const { msn, part } = decision;
      await this.waiters.waitUntil(() => isBlockingTargetReady(this.blockingState(), msn, part), signal);
    }
    return { body: this.renderPlaylist(), ended: this.isEnded, blocking: q.msn !== undefined };
  }

  /** The init segment; waits (up to the blocking timeout) while the Space has not produced it yet. */
  async init(signal?: AbortSignal): Promise<Uint8Array> {
    if (!this.initBytes && !this.isEnded)
      await this.waiters.waitUntil(() => this.initBytes !== undefined, signal);
    if (!this.initBytes) throw new TribuneError('NOT_FOUND', 'no init segment');
    return this.initBytes;
  }

  /** A part: at once if present, after a wait if it is the preload-hinted next part, else HLS_GONE/NOT_FOUND. */
  async part(msn: number, part: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.isTrimmedAway(msn)) throw new TribuneError('NOT_FOUND', `part ${msn}.${part} was trimmed`);
    const found = this.findPart(msn, part);
    if (found) return found;
    if (!this.isEnded && msn === this.current.msn && part === this.current.parts.length) {
      await this.waiters.waitUntil(() => this.findPart(msn, part) !== undefined, signal);
      const arrived = this.findPart(msn, part);
      if (arrived) return arrived;
      throw new TribuneError('NOT_FOUND', `part ${msn}.${part} was never produced`);
    }
    if (msn < this.oldestMsn()) throw new TribuneError('HLS_GONE', `part ${msn}.${part}`);
    throw new TribuneError('NOT_FOUND', `part ${msn}.${part}`);
  }

  /** A whole segment: from memory in the live window, from disk once ended, waits if it is the one in progress. */
  async segment(msn: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.isTrimmedAway(msn)) throw new TribuneError('NOT_FOUND', `segment ${msn} was trimmed`);
    const inMemory = this.window.find((s) => s.msn === msn)?.bytes;
    if (inMemory) return inMemory;
    if (!this.isEnded && msn === this.current.msn) {
      await this.waiters.waitUntil(() => this.window.some((s) => s.msn === msn), signal);
      const arrived = this.window.find((s) => s.msn === msn)?.bytes;
      if (arrived) return arrived;
      throw new TribuneError('NOT_FOUND', `segment ${msn} was never produced`);
    }
    if (this.isEnded && this.history.some((s) => s.msn === msn)) {
      await this.writes.flushed();
      try {
        const buf = await readFile(path.join(this.dir, segmentUri(msn)));
        return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      } catch (err) {
        throw new TribuneError('NOT_FOUND', `segment ${msn} is missing on disk`, { cause: err });
      }
    }
    if (msn < this.oldestMsn()) throw new TribuneError('HLS_GONE', `segment ${msn}`);
    throw new TribuneError('NOT_FOUND', `segment ${msn}`);
  }

  // ---------------------------------------------------------------- internals

  private blockingState(): BlockingState {
    return {
      lastSegmentMsn: this.history.at(-1)?.msn ?? -1,
      lastPart: this.lastPart,
      segmentParts: this.segmentParts,
      partTargetSec: this.partTargetSec,
      ended: this.isEnded,
    };
  }

  /** True for a segment the replay's trim left out. */
  private isTrimmedAway(msn: number): boolean {
    return this.keptFrom > 0 && msn >= this.history[0].msn && msn < this.history[this.keptFrom].msn;
  }

  /** The VOD playlist listing `segments`. */
  private renderVod(segments: readonly PlaylistSegment[]): string {
    return renderMediaPlaylist({
      targetDurationSec: this.targetDurationSec,
      partTargetSec: this.partTargetSec,
      segments,
      ended: true,
    });
  }

  private renderPlaylist(): string {
    if (this.cachedPlaylist !== undefined) return this.cachedPlaylist;
    const common = { targetDurationSec: this.targetDurationSec, partTargetSec: this.partTargetSec };
    this.cachedPlaylist = this.isEnded
      ? this.renderVod(this.history.slice(this.keptFrom))
      : renderMediaPlaylist({
          ...common,
          ended: false,
          segments: this.window,
          current: {
            msn: this.current.msn,
            programDateTimeMs: this.current.programDateTimeMs,
            parts: this.current.parts,
          },
        });
    return this.cachedPlaylist;
  }

  /** Oldest msn still held in memory (parts and segments below it were evicted). */
  private oldestMsn(): number {
    return this.window[0]?.msn ?? this.current.msn;
  }

  private findPart(msn: number, part: number): Uint8Array | undefined {
    const seg = msn === this.current.msn ? this.current : this.window.find((s) => s.msn === msn);
    return seg?.parts[part]?.bytes;
  }

  private closeSegment(): void {
    const seg = this.current;
    seg.bytes = concatBytes(seg.parts.map((p) => p.bytes));
    this.window.push(seg);
    while (this.window.length > this.liveWindowSegments) this.window.shift();
    this.history.push({
      msn: seg.msn,
      durationSec: seg.durationSec,
      programDateTimeMs: seg.programDateTimeMs,
    });
    this.writes.write(segmentUri(seg.msn), seg.bytes);
    // Appended after the segment itself is written: every index line names a segment on disk, of that size.
    const entry: IndexEntry = { ...this.history[this.history.length - 1], size: seg.bytes.byteLength };
    this.writes.write(SEGMENT_INDEX, formatIndexLine(entry), 'append');
    this.current = { msn: seg.msn + 1, programDateTimeMs: 0, parts: [], durationSec: 0 };
  }

  private wake(): void {
    this.waiters.wake();
  }
}
