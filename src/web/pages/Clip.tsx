import { useEffect, useState } from 'react';
import { client, signInPath, spacePath, toApiError, type ApiError, type ClipView } from '../api.js';
import { CopyField, ErrorBox, formatAgo, SmallButton } from '../components.js';
import { absoluteUrl } from '../api.js';
import { VodPlayer } from '../players.js';
import { Link } from '../router.js';
import { exposeHooks, usePageHooks } from '../testHooks.js';
import { ReportClipButton } from '../trust/report.js';

/** `/clip/:id`: a 30-second moment, playable on its own. */
export function ClipPage({ id }: { id: string }) {
  usePageHooks('clip', id);
  const [clip, setClip] = useState<ClipView | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let stopped = false;
    client.clip(id).then(
      (c) => {
        if (stopped) return;
        setClip(c);
        setError(null);
        exposeHooks({ clip: c });
      },
      (err: unknown) => {
        if (!stopped) setError(toApiError(err));
      },
    );
    return () => {
      stopped = true;
    };
  }, [id, attempt]);

  if (error && !clip && error.code === 'SIGN_IN_REQUIRED')
    return (
      <div className="page narrow" data-testid="clip-signin">
        <ErrorBox error={error} title="Sign in to play this clip">
          <Link className="btn btn-small" to={signInPath(`/clip/${id}`)}>
            Sign in
          </Link>
        </ErrorBox>
      </div>
    );

  if (error && !clip)
    return (
      <div className="page narrow">
        <ErrorBox error={error} title={error.status === 404 ? 'Clip not found' : "Couldn't load the clip"}>
          {error.status !== 404 && (
            <SmallButton onClick={() => setAttempt((a) => a + 1)}>Try again</SmallButton>
          )}
          <Link className="btn btn-small btn-ghost" to="/">
            Home
          </Link>
        </ErrorBox>
      </div>
    );

  if (!clip)
    return (
      <div className="page narrow">
        <div className="skeleton" aria-label="Loading" />
      </div>
    );

  return (
    <div className="page narrow" data-testid="clip-page">
      <header className="room-head">
        <div className="room-kicker">
          <span className="badge badge-clip">CLIP</span>
          <span className="muted small">
            {Math.round(clip.durationSec)} s · {formatAgo(clip.createdAt)}
          </span>
          <span className="trust-push">
            <ReportClipButton
              clipId={clip.id}
              spaceId={clip.spaceId}
              spaceTitle={clip.spaceTitle}
              durationSec={clip.durationSec}
            />
          </span>
        </div>
        <h1 className="room-title" data-testid="clip-title">
          {clip.spaceTitle}
        </h1>
        <Link to={spacePath(clip.spaceId)} className="small" data-testid="clip-space-link">
          Go to the Space →
        </Link>
      </header>
      <VodPlayer
        url={clip.playbackUrl}
        token={clip.token}
        kind="clip"
        title={`A moment from “${clip.spaceTitle}”`}
      />
      <CopyField label="Share this clip" url={absoluteUrl(clip.shareUrl)} testId="clip-share-url" />
    </div>
  );
}
