/**
 * The low-latency live engine: reads the edge's CMAF stream
 * `GET …/spaces/:id/stream.mp4?lid=&token=` (one long chunked response: init segment, then one
 * fragment per 200 ms part, starting at the newest part) with fetch() streaming, into MediaSource
 * (mseSink.ts), about 0.3 s behind the newest audio.
 * - Reconnects at the live edge when the response ends or is cut (the edge cuts listeners that fall
 *   behind), or when nothing arrives for IDLE_MS, with backoff 0.5 s doubling to 8 s, reset on data.
 * - 401/403: onAuthError (a fresh listen token is read at the next attempt); 429: waits Retry-After;
 *   204 (the edge: the Space ended) or 409 SPACE_NOT_LIVE after audio was played: the Space ended,
 *   plays out what is buffered.
 * - An edge (or a proxy/CDN in front) without the stream (400, a 404 other than SPACE_NOT_FOUND, or
 *   a body that is not audio/mp4), or MediaSource failing MAX_SINK_ERRORS times, calls
 *   onUnsupported: the player falls back to LL-HLS.
 * Used only where `streamSupported()` (MediaSource with Opus in MP4); see `choosePlaybackMode`.
 */
import { useEffect, useRef, useState, type MutableRefObject } from 'react';
import { PAGE_LID } from '../live.js';
import { exposeHooks, type PlayerState, type StreamStats } from '../testHooks.js';
import { useMediaPlayerState } from './mediaState.js';
import { Mp4BoxSplitter } from './mp4Boxes.js';
import { MseSink, STREAM_MIME } from './mseSink.js';

const IDLE_MS = 5000;
const TICK_MS = 250;
/** MediaSource failures (parse, decode) before giving up on the stream for LL-HLS. */
const MAX_SINK_ERRORS = 3;

/** MediaSource exists and plays Opus in fragmented MP4. */
export function streamSupported(): boolean {
  const MS = typeof window !== 'undefined' ? window.MediaSource : undefined;
  return (
    typeof MS === 'function' && typeof MS.isTypeSupported === 'function' && MS.isTypeSupported(STREAM_MIME)
  );
}

/**
 * How the live player plays: the CMAF stream where supported, else LL-HLS (hls.js, or native HLS).
 * `?playback=llhls` on the page URL forces LL-HLS (tests, and a way out if the stream misbehaves).
 */
export function choosePlaybackMode(): 'stream' | 'llhls' {
  const forced = new URLSearchParams(window.location.search).get('playback');
  if (forced === 'llhls') return 'llhls';
  return streamSupported() ? 'stream' : 'llhls';
}

/** The stream next to a playback URL (`…/master.m3u8` -> `…/stream.mp4?lid=…[&token=…]`). */
export function streamUrlFor(playbackUrl: string, token: string | null, admission?: string | null): string {
  const u = new URL(playbackUrl, window.location.href);
  u.pathname = u.pathname.replace(/[^/]*$/, 'stream.mp4');
  u.search = '';
  u.searchParams.set('lid', PAGE_LID);
  if (token) u.searchParams.set('token', token);
  if (admission) u.searchParams.set('admission', admission);
  return u.href;
}

async function errorCode(res: Response): Promise<string | null> {
  try {
    const body = (await res.json()) as { error?: { code?: unknown } };
    return typeof body.error?.code === 'string' ? body.error.code : null;
  } catch {
    return null;
  }
}

export interface StreamEngineOptions {
  /** The Space's playback URL (`…/master.m3u8`). */
  url: string;
  token: string | null;
  onAuthError?: () => void;
  /** The edge's admission token; onAdmissionError when the edge refuses it (or wants one). */
  admission?: string | null;
  onAdmissionError?: () => void;
  /** The edge does not serve the stream: play LL-HLS instead. */
  onUnsupported: () => void;
}

