/**
 * `/s/:id`: the one Space page, for everyone, by state:
 * - scheduled: details, countdown, Subscribe; the host can start it (and invite speakers);
 * - live: the player (listeners) or the stage (host, co-hosts, speakers: WHIP + mix-minus),
 *   speakers, listener count, reactions, request to speak, clip, host controls;
 * - ended: the replay.
 * Listeners follow the edge's state document (long-poll); signed-in users also get the SSE stream
 * (`me`, `participants`, `doc`, `space`). Stage members never poll and never play the program.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import {
  absoluteUrl,
  client,
  friendlyMessage,
  here,
  signInPath,
  toApiError,
  type ApiError,
  type ListenGrant,
  type MeInSpace,
  type Participants,
  type Role,
  type SpaceState,
  type SpaceView,
  type UserRef,
} from '../api.js';
import {
  Avatar,
  copyText,
  ErrorBox,
  formatCountdown,
  formatDate,
  HandIcon,
  HeadphonesIcon,
  MicIcon,
  Notice,
  SmallButton,
  StatusPill,
  useNow,
} from '../components.js';
import { useSpaceEvents } from '../events.js';
import { useLiveDocPoll, type LiveDoc } from '../live.js';
import { LivePlayer } from '../players.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';
import { ClipControl } from '../space/Clip.js';
import { HostPanel, InviteLinkBox } from '../space/HostPanel.js';
import { ReactionBar, ReactionCounts, ReactionFloats, useReactionFeed } from '../space/Reactions.js';
import { ReplaySection } from '../space/Replay.js';
import { SpeakerGrid } from '../space/Speakers.js';
import { useStage, type StageState } from '../stage.js';
import { exposeHooks, usePageHooks } from '../testHooks.js';
import { SubscribeButton } from './Home.js';

const STAGE_ROLES: ReadonlySet<Role> = new Set(['host', 'cohost', 'speaker']);
const STATE_RANK: Record<SpaceState, number> = { scheduled: 0, live: 1, ended: 2 };
const RETRY_MS = 3000;
/** Listen-token refreshes (after 401s from the edge) are at most this often. */
const GRANT_REFRESH_MIN_MS = 5000;

/** The newer of two state documents (v restarts from 0 if the origin restarts: fall back on time). */
function newerDoc(prev: LiveDoc | null, d: LiveDoc): LiveDoc {
  if (!prev) return d;
  if (d.v === prev.v && d.updatedAtMs === prev.updatedAtMs) return prev;
  return d.v > prev.v || d.updatedAtMs > prev.updatedAtMs ? d : prev;
}

