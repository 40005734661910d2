/**
 * Audio players (this module is the lazy chunk's entry: it is most of the bundle because of hls.js).
 * - LivePlayer: LL-HLS with hls.js in low-latency mode, 0.8 s behind the live edge, latency and
 *   "behind live" display; native HLS where hls.js is unsupported (Safari/iOS).
 * - VodPlayer: replays and clips (seek bar).
 * Listen tokens go in the `x-tribune-listen-token` header of every hls.js request (`?token=` for
 * native HLS, which cannot set headers): see playback/engine.ts.
 */
import { useCallback, useRef, type MutableRefObject } from 'react';
import { StatusPill } from './components.js';
import { usePlayerEngine } from './playback/engine.js';
import { PLAYER_TEXT, PlayerFrame } from './playback/PlayerFrame.js';
import { fmtTime, seekableEnd, useTiming } from './playback/timing.js';

export { fmtTime };

/** More than this many seconds behind the live edge counts as "behind live". */
const BEHIND_THRESHOLD_S = 1.5;

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
    <PlayerFrame
      testId="live-player"
      player={player}
      mediaRef={mediaRef}
      playing={playing}
      onTogglePlay={togglePlay}
      playerError={playerError}
      retryText="Waiting for the audio, retrying…"
      info={
        <>
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
        </>
      }
    />
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
    <PlayerFrame
      testId={testId}
      player={player}
      mediaRef={mediaRef}
      playing={playing}
      onTogglePlay={togglePlay}
      playerError={playerError}
      retryText="Loading the audio, retrying…"
      info={
        <>
          <div className="player-row">
            <span className="live-indicator is-replay" data-testid="live-indicator" data-state="replay">
              {kind === 'replay' ? 'Replay' : 'Clip'}
            </span>
            <StatusPill state={player} text={PLAYER_TEXT[player]} />
          </div>
          {title && <div className="player-title">{title}</div>}
        </>
      }
    >
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
    </PlayerFrame>
  );
}
