/**
 * A Node LL-HLS listener that behaves like a low-latency player (hls.js in low-latency mode):
 * master -> media playlist -> init.mp4 once -> for each next part: fetch the EXT-X-PRELOAD-HINT part
 * (the server blocks until it exists) and, in parallel, the blocking playlist reload
 * `audio.m3u8?_HLS_msn=M&_HLS_part=P` for that part. Each part's Opus packets are decoded to PCM
 * (48 kHz mono) and handed to onPcm with the time its bytes fully arrived.
 *
 * Uses the global fetch (Node's built-in undici keeps connections alive by default).
 */
import { performance } from 'node:perf_hooks';
import opus from '@discordjs/opus';
import { extractSamples, parseInit, type InitInfo } from './fmp4.js';

// CommonJS addon: named ESM imports are not detected by Node
const { OpusEncoder } = opus;

export interface PlaylistPartEntry {
  msn: number;
  part: number;
  uri: string;
  durationSec: number;
}

export interface PlaylistSegmentEntry {
  msn: number;
  uri: string;
  durationSec: number;
}

export interface MediaPlaylist {
  mediaSequence: number;
  targetDurationSec: number;
  partTargetSec?: number;
  mapUri?: string;
  segments: PlaylistSegmentEntry[];
  parts: PlaylistPartEntry[];
  preloadHint?: { msn: number; part: number; uri: string };
  ended: boolean;
  canBlockReload: boolean;
}

function attr(line: string, name: string): string | undefined {
  const m = new RegExp(`(?:^|[:,])${name}=("([^"]*)"|[^,]*)`).exec(line);
  if (!m) return undefined;
  return m[2] ?? m[1];
}

/** First variant URI of a master playlist (or undefined if `text` is a media playlist). */
export function parseMasterPlaylist(text: string): string | undefined {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (!lines.some((l) => l.startsWith('#EXT-X-STREAM-INF'))) return undefined;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith('#EXT-X-STREAM-INF')) {
      for (let j = i + 1; j < lines.length; j++) if (lines[j] && !lines[j].startsWith('#')) return lines[j];
    }
  }
  return undefined;
}

/** Parse an (LL-)HLS media playlist; parts get their (msn, index) from the playlist structure. */
export function parseMediaPlaylist(text: string): MediaPlaylist {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines[0] !== '#EXTM3U') throw new Error(`not an m3u8 playlist: ${text.slice(0, 80)}`);
  const pl: MediaPlaylist = {
    mediaSequence: 0,
    targetDurationSec: 0,
    segments: [],
    parts: [],
    ended: false,
    canBlockReload: false,
  };
  let msn: number | undefined;
  let partIdx = 0;
  let extinf: number | undefined;
  for (const line of lines) {
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) {
      pl.mediaSequence = Number(line.slice(22));
      msn = pl.mediaSequence;
    } else if (line.startsWith('#EXT-X-TARGETDURATION:')) {
      pl.targetDurationSec = Number(line.slice(22));
    } else if (line.startsWith('#EXT-X-PART-INF:')) {
      pl.partTargetSec = Number(attr(line, 'PART-TARGET'));
    } else if (line.startsWith('#EXT-X-SERVER-CONTROL:')) {
      pl.canBlockReload = attr(line, 'CAN-BLOCK-RELOAD') === 'YES';
    } else if (line.startsWith('#EXT-X-MAP:')) {
      pl.mapUri = attr(line, 'URI');
    } else if (line.startsWith('#EXT-X-PART:')) {
      msn ??= pl.mediaSequence;
      pl.parts.push({
        msn,
        part: partIdx++,
        uri: attr(line, 'URI') ?? '',
        durationSec: Number(attr(line, 'DURATION') ?? 0),
      });
    } else if (line.startsWith('#EXT-X-PRELOAD-HINT:')) {
      if (attr(line, 'TYPE') === 'PART') {
        pl.preloadHint = { msn: msn ?? pl.mediaSequence, part: partIdx, uri: attr(line, 'URI') ?? '' };
      }
    } else if (line.startsWith('#EXTINF:')) {
      extinf = Number(line.slice(8).split(',')[0]);
    } else if (line === '#EXT-X-ENDLIST') {
      pl.ended = true;
    } else if (line && !line.startsWith('#')) {
      msn ??= pl.mediaSequence;
      pl.segments.push({ msn, uri: line, durationSec: extinf ?? 0 });
      msn++;
      partIdx = 0;
      extinf = undefined;
    }
  }
  return pl;
}