export function useStreamEngine(
  mediaRef: MutableRefObject<HTMLAudioElement | null>,
  opts: StreamEngineOptions,
) {
  const { url } = opts;
  const latest = useRef(opts);
  latest.current = opts;
  const [player, setPlayer] = useState<PlayerState>('loading');
  const playing = useMediaPlayerState(mediaRef, setPlayer);
  const [playerError, setPlayerError] = useState<string | null>(null);

  useEffect(() => {
    exposeHooks({ player });
  }, [player]);

  useEffect(() => {
    const media = mediaRef.current;
    if (!media) return;
    const stats: StreamStats = {
      url: streamUrlFor(url, null),
      connects: 0,
      fragments: 0,
      bytes: 0,
      jumps: 0,
      trims: 0,
      stalls: 0,
      cushion: 0,
    };
    exposeHooks({
      media,
      playerKind: 'live',
      player: 'loading',
      playbackMode: 'stream',
      hls: null,
      stream: stats,
    });
    setPlayer('loading');
    let disposed = false;
    let retries = 0;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    let ctrl: AbortController | null = null;
    let played = false;
    let inFlight = false;
    let sinkErrors = 0;
    let sink: MseSink;

    const tryPlay = (): void => {
      media.play().catch(() => {
        // Autoplay refused: the big Play button does it from a user gesture.
        if (!disposed) setPlayer('paused');
      });
    };
    const newSink = (): MseSink =>
      new MseSink(media, {
        onFirstMedia: tryPlay,
        onJump: () => stats.jumps++,
        onTrim: () => stats.trims++,
        onStall: (cushion) => {
          stats.stalls++;
          stats.cushion = cushion;
        },
        onError: (message) => {
          if (disposed) return;
          // This browser keeps failing on the stream: LL-HLS instead.
          if (++sinkErrors >= MAX_SINK_ERRORS) {
            latest.current.onUnsupported();
            return;
          }
          // A broken SourceBuffer: start over with a fresh MediaSource and a fresh connection.
          setPlayerError(message);
          sink.destroy();
          sink = newSink();
          stats.cushion = sink.cushionSeconds;
          if (inFlight)
            ctrl?.abort(); // its loop schedules the reconnection
          else schedule();
        },
      });
    sink = newSink();
    stats.cushion = sink.cushionSeconds;

    const schedule = (minDelayMs = 0): void => {
      const delay = Math.max(minDelayMs, Math.min(8000, 500 * 2 ** retries));
      retries++;
      sink.reconnecting = true;
      setPlayer('reconnecting');
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => {
        if (!disposed) void connect();
      }, delay);
    };

    const connect = async (): Promise<void> => {
      const c = new AbortController();
      ctrl?.abort();
      ctrl = c;
      stats.url = streamUrlFor(url, latest.current.token, latest.current.admission);
      stats.connects++;
      inFlight = true;
      let idle: ReturnType<typeof setTimeout> | undefined;
      const armIdle = (): void => {
        clearTimeout(idle);
        idle = setTimeout(() => c.abort(), IDLE_MS);
      };
      try {
        armIdle();
        const res = await fetch(stats.url, { signal: c.signal, cache: 'no-store' });
        if (res.status === 204) {
          clearTimeout(idle);
          if (!disposed) sink.end(); // the Space ended: play out what is buffered
          return;
        }
        if (res.status !== 200 || !res.body || !/^audio\/mp4\b/.test(res.headers.get('content-type') ?? '')) {
          clearTimeout(idle);
          const code = res.status === 200 ? null : await errorCode(res);
          if (disposed) return;
          if (code?.startsWith('ADMISSION_')) latest.current.onAdmissionError?.();
          else if (res.status === 401 || res.status === 403) latest.current.onAuthError?.();
          if (
            res.status === 200 ||
            res.status === 400 ||
            (res.status === 404 && code !== 'SPACE_NOT_FOUND')
          ) {
            await res.body?.cancel().catch(() => undefined);
            latest.current.onUnsupported();
            return;
          }
          if (res.status === 409 && played) {
            sink.end(); // the Space ended: play out what is buffered
            return;
          }
          setPlayerError(`stream: HTTP ${res.status}${code ? ` ${code}` : ''}`);
          const retryAfter = Number(res.headers.get('retry-after'));
          schedule(res.status === 429 && retryAfter > 0 ? retryAfter * 1000 : 0);
          return;
        }
        const splitter = new Mp4BoxSplitter();
        const reader = res.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done || disposed) break;
          armIdle();
          stats.bytes += value.byteLength;
          const run = splitter.push(value);
          if (!run) continue;
          if (run.fragments > 0) {
            stats.fragments += run.fragments;
            played = true;
            sink.reconnecting = false;
            if (retries > 0) {
              retries = 0;
              setPlayerError(null);
            }
          }
          sink.append(run.bytes);
        }
      } catch (err) {
        if (disposed) return;
        setPlayerError(`stream: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        clearTimeout(idle);
        inFlight = false;
      }
      // The response ended (the Space ended, or the edge cut us) or broke: back to the live edge.
      if (!disposed && ctrl === c) schedule();
    };

    const ticker = setInterval(() => {
      sink.keepLive();
      stats.cushion = sink.cushionSeconds;
    }, TICK_MS);
    void connect();
    // Tests: drop the connection the way an edge cutting a slow listener does.
    exposeHooks({ cutStream: () => ctrl?.abort() });

    return () => {
      disposed = true;
      clearTimeout(retryTimer);
      clearInterval(ticker);
      ctrl?.abort();
      sink.destroy();
      media.removeAttribute('src');
      media.load();
      exposeHooks({
        media: null,
        player: null,
        playerKind: null,
        latency: null,
        playbackMode: null,
        stream: null,
        cutStream: null,
      });
    };
  }, [mediaRef, url]);

  return { player, playing, playerError };
}
