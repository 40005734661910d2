/**
 * Evidence (EU DSA notices on live audio): when a live Space or a replay is reported, the reported range of its
 * recording is copied aside, so it survives the host deleting or trimming the replay. Moderators play the copy (a
 * stand-alone VOD, like a clip: `<dir>/<evidenceId>/clip.m3u8`, `init.mp4`, `seg/<n>.m4s`) with the reported range
 * marked (`markedRange`), and the copy is deleted once its `keepUntil` has passed (`sweep`).
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { TribuneError } from '../errors.js';
import { CLIP_PLAYLIST_URI, createClip } from '../hls/clips.js';
import { INIT_URI, segmentUri } from '../hls/playlist.js';
import type { HlsStore } from '../hls/store.js';
import type { TrustStorage } from '../store/trust-types.js';
import type { EvidenceRecord } from './model.js';

/** A reported end may lie this far after what is recorded (the reporter's player runs a little ahead). */
export const END_TOLERANCE_SEC = 1;
/** Tolerance for media times that are sums of floating-point durations. */
const EPSILON_SEC = 1e-6;
/** Evidence ids: what may name a directory directly under the evidence directory. */
const EVIDENCE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** The files of a kept copy a moderator's player may ask for. */
const SEG_FILE = /^seg\/(\d{1,12})\.m4s$/;
const SWEEP_BATCH = 100;

export type EvidenceStore = Pick<
  TrustStorage,
  'createEvidence' | 'putEvidence' | 'evidenceForCase' | 'expiredEvidence'
>;

export interface EvidenceLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface EvidenceKeeperOptions {
  /** `<dataDir>/evidence`: one directory per evidence. */
  dir: string;
  store: EvidenceStore;
  /** Longest range one notice keeps, seconds (config `trust.evidenceMaxSec`). */
  maxSec: number;
  now?: () => number;
  log?: EvidenceLogger;
}

export interface EvidenceRangeRequest {
  startSec?: number;
  endSec?: number;
  /** The last N seconds of what is recorded so far (instead of startSec/endSec). */
  lastSec?: number;
}

export interface KeepRequest {
  caseId: string;
  spaceId: string;
  /** The Space's store: live (its completed segments) or its replay. */
  hls: HlsStore;
  startSec: number;
  endSec: number;
  /** ISO date after which the copy is deleted. */
  keepUntil: string;
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** `ev_<base32>` (80 random bits). */
export function newEvidenceId(): string {
  const bytes = randomBytes(10);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return `ev_${out}`;
}

function outOfRecording(msg: string): TribuneError {
  return new TribuneError('RANGE_OUT_OF_RECORDING', msg);
}

const round = (sec: number): number => Number(sec.toFixed(6));

export class EvidenceKeeper {
  readonly dir: string;
  readonly maxSec: number;
  private readonly store: EvidenceStore;
  private readonly now: () => number;
  private readonly log: EvidenceLogger;

  constructor(opts: EvidenceKeeperOptions) {
    if (!(opts.maxSec > 0) || !Number.isFinite(opts.maxSec))
      throw new Error('EvidenceKeeper: maxSec must be > 0');
    this.dir = path.resolve(opts.dir);
    this.store = opts.store;
    this.maxSec = opts.maxSec;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? { warn: (obj, msg) => console.warn(msg, obj) };
  }

  /**
   * The range to keep, checked against what `hls` has recorded (from the replay's trim, or its first segment, to the
   * end of its last completed segment). Either `lastSec` (the last N seconds recorded so far, clamped to what exists)
   * or both `startSec` and `endSec`; an end up to 1 s after the recording is clamped to it. RANGE_OUT_OF_RECORDING
   * when nothing is recorded, or the range is not finite, starts before the recording, ends after it, is empty or
   * reversed, or is longer than `maxSec`. BAD_REQUEST when both or neither forms are given.
   */
  rangeFor(hls: HlsStore, req: EvidenceRangeRequest): { startSec: number; endSec: number } {
    const { fromSec, toSec } = this.recorded(hls);
    const hasLast = req.lastSec !== undefined;
    const hasRange = req.startSec !== undefined || req.endSec !== undefined;
    if (hasLast === hasRange)
      throw new TribuneError('BAD_REQUEST', 'give either lastSec or startSec and endSec');
    if (hasLast) {
      const lastSec = req.lastSec as number;
      if (typeof lastSec !== 'number' || !Number.isFinite(lastSec) || lastSec <= 0)
        throw outOfRecording('lastSec must be a number of seconds > 0');
      if (lastSec > this.maxSec + EPSILON_SEC)
        throw outOfRecording(`at most ${this.maxSec} seconds can be kept`);
      return { startSec: round(Math.max(fromSec, toSec - lastSec)), endSec: round(toSec) };
    }
    const { startSec, endSec } = req;
    if (
      typeof startSec !== 'number' ||
      typeof endSec !== 'number' ||
      !Number.isFinite(startSec) ||
      !Number.isFinite(endSec)
    )
      throw outOfRecording('startSec and endSec must both be numbers of seconds');
    if (startSec >= endSec) throw outOfRecording('the range ends before it starts');
    if (endSec - startSec > this.maxSec + EPSILON_SEC)
      throw outOfRecording(`at most ${this.maxSec} seconds can be kept`);
    if (startSec < fromSec - EPSILON_SEC || endSec > toSec + END_TOLERANCE_SEC + EPSILON_SEC)
      throw outOfRecording(
        `${startSec}–${endSec} s is outside the recording (${round(fromSec)}–${round(toSec)} s)`,
      );
    const end = Math.min(endSec, toSec);
    if (startSec >= end - EPSILON_SEC) throw outOfRecording('the range covers no recorded audio');
    return { startSec: round(startSec), endSec: round(end) };
  }