/** Decode Opus packets to 16-bit mono PCM at 48 kHz (one persistent decoder for continuity). */
export class OpusPcmDecoder {
  private readonly dec = new OpusEncoder(48_000, 1);
  decode(packets: readonly Uint8Array[]): Int16Array {
    const bufs = packets.map((p) => this.dec.decode(Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
    let n = 0;
    for (const b of bufs) n += b.length >> 1;
    const out = new Int16Array(n);
    let o = 0;
    for (const b of bufs) {
      for (let i = 0; i + 1 < b.length; i += 2) out[o++] = b.readInt16LE(i);
    }
    return out;
  }
}

export interface PartArrival {
  id: string;
  msn: number;
  part: number;
  bytes: number;
  samples: number;
  /** performance.now() when the request for the part was sent */
  requestedAtMs: number;
  /** performance.now() when its bytes fully arrived */
  arrivedAtMs: number;
}

export interface LlHlsListenerOptions {
  /** master playlist URL, e.g. http://127.0.0.1:PORT/hls/spaces/ID/master.m3u8 */
  masterUrl: string;
  onPcm?: (pcm: Int16Array, arrivedAtMs: number, partId: string) => void;
  /** 'live' (default): start at the preload hint, like a low-latency player; 'earliest': every listed part */
  startAt?: 'live' | 'earliest';
  /** keep the PartArrival log (default true) */
  keepLog?: boolean;
}

export class HttpError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`GET ${url} -> ${status}: ${body.slice(0, 200)}`);
    this.name = 'HttpError';
  }
}

async function get(url: string, signal?: AbortSignal): Promise<Response> {
  const res = await fetch(url, { signal });
  if (!res.ok) throw new HttpError(url, res.status, await res.text().catch(() => ''));
  return res;
}

async function getText(url: string, signal?: AbortSignal): Promise<string> {
  return (await get(url, signal)).text();
}

async function getBytes(url: string, signal?: AbortSignal): Promise<Uint8Array> {
  return new Uint8Array(await (await get(url, signal)).arrayBuffer());
}

const MAX_RELOAD_FAILURES = 10;

export class LlHlsListener {
  onPcm?: (pcm: Int16Array, arrivedAtMs: number, partId: string) => void;
  readonly parts: PartArrival[] = [];
  /** parts skipped because the listener fell behind the playlist window */
  missedParts = 0;
  playlistReloads = 0;
  errors: Error[] = [];
  init?: InitInfo;
  mediaUrl?: string;
  /** resolves when the loop ends (stop(), ENDLIST, or a fatal error -> rejects) */
  readonly done: Promise<void>;

  private readonly ac = new AbortController();
  private readonly decoder = new OpusPcmDecoder();
  private stopped = false;
  private last?: { msn: number; part: number };
  private mapUri?: string;
  private readonly keepLog: boolean;
  private startedResolve!: () => void;
  /** resolves once the init segment is loaded and the part loop runs */
  readonly started: Promise<void>;

  constructor(private readonly opts: LlHlsListenerOptions) {
    this.onPcm = opts.onPcm;
    this.keepLog = opts.keepLog ?? true;
    this.started = new Promise((r) => (this.startedResolve = r));
    this.done = this.run().finally(() => this.startedResolve());
    // callers that never await `done` must not get an unhandled rejection
    this.done.catch(() => undefined);
  }

