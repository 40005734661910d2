/**
 * The card every player shares: the <audio> element, the big Play/Pause button, an info column
 * (given by the player), extra rows below (e.g. the seek bar), the volume and the "retrying" note.
 */
import type { MutableRefObject, ReactNode } from 'react';
import { PlayIcon } from '../components.js';
import type { PlayerState } from '../testHooks.js';
import { VolumeControl } from './Volume.js';

export const PLAYER_TEXT: Record<PlayerState, string> = {
  loading: 'Loading…',
  playing: 'Playing',
  paused: 'Paused',
  buffering: 'Buffering…',
  reconnecting: 'Reconnecting…',
  ended: 'Finished',
  error: 'Playback error',
};

export function PlayerFrame({
  testId,
  player,
  mediaRef,
  playing,
  onTogglePlay,
  info,
  children,
  playerError,
  retryText,
}: {
  testId: string;
  player: PlayerState;
  mediaRef: MutableRefObject<HTMLAudioElement | null>;
  playing: boolean;
  onTogglePlay: () => void;
  /** The column next to the Play button. */
  info: ReactNode;
  /** Rows below the main line. */
  children?: ReactNode;
  playerError: string | null;
  /** Shown while reconnecting after an error. */
  retryText: string;
}) {
  return (
    <div className="card player" data-testid={testId} data-state={player}>
      <audio ref={mediaRef} preload="auto" data-testid="player-media" />
      <div className="player-main">
        <button
          type="button"
          className="btn-play"
          onClick={onTogglePlay}
          aria-label={playing ? 'Pause' : 'Play'}
          data-testid="play-button"
          data-playing={playing ? 'true' : 'false'}
        >
          <PlayIcon playing={playing} />
        </button>
        <div className="player-info">{info}</div>
      </div>
      {children}
      <VolumeControl mediaRef={mediaRef} />
      {playerError && player === 'reconnecting' && (
        <p className="muted small player-note" title={playerError}>
          {retryText}
        </p>
      )}
    </div>
  );
}
