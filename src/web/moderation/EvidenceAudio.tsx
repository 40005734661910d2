/**
 * The evidence copy's player (lazy: it pulls in the app's playback engine and hls.js, as replays
 * and clips do): the kept range as a VOD (fMP4/Opus HLS), with a timeline on which the reported
 * range is marked, and a button to play from the start of the reported range.
 */
import { useCallback, useRef } from 'react';
import { StatusPill } from '../components.js';
import { usePlayerEngine } from '../playback/engine.js';
import { PLAYER_TEXT, PlayerFrame } from '../playback/PlayerFrame.js';
import { useTiming } from '../playback/timing.js';
import { fmtSec } from './shared.js';

export interface EvidenceAudioProps {
  url: string;
  /** The reported range, seconds into the copy. */
  markStart: number;
  markEnd: number;
  /** The copy's length before the player knows it (at least the reported range). */
  fallbackDuration: number;
}

export default function EvidenceAudio({ url, markStart, markEnd, fallbackDuration }: EvidenceAudioProps) {
  const mediaRef = useRef<HTMLAudioElement | null>(null);
  const { hlsRef, player, playing, playerError } = usePlayerEngine(mediaRef, {
    url,
    live: false,
    kind: 'clip',
    token: null,
  });
  const [timing, setTiming] = useTiming(mediaRef, hlsRef, false);
  const duration =
    timing.duration > 0 && Number.isFinite(timing.duration) ? timing.duration : fallbackDuration;
  const pct = (s: number): number => (duration > 0 ? Math.min(100, Math.max(0, (s / duration) * 100)) : 0);

  const seek = useCallback(
    (t: number) => {
      const media = mediaRef.current;
      if (media && Number.isFinite(t)) media.currentTime = t;
      setTiming((prev) => ({ ...prev, currentTime: t }));
    },
    [setTiming],
  );

  const togglePlay = useCallback(() => {
    const media = mediaRef.current;
    if (!media) return;
    if (media.paused) {
      if (media.ended) media.currentTime = 0;
      void media.play().catch(() => undefined);
    } else media.pause();
  }, []);

  const playReported = useCallback(() => {
    const media = mediaRef.current;
    if (!media) return;
    seek(markStart);
    void media.play().catch(() => undefined);
  }, [markStart, seek]);

  const inRange = timing.currentTime >= markStart && timing.currentTime <= markEnd;

  return (
    <PlayerFrame
      testId="evidence-player"
      player={player}
      mediaRef={mediaRef}
      playing={playing}
      onTogglePlay={togglePlay}
      playerError={playerError}
      retryText="Loading the evidence, retrying…"
      info={
        <div className="player-row">
          <span className="live-indicator is-replay" data-state="evidence">
            Evidence
          </span>
          <StatusPill state={player} text={PLAYER_TEXT[player]} />
          {inRange && (
            <span className="badge mod-badge-range" data-testid="in-reported-range">
              In reported range
            </span>
          )}
        </div>
      }
    >
      <div className="seek mod-timeline">
        <div className="mod-timeline-track">
          <div
            className="mod-timeline-mark"
            style={{ left: `${pct(markStart)}%`, width: `${Math.max(0.5, pct(markEnd) - pct(markStart))}%` }}
            data-testid="reported-range-mark"
            aria-hidden="true"
          />
          <input
            type="range"
            className="seek-bar"
            min={0}
            max={Math.max(duration, 0.001)}
            step={0.1}
            value={Math.min(timing.currentTime, duration || 0)}
            onChange={(e) => seek(Number(e.target.value))}
            aria-label="Evidence position"
            aria-valuetext={`${fmtSec(timing.currentTime)} of ${fmtSec(duration)}`}
            data-testid="evidence-seek"
          />
        </div>
        <div className="seek-times small muted">
          <span data-testid="evidence-position">{fmtSec(timing.currentTime)}</span>
          <span>{fmtSec(duration)}</span>
        </div>
        <div>
          <button type="button" className="btn btn-small btn-secondary" onClick={playReported}>
            Play the reported range
          </button>
        </div>
      </div>
    </PlayerFrame>
  );
}
