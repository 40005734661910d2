/**
 * The live player's card, shared by the stream and LL-HLS engines: LIVE / Behind live (with a
 * "Go live" button), the player state and the delay behind the live edge.
 */
import type { MutableRefObject } from 'react';
import { StatusPill } from '../components.js';
import type { PlayerState } from '../testHooks.js';
import { PLAYER_TEXT, PlayerFrame } from './PlayerFrame.js';
import type { Timing } from './timing.js';

/** More than this many seconds behind the live edge counts as "behind live". */
const BEHIND_THRESHOLD_S = 1.5;

const INDICATOR_TEXT = { live: 'LIVE', behind: 'Behind live', replay: 'Replay', offline: 'Offline' } as const;

/** What both live players show: LIVE / Behind live (with "Go live"), the state and the delay. */
export function LiveFrame({
  mediaRef,
  player,
  playing,
  playerError,
  timing,
  isLive,
  onTogglePlay,
  onGoLive,
}: {
  mediaRef: MutableRefObject<HTMLAudioElement | null>;
  player: PlayerState;
  playing: boolean;
  playerError: string | null;
  timing: Timing;
  isLive: boolean;
  onTogglePlay: () => void;
  onGoLive: () => void;
}) {
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
      onTogglePlay={onTogglePlay}
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
                onClick={onGoLive}
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
