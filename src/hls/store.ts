import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
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
interface Waiter {
  check(): void;
}

/** Append-only index of completed segments, for rebuilding a replay after a crash. */
const SEGMENT_INDEX = 'segments.jsonl';

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

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
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
  private lastPart: PartRef | undefined;
  private isEnded = false;
  private cachedPlaylist: string | undefined;
  private readonly waiters = new Set<Waiter>();
  private writes: Promise<void> = Promise.resolve();
  private readonly madeDirs = new Set<string>();

  constructor(opts: HlsStoreOptions) {
    this.dir = opts.dir;
    this.partTargetSec = ((opts.partFrames ?? 10) * 20) / 1000;
    this.segmentParts = opts.segmentParts ?? 5;
    this.liveWindowSegments = opts.liveWindowSegments ?? 12;
    this.targetDurationSec = Math.max(1, Math.ceil(this.partTargetSec * this.segmentParts - 1e-9));
    this.blockingTimeoutMs = opts.blockingTimeoutMs ?? 3 * this.targetDurationSec * 1000;
    this.bandwidth = opts.bandwidth ?? 64_000;
    this.log = opts.log ?? consoleLog;
  }

  /**
   * Loads a recorded Space for replay: from its final VOD playlist when it ended cleanly, otherwise
   * (the process died while it was live) by rebuilding that playlist from the segment index.
   */
  static async openReplay(dir: string, opts: Omit<HlsStoreOptions, 'dir'> = {}): Promise<HlsStore> {
    let init: Buffer;
    try {
      init = await readFile(path.join(dir, INIT_URI));
    } catch (err) {
      throw new TribuneError('NOT_FOUND', `no HLS recording in ${dir}`, { cause: err });
    }
    const store = new HlsStore({ ...opts, dir });
    const text = await readFile(path.join(dir, MEDIA_PLAYLIST_URI), 'utf8').catch(() => '');
    if (/^#EXT-X-ENDLIST$/m.test(text)) {
      let pdt = 0;
      let duration = 0;
      for (const line of text.split('\n')) {
        if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(25));
        else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
        else {
          const m = /^seg\/(\d+)\.m4s$/.exec(line);
          if (m) store.history.push({ msn: Number(m[1]), durationSec: duration, programDateTimeMs: pdt });
        }
      }
      store.cachedPlaylist = text;
    } else {
      const index = await readFile(path.join(dir, SEGMENT_INDEX), 'utf8').catch(() => '');
      for (const line of index.split('\n')) {
        const seg = parseIndexLine(line);
        if (seg && seg.msn === (store.history.at(-1)?.msn ?? -1) + 1) store.history.push(seg);
      }
      if (store.history.length === 0)
        throw new TribuneError('NOT_FOUND', `recording in ${dir} has no segments`);
      store.isEnded = true;
      store.enqueueWrite(MEDIA_PLAYLIST_URI, store.renderPlaylist(), true);
      await store.writes;
    }
    store.initBytes = new Uint8Array(init.buffer, init.byteOffset, init.byteLength);
    store.isEnded = true;
    store.current = {
      msn: (store.history.at(-1)?.msn ?? -1) + 1,
      programDateTimeMs: 0,
      parts: [],
      durationSec: 0,
    };
    return store;
  }

  /** Media time produced so far (live), in seconds: where a restarted packager must continue. */
  get mediaDurationSec(): number {
    return this.producedSec;
  }

  get ended(): boolean {
    return this.isEnded;
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
    if (this.initBytes) return; // the packager's init never changes for a Space
    this.initBytes = bytes;
    this.enqueueWrite(INIT_URI, bytes);
    this.wake();
  }

  /** Appends the next part; closes the segment every `segmentParts` parts. Never throws into the media path. */
  addPart(p: AddPartInput): PartRef | undefined {
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
      this.enqueueWrite(MEDIA_PLAYLIST_URI, this.renderPlaylist(), true);
      this.wake();
    }
    await this.writes;
  }

  /** Resolves when every disk write queued so far has finished (errors are logged, never thrown). */
  flushed(): Promise<void> {
    return this.writes;
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
      await this.waitUntil(() => isBlockingTargetReady(this.blockingState(), msn, part), signal);
    }
    return { body: this.renderPlaylist(), ended: this.isEnded, blocking: q.msn !== undefined };
  }

  /** The init segment; waits (up to the blocking timeout) while the Space has not produced it yet. */
  async init(signal?: AbortSignal): Promise<Uint8Array> {
    if (!this.initBytes && !this.isEnded) await this.waitUntil(() => this.initBytes !== undefined, signal);
    if (!this.initBytes) throw new TribuneError('NOT_FOUND', 'no init segment');
    return this.initBytes;
  }

  /** A part: at once if present, after a wait if it is the preload-hinted next part, else HLS_GONE/NOT_FOUND. */
  async part(msn: number, part: number, signal?: AbortSignal): Promise<Uint8Array> {
    const found = this.findPart(msn, part);
    if (found) return found;
    if (!this.isEnded && msn === this.current.msn && part === this.current.parts.length) {
      await this.waitUntil(() => this.findPart(msn, part) !== undefined, signal);
      const arrived = this.findPart(msn, part);
      if (arrived) return arrived;
      throw new TribuneError('NOT_FOUND', `part ${msn}.${part} was never produced`);
    }
    if (msn < this.oldestMsn()) throw new TribuneError('HLS_GONE', `part ${msn}.${part}`);
    throw new TribuneError('NOT_FOUND', `part ${msn}.${part}`);
  }

  /** A whole segment: from memory in the live window, from disk once ended, waits if it is the one in progress. */
  async segment(msn: number, signal?: AbortSignal): Promise<Uint8Array> {
    const inMemory = this.window.find((s) => s.msn === msn)?.bytes;
    if (inMemory) return inMemory;
    if (!this.isEnded && msn === this.current.msn) {
      await this.waitUntil(() => this.window.some((s) => s.msn === msn), signal);
      const arrived = this.window.find((s) => s.msn === msn)?.bytes;
      if (arrived) return arrived;
      throw new TribuneError('NOT_FOUND', `segment ${msn} was never produced`);
    }
    if (this.isEnded && this.history.some((s) => s.msn === msn)) {
      await this.writes;
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

  private renderPlaylist(): string {
    if (this.cachedPlaylist !== undefined) return this.cachedPlaylist;
    const common = { targetDurationSec: this.targetDurationSec, partTargetSec: this.partTargetSec };
    this.cachedPlaylist = this.isEnded
      ? renderMediaPlaylist({ ...common, segments: this.history, ended: true })
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
    this.enqueueWrite(segmentUri(seg.msn), seg.bytes);
    // Appended after the segment itself is written: every index line names a segment on disk.
    this.enqueueWrite(SEGMENT_INDEX, `${JSON.stringify(this.history.at(-1))}\n`, false, true);
    this.current = { msn: seg.msn + 1, programDateTimeMs: 0, parts: [], durationSec: 0 };
  }

  private wake(): void {
    for (const w of [...this.waiters]) w.check();
  }

  /** Resolves when `ready()` holds or the store ended; rejects on timeout (HLS_NOT_AVAILABLE) or abort. */
  private waitUntil(ready: () => boolean, signal?: AbortSignal): Promise<void> {
    if (this.isEnded || ready()) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const finish = (err?: unknown): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(waiter);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onAbort = (): void => finish(abortReason(signal as AbortSignal));
      const waiter: Waiter = {
        check: () => {
          if (this.isEnded || ready()) finish();
        },
      };
      const timer = setTimeout(
        () =>
          finish(new TribuneError('HLS_NOT_AVAILABLE', `not produced within ${this.blockingTimeoutMs} ms`)),
        this.blockingTimeoutMs,
      );
      this.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Serialised async disk writes; failures are logged and never reach the media path. */
  private enqueueWrite(rel: string, data: Uint8Array | string, atomic = false, append = false): void {
    const file = path.join(this.dir, rel);
    this.writes = this.writes
      .then(async () => {
        const dir = path.dirname(file);
        if (!this.madeDirs.has(dir)) {
          await mkdir(dir, { recursive: true });
          this.madeDirs.add(dir);
        }
        if (append) {
          await appendFile(file, data);
        } else if (atomic) {
          await writeFile(`${file}.tmp`, data);
          await rename(`${file}.tmp`, file);
        } else {
          await writeFile(file, data);
        }
      })
      .catch((err: unknown) => this.log.error({ err, file }, 'HLS store disk write failed'));
  }
}

/** One line of the segment index (`segments.jsonl`); null for a torn or foreign line. */
function parseIndexLine(line: string): PlaylistSegment | null {
  try {
    const v = JSON.parse(line) as Partial<PlaylistSegment>;
    if (
      Number.isSafeInteger(v.msn) &&
      typeof v.durationSec === 'number' &&
      v.durationSec > 0 &&
      typeof v.programDateTimeMs === 'number'
    )
      return { msn: v.msn!, durationSec: v.durationSec, programDateTimeMs: v.programDateTimeMs };
  } catch {
    // torn write at a crash
  }
  return null;
}
