/**
 * `/s/:id`: the one Space page, for everyone, by state:
 * - scheduled: details, countdown, Subscribe; the host can start it (and invite speakers); the
 *   host, co-hosts and speakers can meet in the green room (the stage before the start: the same
 *   WHIP session then goes live without a reconnect; listeners hear nothing until the start);
 * - live: the player (listeners) or the stage (host, co-hosts, speakers: WHIP + mix-minus),
 *   speakers, listener count, reactions, request to speak, clip, host controls;
 * - ended: the replay.
 * Listeners follow the edge's state document (long-poll); signed-in users also get the SSE stream
 * (`me`, `participants`, `doc`, `space`). Stage members never poll and never play the program.
 * A visitor who is not signed in gets everything from the edge: the public view
 * (`/hls/spaces/:id/view.json`), the state document and the media; no /api request at all.
 */
import { useCallback, useEffect, useState } from 'react';
import {
  client,
  toApiError,
  type ApiError,
  type MeInSpace,
  type Participants,
  type Role,
  type SpaceState,
  type SpaceView,
} from '../api.js';
import { ErrorBox } from '../components.js';
import { useSpaceEvents } from '../events.js';
import { useLiveDocPoll, type LiveDoc } from '../live.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';
import { SpaceHeader } from '../space/Header.js';
import { useAdmission } from '../space/admission.js';
import { RETRY_MS, useListenGrant } from '../space/listenGrant.js';
import { LobbyPlace } from '../space/WaitingRoom.js';
import { publicSpaceView } from '../space/publicView.js';
import { LiveView } from '../space/Live.js';
import { ReplaySection } from '../space/Replay.js';
import { ScheduledView } from '../space/Scheduled.js';
import { EmbedBox } from '../social/ShareTools.js';
import { useSelfMute } from '../space/StageCard.js';
import { useStage } from '../stage.js';
import { exposeHooks, usePageHooks } from '../testHooks.js';
import { ReportHost, type ReportMode } from '../trust/report.js';

const STAGE_ROLES: ReadonlySet<Role> = new Set(['host', 'cohost', 'speaker']);
const STATE_RANK: Record<SpaceState, number> = { scheduled: 0, live: 1, ended: 2 };

/** The newer of two state documents (v restarts from 0 if the origin restarts: fall back on time). */
function newerDoc(prev: LiveDoc | null, d: LiveDoc): LiveDoc {
  if (!prev) return d;
  if (d.v === prev.v && d.updatedAtMs === prev.updatedAtMs) return prev;
  return d.v > prev.v || d.updatedAtMs > prev.updatedAtMs ? d : prev;
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
  /** The stage member asked to be in the green room (before the start). */
  const [greenRoom, setGreenRoom] = useState(false);

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

  // The SpaceView (with `me`), again when the signed-in user changes. Not signed in: the public
  // view, from the edge's cache (the origin's API is not asked).
  const signedIn = !!user;
  useEffect(() => {
    if (!ready) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async (): Promise<void> => {
      try {
        const v = signedIn ? await client.space(id) : await publicSpaceView(id);
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
  }, [id, ready, signedIn, user?.id, reloadKey, applySpace]);

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

  // A place at the edge before playing (and in the lobby before the start): admitted or in line.
  const { admission, refresh: refreshAdmission } = useAdmission(
    space?.id,
    grant?.playbackUrl,
    grant?.token ?? null,
    listening && !!grant,
  );

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

  const { muted, muteError, toggleMute } = useSelfMute(id, me, setMe);
  // The green room publishes like the stage; the start keeps the session (`active` stays true).
  const inGreenRoom = greenRoom && stageRole && state === 'scheduled' && !blocked;
  const leftGreenRoom = !greenRoom && stageRole && state === 'scheduled' && !blocked;
  const stage = useStage(id, onStage || inGreenRoom, muted, leftGreenRoom);

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
  // Reports (EU DSA notices): the last N seconds live, a range of the replay, else the Space itself.
  const reportMode: ReportMode =
    state === 'live'
      ? 'live'
      : state === 'ended' && space.state === 'ended' && space.replay.state === 'available'
        ? 'replay'
        : 'none';
  const restriction = me?.restriction ?? null;

  return (
    <div className="page space-page" data-testid="space-page" data-state={state} data-role={role ?? 'none'}>
      <SpaceHeader space={space} state={state!} title={title} listeners={listeners} />

      {restriction && (
        <div className="trust-banner trust-banner-alert" role="alert" data-testid="restriction-banner">
          <span>A moderator restricted you: {restriction.summary}</span>
          <Link to={`/decisions#${encodeURIComponent(restriction.statementId)}`}>
            See the statement of reasons and complain
          </Link>
        </div>
      )}
      {space.label && (
        <div className="trust-banner trust-banner-label" role="note" data-testid="space-label">
          <strong>Moderators' warning:</strong> <span>{space.label}</span>
        </div>
      )}

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
        <ScheduledView
          space={space}
          isHost={isHost}
          needSignIn={needSignIn}
          onSpace={applySpace}
          lobby={listening && grant ? <LobbyPlace admission={admission} /> : null}
          stage={
            stageRole
              ? {
                  me,
                  participants: isModerator ? participants : null,
                  selfId: user?.id,
                  controls: {
                    joined: inGreenRoom,
                    onToggle: () => setGreenRoom((g) => !g),
                    stage: stage.state,
                    onRetryMic: stage.retry,
                    onEnableAudio: () => void stage.enableAudio(),
                    muted,
                    muteError,
                    onToggleMute: () => void toggleMute(),
                  },
                }
              : null
          }
        />
      ) : state === 'live' ? (
        <LiveView
          admission={admission}
          onAdmissionError={refreshAdmission}
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
      {isHost && !blocked && <EmbedBox space={space} />}
      <ReportHost spaceId={space.id} spaceTitle={title} mode={reportMode} />
    </div>
  );
}
