/**
 * Follow / Following: a toggle button (aria-pressed) named "Follow <name>" whatever its state, so a
 * screen reader hears "Follow Hannah, toggle button, pressed". Signed out, it leads to sign-in.
 */
import { useState } from 'react';
import { client, friendlyMessage, here, signInPath, type UserProfile } from '../api.js';
import { navigate } from '../router.js';
import { useSession } from '../session.js';

export function FollowButton({
  profile,
  onChange,
}: {
  profile: UserProfile;
  onChange: (p: UserProfile) => void;
}) {
  const { user } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (profile.isMe) return null;
  const following = profile.followedByMe;

  const toggle = async (): Promise<void> => {
    if (!user) {
      navigate(signInPath(here()));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const r = following ? await client.unfollow(profile.handle) : await client.follow(profile.handle);
      onChange({ ...profile, followedByMe: r.following, followers: r.followers });
    } catch (err) {
      setError(friendlyMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <span className="subscribe">
      <button
        type="button"
        className={`btn btn-small follow-btn ${following ? 'btn-ghost' : 'btn-primary'}`}
        aria-pressed={following}
        aria-label={`Follow ${profile.displayName}`}
        disabled={busy}
        onClick={() => void toggle()}
        data-testid="follow-button"
        data-following={following ? 'true' : 'false'}
      >
        {following ? '✓ Following' : 'Follow'}
      </button>
      {error && (
        <span className="small warn-text" role="alert" data-testid="follow-error">
          {error}
        </span>
      )}
    </span>
  );
}
