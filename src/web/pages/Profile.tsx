/**
 * `/u/:handle`: a profile. Name, handle, follower and following counts, Follow; the user's live
 * Spaces, upcoming ones (Subscribe) and past ones (replays), each list paged.
 */
import { useCallback, useEffect, useState } from 'react';
import {
  client,
  toApiError,
  type ApiError,
  type SpaceState,
  type SpaceView,
  type UserProfile,
} from '../api.js';
import { Avatar, ErrorBox } from '../components.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';
import { FollowButton } from '../social/FollowButton.js';
import { usePaged } from '../social/paged.js';
import { SpaceCard } from '../social/SpaceCard.js';
import { usePageHooks } from '../testHooks.js';

function SpaceSection({
  handle,
  state,
  title,
  empty,
  viewerKey,
}: {
  handle: string;
  state: SpaceState;
  title: string;
  /** Shown when the list is empty (null: hide the section). */
  empty: string | null;
  viewerKey: string;
}) {
  const fetchPage = useCallback(
    async (cursor: string | undefined) => {
      const p = await client.userSpaces(handle, { state, cursor });
      return { items: p.spaces, nextCursor: p.nextCursor };
    },
    [handle, state],
  );
  const list = usePaged<SpaceView>(`${handle}|${state}|${viewerKey}`, fetchPage);
  if (list.items && list.items.length === 0 && empty === null) return null;
  const headId = `profile-${state}`;
  return (
    <section className="section" data-testid={`profile-${state}`} aria-labelledby={headId}>
      <div className="section-head">
        <h2 id={headId}>{title}</h2>
      </div>
      {list.error && <ErrorBox error={list.error} title={`Can't load ${title.toLowerCase()}`} />}
      {!list.items && !list.error && <div className="skeleton" aria-label="Loading" />}
      {list.items && list.items.length === 0 && <p className="muted empty">{empty}</p>}
      {list.items && list.items.length > 0 && (
        <ul className="space-list">
          {list.items.map((s) => (
            <SpaceCard key={s.id} space={s} onChange={(v) => list.patch((x) => (x.id === v.id ? v : x))} />
          ))}
        </ul>
      )}
      {list.hasMore && (
        <button
          type="button"
          className="btn btn-small btn-ghost load-more"
          onClick={list.loadMore}
          disabled={list.loadingMore}
          data-testid="load-more"
        >
          {list.loadingMore ? 'Loading…' : `More ${title.toLowerCase()}`}
        </button>
      )}
    </section>
  );
}

export function ProfilePage({ handle }: { handle: string }) {
  usePageHooks('profile', handle);
  const { ready, user } = useSession();
  const [profile, setProfile] = useState<UserProfile | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const viewerKey = user?.id ?? 'anon';

  useEffect(() => {
    if (!ready) return;
    let stopped = false;
    client.profile(handle).then(
      (p) => {
        if (stopped) return;
        setProfile(p);
        setError(null);
      },
      (err: unknown) => {
        if (!stopped) setError(toApiError(err));
      },
    );
    return () => {
      stopped = true;
    };
  }, [handle, ready, viewerKey]);

  useEffect(() => {
    if (profile) document.title = `${profile.displayName} (@${profile.handle}) · Tribune`;
  }, [profile]);

  if (!profile) {
    return (
      <div className="page">
        {error ? (
          <ErrorBox error={error} title={error.status === 404 ? 'No such person' : "Can't load this profile"}>
            <Link className="btn btn-small" to="/">
              Go home
            </Link>
          </ErrorBox>
        ) : (
          <div className="skeleton skeleton-title" aria-label="Loading" />
        )}
      </div>
    );
  }

  return (
    <div className="page" data-testid="profile-page" data-handle={profile.handle}>
      <header className="card profile-head">
        <Avatar name={profile.displayName} seed={profile.id} size="lg" />
        <div className="profile-names">
          <h1 data-testid="profile-name">{profile.displayName}</h1>
          <div className="muted">@{profile.handle}</div>
          <div className="profile-stats">
            <span data-testid="profile-followers">
              <strong>{profile.followers}</strong> {profile.followers === 1 ? 'follower' : 'followers'}
            </span>
            <span data-testid="profile-following">
              <strong>{profile.following}</strong> following
            </span>
          </div>
        </div>
        <FollowButton profile={profile} onChange={setProfile} />
      </header>

      <SpaceSection
        handle={profile.handle}
        state="live"
        title="Live now"
        empty={null}
        viewerKey={viewerKey}
      />
      <SpaceSection
        handle={profile.handle}
        state="scheduled"
        title="Upcoming"
        empty="Nothing scheduled yet."
        viewerKey={viewerKey}
      />
      <SpaceSection
        handle={profile.handle}
        state="ended"
        title="Past Spaces"
        empty="No past Spaces yet."
        viewerKey={viewerKey}
      />
    </div>
  );
}