  /**
   * Copies the segments covering [startSec, endSec) (whole segments: outward to segment boundaries) into
   * `<dir>/<evidenceId>/` as a playable VOD, then stores the record (`copyStartSec`: where the copy's first segment
   * starts in the programme). The range is checked as `rangeFor` does. A record that cannot be stored removes its copy.
   */
  async keep(req: KeepRequest): Promise<EvidenceRecord> {
    const { startSec, endSec } = this.rangeFor(req.hls, { startSec: req.startSec, endSec: req.endSec });
    if (!Number.isFinite(Date.parse(req.keepUntil)))
      throw new TribuneError('BAD_REQUEST', 'keepUntil must be an ISO date');
    const id = newEvidenceId();
    const outDir = path.join(this.dir, id);
    let cut;
    try {
      cut = await createClip({
        store: req.hls,
        startSec,
        durationSec: endSec - startSec,
        outDir,
        maxSec: this.maxSec + EPSILON_SEC,
      });
    } catch (err) {
      if (err instanceof TribuneError && err.code === 'CLIP_OUT_OF_RANGE')
        throw new TribuneError('RANGE_OUT_OF_RECORDING', err.message, { cause: err });
      throw err;
    }
    const record: EvidenceRecord = {
      id,
      caseId: req.caseId,
      spaceId: req.spaceId,
      startSec,
      endSec,
      copyStartSec: cut.startSec,
      createdAt: new Date(this.now()).toISOString(),
      keepUntil: new Date(Date.parse(req.keepUntil)).toISOString(),
      deletedAt: null,
    };
    try {
      await this.store.createEvidence(record);
    } catch (err) {
      await rm(outDir, { recursive: true, force: true });
      throw err;
    }
    return record;
  }

  /**
   * Pushes `keepUntil` of every (not deleted) evidence of a case to `keepUntil` when that is later; never earlier.
   * Returns the case's evidence as it now is.
   */
  async extend(caseId: string, keepUntil: string): Promise<EvidenceRecord[]> {
    const until = Date.parse(keepUntil);
    if (!Number.isFinite(until)) throw new TribuneError('BAD_REQUEST', 'keepUntil must be an ISO date');
    const out: EvidenceRecord[] = [];
    for (const e of await this.store.evidenceForCase(caseId)) {
      if (e.deletedAt === null && Date.parse(e.keepUntil) < until) {
        const next = { ...e, keepUntil: new Date(until).toISOString() };
        await this.store.putEvidence(next);
        out.push(next);
      } else out.push(e);
    }
    return out;
  }

  /**
   * The file of a kept copy a player may ask for: `clip.m3u8`, `init.mp4` or `seg/<n>.m4s`. Null for anything else
   * (other names, traversal, absolute paths) and for deleted evidence. Whether the file exists is the caller's check.
   */
  file(e: EvidenceRecord, name: string): string | null {
    if (e.deletedAt !== null || typeof name !== 'string' || !EVIDENCE_ID.test(e.id)) return null;
    let rel: string;
    if (name === CLIP_PLAYLIST_URI || name === INIT_URI) rel = name;
    else {
      const m = SEG_FILE.exec(name);
      if (!m) return null;
      rel = segmentUri(Number(m[1]));
    }
    const base = path.join(this.dir, e.id);
    const p = path.join(base, rel);
    return p.startsWith(base + path.sep) ? p : null;
  }

  /** Where the reported range lies in the kept copy (seconds from its start): what the moderator's player marks. */
  markedRange(e: EvidenceRecord): { fromSec: number; toSec: number } {
    return { fromSec: round(e.startSec - e.copyStartSec), toSec: round(e.endSec - e.copyStartSec) };
  }

  /**
   * Deletes the copies whose `keepUntil` is at or before `nowIso` and marks them deleted (`deletedAt`). Safe to run
   * repeatedly and concurrently with itself (deleting is idempotent); a copy that cannot be deleted is logged and left
   * for the next pass. Returns how many were deleted.
   */
  async sweep(nowIso: string): Promise<number> {
    let count = 0;
    const failed = new Set<string>();
    /** Every id handled in this pass: a store that keeps answering them cannot loop the sweep. */
    const seen = new Set<string>();
    for (;;) {
      const batch = (await this.store.expiredEvidence(nowIso, SWEEP_BATCH + failed.size)).filter(
        (e) => !seen.has(e.id),
      );
      if (batch.length === 0) break;
      for (const e of batch) {
        seen.add(e.id);
        try {
          if (EVIDENCE_ID.test(e.id)) await rm(path.join(this.dir, e.id), { recursive: true, force: true });
          await this.store.putEvidence({ ...e, deletedAt: nowIso });
          count++;
        } catch (err) {
          failed.add(e.id);
          this.log.warn({ err, evidenceId: e.id }, 'evidence could not be deleted; next sweep retries');
        }
      }
    }
    return count;
  }

  private recorded(hls: HlsStore): { fromSec: number; toSec: number } {
    const segments = hls.recordedSegments();
    const last = segments.at(-1);
    if (!last) throw outOfRecording('nothing has been recorded yet');
    return {
      fromSec: Math.max(hls.trimStartSec, segments[0].startSec),
      toSec: last.startSec + last.durationSec,
    };
  }
}