  /** Stop polling and abort in-flight requests. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.ac.abort();
    await this.done.catch(() => undefined);
  }

  private async run(): Promise<void> {
    const signal = this.ac.signal;
    try {
      const masterText = await getText(this.opts.masterUrl, signal);
      const variant = parseMasterPlaylist(masterText);
      this.mediaUrl = variant ? new URL(variant, this.opts.masterUrl).toString() : this.opts.masterUrl;
      let pl = parseMediaPlaylist(await getText(this.mediaUrl, signal));
      await this.loadInit(pl, signal);

      const startAt = this.opts.startAt ?? 'live';
      if (startAt === 'live' && pl.parts.length > 0) {
        const lastPart = pl.parts[pl.parts.length - 1];
        this.last = { msn: lastPart.msn, part: lastPart.part };
      }
      this.startedResolve();

      let failures = 0;
      while (!this.stopped) {
        await this.loadInit(pl, signal);
        // parts already listed that we have not played yet
        for (const p of pl.parts) {
          if (this.stopped) return;
          if (this.last && cmp(p, this.last) <= 0) continue;
          if (this.last && !isNext(this.last, p)) this.missedParts++;
          const requestedAt = performance.now();
          const bytes = await getBytes(new URL(p.uri, this.mediaUrl).toString(), signal);
          this.deliver(p, bytes, requestedAt, performance.now());
        }
        if (pl.ended) return;
        const hint = pl.preloadHint;
        const target = hint ?? this.nextAfter(pl);
        const reloadUrl = new URL(this.mediaUrl);
        reloadUrl.searchParams.set('_HLS_msn', String(target.msn));
        reloadUrl.searchParams.set('_HLS_part', String(target.part));
        const reload = getText(reloadUrl.toString(), signal);
        reload.catch(() => undefined);
        if (hint && (!this.last || cmp(hint, this.last) > 0)) {
          const requestedAt = performance.now();
          try {
            const bytes = await getBytes(new URL(hint.uri, this.mediaUrl).toString(), signal);
            this.deliver(hint, bytes, requestedAt, performance.now());
          } catch (err) {
            if (this.stopped) return;
            // e.g. 404 when the Space ended before the part existed: the playlist tells what happened
            this.errors.push(err as Error);
          }
        }
        try {
          pl = parseMediaPlaylist(await reload);
          this.playlistReloads++;
          failures = 0;
        } catch (err) {
          if (this.stopped) return;
          // like a player: retry a few times before giving up
          this.errors.push(err as Error);
          if (++failures > MAX_RELOAD_FAILURES) throw err;
          await new Promise((r) => setTimeout(r, 100 * failures));
          // loop again with the same playlist: same hint (skipped if delivered), same blocking reload
        }
      }
    } catch (err) {
      if (this.stopped) return;
      throw err;
    }
  }

  private nextAfter(pl: MediaPlaylist): { msn: number; part: number } {
    const lastListed = pl.parts.at(-1);
    if (!lastListed) return { msn: (pl.segments.at(-1)?.msn ?? pl.mediaSequence - 1) + 1, part: 0 };
    return { msn: lastListed.msn, part: lastListed.part + 1 };
  }

  private async loadInit(pl: MediaPlaylist, signal: AbortSignal): Promise<void> {
    if (!pl.mapUri || pl.mapUri === this.mapUri) return;
    const bytes = await getBytes(new URL(pl.mapUri, this.mediaUrl).toString(), signal);
    this.init = parseInit(bytes);
    this.mapUri = pl.mapUri;
  }

  private deliver(
    p: { msn: number; part: number },
    bytes: Uint8Array,
    requestedAtMs: number,
    arrivedAtMs: number,
  ) {
    const id = `${p.msn}.${p.part}`;
    const packets = extractSamples(bytes, this.init);
    const pcm = this.decoder.decode(packets);
    this.last = { msn: p.msn, part: p.part };
    if (this.keepLog) {
      this.parts.push({
        id,
        msn: p.msn,
        part: p.part,
        bytes: bytes.length,
        samples: pcm.length,
        requestedAtMs,
        arrivedAtMs,
      });
    }
    this.onPcm?.(pcm, arrivedAtMs, id);
  }
}

function cmp(a: { msn: number; part: number }, b: { msn: number; part: number }): number {
  return a.msn !== b.msn ? a.msn - b.msn : a.part - b.part;
}

/** b directly follows a (same segment next index, or first part of the next segment). */
function isNext(a: { msn: number; part: number }, b: { msn: number; part: number }): boolean {
  return (b.msn === a.msn && b.part === a.part + 1) || (b.msn === a.msn + 1 && b.part === 0);
}

export interface VodPcm {
  pcm: Int16Array;
  sampleRate: number;
  segments: number;
  durationSec: number;
  init: InitInfo;
  playlist: MediaPlaylist;
}

/**
 * Fetch a whole (ended, VOD) rendition: master -> media playlist -> init -> every segment, decoded
 * to one PCM buffer (48 kHz mono) with the Opus pre-skip removed. Throws if the playlist has no
 * ENDLIST unless `requireEnded` is false (then it takes the segments listed now).
 */
export async function fetchAllPcm(masterUrl: string, opts: { requireEnded?: boolean } = {}): Promise<VodPcm> {
  const masterText = await getText(masterUrl);
  const variant = parseMasterPlaylist(masterText);
  const mediaUrl = variant ? new URL(variant, masterUrl).toString() : masterUrl;
  const playlist = parseMediaPlaylist(await getText(mediaUrl));
  if ((opts.requireEnded ?? true) && !playlist.ended) throw new Error(`${mediaUrl} has no EXT-X-ENDLIST`);
  if (!playlist.mapUri) throw new Error(`${mediaUrl} has no EXT-X-MAP`);
  const init = parseInit(await getBytes(new URL(playlist.mapUri, mediaUrl).toString()));
  const decoder = new OpusPcmDecoder();
  const chunks: Int16Array[] = [];
  let total = 0;
  for (const seg of playlist.segments) {
    const bytes = await getBytes(new URL(seg.uri, mediaUrl).toString());
    const pcm = decoder.decode(extractSamples(bytes, init));
    chunks.push(pcm);
    total += pcm.length;
  }
  const all = new Int16Array(total);
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  const pcm = all.subarray(Math.min(all.length, init.preSkip ?? 0));
  return {
    pcm,
    sampleRate: 48_000,
    segments: playlist.segments.length,
    durationSec: playlist.segments.reduce((a, s) => a + s.durationSec, 0),
    init,
    playlist,
  };
}
