/**
 * The green room card on a scheduled Space, for its host, co-hosts and speakers: join the stage
 * before the start (the same WHIP session the live stage then keeps), hear each other through the
 * mix-minus, mute and unmute. Listeners hear none of it. The state is announced in a live region
 * ("In the green room, mic on"); hosts and co-hosts also see who else is in.
 */
import type { MeInSpace, Participants, Role } from '../api.js';
import { StrokeIcon } from '../components.js';
import type { StagePhase } from '../testHooks.js';
import { MuteButton, roleName, StageNotices, type StageControls } from './StageCard.js';

/** What the page passes down to drive the green room card. */
export interface GreenRoomControls extends StageControls {
  joined: boolean;
  onToggle: () => void;
}

/** The green room's state in words (shown, and read out by screen readers as it changes). */
function announcement(joined: boolean, phase: StagePhase, muted: boolean): string {
  if (!joined) return 'Not in the green room';
  switch (phase) {
    case 'connected':
      return `In the green room, ${muted ? 'muted' : 'mic on'}`;
    case 'reconnecting':
      return 'Reconnecting to the green room…';
    case 'error':
      return 'Microphone problem: the green room cannot hear you';
    default:
      return 'Joining the green room…';
  }
}

export function GreenRoomCard({
  role,
  me,
  participants,
  selfId,
  controls,
}: {
  role: Role | null;
  me: MeInSpace | null;
  /** Hosts and co-hosts only: who else is connected. */
  participants: Participants | null;
  selfId: string | undefined;
  controls: GreenRoomControls;
}) {
  const { joined, stage, muted } = controls;
  const others = (participants?.members ?? []).filter(
    (m) => m.connected && !m.blocked && m.user.id !== selfId && m.role !== 'listener',
  );
  const phase = joined ? stage.phase : 'closed';
  return (
    <section
      className="card stage-card green-room-card"
      data-testid="green-room-card"
      data-joined={joined ? 'true' : 'false'}
      data-phase={phase}
      aria-labelledby="green-room-title"
    >
      <div className="stage-top">
        <h2 id="green-room-title" className="green-room-title">
          Green room
        </h2>
        <span className="muted small">{roleName(role)}</span>
      </div>
      <p className="muted small tight">
        Check your audio with the other speakers before the start. Listeners hear nothing until the host
        starts the Space; then you go live without reconnecting.
      </p>
      <p
        className={`status status-${phase} green-room-status`}
        role="status"
        aria-live="polite"
        data-testid="green-room-status"
      >
        <span className="dot" aria-hidden="true" />
        {announcement(joined, phase, muted)}
      </p>
      {joined && (
        <StageNotices
          me={me}
          stage={stage}
          onRetryMic={controls.onRetryMic}
          onEnableAudio={controls.onEnableAudio}
          muteError={controls.muteError}
        />
      )}
      {participants && (
        <p className="muted small tight" data-testid="green-room-others">
          {others.length === 0
            ? 'Nobody else is in the green room yet.'
            : `Also here: ${others.map((m) => `${m.user.displayName} (${roleName(m.role)})`).join(', ')}`}
        </p>
      )}
      <div className="controls">
        <button
          type="button"
          className={`btn green-room-join ${joined ? 'btn-secondary' : 'btn-primary'}`}
          onClick={controls.onToggle}
          aria-pressed={joined}
          data-testid="green-room-join"
        >
          {joined && (
            <StrokeIcon size={20} strokeWidth={2.5} roundJoins>
              <path d="M5 12.5l4.5 4.5L19 7.5" />
            </StrokeIcon>
          )}
          Join the green room
        </button>
        {joined && <MuteButton muted={muted} onToggleMute={controls.onToggleMute} />}
      </div>
      {joined && (
        <p className="muted small tight">Press &ldquo;Join the green room&rdquo; again to leave it.</p>
      )}
    </section>
  );
}