/** The listen grant while listening (a token when the Space requires sign-in). */
function useListenGrant(space: SpaceView | null, enabled: boolean, user: UserRef | null) {
  const [grant, setGrant] = useState<ListenGrant | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [key, setKey] = useState(0);
  const lastRefresh = useRef(0);
  const spaceId = space?.id;
  const requireSignIn = space?.requireSignIn ?? false;
  const fallback = useRef<ListenGrant | null>(null);
  fallback.current = space ? { token: null, playbackUrl: space.playbackUrl, stateUrl: space.stateUrl } : null;
  const needSignIn = requireSignIn && !user;

  useEffect(() => {
    if (!spaceId || !enabled || needSignIn) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const get = async (): Promise<void> => {
      try {
        const g = await client.listen(spaceId);
        if (stopped) return;
        setGrant(g);
        setError(null);
        exposeHooks({ listenToken: g.token });
      } catch (err) {
        if (stopped) return;
        const e = toApiError(err);
        if (!requireSignIn && fallback.current) {
          // Open Space: the edge needs no token, play what the SpaceView says.
          setGrant((g) => g ?? fallback.current);
          exposeHooks({ listenToken: null });
        } else {
          setError(e);
          if (e.code !== 'SIGN_IN_REQUIRED' && e.code !== 'BLOCKED')
            timer = setTimeout(() => void get(), RETRY_MS);
        }
      }
    };
    void get();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [spaceId, enabled, needSignIn, requireSignIn, user?.id, key]);

  const refresh = useCallback(() => {
    const now = Date.now();
    if (now - lastRefresh.current < GRANT_REFRESH_MIN_MS) return;
    lastRefresh.current = now;
    setKey((k) => k + 1);
  }, []);

  return { grant: enabled && !needSignIn ? grant : null, error, needSignIn, refresh };
}

export function SpacePage({ id }: { id: string }) {
  usePageHooks('space', id);
  const { ready, user } = useSession();
  const [space, setSpace] = useState<SpaceView | null>(null);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [me, setMe] = useState<MeInSpace | null>(null);
  const [doc, setDoc] = useState<LiveDoc | null>(null);
  const [participants, setParticipants] = useState<Participants | null>(null);
  const [reloadKey, setReloadKey] = useState(0);

  const applySpace = useCallback((v: SpaceView) => {
    setSpace(v);
    setMe(v.me);
  }, []);
  const reload = useCallback(() => setReloadKey((k) => k + 1), []);
  const acceptDoc = useCallback(
    (d: LiveDoc) => {
      if (d.spaceId && d.spaceId !== id) return;
      setDoc((prev) => newerDoc(prev, d));
    },
    [id],
  );

  // The SpaceView (with `me`), again when the signed-in user changes.
  useEffect(() => {
    if (!ready) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async (): Promise<void> => {
      try {
        const v = await client.space(id);
        if (stopped) return;
        applySpace(v);
        setLoadError(null);
      } catch (err) {
        if (stopped) return;
        const e = toApiError(err);
        setLoadError(e);
        if (e.status !== 404 && e.status !== 400) timer = setTimeout(() => void load(), RETRY_MS);
      }
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [id, ready, user?.id, reloadKey, applySpace]);

  // The live doc's state wins (it is what the crowd sees first); states only move forward.
  const state: SpaceState | null = space
    ? doc && STATE_RANK[doc.state] > STATE_RANK[space.state]
      ? doc.state
      : space.state
    : null;

  // Ended according to the doc: fetch the SpaceView (replay details), spread over 2 s.
  useEffect(() => {
    if (state !== 'ended' || !space || space.state === 'ended') return;
    const t = setTimeout(reload, 300 + Math.random() * 2000);
    return () => clearTimeout(t);
  }, [state, space, reload]);

  const role: Role | null = me?.role ?? null;
  const blocked = !!me?.blocked;
  const stageRole = role !== null && STAGE_ROLES.has(role);
  const onStage = stageRole && state === 'live' && !blocked;
  const listening = !stageRole && !blocked && (state === 'live' || state === 'scheduled');
  const isModerator = (role === 'host' || role === 'cohost') && !blocked;
  const isHost = role === 'host' || (!!user && !!space && space.host.id === user.id && role === null);

  const {
    grant,
    error: grantError,
    needSignIn,
    refresh: refreshGrant,
  } = useListenGrant(space, listening, user);

  // No live source at all (signed out on a members-only Space: no listen token, no stream):
  // look at the SpaceView now and then so the page still follows the Space.
  const following = !!user || !!grant;
  useEffect(() => {
    if (following || !state || state === 'ended') return;
    const t = setInterval(reload, 30_000);
    return () => clearInterval(t);
  }, [following, state, reload]);

  useLiveDocPoll({
    stateUrl: grant?.stateUrl ?? null,
    leaveUrl: space?.leaveUrl ?? null,
    token: grant?.token ?? null,
    enabled: listening && !!grant,
    onDoc: acceptDoc,
    onAuthError: refreshGrant,
  });

  useSpaceEvents(id, !!user && !!space && state !== 'ended', {
    onMe: setMe,
    onParticipants: setParticipants,
    onDoc: acceptDoc,
    onSpace: applySpace,
    onOpen: (reconnect) => {
      if (reconnect) reload();
    },
  });

  // Moderators: the first Participants right away (the stream keeps it fresh).
  useEffect(() => {
    if (!isModerator || (state !== 'live' && state !== 'scheduled')) {
      setParticipants(null);
      return;
    }
    let stopped = false;
    client.participants(id).then(
      (p) => {
        if (!stopped) setParticipants((cur) => cur ?? p);
      },
      () => undefined,
    );
    return () => {
      stopped = true;
    };
  }, [id, isModerator, state]);

  // ---- mute: the server's word (me) with an optimistic local override while a call is in flight
  const serverMuted = !!me && (me.selfMuted || me.hostMuted);
  const [localMuted, setLocalMuted] = useState<boolean | null>(null);
  const [muteError, setMuteError] = useState<string | null>(null);
  useEffect(() => setLocalMuted(null), [me?.selfMuted, me?.hostMuted]);
  const muted = localMuted ?? serverMuted;
  const stage = useStage(id, onStage, muted);

  const toggleMute = async (): Promise<void> => {
    const target = !muted;
    setMuteError(null);
    if (target) setLocalMuted(true); // mute at once, locally
    try {
      await client.muteSelf(id, target);
      setLocalMuted(target);
      setMe((m) => (m ? { ...m, selfMuted: target, hostMuted: target ? m.hostMuted : false } : m));
    } catch (err) {
      setLocalMuted(null);
      const e = toApiError(err);
      setMuteError(e.code === 'FORCE_MUTED' ? 'The host muted you' : friendlyMessage(e));
    }
  };

  useEffect(() => {
    exposeHooks({ spaceId: id, spaceState: state ?? undefined, role, doc, participants });
  }, [id, state, role, doc, participants]);

  if (!space) {
    return (
      <div className="page">
        {loadError ? (
          <ErrorBox
            error={loadError}
            title={loadError.status === 404 ? 'This Space is not available' : "Can't reach Tribune"}
          >
            {loadError.status === 404 ? (
              <Link className="btn btn-small" to="/">
                See live Spaces
              </Link>
            ) : (
              <span className="muted small">Retrying automatically…</span>
            )}
          </ErrorBox>
        ) : (
          <>
            <div className="skeleton skeleton-title" aria-label="Loading" />
            <div className="skeleton skeleton-player" />
          </>
        )}
      </div>
    );
  }

  const listeners = doc?.listeners ?? participants?.listeners ?? 0;
  const title = doc?.title || space.title;

  return (
    <div className="page space-page" data-testid="space-page" data-state={state} data-role={role ?? 'none'}>
      <SpaceHeader space={space} state={state!} title={title} listeners={listeners} />

      {blocked ? (
        <ErrorBox
          error={{ code: 'BLOCKED' }}
          title="You were removed from this Space"
          message="The host removed you. You can't listen or speak here anymore."
          testId="blocked"
        >
          <Link className="btn btn-small" to="/">
            Home
          </Link>
        </ErrorBox>
      ) : state === 'scheduled' ? (
        <ScheduledView space={space} isHost={isHost} needSignIn={needSignIn} onSpace={applySpace} />
      ) : state === 'live' ? (
        <LiveView
          space={space}
          doc={doc}
          me={me}
          user={user}
          onStage={onStage}
          stage={stage.state}
          onRetryMic={stage.retry}
          onEnableAudio={() => void stage.enableAudio()}
          muted={muted}
          muteError={muteError}
          onToggleMute={() => void toggleMute()}
          grant={grant}
          grantError={grantError}
          needSignIn={needSignIn}
          onAuthError={refreshGrant}
          setMe={setMe}
          isModerator={isModerator}
          participants={participants}
          onSpace={applySpace}
        />
      ) : space.state !== 'ended' ? (
        <div className="card center" data-testid="space-ended-loading">
          <div className="spinner" aria-hidden="true" />
          <p>This Space has ended. Getting the replay…</p>
        </div>
      ) : (
        <ReplaySection space={space} isHost={isHost} onSpace={applySpace} />
      )}
    </div>
  );
}

function SpaceHeader({
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
      </div>
      <h1 className="room-title" data-testid="space-title">
        {title}
      </h1>
      <div className="host-line">
        <Avatar name={space.host.displayName} seed={space.host.id} size="sm" />
        <span className="small">
          Hosted by <strong>{space.host.displayName}</strong>{' '}
          <span className="muted">@{space.host.handle}</span>
        </span>
      </div>
      {space.description && <p className="description">{space.description}</p>}
    </header>
  );
}

function ScheduledView({
  space,
  isHost,
  needSignIn,
  onSpace,
}: {
  space: SpaceView;
  isHost: boolean;
  needSignIn: boolean;
  onSpace: (v: SpaceView) => void;
}) {
  const now = useNow(1000);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const at = space.scheduledFor ? new Date(space.scheduledFor).getTime() : NaN;

  const start = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      onSpace(await client.start(space.id));
    } catch (err) {
      setError(toApiError(err));
      setBusy(false);
    }
  };

  return (
    <>
      <div className="card scheduled-card">
        <span className="muted small">Starts</span>
        <div className="countdown" data-testid="countdown">
          {Number.isFinite(at) ? formatCountdown(at - now) : 'Soon'}
        </div>
        {space.scheduledFor && (
          <div className="muted" data-testid="scheduled-for">
            {formatDate(space.scheduledFor)}
          </div>
        )}
        <div className="row">
          {isHost ? (
            <button
              type="button"
              className="btn btn-primary"
              onClick={() => void start()}
              disabled={busy}
              data-testid="start-now"
            >
              <MicIcon />
              {busy ? 'Starting…' : 'Start now'}
            </button>
          ) : (
            <SubscribeButton space={space} onChange={onSpace} className="btn btn-primary" />
          )}
        </div>
        {!isHost && needSignIn && (
          <>
            <p className="muted small tight">This Space is for members: sign in to listen when it starts.</p>
            <Link
              className="btn btn-secondary btn-small"
              to={signInPath(here())}
              data-testid="signin-to-listen"
            >
              Sign in to listen
            </Link>
          </>
        )}
        {!isHost && !needSignIn && (
          <p className="muted small tight">
            Stay on this page and you'll hear it the moment it starts. Subscribe to get a notification.
          </p>
        )}
        {error && <ErrorBox error={error} title="Couldn't start the Space" />}
      </div>
      {isHost && (
        <div className="card panel-card">
          <InviteLinkBox spaceId={space.id} />
        </div>
      )}
    </>
  );
}

const STAGE_TEXT: Record<StageState['phase'], string> = {
  idle: 'Getting ready…',
  mic: 'Waiting for the microphone…',
  connecting: 'Connecting…',
  connected: "You're on stage",
  reconnecting: 'Reconnecting…',
  error: 'Microphone problem',
  closed: 'Off stage',
};

function LiveView(props: {
  space: SpaceView;
  doc: LiveDoc | null;
  me: MeInSpace | null;
  user: UserRef | null;
  onStage: boolean;
  stage: StageState;
  onRetryMic: () => void;
  onEnableAudio: () => void;
  muted: boolean;
  muteError: string | null;
  onToggleMute: () => void;
  grant: ListenGrant | null;
  grantError: ApiError | null;
  needSignIn: boolean;
  onAuthError: () => void;
  setMe: (fn: (m: MeInSpace | null) => MeInSpace | null) => void;
  isModerator: boolean;
  participants: Participants | null;
  onSpace: (v: SpaceView) => void;
}) {
  const { space, doc, me, user, onStage, stage, grant, setMe } = props;
  const feed = useReactionFeed(doc);
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const role = me?.role ?? null;

  const act = async (fn: () => Promise<unknown>, after: (m: MeInSpace) => MeInSpace): Promise<void> => {
    setBusy(true);
    setActionError(null);
    try {
      await fn();
      setMe((m) => (m ? after(m) : m));
    } catch (err) {
      setActionError(friendlyMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const reactionToken = grant?.token ?? null;

  return (
    <>
      {onStage ? (
        <div className="card stage-card" data-testid="stage-card" data-phase={stage.phase}>
          <div className="stage-top">
            <StatusPill state={stage.phase} text={STAGE_TEXT[stage.phase]} />
            <span className="muted small">
              {role === 'host' ? 'Host' : role === 'cohost' ? 'Co-host' : 'Speaker'}
            </span>
          </div>
          {stage.phase === 'error' && stage.error && (
            <ErrorBox error={stage.error} title="Can't use your microphone">
              <SmallButton onClick={props.onRetryMic} testId="mic-retry">
                Try again
              </SmallButton>
            </ErrorBox>
          )}
          {stage.phase === 'reconnecting' && stage.error && (
            <p className="muted small tight" data-testid="stage-retrying">
              {friendlyMessage(stage.error)}
            </p>
          )}
          {me?.hostMuted && (
            <Notice testId="host-muted-notice">
              The host muted you.
              {me.unmuteLocked
                ? " You can't unmute until they allow it."
                : ' You can unmute when you are ready.'}
            </Notice>
          )}
          {props.muteError && !me?.hostMuted && <Notice testId="host-muted-notice">{props.muteError}</Notice>}
          {stage.autoplayBlocked && (
            <Notice
              actions={
                <SmallButton onClick={props.onEnableAudio} testId="enable-audio">
                  Enable audio
                </SmallButton>
              }
            >
              Tap to hear the other speakers.
            </Notice>
          )}
          <div className="controls">
            <button
              type="button"
              className={`btn btn-round ${props.muted ? 'is-muted' : 'is-live'}`}
              onClick={props.onToggleMute}
              aria-pressed={props.muted}
              data-testid="mute-button"
              data-muted={props.muted ? 'true' : 'false'}
            >
              <MicIcon off={props.muted} />
              <span>{props.muted ? 'Unmute' : 'Mute'}</span>
            </button>
            {role !== 'host' && (
              <button
                type="button"
                className="btn btn-ghost"
                disabled={busy}
                onClick={() =>
                  void act(
                    () => client.leaveStage(space.id),
                    (m) => ({ ...m, role: 'listener' }),
                  )
                }
                data-testid="leave-stage"
              >
                Leave stage
              </button>
            )}
          </div>
        </div>
      ) : props.needSignIn ? (
        <div className="card center" data-testid="signin-gate">
          <p>This Space is for members. Sign in to listen.</p>
          <Link className="btn btn-primary" to={signInPath(here())} data-testid="signin-to-listen">
            Sign in to listen
          </Link>
        </div>
      ) : grant ? (
        <LivePlayer
          key={grant.playbackUrl}
          url={grant.playbackUrl}
          token={grant.token}
          onAuthError={props.onAuthError}
        />
      ) : props.grantError ? (
        <ErrorBox error={props.grantError} title="Can't play this Space">
          <span className="muted small">Retrying…</span>
        </ErrorBox>
      ) : (
        <div className="skeleton skeleton-player" aria-label="Loading player" />
      )}

      <section className="section">
        <div className="section-head">
          <h2>On stage</h2>
          {doc && <span className="count">{doc.speakers.length}</span>}
        </div>
        {doc ? (
          <SpeakerGrid speakers={doc.speakers} selfId={user?.id} emptyText="The host is getting ready…" />
        ) : (
          <div className="skeleton" aria-label="Loading speakers" />
        )}
      </section>

      <section className="section actions-section">
        <div className="action-row">
          {!onStage &&
            (!user ? (
              <Link className="btn btn-secondary" to={signInPath(here())} data-testid="request-to-speak">
                <HandIcon />
                Request to speak
              </Link>
            ) : me?.requested ? (
              <button
                type="button"
                className="btn btn-ghost"
                disabled={busy}
                onClick={() =>
                  void act(
                    () => client.withdrawRequest(space.id),
                    (m) => ({ ...m, requested: false }),
                  )
                }
                data-testid="withdraw-request"
              >
                <HandIcon />
                Withdraw request
              </button>
            ) : (
              <button
                type="button"
                className="btn btn-secondary"
                disabled={busy}
                onClick={() =>
                  void act(
                    () => client.requestToSpeak(space.id),
                    (m) => ({ ...m, requested: true }),
                  )
                }
                data-testid="request-to-speak"
              >
                <HandIcon />
                Request to speak
              </button>
            ))}
          <ClipControl spaceId={space.id} compact />
        </div>
        {me?.requested && !onStage && (
          <p className="muted small tight" data-testid="request-pending">
            Your request is with the host. You'll go on stage as soon as they approve it.
          </p>
        )}
        {actionError && (
          <p className="error-inline" role="alert" data-testid="action-error">
            {actionError}
          </p>
        )}
      </section>

      <ReactionCounts totals={feed.totals} />

      {props.isModerator && me?.role && user && (
        <HostPanel
          space={space}
          participants={props.participants}
          doc={doc}
          myRole={me.role}
          myId={user.id}
          onEnded={props.onSpace}
        />
      )}

      <div className="dock">
        <ReactionBar
          reactionsUrl={space.reactionsUrl}
          token={reactionToken}
          onSent={feed.addOwn}
          onRejected={feed.dropOwn}
        />
      </div>
      <ReactionFloats floats={feed.floats} />
    </>
  );
}
