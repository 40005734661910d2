import { useEffect, useRef, useState } from 'react';
import { ApiError, endSpace, loadHostToken, loadInviteUrl, loadName } from '../api.js';
import { absoluteUrl, ErrorBox, ShareLink, StatusPill } from '../components.js';
import { Link } from '../router.js';
import { OnStageSection, ReconnectButton, StageControls, StageNotices, useStage } from '../stage.js';

export function HostPage({ id }: { id: string }) {
  const [token] = useState(() => loadHostToken(id));
  const [inviteUrl] = useState(() => loadInviteUrl(id));
  const { space, spaceError, state, start, stop, reconnect, toggleMute, enableAudio } = useStage(id, 'host');
  const [ending, setEnding] = useState(false);
  const [ended, setEnded] = useState(false);
  const [endError, setEndError] = useState<ApiError | null>(null);
  const started = useRef(false);

  // Go on stage right away (the host arrived here by clicking "Start a Space").
  useEffect(() => {
    if (!token || started.current) return;
    started.current = true;
    void start({ spaceId: id, token, name: loadName() || 'Host' });
  }, [id, token, start]);

  const spaceEnded = ended || space?.state === 'ended';

  // The Space ended elsewhere (another tab, or the server): leave the stage.
  useEffect(() => {
    if (space?.state === 'ended' && state.phase !== 'closed' && state.phase !== 'idle') void stop();
  }, [space?.state, state.phase, stop]);

  const onEnd = async (): Promise<void> => {
    if (!token || ending) return;
    setEnding(true);
    setEndError(null);
    try {
      await endSpace(id, token);
      setEnded(true);
      await stop();
    } catch (err) {
      setEndError(err instanceof ApiError ? err : new ApiError('NETWORK', 'Could not end the Space', 0));
    } finally {
      setEnding(false);
    }
  };

  const listenUrl = absoluteUrl(`/listen/${encodeURIComponent(id)}`);
  const title = space?.title ?? (spaceError ? 'Space' : 'Loading…');

  if (!token) {
    return (
      <div className="page">
        <ErrorBox
          error={{
            code: 'NO_HOST_TOKEN',
            message:
              "This device doesn't have the host key for this Space. Only the browser that started it can host.",
          }}
          title="You're not the host here"
        >
          <Link className="btn btn-secondary" to={`/listen/${encodeURIComponent(id)}`}>
            Listen instead
          </Link>
          <Link className="btn btn-ghost" to="/">
            Home
          </Link>
        </ErrorBox>
      </div>
    );
  }

  const onStage = state.phase !== 'idle' && state.phase !== 'error' && state.phase !== 'closed';

  return (
    <div className="page">
      <header className="room-head">
        <div className="room-kicker">
          {spaceEnded ? <span className="badge">ENDED</span> : <span className="badge badge-live">LIVE</span>}
          <span className="muted small">You're hosting</span>
        </div>
        <h1 className="room-title">{title}</h1>
        <StatusPill
          state={spaceEnded ? 'ended' : state.phase}
          text={spaceEnded ? 'Space ended' : undefined}
        />
      </header>

      {spaceError && spaceError.status === 404 && <ErrorBox error={spaceError} title="Space not found" />}
      {state.error && !spaceEnded && (
        <ErrorBox
          error={state.error}
          title={state.phase === 'failed' ? 'Connection problem' : "Couldn't go on stage"}
        >
          {(state.phase === 'failed' || state.phase === 'error') && (
            <ReconnectButton onReconnect={reconnect} label="Try again" />
          )}
        </ErrorBox>
      )}
      <StageNotices
        state={state}
        hideDropped={spaceEnded}
        onReconnect={reconnect}
        onEnableAudio={enableAudio}
      />
      {endError && <ErrorBox error={endError} title="Couldn't end the Space" />}

      {spaceEnded ? (
        <div className="card center">
          <p>This Space has ended. The recording is available as a replay.</p>
          <div className="row">
            <Link
              className="btn btn-primary"
              to={`/listen/${encodeURIComponent(id)}`}
              data-testid="replay-link"
            >
              Play replay
            </Link>
            <Link className="btn btn-ghost" to="/">
              Home
            </Link>
          </div>
        </div>
      ) : (
        <div className="card share-card">
          {inviteUrl && (
            <ShareLink
              label="Invite speakers"
              hint="They can talk"
              url={absoluteUrl(inviteUrl)}
              testId="invite-link"
            />
          )}
          <ShareLink label="Listener link" hint="Listen only" url={listenUrl} testId="listen-link" />
        </div>
      )}

      <OnStageSection space={space} selfId={state.speakerId} />

      {!spaceEnded && (
        <StageControls muted={state.muted} onToggleMute={toggleMute} muteDisabled={!onStage}>
          <button
            type="button"
            className="btn btn-danger"
            onClick={() => void onEnd()}
            disabled={ending}
            data-testid="end-button"
          >
            {ending ? 'Ending…' : 'End Space'}
          </button>
        </StageControls>
      )}
    </div>
  );
}
