import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { client, signInPath, toApiError, type ApiError, type SpaceView } from '../api.js';
import { ErrorBox, SmallButton } from '../components.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';
import { SpaceCard } from '../social/SpaceCard.js';
import { usePageHooks } from '../testHooks.js';

export { SubscribeButton } from '../social/SpaceCard.js';

const LIST_POLL_MS = 15_000;
const MAX_REPLAYS = 12;

interface Lists {
  live: SpaceView[];
  upcoming: SpaceView[];
  replays: SpaceView[];
  /** Signed in: live and upcoming Spaces of the people you follow. */
  followed: SpaceView[];
}

const FOLLOWED_MAX = 12;

function useSpaceLists(userId: string | null) {
  const [lists, setLists] = useState<Lists | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [reloadKey, setReloadKey] = useState(0);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async (): Promise<void> => {
      try {
        const noPage = { spaces: [] as SpaceView[], nextCursor: null };
        const [live, scheduled, ended, followedLive, followedNext] = await Promise.all([
          client.listSpaces('live'),
          client.listSpaces('scheduled'),
          client.listSpaces('ended'),
          // Extras: the main lists show even if these fail.
          userId ? client.followingSpaces('live', { limit: FOLLOWED_MAX }).catch(() => noPage) : noPage,
          userId ? client.followingSpaces('scheduled', { limit: FOLLOWED_MAX }).catch(() => noPage) : noPage,
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
          followed: [...followedLive.spaces, ...followedNext.spaces],
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
          followed: l.followed.map((s) => (s.id === v.id ? v : s)),
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

      {user && lists && lists.followed.length > 0 && (
        <Section title="From people you follow" count={lists.followed.length} testId="followed-list">
          <ul className="space-list">
            {lists.followed.map((s) => (
              <SpaceCard key={s.id} space={s} onChange={patch} />
            ))}
          </ul>
        </Section>
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

      <p className="muted small center">
        <Link to="/status" data-testid="status-link">
          Service status
        </Link>
      </p>
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
