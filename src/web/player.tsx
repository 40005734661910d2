/**
 * Audio players (this module is the lazy chunk's entry: it is most of the bundle because of hls.js).
 * - LivePlayer: the edge's CMAF stream through MediaSource, ~0.2-0.3 s behind the newest audio, where
 *   the browser supports it; else LL-HLS with hls.js in low-latency mode, 0.8 s behind the live
 *   edge, or native HLS where hls.js is unsupported (Safari/iOS). Latency and "behind live" display.
 * - VodPlayer: replays and clips (seek bar).
 * Listen tokens go in the `x-tribune-listen-token` header of every hls.js request (`?token=` for
 * native HLS, which cannot set headers): see playback/engine.ts.
 */
import { useCallback, useRef, useState, type MutableRefObject } from 'react';
import { StatusPill } from './components.js';
import { usePlayerEngine } from './playback/engine.js';
import { LiveFrame } from './playback/LiveFrame.js';
import { JUMP_S, TARGET_S } from './playback/mseSink.js';
import { PLAYER_TEXT, PlayerFrame } from './playback/PlayerFrame.js';
import { choosePlaybackMode, useStreamEngine } from './playback/stream.js';
import { fmtTime, seekableEnd, useTiming } from './playback/timing.js';

export { fmtTime };

export interface LivePlayerProps {
  url: string;
  token: string | null;
  onAuthError?: () => void;
  /** The edge's admission token (sent with every media request); null: none. */
  admission?: string | null;
  /** The edge refused the admission (expired, unknown there): get a fresh one. */
  onAdmissionError?: () => void;
}

/**
 * The listener's live player: the edge's low-latency CMAF stream through MediaSource where the
 * browser plays Opus in MP4 (playback/stream.ts), else LL-HLS (hls.js, or native HLS on iOS). Forced
 * to LL-HLS with `?playback=llhls` on the page URL, and falls back by itself when the edge (or a
 * proxy in front of it) does not serve the stream.
 */
export function LivePlayer(props: LivePlayerProps) {
  const [mode, setMode] = useState(choosePlaybackMode);
  const fallBack = useCallback(() => setMode('llhls'), []);
  return mode === 'stream' ? (
    <StreamLivePlayer {...props} onUnsupported={fallBack} />
  ) : (
    <HlsLivePlayer {...props} />
  );
}

const NO_HLS = { current: null };

function StreamLivePlayer({
  url,
  token,
  onAuthError,
  admission,
  onAdmissionError,
  onUnsupported,
}: LivePlayerProps & { onUnsupported: () => void }) {
  const mediaRef = useRef<HTMLAudioElement | null>(null);
  const { player, playing, playerError } = useStreamEngine(mediaRef, {
    url,
    token,
    onAuthError,
    onUnsupported,
    admission,
    onAdmissionError,
  });
  const [timing] = useTiming(mediaRef, NO_HLS, true);

  const goLive = useCallback(() => {
    const media = mediaRef.current;
    if (!media) return;
    const b = media.buffered;
    if (b.length) media.currentTime = Math.max(b.start(b.length - 1), b.end(b.length - 1) - TARGET_S);
    void media.play().catch(() => undefined);
  }, []);

  const togglePlay = useCallback(() => {
    const media = mediaRef.current;
    if (!media) return;
    if (!media.paused) media.pause();
    else {
      // Resuming after a pause: back to the live edge (the stream keeps arriving while paused).
      const b = media.buffered;
      if (b.length && b.end(b.length - 1) - media.currentTime > JUMP_S) goLive();
      else void media.play().catch(() => undefined);
    }
  }, [goLive]);

  return (
    <LiveFrame
      mediaRef={mediaRef}
      player={player}
      playing={playing}
      playerError={playerError}
      timing={timing}
      isLive
      onTogglePlay={togglePlay}
      onGoLive={goLive}
    />
  );
}

function HlsLivePlayer({ url, token, onAuthError, admission, onAdmissionError }: LivePlayerProps) {
  const mediaRef = useRef<HTMLAudioElement | null>(null);
  const { hlsRef, player, playing, playlistLive, playerError } = usePlayerEngine(mediaRef, {
    url,
    live: true,
    kind: 'live',
    token,
    onAuthError,
    admission,
    onAdmissionError,
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

  return (
    <LiveFrame
      mediaRef={mediaRef}
      player={player}
      playing={playing}
      playerError={playerError}
      timing={timing}
      isLive={isLive}
      onTogglePlay={togglePlay}
      onGoLive={goLive}
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
