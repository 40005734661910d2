import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { client, here, signInPath, spacePath, toApiError, type ApiError, type SpaceView } from '../api.js';
import {
  Avatar,
  ErrorBox,
  formatAgo,
  formatCountdown,
  formatDate,
  SmallButton,
  useNow,
} from '../components.js';
import { Link, navigate } from '../router.js';
import { useSession } from '../session.js';
import { usePageHooks } from '../testHooks.js';

const LIST_POLL_MS = 15_000;
const MAX_REPLAYS = 12;

interface Lists {
  live: SpaceView[];
  upcoming: SpaceView[];
  replays: SpaceView[];
}

function useSpaceLists(userId: string | null) {
  const [lists, setLists] = useState<Lists | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [reloadKey, setReloadKey] = useState(0);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async (): Promise<void> => {
      try {
        const [live, scheduled, ended] = await Promise.all([
          client.listSpaces('live'),
          client.listSpaces('scheduled'),
          client.listSpaces('ended'),
        ]);
        if (stopped) return;
        const when = (s: SpaceView): number => new Date(s.scheduledFor ?? s.createdAt).getTime();
        const endedAt = (s: SpaceView): number => new Date(s.endedAt ?? s.createdAt).getTime();
        setLists({
          live: live.spaces,
          upcoming: [...scheduled.spaces].sort((a, b) => when(a) - when(b)),
          replays: ended.spaces
            .filter((s) => s.replay.state === 'available')
            .sort((a, b) => endedAt(b) - endedAt(a))
            .slice(0, MAX_REPLAYS),
        });
        setError(null);
      } catch (err) {
        if (!stopped) setError(toApiError(err));
      }
      if (!stopped) timer = setTimeout(() => void load(), LIST_POLL_MS);
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
    // The user matters: each SpaceView carries `me` (subscribed).
  }, [reloadKey, userId]);

  const patch = useCallback((v: SpaceView) => {
    setLists(
      (l) =>
        l && {
          live: l.live.map((s) => (s.id === v.id ? v : s)),
          upcoming: l.upcoming.map((s) => (s.id === v.id ? v : s)),
          replays: l.replays.map((s) => (s.id === v.id ? v : s)),
        },
    );
  }, []);

  return { lists, error, reload: () => setReloadKey((k) => k + 1), patch };
}

export function HomePage() {
  usePageHooks('home');
  const { user } = useSession();
  const { lists, error, reload, patch } = useSpaceLists(user?.id ?? null);

  return (
    <div className="page">
      <section className="hero">
        <h1>
          Talk live.
          <br />
          <span className="accent">Everyone listens.</span>
        </h1>
        <p className="muted">
          Live audio conversations that start on time, for a crowd of any size. Listen, react, request to
          speak, clip the best moments.
        </p>
        <div className="hero-actions">
          <Link
            to={user ? '/new' : signInPath('/new')}
            className="btn btn-primary"
            data-testid="hero-start-space"
          >
            Start a Space
          </Link>
        </div>
      </section>

      {error && !lists && (
        <ErrorBox error={error} title="Can't load Spaces">
          <SmallButton onClick={reload}>Try again</SmallButton>
        </ErrorBox>
      )}

      <Section title="Live now" count={lists?.live.length} testId="live-list">
        {!lists && !error && <div className="skeleton" aria-label="Loading" />}
        {lists && lists.live.length === 0 && (
          <p className="muted empty">Nobody is live right now. Start a Space, or check what's coming up.</p>
        )}
        {lists && lists.live.length > 0 && (
          <ul className="space-list">
            {lists.live.map((s) => (
              <SpaceCard key={s.id} space={s} />
            ))}
          </ul>
        )}
      </Section>

      {lists && lists.upcoming.length > 0 && (
        <Section title="Upcoming" count={lists.upcoming.length} testId="upcoming-list">
          <ul className="space-list">
            {lists.upcoming.map((s) => (
              <SpaceCard key={s.id} space={s} onChange={patch} />
            ))}
          </ul>
        </Section>
      )}

      {lists && lists.replays.length > 0 && (
        <Section title="Recent replays" testId="replay-list">
          <ul className="space-list">
            {lists.replays.map((s) => (
              <SpaceCard key={s.id} space={s} />
            ))}
          </ul>
        </Section>
      )}
    </div>
  );
}

function Section({
  title,
  count,
  testId,
  children,
}: {
  title: string;
  count?: number;
  testId: string;
  children: ReactNode;
}) {
  return (
    <section className="section" data-testid={testId}>
      <div className="section-head">
        <h2>{title}</h2>
        {count !== undefined && <span className="count">{count}</span>}
      </div>
      {children}
    </section>
  );
}

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
      {error && <span className="small warn-text">{error}</span>}
    </span>
  );
}

function SpaceCard({ space, onChange }: { space: SpaceView; onChange?: (v: SpaceView) => void }) {
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
        <span className="badge">REPLAY</span>
        <span className="muted small">{formatAgo(space.endedAt, now)}</span>
      </>
    );

  return (
    <li className="space-card" data-testid="space-card" data-space-id={space.id} data-state={space.state}>
      <Link to={to} className="space-card-link" data-testid="space-link">
        <div className="space-card-top">{meta}</div>
        <h3 className="space-title">{space.title || 'Untitled Space'}</h3>
        <div className="space-host">
          <Avatar name={host.displayName} seed={host.id} size="sm" />
          <span className="small">
            {host.displayName} <span className="muted">@{host.handle}</span>
          </span>
          {space.requireSignIn && <span className="tag">Members</span>}
        </div>
      </Link>
      <div className="space-card-action">
        {space.state === 'scheduled' ? (
          <SubscribeButton space={space} onChange={onChange} />
        ) : (
          <Link to={to} className="btn btn-secondary btn-small" tabIndex={-1} aria-hidden="true">
            {space.state === 'live' ? 'Listen' : 'Play'}
          </Link>
        )}
      </div>
    </li>
  );
}
