import { useEffect, useRef, useState } from 'react';
import { client, friendlyMessage, here, signInPath, type SpaceView } from '../api.js';
import { ConfirmButton, formatDate } from '../components.js';
import { fmtDuration } from './format.js';
import { VodPlayer } from '../players.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';
import { ClipControl, CLIP_SECONDS } from './Clip.js';
import { useReportPosition } from '../trust/report.js';

/** An ended Space: the replay (VOD), clip-from-replay, and for the host Trim start / Delete replay. */
export function ReplaySection({
  space,
  isHost,
  onSpace,
}: {
  space: SpaceView;
  isHost: boolean;
  onSpace: (v: SpaceView) => void;
}) {
  const { user } = useSession();
  const replay = space.replay;
  const positionRef = useRef(0);
  const [clipStart, setClipStart] = useState('0');
  const [trim, setTrim] = useState(String(replay.trimStartSec || 0));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [token, setToken] = useState<string | null>(null);
  const [tokenReady, setTokenReady] = useState(!space.requireSignIn);

  // Members-only Spaces: the replay needs a listen token too.
  useEffect(() => {
    if (!space.requireSignIn || !user) return;
    let stopped = false;
    client.listen(space.id).then(
      (g) => {
        if (stopped) return;
        setToken(g.token);
        setTokenReady(true);
      },
      () => {
        if (!stopped) setTokenReady(true);
      },
    );
    return () => {
      stopped = true;
    };
  }, [space.id, space.requireSignIn, user]);

  const onTrim = async (): Promise<void> => {
    const s = Number(trim);
    if (!Number.isFinite(s) || s < 0) {
      setError('Enter the number of seconds to cut from the start.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onSpace(await client.trimReplay(space.id, s));
    } catch (err) {
      setError(friendlyMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const onDelete = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await client.deleteReplay(space.id);
      onSpace(await client.space(space.id));
    } catch (err) {
      setError(friendlyMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const available = replay.state === 'available' && !!replay.playbackUrl;
  const duration = replay.durationSec;
  useReportPosition(positionRef, duration ?? null);

  return (
    <section className="section" data-testid="replay-section" data-replay-state={replay.state}>
      {!available ? (
        <div className="card center" data-testid="replay-unavailable">
          <p className="tight">
            {replay.state === 'deleted'
              ? 'The host deleted the replay of this Space.'
              : replay.state === 'expired'
                ? 'The replay of this Space has expired.'
                : 'This Space has no replay.'}
          </p>
        </div>
      ) : space.requireSignIn && !user ? (
        <div className="card center">
          <p>This Space is for members: sign in to play the replay.</p>
          <Link className="btn btn-primary" to={signInPath(here())} data-testid="signin-to-listen">
            Sign in to listen
          </Link>
        </div>
      ) : tokenReady ? (
        <VodPlayer
          key={`${replay.playbackUrl}|${replay.trimStartSec}`}
          url={replay.playbackUrl!}
          token={token}
          kind="replay"
          positionRef={positionRef}
          title={
            duration
              ? `${fmtDuration(duration)} recording${replay.expiresAt ? ` · available until ${formatDate(replay.expiresAt)}` : ''}`
              : undefined
          }
        />
      ) : (
        <div className="skeleton skeleton-player" aria-label="Loading" />
      )}

      {available && (
        <div className="card panel-card">
          <div className="panel-head">
            <h3>Clip a moment</h3>
          </div>
          <div className="inline-form">
            <label className="field field-inline">
              <span className="field-label">Start at (seconds)</span>
              <input
                className="input input-narrow"
                type="number"
                min={0}
                max={duration ? Math.max(0, Math.floor(duration)) : undefined}
                step={1}
                inputMode="numeric"
                value={clipStart}
                onChange={(e) => setClipStart(e.target.value)}
                data-testid="clip-start"
              />
            </label>
            <button
              type="button"
              className="btn btn-small btn-ghost"
              onClick={() => setClipStart(String(Math.floor(positionRef.current)))}
              data-testid="clip-use-position"
            >
              Use current position
            </button>
          </div>
          <ClipControl
            spaceId={space.id}
            label={`Clip ${CLIP_SECONDS} s`}
            getStart={() => (clipStart.trim() === '' ? null : Number(clipStart))}
          />
        </div>
      )}

      {isHost && available && (
        <div className="card panel-card" data-testid="replay-admin">
          <div className="panel-head">
            <h3>Manage replay</h3>
          </div>
          <div className="inline-form">
            <label className="field field-inline">
              <span className="field-label">Trim start (seconds)</span>
              <input
                className="input input-narrow"
                type="number"
                min={0}
                step={1}
                inputMode="numeric"
                value={trim}
                onChange={(e) => setTrim(e.target.value)}
                data-testid="trim-start"
              />
            </label>
            <button
              type="button"
              className="btn btn-small btn-secondary"
              onClick={() => void onTrim()}
              disabled={busy}
              data-testid="trim-button"
            >
              Trim
            </button>
          </div>
          {replay.trimStartSec > 0 && (
            <p className="muted small tight" data-testid="trim-current">
              The replay starts {fmtDuration(replay.trimStartSec)} in.
            </p>
          )}
          <div className="end-row">
            <ConfirmButton
              label="Delete replay"
              question="Delete the replay for everyone? This can't be undone."
              confirmLabel="Delete"
              testId="delete-replay"
              disabled={busy}
              onConfirm={() => void onDelete()}
            />
          </div>
        </div>
      )}
      {error && (
        <p className="error-inline" role="alert" data-testid="replay-error">
          {error}
        </p>
      )}
    </section>
  );
}
