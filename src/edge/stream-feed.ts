/**
 * StreamFeeds: per Space with stream listeners on this edge, one loop that follows the origin's
 * LL-HLS playlist with blocking reloads and hands each new part to the StreamHub once.
 *
 * Every fetch goes through the edge cache under the same keys LL-HLS players use
 * (`<id>/audio.m3u8?_HLS_msn=M&_HLS_part=P`, `<id>/part/M.P.m4s`, `<id>/init.mp4`), so a Space
 * costs the origin one request per object per edge whatever the mix of stream and LL-HLS listeners.
 * Only the feed's first playlist (where to start) bypasses the cache, to start at the live edge.
 */
import type { CacheEntry } from './cache.js';
import type { StreamHub } from './stream-hub.js';

export interface PartRef {
  msn: number;
  part: number;
}

export interface LivePlaylistInfo {
  /** Parts listed, oldest first. */
  parts: PartRef[];
  /** The preload-hinted next part, if any. */
  hint: PartRef | undefined;
  ended: boolean;
}

const PART_URI_RE = /URI="part\/(\d+)\.(\d+)\.m4s"/;

/** Reads what the feed needs from a media playlist: its parts, the preload hint, and ENDLIST. */
export function parseLivePlaylist(text: string): LivePlaylistInfo {
  const parts: PartRef[] = [];
  let hint: PartRef | undefined;
  let ended = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-PART:')) {
      const m = PART_URI_RE.exec(line);
      if (m) parts.push({ msn: Number(m[1]), part: Number(m[2]) });
    } else if (line.startsWith('#EXT-X-PRELOAD-HINT:')) {
      const m = PART_URI_RE.exec(line);
      if (m) hint = { msn: Number(m[1]), part: Number(m[2]) };
    } else if (line.startsWith('#EXT-X-ENDLIST')) ended = true;
  }
  return { parts, hint, ended };
}

export const partAfter = (a: PartRef, b: PartRef): boolean =>
  a.msn > b.msn || (a.msn === b.msn && a.part > b.part);

/** Whether `a` can be the part right after `b` (the next part, or the first of the next segment). */
export const follows = (a: PartRef, b: PartRef): boolean =>
  (a.msn === b.msn && a.part === b.part + 1) || (a.msn === b.msn + 1 && a.part === 0);

export interface StreamFeedsOptions {
  hub: StreamHub;
  /** Through the edge cache (collapsed, shared with LL-HLS players). `key` is `<id>/<file>[?query]`. */
  cached: (key: string, signal: AbortSignal) => Promise<CacheEntry>;
  /** Straight from the origin (no cache): the feed's first playlist. */
  direct: (key: string, signal: AbortSignal) => Promise<CacheEntry>;
  log?: { warn(obj: object, msg: string): void };
  /** Called after each part is pushed (e.g. to refresh listener counts). */
  onPart?: (spaceId: string) => void;
  /** Backoff after an origin error, doubling up to 8x. Default 250 ms. */
  retryMs?: number;
}

/** Raised inside a feed when the origin says the Space is gone or ended. */
class FeedEnd extends Error {}

export class StreamFeeds {
  private readonly running = new Map<string, AbortController>();
  private closed = false;
  /** Parts never delivered because a feed fell behind the origin's playlist window. */
  skipped = 0;

  constructor(private readonly opts: StreamFeedsOptions) {}

  /** Starts the Space's feed unless it runs. */
  ensure(spaceId: string): void {
    if (this.closed || this.running.has(spaceId)) return;
    const ac = new AbortController();
    this.running.set(spaceId, ac);
    void this.run(spaceId, ac.signal).finally(() => {
      if (this.running.get(spaceId) === ac) this.running.delete(spaceId);
      // A listener may have joined while the loop was winding down.
      if (!this.closed && !ac.signal.aborted && this.opts.hub.count(spaceId) > 0) this.ensure(spaceId);
    });
  }

  get size(): number {
    return this.running.size;
  }

  close(): void {
    this.closed = true;
    for (const ac of this.running.values()) ac.abort(new Error('edge closing'));
    this.running.clear();
  }

  private async run(spaceId: string, signal: AbortSignal): Promise<void> {
    const { hub } = this.opts;
    let failures = 0;
    let last: PartRef | undefined;
    let next: PartRef | undefined;
    let init: Buffer | undefined;
    const body = (e: CacheEntry, what: string): Buffer => {
      if (e.status === 404) throw new FeedEnd(`${what}: 404`);
      if (e.status < 200 || e.status >= 300) throw new Error(`${what}: origin answered ${e.status}`);
      return e.body;
    };
    while (!signal.aborted && hub.count(spaceId) > 0) {
      try {
        if (!init) init = body(await this.opts.cached(`${spaceId}/init.mp4`, signal), 'init');
        let info: LivePlaylistInfo;
        if (!next) {
          // Where to start: the newest part, from a fresh playlist.
          info = parseLivePlaylist(
            body(await this.opts.direct(`${spaceId}/audio.m3u8`, signal), 'playlist').toString('latin1'),
          );
          if (info.ended) throw new FeedEnd('ended');
          const newest = info.parts.at(-1);
          if (newest && !last) last = { msn: newest.msn, part: newest.part - 1 }; // deliver the newest
        } else {
          const key = `${spaceId}/audio.m3u8?_HLS_msn=${next.msn}&_HLS_part=${next.part}`;
          const entry = await this.opts.cached(key, signal);
          if (entry.status === 503) continue; // blocking wait timed out at the origin: ask again
          info = parseLivePlaylist(body(entry, 'playlist').toString('latin1'));
        }
        const fresh = info.parts.filter((p) => !last || partAfter(p, last));
        const first = info.parts[0];
        if (last && fresh.length > 1 && first && partAfter(first, last) && !follows(first, last)) {
          // The feed fell behind the playlist's window (an overloaded edge): parts were lost;
          // go on from the newest rather than fall further behind.
          this.skipped += fresh.length - 1;
          fresh.splice(0, fresh.length - 1);
        }
        let gone = false;
        for (const p of fresh) {
          const part = await this.opts.cached(`${spaceId}/part/${p.msn}.${p.part}.m4s`, signal);
          if (part.status === 404) {
            gone = true; // left the window before we got it: start again from a fresh playlist
            break;
          }
          hub.setInit(spaceId, init);
          hub.push(spaceId, body(part, 'part'));
          this.opts.onPart?.(spaceId);
          last = p;
        }
        if (gone) {
          next = undefined;
          continue;
        }
        if (info.ended) throw new FeedEnd('ended');
        next = info.hint ?? (last ? { msn: last.msn, part: last.part + 1 } : undefined);
        failures = 0;
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof FeedEnd) {
          hub.end(spaceId);
          return;
        }
        failures++;
        this.opts.log?.warn({ err, spaceId, failures }, 'stream feed: origin error, retrying');
        next = undefined;
        await delay(Math.min(8, 2 ** (failures - 1)) * (this.opts.retryMs ?? 250), signal);
      }
    }
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
