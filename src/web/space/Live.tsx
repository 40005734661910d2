/**
 * A live Space: the stage card (on stage) or the listening slot, the speakers, the listeners, the
 * audience actions, reaction totals, the host panel (moderators) and the reaction dock.
 */
import { useState } from 'react';
import {
  client,
  friendlyMessage,
  type ApiError,
  type ListenGrant,
  type MeInSpace,
  type Participants,
  type SpaceView,
  type UserRef,
} from '../api.js';
import type { LiveDoc } from '../live.js';
import type { Admission } from './admission.js';
import { AudienceActions, ListenSlot, type Act } from './Audience.js';
import { HostPanel } from './HostPanel.js';
import { ListenersSection } from './Listeners.js';
import { ReactionBar, ReactionCounts, ReactionFloats, useReactionFeed } from './Reactions.js';
import { SpeakerGrid } from './Speakers.js';
import { StageCard, type StageControls } from './StageCard.js';

export function LiveView(
  props: StageControls & {
    space: SpaceView;
    doc: LiveDoc | null;
    me: MeInSpace | null;
    user: UserRef | null;
    onStage: boolean;
    grant: ListenGrant | null;
    grantError: ApiError | null;
    needSignIn: boolean;
    onAuthError: () => void;
    setMe: (fn: (m: MeInSpace | null) => MeInSpace | null) => void;
    isModerator: boolean;
    participants: Participants | null;
    onSpace: (v: SpaceView) => void;
    admission?: Admission;
    onAdmissionError?: () => void;
  },
) {
  const { space, doc, me, user, onStage, stage, grant, setMe } = props;
  const feed = useReactionFeed(doc);
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const role = me?.role ?? null;

  const act: Act = async (fn, after) => {
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
        <StageCard
          role={role}
          me={me}
          stage={stage}
          onRetryMic={props.onRetryMic}
          onEnableAudio={props.onEnableAudio}
          muted={props.muted}
          muteError={props.muteError}
          onToggleMute={props.onToggleMute}
          busy={busy}
          onLeaveStage={() =>
            void act(
              () => client.leaveStage(space.id),
              (m) => ({ ...m, role: 'listener' }),
            )
          }
        />
      ) : (
        <ListenSlot
          needSignIn={props.needSignIn}
          grant={grant}
          grantError={props.grantError}
          onAuthError={props.onAuthError}
          admission={props.admission}
          onAdmissionError={props.onAdmissionError}
        />
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

      {/* Who listens: for everyone who may listen (a members-only Space lists to members only). */}
      {!(space.requireSignIn && !user) && (
        <ListenersSection
          key={space.id}
          spaceId={space.id}
          liveCount={doc?.listeners ?? null}
          anonymous={!user}
        />
      )}

      <AudienceActions
        spaceId={space.id}
        user={user}
        me={me}
        onStage={onStage}
        busy={busy}
        actionError={actionError}
        act={act}
      />

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
