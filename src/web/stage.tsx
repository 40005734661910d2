import { useEffect, type ReactNode } from 'react';
import type { SpaceView } from './api.js';
import { MicIcon, SmallButton, SpeakerList } from './components.js';
import { usePublisher, useSpace, type PublisherState } from './hooks.js';
import { resetHooks } from './testHooks.js';

/** Shared wiring of the host and speaker pages: polls the Space, owns the publisher, resets the test hooks. */
export function useStage(id: string, role: 'host' | 'speaker') {
  const { space, error: spaceError } = useSpace(id, 250);
  const publisher = usePublisher(role);

  useEffect(() => {
    resetHooks(role);
  }, [role]);

  return { space, spaceError, ...publisher };
}

export function ReconnectButton({ onReconnect, label }: { onReconnect: () => Promise<void>; label: string }) {
  return (
    <SmallButton onClick={() => void onReconnect()} testId="reconnect-button">
      {label}
    </SmallButton>
  );
}

function Notice({ text, children }: { text: string; children: ReactNode }) {
  return (
    <div className="notice">
      <span>{text}</span>
      {children}
    </div>
  );
}

/** The "connection dropped" and "enable audio" notices under the room header. */
export function StageNotices({
  state,
  hideDropped = false,
  onReconnect,
  onEnableAudio,
}: {
  state: PublisherState;
  hideDropped?: boolean;
  onReconnect: () => Promise<void>;
  onEnableAudio: () => Promise<void>;
}) {
  return (
    <>
      {state.phase === 'failed' && !state.error && !hideDropped && (
        <Notice text="The audio connection dropped.">
          <ReconnectButton onReconnect={onReconnect} label="Reconnect" />
        </Notice>
      )}
      {state.autoplayBlocked && (
        <Notice text="Tap to hear the other speakers.">
          <SmallButton onClick={() => void onEnableAudio()} testId="enable-audio">
            Enable audio
          </SmallButton>
        </Notice>
      )}
    </>
  );
}

/** The "On stage" section: speaker count and list. */
export function OnStageSection({ space, selfId }: { space: SpaceView | null; selfId: string | null }) {
  return (
    <section className="section">
      <div className="section-head">
        <h2>On stage</h2>
        {space && <span className="count">{space.speakers.length}</span>}
      </div>
      <SpeakerList speakers={space?.speakers ?? []} selfId={selfId} />
    </section>
  );
}

/** The bottom control bar: the mute toggle followed by the page's own action (end / leave). */
export function StageControls({
  muted,
  onToggleMute,
  muteDisabled,
  children,
}: {
  muted: boolean;
  onToggleMute: () => void;
  muteDisabled?: boolean;
  children: ReactNode;
}) {
  return (
    <div className="controls">
      <button
        type="button"
        className={`btn btn-round ${muted ? 'is-muted' : ''}`}
        onClick={onToggleMute}
        disabled={muteDisabled}
        aria-pressed={muted}
        data-testid="mute-button"
        data-muted={muted ? 'true' : 'false'}
      >
        <MicIcon off={muted} />
        <span>{muted ? 'Unmute' : 'Mute'}</span>
      </button>
      {children}
    </div>
  );
}
