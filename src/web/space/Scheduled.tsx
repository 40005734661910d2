/**
 * A scheduled Space: countdown and date; the host can start it now (and share the speaker invite
 * link), everyone else can subscribe (members-only Spaces ask signed-out visitors to sign in).
 * The host, co-hosts and speakers also get the green room (GreenRoom.tsx); listeners wait here.
 */
import { useState, type ReactNode } from 'react';
import {
  client,
  here,
  signInPath,
  toApiError,
  type ApiError,
  type MeInSpace,
  type Participants,
  type SpaceView,
} from '../api.js';
import { ErrorBox, formatCountdown, formatDate, MicIcon, useNow } from '../components.js';
import { SubscribeButton } from '../pages/Home.js';
import { Link } from '../router.js';
import { GreenRoomCard, type GreenRoomControls } from './GreenRoom.js';
import { InviteLinkBox } from './HostPanel.js';
import { ScheduledShare } from '../social/ShareTools.js';

/** The stage's side of a scheduled Space (host, co-hosts, speakers): the green room. */
export interface ScheduledStage {
  me: MeInSpace | null;
  participants: Participants | null;
  selfId: string | undefined;
  controls: GreenRoomControls;
}

export function ScheduledView({
  space,
  isHost,
  needSignIn,
  onSpace,
  stage,
  lobby,
}: {
  space: SpaceView;
  isHost: boolean;
  needSignIn: boolean;
  onSpace: (v: SpaceView) => void;
  /** Present for the Space's stage members. */
  stage?: ScheduledStage | null;
  /** A listener's place in the lobby (admitted, or in line), from the edge. */
  lobby?: ReactNode;
}) {
  const now = useNow(1000);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const at = space.scheduledFor ? new Date(space.scheduledFor).getTime() : NaN;

  const start = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      onSpace(await client.start(space.id));
    } catch (err) {
      setError(toApiError(err));
      setBusy(false);
    }
  };

  return (
    <>
      <div className="card scheduled-card">
        <span className="muted small">Starts</span>
        <div className="countdown" data-testid="countdown">
          {Number.isFinite(at) ? formatCountdown(at - now) : 'Soon'}
        </div>
        {space.scheduledFor && (
          <div className="muted" data-testid="scheduled-for">
            {formatDate(space.scheduledFor)}
          </div>
        )}
        <div className="row">
          {isHost ? (
            <button
              type="button"
              className="btn btn-primary"
              onClick={() => void start()}
              disabled={busy}
              data-testid="start-now"
            >
              <MicIcon />
              {busy ? 'Starting…' : 'Start now'}
            </button>
          ) : (
            <SubscribeButton space={space} onChange={onSpace} className="btn btn-primary" />
          )}
        </div>
        {!isHost && needSignIn && (
          <>
            <p className="muted small tight">This Space is for members: sign in to listen when it starts.</p>
            <Link
              className="btn btn-secondary btn-small"
              to={signInPath(here())}
              data-testid="signin-to-listen"
            >
              Sign in to listen
            </Link>
          </>
        )}
        {!isHost && !needSignIn && !stage && (
          <p className="muted small tight">
            Stay on this page and you'll hear it the moment it starts. Subscribe to get a notification.
          </p>
        )}
        {!isHost && !stage && lobby}
        {!isHost && stage && (
          <p className="muted small tight">
            You're on stage: stay on this page and you go live the moment the host starts.
          </p>
        )}
        {error && <ErrorBox error={error} title="Couldn't start the Space" />}
        <ScheduledShare space={space} />
      </div>
      {stage && (
        <GreenRoomCard
          role={stage.me?.role ?? (isHost ? 'host' : null)}
          me={stage.me}
          participants={stage.participants}
          selfId={stage.selfId}
          controls={stage.controls}
        />
      )}
      {isHost && (
        <div className="card panel-card">
          <InviteLinkBox spaceId={space.id} />
        </div>
      )}
    </>
  );
}
