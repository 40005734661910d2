/**
 * Audio players (this module is a lazy chunk: it is most of the bundle because of hls.js).
 * - LivePlayer: LL-HLS with hls.js in low-latency mode, 0.8 s behind the live edge, latency and
 *   "behind live" display; native HLS where hls.js is unsupported (Safari/iOS).
 * - VodPlayer: replays and clips (seek bar).
 * Listen tokens go in the `x-tribune-listen-token` header of every hls.js request (`?token=` for
 * native HLS, which cannot set headers).
 */
import Hls, { type ErrorData, type HlsConfig } from 'hls.js';
import { useCallback, useEffect, useRef, useState, type MutableRefObject } from 'react';
import { LISTEN_TOKEN_HEADER } from '../live/types.js';
import { PlayIcon, StatusPill } from './components.js';
import { exposeHooks, type PlayerState } from './testHooks.js';

/** More than this many seconds behind the live edge counts as "behind live". */
const BEHIND_THRESHOLD_S = 1.5;
const UI_TICK_MS = 250;

const LIVE_CONFIG: Partial<HlsConfig> = {
  lowLatencyMode: true,
  // Parts are 200 ms, segments 1 s. Sit 0.8 s (four parts) behind the live edge, and speed up to 1.5x
  // to get back there after a stall.
  liveSyncDuration: 0.8,
  liveMaxLatencyDuration: 6,
  maxLiveSyncPlaybackRate: 1.5,
  backBufferLength: 30,
  maxBufferLength: 10,
  enableWorker: true,
};

const VOD_CONFIG: Partial<HlsConfig> = {
  lowLatencyMode: false,
  backBufferLength: 60,
  maxBufferLength: 30,
  enableWorker: true,
};

const PLAYER_TEXT: Record<PlayerState, string> = {
  loading: 'Loading…',
  playing: 'Playing',
  paused: 'Paused',
  buffering: 'Buffering…',
  reconnecting: 'Reconnecting…',
  ended: 'Finished',
  error: 'Playback error',
};

type MediaWithStartDate = HTMLMediaElement & { getStartDate?: () => Date };

function seekableEnd(media: HTMLMediaElement): number | null {
  const r = media.seekable;
  return r.length > 0 ? r.end(r.length - 1) : null;
}

