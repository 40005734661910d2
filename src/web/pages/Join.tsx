import { useEffect, useState, type FormEvent } from 'react';
import { loadName, saveName } from '../api.js';
import { ErrorBox, MicIcon, StatusPill, TextField } from '../components.js';
import { Link } from '../router.js';
import { OnStageSection, ReconnectButton, StageControls, StageNotices, useStage } from '../stage.js';

export function JoinPage({ id, invite }: { id: string; invite: string | null }) {
  const { space, spaceError, state, start, stop, reconnect, toggleMute, enableAudio } = useStage(
    id,
    'speaker',
  );
  const [name, setName] = useState(loadName);

  const ended = space?.state === 'ended';

  // The host ended the Space while we were on stage.
  useEffect(() => {
    if (ended && state.phase !== 'idle' && state.phase !== 'closed' && state.phase !== 'error') void stop();
  }, [ended, state.phase, stop]);

  const onJoin = (e: FormEvent): void => {
    e.preventDefault();
    if (!invite) return;
    const n = name.trim() || 'Guest';
    saveName(n);
    void start({ spaceId: id, token: invite, name: n });
  };

  const listenPath = `/listen/${encodeURIComponent(id)}`;
  const phase = state.phase;
  const joined =
    phase === 'mic' ||
    phase === 'connecting' ||
    phase === 'connected' ||
    phase === 'disconnected' ||
    phase === 'failed';
  const notFound = spaceError?.status === 404;

  let blocking: { code: string; message: string } | null = null;
  if (!invite)
    blocking = { code: 'NO_INVITE', message: 'This invite link is incomplete: it has no invite token.' };
  else if (notFound && spaceError) blocking = spaceError;
  else if (ended && !joined) blocking = { code: 'SPACE_ENDED', message: 'The Space has ended' };

  return (
    <div className="page">
      <header className="room-head">
        <div className="room-kicker">
          {ended ? (
            <span className="badge">ENDED</span>
          ) : space ? (
            <span className="badge badge-live">LIVE</span>
          ) : null}
          <span className="muted small">You're invited to speak</span>
        </div>
        <h1 className="room-title">{space?.title ?? (spaceError ? 'Tribune Space' : 'Loading…')}</h1>
        {phase !== 'idle' && (
          <StatusPill state={phase} text={phase === 'closed' ? 'You left the stage' : undefined} />
        )}
      </header>

      {state.error && (
        <ErrorBox error={state.error} title={phase === 'failed' ? 'Connection problem' : "Couldn't join"}>
          {phase === 'failed' && <ReconnectButton onReconnect={reconnect} label="Reconnect" />}
          <Link className="btn btn-small btn-ghost" to={listenPath}>
            Listen instead
          </Link>
        </ErrorBox>
      )}
      {!state.error && blocking && (
        <ErrorBox
          error={blocking}
          title={notFound ? 'Space not found' : ended ? 'Space ended' : 'Invalid invite'}
        >
          {!notFound && (
            <Link className="btn btn-small btn-ghost" to={listenPath}>
              {ended ? 'Play replay' : 'Listen instead'}
            </Link>
          )}
        </ErrorBox>
      )}
      {spaceError && !notFound && !state.error && (
        <p className="muted small">Having trouble reaching the server… {spaceError.message}</p>
      )}

      <StageNotices state={state} onReconnect={reconnect} onEnableAudio={enableAudio} />

      {!joined && !blocking && (
        <form className="card create" onSubmit={onJoin}>
          <TextField
            label="Your name"
            testId="join-name"
            placeholder="Guest"
            maxLength={60}
            value={name}
            onChange={setName}
            autoComplete="nickname"
          />
          <button data-testid="join-button" className="btn btn-primary btn-block" type="submit">
            <MicIcon />
            {phase === 'closed' ? 'Rejoin as speaker' : 'Join as speaker'}
          </button>
          <p className="muted small center">Your browser will ask for microphone access.</p>
        </form>
      )}

      <OnStageSection space={space} selfId={state.speakerId} />

      {joined && (
        <StageControls muted={state.muted} onToggleMute={toggleMute}>
          <button
            type="button"
            className="btn btn-danger"
            onClick={() => void stop()}
            data-testid="leave-button"
          >
            Leave
          </button>
        </StageControls>
      )}
      {phase === 'closed' && (
        <p className="center">
          <Link className="btn btn-ghost" to={listenPath}>
            {ended ? 'Play replay' : 'Listen instead'}
          </Link>
        </p>
      )}
    </div>
  );
}
