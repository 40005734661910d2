/**
 * `/embed/:id`: the embeddable player, for an `<iframe>` on any site (the server lets any origin
 * frame this route). Minimal chrome: state, title, host, and the live player (it waits through a
 * scheduled Space's start) or the replay player. It asks only the edge: the public view, the live
 * state document (the embed counts as a listener) and the media. A third-party frame carries no
 * Tribune session, so a Space whose listeners must sign in is not embeddable, and an ended Space
 * without a replay has nothing to play: both say so, with the code the API gives
 * (`GET /api/spaces/:id/embed`).
 */
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import {
  absoluteUrl,
  friendlyMessage,
  spacePath,
  toApiError,
  type ApiError,
  type SpaceView,
} from '../api.js';
import { Avatar, formatCountdown, formatDate, useNow } from '../components.js';
import { useLiveDocPoll, type LiveDoc } from '../live.js';
import { LivePlayer, VodPlayer } from '../players.js';
import { useAdmission } from '../space/admission.js';
import { publicSpaceView } from '../space/publicView.js';
import { QueueCard } from '../space/WaitingRoom.js';
import { exposeHooks, usePageHooks } from '../testHooks.js';
import { embedRefusal } from '../../social/embed.js';
import '../social.css';

const RANK = { scheduled: 0, live: 1, ended: 2 } as const;
const RETRY_MS = 5000;

function Message({ code, children }: { code: string; children: ReactNode }) {
  return (
    <div className="card center" data-testid="embed-unavailable" data-code={code} role="alert">
      {children}
    </div>
  );
}

export function EmbedPage({ id }: { id: string }) {
  usePageHooks('embed', id);
  const now = useNow(1000);
  const [space, setSpace] = useState<SpaceView | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [doc, setDoc] = useState<LiveDoc | null>(null);
  const [reloadKey, setReloadKey] = useState(0);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async (): Promise<void> => {
      try {
        const v = await publicSpaceView(id);
        if (stopped) return;
        setSpace(v);
        setError(null);
      } catch (err) {
        if (stopped) return;
        const e = toApiError(err);
        setError(e);
        if (e.status !== 404 && e.status !== 400) timer = setTimeout(() => void load(), RETRY_MS);
      }
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [id, reloadKey]);

  const state = space ? (doc && RANK[doc.state] > RANK[space.state] ? doc.state : space.state) : null;
  const refusal = space ? embedRefusal(space) : null;
  const listening = !!space && !refusal && (state === 'live' || state === 'scheduled');

  // Ended according to the live state: fetch the view again for the replay.
  useEffect(() => {
    if (state !== 'ended' || !space || space.state === 'ended') return;
    const t = setTimeout(() => setReloadKey((k) => k + 1), 500 + Math.random() * 2000);
    return () => clearTimeout(t);
  }, [state, space]);

  const onDoc = useCallback(
    (d: LiveDoc) => {
      if (!d.spaceId || d.spaceId === id) setDoc((prev) => (!prev || d.v >= prev.v ? d : prev));
    },
    [id],
  );
  useLiveDocPoll({
    stateUrl: listening ? space.stateUrl : null,
    leaveUrl: space?.leaveUrl ?? null,
    token: null,
    enabled: listening,
    onDoc,
  });
  const { admission, refresh } = useAdmission(space?.id, space?.playbackUrl, null, listening);

  useEffect(() => {
    exposeHooks({ spaceId: id, spaceState: state ?? undefined, doc });
  }, [id, state, doc]);

  const pageUrl = absoluteUrl(spacePath(id));
  const openOnTribune = (
    <a
      className="btn btn-secondary btn-small"
      href={pageUrl}
      target="_blank"
      rel="noopener"
      data-testid="embed-open"
    >
      Open on Tribune
    </a>
  );

  let body: ReactNode;
  if (!space) {
    body = error ? (
      <Message code={error.code}>
        <p className="tight">{friendlyMessage(error)}</p>
      </Message>
    ) : (
      <div className="skeleton skeleton-player" aria-label="Loading" />
    );
  } else if (refusal === 'EMBED_NOT_AVAILABLE') {
    body = (
      <Message code={refusal}>
        <p>This Space is for members: listen on Tribune.</p>
        {openOnTribune}
      </Message>
    );
  } else if (refusal === 'REPLAY_NOT_AVAILABLE') {
    body = (
      <Message code={refusal}>
        <p className="tight">This Space has ended, and it has no replay.</p>
      </Message>
    );
  } else if (state === 'scheduled') {
    const at = space.scheduledFor ? new Date(space.scheduledFor).getTime() : NaN;
    body = (
      <div className="card center" data-testid="embed-scheduled" role="status">
        <p className="tight">
          Starts {Number.isFinite(at) ? formatCountdown(at - now) : 'soon'}
          {space.scheduledFor && <span className="muted"> · {formatDate(space.scheduledFor)}</span>}
        </p>
        <p className="muted small tight">It plays here as soon as it starts.</p>
      </div>
    );
  } else if (state === 'live') {
    body =
      admission.kind === 'queued' || admission.kind === 'busy' || admission.kind === 'challenge' ? (
        <QueueCard admission={admission} />
      ) : admission.kind === 'admitted' ? (
        <LivePlayer
          key={space.playbackUrl}
          url={space.playbackUrl}
          token={null}
          admission={admission.token}
          onAdmissionError={refresh}
        />
      ) : (
        <div className="skeleton skeleton-player" aria-label="Loading player" />
      );
  } else if (space.state === 'ended' && space.replay.playbackUrl) {
    body = (
      <VodPlayer key={space.replay.playbackUrl} url={space.replay.playbackUrl} token={null} kind="replay" />
    );
  } else {
    body = (
      <div className="card center" role="status">
        <div className="spinner" aria-hidden="true" />
        <p className="tight">This Space has ended. Getting the replay…</p>
      </div>
    );
  }

  return (
    <div className="embed-page" data-testid="embed-page" data-state={state ?? 'loading'}>
      <div className="embed-head">
        {state === 'live' && (
          <span className="badge badge-live" data-testid="embed-live">
            LIVE
          </span>
        )}
        {state === 'scheduled' && <span className="badge badge-soon">UPCOMING</span>}
        {state === 'ended' && <span className="badge">REPLAY</span>}
        <h1 className="embed-title" data-testid="embed-title">
          {doc?.title || space?.title || 'Tribune'}
        </h1>
      </div>
      {space && (
        <div className="embed-host">
          <Avatar name={space.host.displayName} seed={space.host.id} size="xs" />
          <span className="small">
            {space.host.displayName} <span className="muted">@{space.host.handle}</span>
          </span>
          <a className="embed-brand" href={pageUrl} target="_blank" rel="noopener">
            Listen on Tribune
          </a>
        </div>
      )}
      {body}
    </div>
  );
}