export function fmtTime(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '0:00';
  const t = Math.floor(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

function withToken(url: string, token: string | null): string {
  if (!token) return url;
  const u = new URL(url, window.location.href);
  u.searchParams.set('token', token);
  return u.href;
}

interface EngineOptions {
  url: string;
  live: boolean;
  kind: 'live' | 'replay' | 'clip';
  token: string | null;
  onAuthError?: () => void;
}

/**
 * Attaches hls.js (or native HLS) to the media element and keeps `player` in sync, with retries:
 * media errors recover in place, network errors reload with backoff (0.5 s doubling to 8 s).
 */
function usePlayerEngine(mediaRef: MutableRefObject<HTMLAudioElement | null>, opts: EngineOptions) {
  const { url, live, kind } = opts;
  const hlsRef = useRef<Hls | null>(null);
  const tokenRef = useRef(opts.token);
  tokenRef.current = opts.token;
  const authRef = useRef(opts.onAuthError);
  authRef.current = opts.onAuthError;
  const [player, setPlayer] = useState<PlayerState>('loading');
  const [playing, setPlaying] = useState(false);
  const [playlistLive, setPlaylistLive] = useState<boolean | null>(null);
  const [playerError, setPlayerError] = useState<string | null>(null);

  useEffect(() => {
    exposeHooks({ player });
  }, [player]);

  useEffect(() => {
    const media = mediaRef.current;
    if (!media) return;
    exposeHooks({ media, playerKind: kind, player: 'loading' });
    setPlayer('loading');
    setPlaylistLive(null);
    let disposed = false;
    let retries = 0;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    let hls: Hls | null = null;
    let lastMediaError = 0;
    let mediaErrorStreak = 0;

    const schedule = (fn: () => void): void => {
      const delay = Math.min(8000, 500 * 2 ** retries);
      retries++;
      setPlayer('reconnecting');
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => {
        if (!disposed) fn();
      }, delay);
    };

    const tryPlay = (): void => {
      media.play().catch(() => {
        // Autoplay refused: the big Play button does it from a user gesture.
        if (!disposed) setPlayer('paused');
      });
    };

    const createHls = (): void => {
      if (hls) hls.destroy();
      const h = new Hls({
        ...(live ? LIVE_CONFIG : VOD_CONFIG),
        xhrSetup: (xhr) => {
          const token = tokenRef.current;
          if (token) xhr.setRequestHeader(LISTEN_TOKEN_HEADER, token);
        },
      });
      hls = h;
      hlsRef.current = h;
      exposeHooks({ hls: h });
      h.on(Hls.Events.MANIFEST_PARSED, () => {
        if (live) tryPlay();
      });
      h.on(Hls.Events.LEVEL_UPDATED, (_e, data) => setPlaylistLive(data.details.live));
      h.on(Hls.Events.FRAG_BUFFERED, () => {
        retries = 0;
        setPlayerError(null);
      });
      h.on(Hls.Events.ERROR, (_e, data: ErrorData) => {
        if (disposed) return;
        const status = data.response?.code;
        if ((status === 401 || status === 403) && data.type === Hls.ErrorTypes.NETWORK_ERROR)
          authRef.current?.();
        if (!data.fatal) return;
        setPlayerError(`${data.type}: ${data.details}`);
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
          const now = performance.now();
          mediaErrorStreak = now - lastMediaError < 5000 ? mediaErrorStreak + 1 : 1;
          lastMediaError = now;
          if (mediaErrorStreak === 1) h.recoverMediaError();
          else if (mediaErrorStreak === 2) {
            h.swapAudioCodec();
            h.recoverMediaError();
          } else schedule(createHls);
        } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
          const manifest =
            data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR ||
            data.details === Hls.ErrorDetails.MANIFEST_LOAD_TIMEOUT ||
            data.details === Hls.ErrorDetails.MANIFEST_PARSING_ERROR;
          schedule(manifest ? createHls : () => h.startLoad());
        } else {
          schedule(createHls);
        }
      });
      h.attachMedia(media);
      h.loadSource(url);
    };

    const nativeUrl = (): string => withToken(url, tokenRef.current);
    const onNativeError = (): void => {
      if (disposed) return;
      setPlayerError('The stream could not be loaded');
      schedule(() => {
        media.src = nativeUrl();
        media.load();
        if (live) tryPlay();
      });
    };
    const onNativeMetadata = (): void => {
      if (live) tryPlay();
      else setPlayer('paused');
    };

    if (Hls.isSupported()) {
      createHls();
    } else if (media.canPlayType('application/vnd.apple.mpegurl')) {
      media.addEventListener('error', onNativeError);
      media.addEventListener('loadedmetadata', onNativeMetadata);
      media.src = nativeUrl();
    } else {
      setPlayer('error');
      setPlayerError('This browser cannot play HLS audio.');
    }

    return () => {
      disposed = true;
      clearTimeout(retryTimer);
      media.removeEventListener('error', onNativeError);
      media.removeEventListener('loadedmetadata', onNativeMetadata);
      hls?.destroy();
      hlsRef.current = null;
      media.removeAttribute('src');
      media.load();
      exposeHooks({ hls: null, media: null, player: null, playerKind: null, latency: null });
    };
  }, [mediaRef, url, live, kind]);

  // Media element -> player state.
  useEffect(() => {
    const media = mediaRef.current;
    if (!media) return;
    const sync = (e?: Event): void => {
      setPlaying(!media.paused);
      if (e?.type === 'waiting' && !media.paused) setPlayer('buffering');
      else if (media.ended) setPlayer('ended');
      else if (media.paused)
        setPlayer((p) => (p === 'reconnecting' || (p === 'loading' && media.readyState < 1) ? p : 'paused'));
      else if (e?.type === 'playing' || e?.type === 'timeupdate') setPlayer('playing');
    };
    const events = ['play', 'playing', 'pause', 'waiting', 'ended', 'timeupdate', 'canplay'];
    events.forEach((ev) => media.addEventListener(ev, sync));
    return () => events.forEach((ev) => media.removeEventListener(ev, sync));
  }, [mediaRef]);

  return { hlsRef, player, playing, playlistLive, playerError };
}

