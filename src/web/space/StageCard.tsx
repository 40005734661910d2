/**
 * On stage (host, co-hosts, speakers): the self-mute state (the server's word with an optimistic
 * local override) and the stage card: WHIP status, mic errors, host-muted notice, Mute, Leave stage.
 * The notices and the mute button are shared with the green room (GreenRoom.tsx).
 */
import { useEffect, useState, type Dispatch, type SetStateAction } from 'react';
import { client, friendlyMessage, toApiError, type MeInSpace, type Role } from '../api.js';
import { ErrorBox, MicIcon, Notice, SmallButton, StatusPill } from '../components.js';
import type { StageState } from '../stage.js';

/** Mute: the server's word (me) with an optimistic local override while a call is in flight. */
export function useSelfMute(
  spaceId: string,
  me: MeInSpace | null,
  setMe: Dispatch<SetStateAction<MeInSpace | null>>,
) {
  const serverMuted = !!me && (me.selfMuted || me.hostMuted);
  const [localMuted, setLocalMuted] = useState<boolean | null>(null);
  const [muteError, setMuteError] = useState<string | null>(null);
  useEffect(() => setLocalMuted(null), [me?.selfMuted, me?.hostMuted]);
  const muted = localMuted ?? serverMuted;

  const toggleMute = async (): Promise<void> => {
    const target = !muted;
    setMuteError(null);
    if (target) setLocalMuted(true); // mute at once, locally
    try {
      await client.muteSelf(spaceId, target);
      setLocalMuted(target);
      setMe((m) => (m ? { ...m, selfMuted: target, hostMuted: target ? m.hostMuted : false } : m));
    } catch (err) {
      setLocalMuted(null);
      const e = toApiError(err);
      setMuteError(e.code === 'FORCE_MUTED' ? 'The host muted you' : friendlyMessage(e));
    }
  };

  return { muted, muteError, toggleMute };
}

const STAGE_TEXT: Record<StageState['phase'], string> = {
  idle: 'Getting ready…',
  mic: 'Waiting for the microphone…',
  connecting: 'Connecting…',
  connected: "You're on stage",
  reconnecting: 'Reconnecting…',
  error: 'Microphone problem',
  closed: 'Off stage',
};

/** What the page passes down to drive the stage card (WHIP state and mute). */
export interface StageControls {
  stage: StageState;
  onRetryMic: () => void;
  onEnableAudio: () => void;
  muted: boolean;
  muteError: string | null;
  onToggleMute: () => void;
}

/** What stage members see about their session: mic errors, retries, mutes, autoplay. */
export function StageNotices({
  me,
  stage,
  onRetryMic,
  onEnableAudio,
  muteError,
}: Pick<StageControls, 'stage' | 'onRetryMic' | 'onEnableAudio' | 'muteError'> & { me: MeInSpace | null }) {
  return (
    <>
      {stage.phase === 'error' && stage.error && (
        <ErrorBox error={stage.error} title="Can't use your microphone">
          <SmallButton onClick={onRetryMic} testId="mic-retry">
            Try again
          </SmallButton>
        </ErrorBox>
      )}
      {stage.phase === 'reconnecting' && stage.error && (
        <p className="muted small tight" data-testid="stage-retrying">
          {friendlyMessage(stage.error)}
        </p>
      )}
      {me?.hostMuted && (
        <Notice testId="host-muted-notice">
          The host muted you.
          {me.unmuteLocked ? " You can't unmute until they allow it." : ' You can unmute when you are ready.'}
        </Notice>
      )}
      {muteError && !me?.hostMuted && <Notice testId="host-muted-notice">{muteError}</Notice>}
      {stage.autoplayBlocked && (
        <Notice
          actions={
            <SmallButton onClick={onEnableAudio} testId="enable-audio">
              Enable audio
            </SmallButton>
          }
        >
          Tap to hear the other speakers.
        </Notice>
      )}
    </>
  );
}

export function MuteButton({ muted, onToggleMute }: Pick<StageControls, 'muted' | 'onToggleMute'>) {
  return (
    <button
      type="button"
      className={`btn btn-round ${muted ? 'is-muted' : 'is-live'}`}
      onClick={onToggleMute}
      aria-pressed={muted}
      data-testid="mute-button"
      data-muted={muted ? 'true' : 'false'}
    >
      <MicIcon off={muted} />
      <span>{muted ? 'Unmute' : 'Mute'}</span>
    </button>
  );
}

export function StageCard({
  role,
  me,
  stage,
  onRetryMic,
  onEnableAudio,
  muted,
  muteError,
  onToggleMute,
  busy,
  onLeaveStage,
}: StageControls & {
  role: Role | null;
  me: MeInSpace | null;
  busy: boolean;
  onLeaveStage: () => void;
}) {
  return (
    <div className="card stage-card" data-testid="stage-card" data-phase={stage.phase}>
      <div className="stage-top">
        <StatusPill state={stage.phase} text={STAGE_TEXT[stage.phase]} />
        <span className="muted small">{roleName(role)}</span>
      </div>
      <StageNotices
        me={me}
        stage={stage}
        onRetryMic={onRetryMic}
        onEnableAudio={onEnableAudio}
        muteError={muteError}
      />
      <div className="controls">
        <MuteButton muted={muted} onToggleMute={onToggleMute} />
        {role !== 'host' && (
          <button
            type="button"
            className="btn btn-ghost"
            disabled={busy}
            onClick={onLeaveStage}
            data-testid="leave-stage"
          >
            Leave stage
          </button>
        )}
      </div>
    </div>
  );
}

export const roleName = (role: Role | null): string =>
  role === 'host' ? 'Host' : role === 'cohost' ? 'Co-host' : 'Speaker';
