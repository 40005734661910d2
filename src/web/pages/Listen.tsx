import Hls, { type ErrorData, type HlsConfig } from 'hls.js';
import { useCallback, useEffect, useRef, useState } from 'react';
import { ErrorBox, PlayIcon, SpeakerList, StatusPill } from '../components.js';
import { useSpace } from '../hooks.js';
import { Link } from '../router.js';
import { exposeHooks, resetHooks } from '../testHooks.js';

/** More than this many seconds behind the live edge counts as "behind live". */
const BEHIND_THRESHOLD_S = 1.5;
const UI_TICK_MS = 250;

const HLS_CONFIG: Partial<HlsConfig> = {
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

type PlayerState = 'loading' | 'playing' | 'paused' | 'buffering' | 'reconnecting' | 'ended' | 'error';

const PLAYER_TEXT: Record<PlayerState, string> = {
  loading: 'Loading…',
  playing: 'Playing',
  paused: 'Paused',
  buffering: 'Buffering…',
  reconnecting: 'Reconnecting…',
  ended: 'Finished',
  error: 'Playback error',
};

const INDICATOR_TEXT = { live: 'LIVE', behind: 'Behind live', replay: 'Replay', offline: 'Offline' } as const;

interface Timing {
  /** Seconds behind the live edge (null when unknown or not live). */
  latency: number | null;
  /** Seconds between the wall clock and EXT-X-PROGRAM-DATE-TIME of what is playing. */
  glassLatency: number | null;
  target: number | null;
  currentTime: number;
  duration: number;
}

type MediaWithStartDate = HTMLMediaElement & { getStartDate?: () => Date };

function seekableEnd(media: HTMLMediaElement): number | null {
  const r = media.seekable;
  return r.length > 0 ? r.end(r.length - 1) : null;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '0:00';
  const t = Math.floor(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export function ListenPage({ id }: { id: string }) {
  const { space, error: spaceError } = useSpace(id, 250);
  const mediaRef = useRef<HTMLAudioElement | null>(null);
  const hlsRef = useRef<Hls | null>(null);
  const [url, setUrl] = useState<string | null>(null);
  const [player, setPlayer] = useState<PlayerState>('loading');
  const [playing, setPlaying] = useState(false);
  const [playlistLive, setPlaylistLive] = useState<boolean | null>(null);
  const [playerError, setPlayerError] = useState<string | null>(null);
  const [timing, setTiming] = useState<Timing>({
    latency: null,
    glassLatency: null,
    target: null,
    currentTime: 0,
    duration: 0,
  });

  useEffect(() => {
    resetHooks('listener');
  }, []);

  // Lock the playback URL on first load (polls must not restart the player).
  const playbackUrl = space?.playbackUrl;
  useEffect(() => {
    if (playbackUrl && !url) setUrl(playbackUrl);
  }, [playbackUrl, url]);

  // Player setup: hls.js (MSE) first, native HLS (Safari/iOS) when hls.js is unsupported.
  useEffect(() => {
    const media = mediaRef.current;
    if (!media || !url) return;
    exposeHooks('listener', { media });
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
      const h = new Hls(HLS_CONFIG);
      hls = h;
      hlsRef.current = h;
      exposeHooks('listener', { hls: h });
      h.on(Hls.Events.MANIFEST_PARSED, () => tryPlay());
      h.on(Hls.Events.LEVEL_UPDATED, (_e, data) => setPlaylistLive(data.details.live));
      h.on(Hls.Events.FRAG_BUFFERED, () => {
        retries = 0;
        setPlayerError(null);
      });
      h.on(Hls.Events.ERROR, (_e, data: ErrorData) => {
        if (!data.fatal || disposed) return;
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

    const onNativeError = (): void => {
      if (disposed) return;
      setPlayerError('The stream could not be loaded');
      schedule(() => {
        media.src = url;
        media.load();
        tryPlay();
      });
    };

    if (Hls.isSupported()) {
      createHls();
    } else if (media.canPlayType('application/vnd.apple.mpegurl')) {
      media.addEventListener('error', onNativeError);
      media.addEventListener('loadedmetadata', tryPlay, { once: true });
      media.src = url;
    } else {
      setPlayer('error');
      setPlayerError('This browser cannot play HLS audio.');
    }

    return () => {
      disposed = true;
      clearTimeout(retryTimer);
      media.removeEventListener('error', onNativeError);
      media.removeEventListener('loadedmetadata', tryPlay);
      hls?.destroy();
      hlsRef.current = null;
      media.removeAttribute('src');
      media.load();
    };
  }, [url]);

  // Media element -> player state.
  useEffect(() => {
    const media = mediaRef.current;
    if (!media) return;
    const sync = (e?: Event): void => {
      setPlaying(!media.paused);
      if (e?.type === 'waiting' && !media.paused) setPlayer('buffering');
      else if (media.ended) setPlayer('ended');
      else if (media.paused) setPlayer((p) => (p === 'reconnecting' || p === 'loading' ? p : 'paused'));
      else if (e?.type === 'playing' || e?.type === 'timeupdate') setPlayer('playing');
    };
    const events = ['play', 'playing', 'pause', 'waiting', 'ended', 'timeupdate'];
    events.forEach((ev) => media.addEventListener(ev, sync));
    return () => events.forEach((ev) => media.removeEventListener(ev, sync));
  }, []);

  // Latency / position, ~4x per second.
  useEffect(() => {
    const timer = setInterval(() => {
      const media = mediaRef.current as MediaWithStartDate | null;
      if (!media) return;
      const h = hlsRef.current;
      let latency: number | null = null;
      let glassLatency: number | null = null;
      let target: number | null = null;
      if (h) {
        if (h.media && Number.isFinite(h.latency) && h.latency > 0) latency = h.latency;
        target = h.targetLatency;
        const pd = h.playingDate;
        if (pd) glassLatency = (Date.now() - pd.getTime()) / 1000;
      } else if (media.src) {
        const start = media.getStartDate?.();
        if (start && Number.isFinite(start.getTime())) {
          glassLatency = (Date.now() - (start.getTime() + media.currentTime * 1000)) / 1000;
        }
        const end = seekableEnd(media);
        if (end !== null && media.duration === Infinity) latency = Math.max(0, end - media.currentTime);
      }
      setTiming({
        latency,
        glassLatency,
        target,
        currentTime: media.currentTime,
        duration: Number.isFinite(media.duration) ? media.duration : (seekableEnd(media) ?? 0),
      });
    }, UI_TICK_MS);
    return () => clearInterval(timer);
  }, []);

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
  }, []);

  const isLive = playlistLive ?? space?.state !== 'ended';

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
  }, [goLive, isLive]);

  const behind =
    isLive &&
    (!playing ||
      (timing.latency !== null && timing.latency > Math.max(BEHIND_THRESHOLD_S, (timing.target ?? 0) + 0.5)));
  const indicatorState = !url ? 'offline' : !isLive ? 'replay' : behind ? 'behind' : 'live';
  const canGoLive =
    indicatorState === 'behind' && (player === 'playing' || player === 'paused' || player === 'buffering');
  const notFound = spaceError?.status === 404;
  const title = space?.title ?? (spaceError ? 'Tribune Space' : 'Loading…');
  const seekValue = timing.currentTime;

  return (
    <div className="page">
      <header className="room-head">
        <div className="room-kicker">
          {space &&
            (space.state === 'live' ? (
              <span className="badge badge-live">LIVE</span>
            ) : (
              <span className="badge">REPLAY</span>
            ))}
          <span className="muted small">Listening</span>
        </div>
        <h1 className="room-title">{title}</h1>
      </header>

      {spaceError && !space && (
        <ErrorBox error={spaceError} title={notFound ? 'Space not found' : "Can't reach Tribune"}>
          {notFound ? (
            <Link className="btn btn-small btn-ghost" to="/">
              See live Spaces
            </Link>
          ) : (
            <span className="muted small">Retrying automatically…</span>
          )}
        </ErrorBox>
      )}

      <div className={`card player${url ? '' : ' is-idle'}`}>
        <audio ref={mediaRef} preload="auto" data-testid="player-media" />
        <div className="player-main">
          <button
            type="button"
            className="btn-play"
            onClick={togglePlay}
            disabled={!url}
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
              {url ? (
                <StatusPill state={player} text={PLAYER_TEXT[player]} />
              ) : (
                <StatusPill
                  state={spaceError ? 'error' : 'loading'}
                  text={spaceError ? 'Unavailable' : 'Loading…'}
                />
              )}
              <span
                className="latency"
                data-testid="latency"
                data-latency={isLive && timing.latency !== null ? timing.latency.toFixed(3) : ''}
                title={
                  timing.glassLatency !== null
                    ? `Behind the wall clock (program date-time): ${timing.glassLatency.toFixed(2)} s`
                    : undefined
                }
              >
                {isLive ? (
                  <>
                    <span className="muted">Latency</span>{' '}
                    <strong>{timing.latency !== null ? `${timing.latency.toFixed(1)} s` : '—'}</strong>
                  </>
                ) : (
                  <span className="muted">On demand</span>
                )}
              </span>
            </div>
          </div>
        </div>
        {!isLive && (
          <div className="seek">
            <input
              type="range"
              className="seek-bar"
              min={0}
              max={Math.max(timing.duration, 0.001)}
              step={0.1}
              value={Math.min(seekValue, timing.duration || 0)}
              onChange={(e) => {
                const t = Number(e.target.value);
                if (mediaRef.current && Number.isFinite(t)) mediaRef.current.currentTime = t;
                setTiming((prev) => ({ ...prev, currentTime: t }));
              }}
              aria-label="Seek"
              data-testid="seek-bar"
            />
            <div className="seek-times small muted">
              <span>{fmtTime(seekValue)}</span>
              <span>{fmtTime(timing.duration)}</span>
            </div>
          </div>
        )}
        {playerError && player === 'reconnecting' && (
          <p className="muted small player-note" title={playerError}>
            Waiting for the stream, retrying…
          </p>
        )}
      </div>

      <section className="section">
        <div className="section-head">
          <h2>{isLive ? 'On stage' : 'Speakers'}</h2>
          {space && <span className="count">{space.speakers.length}</span>}
        </div>
        <SpeakerList
          speakers={space?.speakers ?? []}
          emptyText={space?.state === 'ended' ? 'This Space has ended; the replay is above.' : undefined}
        />
      </section>
    </div>
  );
}