interface Timing {
  /** Seconds behind the live edge (null when unknown or not live). */
  latency: number | null;
  /** Seconds between the wall clock and EXT-X-PROGRAM-DATE-TIME of what is playing. */
  glassLatency: number | null;
  target: number | null;
  currentTime: number;
  duration: number;
}

function useTiming(
  mediaRef: MutableRefObject<HTMLAudioElement | null>,
  hlsRef: MutableRefObject<Hls | null>,
  live: boolean,
): [Timing, (t: Timing | ((p: Timing) => Timing)) => void] {
  const [timing, setTiming] = useState<Timing>({
    latency: null,
    glassLatency: null,
    target: null,
    currentTime: 0,
    duration: 0,
  });
  useEffect(() => {
    const timer = setInterval(() => {
      const media = mediaRef.current as MediaWithStartDate | null;
      if (!media) return;
      const h = hlsRef.current;
      let latency: number | null = null;
      let glassLatency: number | null = null;
      let target: number | null = null;
      if (h) {
        if (live && h.media && Number.isFinite(h.latency) && h.latency > 0) latency = h.latency;
        target = h.targetLatency;
        const pd = h.playingDate;
        if (pd) glassLatency = (Date.now() - pd.getTime()) / 1000;
      } else if (media.src) {
        const start = media.getStartDate?.();
        if (start && Number.isFinite(start.getTime())) {
          glassLatency = (Date.now() - (start.getTime() + media.currentTime * 1000)) / 1000;
        }
        const end = seekableEnd(media);
        if (live && end !== null && media.duration === Infinity)
          latency = Math.max(0, end - media.currentTime);
      }
      if (live) exposeHooks({ latency });
      setTiming({
        latency,
        glassLatency,
        target,
        currentTime: media.currentTime,
        duration: Number.isFinite(media.duration) ? media.duration : (seekableEnd(media) ?? 0),
      });
    }, UI_TICK_MS);
    return () => clearInterval(timer);
  }, [mediaRef, hlsRef, live]);
  return [timing, setTiming];
}

const INDICATOR_TEXT = { live: 'LIVE', behind: 'Behind live', replay: 'Replay', offline: 'Offline' } as const;

export interface LivePlayerProps {
  url: string;
  token: string | null;
  onAuthError?: () => void;
}

/** The listener's live player. */
export function LivePlayer({ url, token, onAuthError }: LivePlayerProps) {
  const mediaRef = useRef<HTMLAudioElement | null>(null);
  const { hlsRef, player, playing, playlistLive, playerError } = usePlayerEngine(mediaRef, {
    url,
    live: true,
    kind: 'live',
    token,
    onAuthError,
  });
  const [timing] = useTiming(mediaRef, hlsRef, true);

  const goLive = useCallback(() => {
    const media = mediaRef.current;
    if (!media) return;
    const h = hlsRef.current;
    const pos =
      h?.liveSyncPosition ??
      (() => {
        const end = seekableEnd(media);
        return end === null ? null : Math.max(0, end - 1);
      })();
    if (pos !== null && Number.isFinite(pos)) media.currentTime = pos;
    void media.play().catch(() => undefined);
  }, [hlsRef]);

  const isLive = playlistLive ?? true;

  const togglePlay = useCallback(() => {
    const media = mediaRef.current;
    if (!media) return;
    if (media.paused) {
      const h = hlsRef.current;
      // Resuming a live stream long after pausing: jump back to the live edge.
      if (isLive && h && h.latency > (h.config.liveMaxLatencyDuration ?? 6)) goLive();
      else void media.play().catch(() => undefined);
    } else {
      media.pause();
    }
  }, [goLive, hlsRef, isLive]);

  const behind =
    isLive &&
    (!playing ||
      (timing.latency !== null && timing.latency > Math.max(BEHIND_THRESHOLD_S, (timing.target ?? 0) + 0.5)));
  const indicatorState = !isLive ? 'replay' : behind ? 'behind' : 'live';
  const canGoLive =
    indicatorState === 'behind' && (player === 'playing' || player === 'paused' || player === 'buffering');

  return (
    <div className="card player" data-testid="live-player" data-state={player}>
      <audio ref={mediaRef} preload="auto" data-testid="player-media" />
      <div className="player-main">
        <button
          type="button"
          className="btn-play"
          onClick={togglePlay}
          aria-label={playing ? 'Pause' : 'Play'}
          data-testid="play-button"
          data-playing={playing ? 'true' : 'false'}
        >
          <PlayIcon playing={playing} />
        </button>
        <div className="player-info">
          <div className="player-row">
            <span
              className={`live-indicator is-${indicatorState}`}
              data-testid="live-indicator"
              data-state={indicatorState}
            >
              <span className="dot" />
              {INDICATOR_TEXT[indicatorState]}
            </span>
            {canGoLive && (
              <button
                type="button"
                className="btn btn-small btn-accent"
                onClick={goLive}
                data-testid="go-live-button"
              >
                Go live
              </button>
            )}
          </div>
          <div className="player-row small">
            <StatusPill state={player} text={PLAYER_TEXT[player]} />
            <span
              className="latency"
              data-testid="latency"
              data-latency={timing.latency !== null ? timing.latency.toFixed(3) : ''}
              title={
                timing.glassLatency !== null
                  ? `Behind the wall clock (program date-time): ${timing.glassLatency.toFixed(2)} s`
                  : undefined
              }
            >
              <span className="muted">Delay</span>{' '}
              <strong>{timing.latency !== null ? `${timing.latency.toFixed(1)} s` : '—'}</strong>
            </span>
          </div>
        </div>
      </div>
      {playerError && player === 'reconnecting' && (
        <p className="muted small player-note" title={playerError}>
          Waiting for the audio, retrying…
        </p>
      )}
    </div>
  );
}

