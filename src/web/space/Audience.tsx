/**
 * A live Space seen from the audience: the listening slot (sign-in gate, the live player, or why it
 * can't play yet) and the actions row (request to speak / withdraw, clip, pending note, errors).
 */
import {
  client,
  here,
  signInPath,
  type ApiError,
  type ListenGrant,
  type MeInSpace,
  type UserRef,
} from '../api.js';
import { useEffect, useState } from 'react';
import { ErrorBox, HandIcon } from '../components.js';
import { LivePlayer } from '../players.js';
import { Link } from '../router.js';
import type { Admission } from './admission.js';
import { ClipControl } from './Clip.js';
import { QueueCard } from './WaitingRoom.js';

/** Runs a speaker-request call, then updates `me` the way the server will. */
export type Act = (fn: () => Promise<unknown>, after: (m: MeInSpace) => MeInSpace) => Promise<void>;

/**
 * A lobby's start is spread over the window the edge chose (`joinWindowMs`, sized to its join
 * rate): each page waits a random part of it before connecting, so 10,000 pages do not connect in
 * the same millisecond. Read once, when the slot appears (the Space just went live).
 */
function useStartSpread(admission: Admission | undefined): boolean {
  const [windowMs] = useState(() => (admission?.kind === 'admitted' ? admission.joinWindowMs : 0));
  const [ready, setReady] = useState(windowMs <= 0);
  useEffect(() => {
    if (ready) return;
    const t = setTimeout(() => setReady(true), Math.random() * windowMs);
    return () => clearTimeout(t);
  }, [ready, windowMs]);
  return ready;
}

export function ListenSlot({
  needSignIn,
  grant,
  grantError,
  onAuthError,
  admission,
  onAdmissionError,
}: {
  needSignIn: boolean;
  grant: ListenGrant | null;
  grantError: ApiError | null;
  onAuthError: () => void;
  /** This page's place at the edge (undefined: no admission step, e.g. on stage). */
  admission?: Admission;
  onAdmissionError?: () => void;
}) {
  const spread = useStartSpread(admission);
  if (grant && admission && admission.kind !== 'admitted') return <QueueCard admission={admission} />;
  if (grant && !spread)
    return (
      <div className="card center" data-testid="starting" role="status" aria-live="polite">
        <div className="spinner" aria-hidden="true" />
        <p>Starting…</p>
      </div>
    );
  return needSignIn ? (
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
      onAuthError={onAuthError}
      admission={admission?.kind === 'admitted' ? admission.token : null}
      onAdmissionError={onAdmissionError}
    />
  ) : grantError ? (
    <ErrorBox error={grantError} title="Can't play this Space">
      <span className="muted small">Retrying…</span>
    </ErrorBox>
  ) : (
    <div className="skeleton skeleton-player" aria-label="Loading player" />
  );
}

export function AudienceActions({
  spaceId,
  user,
  me,
  onStage,
  busy,
  actionError,
  act,
}: {
  spaceId: string;
  user: UserRef | null;
  me: MeInSpace | null;
  onStage: boolean;
  busy: boolean;
  actionError: string | null;
  act: Act;
}) {
  // Signed in and off stage: one button that requests, or withdraws a pending request.
  const ask = me?.requested
    ? {
        className: 'btn btn-ghost',
        testId: 'withdraw-request',
        label: 'Withdraw request',
        call: () => client.withdrawRequest(spaceId),
        requested: false,
      }
    : {
        className: 'btn btn-secondary',
        testId: 'request-to-speak',
        label: 'Request to speak',
        call: () => client.requestToSpeak(spaceId),
        requested: true,
      };

  return (
    <section className="section actions-section">
      <div className="action-row">
        {!onStage &&
          (!user ? (
            <Link className="btn btn-secondary" to={signInPath(here())} data-testid="request-to-speak">
              <HandIcon />
              Request to speak
            </Link>
          ) : (
            <button
              type="button"
              className={ask.className}
              disabled={busy}
              onClick={() => void act(ask.call, (m) => ({ ...m, requested: ask.requested }))}
              data-testid={ask.testId}
            >
              <HandIcon />
              {ask.label}
            </button>
          ))}
        <ClipControl spaceId={spaceId} compact />
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
  );
}
