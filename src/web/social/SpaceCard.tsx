/**
 * A Space in a list (home, profiles, search): state, title, the host (a link to their profile), and
 * for a live Space its listener count and the avatars of who is on stage (initials: no images yet).
 * Scheduled Spaces carry Subscribe.
 */
import { useState, type ReactNode } from 'react';
import { client, here, signInPath, spacePath, toApiError, type LiveSummary, type SpaceView } from '../api.js';
import { Avatar, formatAgo, formatCountdown, formatDate, HeadphonesIcon, useNow } from '../components.js';
import { Link, navigate } from '../router.js';
import { useSession } from '../session.js';
import '../social.css';

export const profilePath = (handle: string): string => `/u/${encodeURIComponent(handle)}`;

/** Avatars a card shows before "+N". */
const MAX_AVATARS = 5;

export function SubscribeButton({
  space,
  onChange,
  className = 'btn btn-secondary btn-small',
}: {
  space: SpaceView;
  onChange?: (v: SpaceView) => void;
  className?: string;
}) {
  const { user } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const subscribed = !!space.me?.subscribed;
  const isHost = !!user && user.id === space.host.id;
  if (isHost) return null;

  const onClick = async (): Promise<void> => {
    if (!user) {
      navigate(signInPath(here()));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      if (subscribed) await client.unsubscribe(space.id);
      else await client.subscribe(space.id);
      const me = space.me ?? {
        role: null,
        hostMuted: false,
        unmuteLocked: false,
        selfMuted: false,
        blocked: false,
        requested: false,
        subscribed: false,
      };
      onChange?.({ ...space, me: { ...me, subscribed: !subscribed } });
    } catch (err) {
      setError(toApiError(err).code === 'SPACE_NOT_SCHEDULED' ? 'It already started!' : "Couldn't update");
    } finally {
      setBusy(false);
    }
  };
  return (
    <span className="subscribe">
      <button
        type="button"
        className={subscribed ? 'btn btn-ghost btn-small' : className}
        onClick={() => void onClick()}
        disabled={busy}
        aria-pressed={subscribed}
        data-testid={subscribed ? 'unsubscribe' : 'subscribe'}
        data-space-id={space.id}
        data-subscribed={subscribed ? 'true' : 'false'}
      >
        {subscribed ? '✓ Subscribed' : 'Subscribe'}
      </button>
      {error && (
        <span className="small warn-text" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

/** "12 listening" and the stage's avatars (a speaking ring; names read out). */
export function LiveStrip({ live }: { live: LiveSummary }) {
  const shown = live.speakers.slice(0, MAX_AVATARS);
  const more = live.speakers.length - shown.length;
  const names = live.speakers.map((s) => s.name || s.handle).join(', ');
  return (
    <div className="live-strip" data-testid="live-strip">
      <span className="listeners" data-testid="card-listeners" data-count={live.listeners}>
        <HeadphonesIcon />
        <span>{live.listeners}</span>
        <span className="muted">listening</span>
      </span>
      {live.speakers.length > 0 && (
        <>
          <ul className="avatar-stack" aria-hidden="true" data-testid="card-speakers">
            {shown.map((s) => (
              <li key={s.userId} data-testid="card-speaker" data-handle={s.handle}>
                <Avatar name={s.name || s.handle} seed={s.userId} size="xs" speaking={s.speaking} />
              </li>
            ))}
          </ul>
          {more > 0 && (
            <span className="avatar-more" aria-hidden="true">
              +{more}
            </span>
          )}
          <span className="sr-only">On stage: {names}</span>
        </>
      )}
    </div>
  );
}

export function SpaceCard({ space, onChange }: { space: SpaceView; onChange?: (v: SpaceView) => void }) {
  const now = useNow(space.state === 'scheduled' ? 1000 : 60_000);
  const host = space.host;
  const to = spacePath(space.id);
  let meta: ReactNode;
  if (space.state === 'live') meta = <span className="badge badge-live">LIVE</span>;
  else if (space.state === 'scheduled') {
    const at = new Date(space.scheduledFor ?? space.createdAt).getTime();
    meta = (
      <>
        <span className="badge badge-soon">UPCOMING</span>
        <span className="muted small" title={formatCountdown(at - now)}>
          {formatDate(space.scheduledFor)}
        </span>
      </>
    );
  } else
    meta = (
      <>
        <span className="badge">{space.replay.state === 'available' ? 'REPLAY' : 'ENDED'}</span>
        <span className="muted small">{formatAgo(space.endedAt, now)}</span>
      </>
    );

  return (
    <li
      className="space-card"
      data-testid="space-card"
      data-space-id={space.id}
      data-state={space.state}
      data-replay={space.replay.state}
    >
      <div className="space-card-main">
        <Link to={to} className="space-card-link" data-testid="space-link">
          <span className="space-card-top">{meta}</span>
          <h3 className="space-title">{space.title || 'Untitled Space'}</h3>
        </Link>
        <div className="space-host">
          <Avatar name={host.displayName} seed={host.id} size="sm" />
          <Link to={profilePath(host.handle)} className="host-link small" data-testid="host-link">
            {host.displayName} <span className="muted">@{host.handle}</span>
          </Link>
          {space.requireSignIn && <span className="tag">Members</span>}
        </div>
        {space.state === 'live' && space.live && <LiveStrip live={space.live} />}
      </div>
      <div className="space-card-action">
        {space.state === 'scheduled' ? (
          <SubscribeButton space={space} onChange={onChange} />
        ) : space.state === 'live' || space.replay.state === 'available' ? (
          <Link to={to} className="btn btn-secondary btn-small" tabIndex={-1} aria-hidden="true">
            {space.state === 'live' ? 'Listen' : 'Play'}
          </Link>
        ) : null}
      </div>
    </li>
  );
}