export interface VodPlayerProps {
  url: string;
  token: string | null;
  kind: 'replay' | 'clip';
  /** Updated 4× a second with the playback position (seconds), e.g. for "clip from here". */
  positionRef?: MutableRefObject<number>;
  title?: string;
}

/** Replays and clips. */
export function VodPlayer({ url, token, kind, positionRef, title }: VodPlayerProps) {
  const mediaRef = useRef<HTMLAudioElement | null>(null);
  const { hlsRef, player, playing, playerError } = usePlayerEngine(mediaRef, {
    url,
    live: false,
    kind,
    token,
  });
  const [timing, setTiming] = useTiming(mediaRef, hlsRef, false);
  if (positionRef) positionRef.current = timing.currentTime;

  const togglePlay = useCallback(() => {
    const media = mediaRef.current;
    if (!media) return;
    if (media.paused) {
      if (media.ended) media.currentTime = 0;
      void media.play().catch(() => undefined);
    } else media.pause();
  }, []);

  const testId = kind === 'replay' ? 'replay-player' : 'clip-player';
  return (
    <div className="card player" data-testid={testId} data-state={player}>
      <audio ref={mediaRef} preload="auto" data-testid="player-media" />
      <div className="player-main">
        <button
          type="button"
          className="btn-play"
          onClick={togglePlay}
          aria-label={playing ? 'Pause' : 'Play'}
          data-testid="play-button"
          data-playing={playing ? 'true' : 'false'}
        >
          <PlayIcon playing={playing} />
        </button>
        <div className="player-info">
          <div className="player-row">
            <span className="live-indicator is-replay" data-testid="live-indicator" data-state="replay">
              {kind === 'replay' ? 'Replay' : 'Clip'}
            </span>
            <StatusPill state={player} text={PLAYER_TEXT[player]} />
          </div>
          {title && <div className="player-title">{title}</div>}
        </div>
      </div>
      <div className="seek">
        <input
          type="range"
          className="seek-bar"
          min={0}
          max={Math.max(timing.duration, 0.001)}
          step={0.1}
          value={Math.min(timing.currentTime, timing.duration || 0)}
          onChange={(e) => {
            const t = Number(e.target.value);
            if (mediaRef.current && Number.isFinite(t)) mediaRef.current.currentTime = t;
            setTiming((prev) => ({ ...prev, currentTime: t }));
          }}
          aria-label="Seek"
          data-testid="seek-bar"
        />
        <div className="seek-times small muted">
          <span data-testid="position">{fmtTime(timing.currentTime)}</span>
          <span>{fmtTime(timing.duration)}</span>
        </div>
      </div>
      {playerError && player === 'reconnecting' && (
        <p className="muted small player-note" title={playerError}>
          Loading the audio, retrying…
        </p>
      )}
    </div>
  );
}
