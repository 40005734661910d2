/** The Space page's header: state badge, listener count, Share, title, host and description. */
import { useEffect, useState } from 'react';
import { absoluteUrl, type SpaceState, type SpaceView } from '../api.js';
import { Avatar, copyText, HeadphonesIcon } from '../components.js';
import { Link } from '../router.js';
import { profilePath } from '../social/SpaceCard.js';
import { ReportSpaceButton } from '../trust/report.js';

export function SpaceHeader({
  space,
  state,
  title,
  listeners,
}: {
  space: SpaceView;
  state: SpaceState;
  title: string;
  listeners: number;
}) {
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const t = setTimeout(() => setCopied(false), 1800);
    return () => clearTimeout(t);
  }, [copied]);
  const share = async (): Promise<void> => {
    const url = absoluteUrl(space.shareUrl || `/s/${space.id}`);
    const nav = navigator as Navigator & { share?: (d: ShareData) => Promise<void> };
    if (nav.share && window.matchMedia('(pointer: coarse)').matches) {
      try {
        await nav.share({ title, url });
        return;
      } catch {
        // cancelled: fall back to copying
      }
    }
    setCopied(await copyText(url));
  };
  return (
    <header className="room-head">
      <div className="room-kicker">
        {state === 'live' && (
          <span className="badge badge-live" data-testid="space-live-badge">
            LIVE
          </span>
        )}
        {state === 'scheduled' && <span className="badge badge-soon">UPCOMING</span>}
        {state === 'ended' && <span className="badge">ENDED</span>}
        {space.requireSignIn && <span className="tag">Members only</span>}
        {state !== 'ended' && (
          <span className="listeners" title={state === 'live' ? 'Listening now' : 'Waiting'}>
            <HeadphonesIcon />
            <span data-testid="listener-count">{listeners}</span>
            <span className="muted">{state === 'live' ? 'listening' : 'waiting'}</span>
          </span>
        )}
        <button
          type="button"
          className="btn btn-small btn-ghost share-btn"
          onClick={() => void share()}
          data-testid="share-button"
        >
          {copied ? 'Link copied' : 'Share'}
        </button>
        <ReportSpaceButton />
      </div>
      <h1 className="room-title" data-testid="space-title">
        {title}
      </h1>
      <div className="host-line">
        <Avatar name={space.host.displayName} seed={space.host.id} size="sm" />
        <span className="small">
          Hosted by{' '}
          <Link to={profilePath(space.host.handle)} className="profile-link" data-testid="space-host-link">
            <strong>{space.host.displayName}</strong> <span className="muted">@{space.host.handle}</span>
          </Link>
        </span>
      </div>
      {space.description && <p className="description">{space.description}</p>}
    </header>
  );
}
