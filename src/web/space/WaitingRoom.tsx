/**
 * The waiting room: where a listener stands when the edge is full (position, honest wait, when it
 * asks again), the under-attack check (a small proof-of-work puzzle), and the lobby note before a
 * Space starts. Everything is announced politely to screen readers; nothing here is an error.
 */
import type { Admission } from './admission.js';

const fmt = new Intl.NumberFormat();

function waitText(waitMs: number | null): string {
  if (waitMs === null) return 'Places open as listeners leave or capacity is added. You keep your place.';
  const s = Math.max(1, Math.round(waitMs / 1000));
  if (s < 60) return `About ${s} second${s === 1 ? '' : 's'}.`;
  const m = Math.round(s / 60);
  return `About ${m} minute${m === 1 ? '' : 's'}.`;
}

export function QueueCard({ admission }: { admission: Admission }) {
  if (admission.kind === 'queued') {
    return (
      <div
        className="card queue-card"
        data-testid="queue-card"
        data-position={admission.position}
        role="status"
        aria-live="polite"
        aria-atomic="true"
      >
        <span className="muted small">This Space is full right now. You're in line.</span>
        <div className="queue-position">
          <span className="muted">Position</span>{' '}
          <strong data-testid="queue-position">{fmt.format(admission.position)}</strong>
        </div>
        <p className="tight" data-testid="queue-wait">
          {waitText(admission.waitMs)}
        </p>
        <p className="muted small tight">
          Keep this page open; reloading it keeps your place. The audio starts by itself.
        </p>
      </div>
    );
  }
  if (admission.kind === 'challenge') {
    return (
      <div
        className="card center pow-card"
        data-testid="pow-challenge"
        role="status"
        aria-live="polite"
        aria-atomic="true"
      >
        <p className="tight">Checking your browser before you join (a small puzzle, a moment)…</p>
      </div>
    );
  }
  if (admission.kind === 'busy') {
    return (
      <div className="card center" data-testid="queue-busy" role="status" aria-live="polite">
        <p>Lots of people are joining. Trying again in {Math.ceil(admission.retryInMs / 1000)} s…</p>
      </div>
    );
  }
  return (
    <div className="skeleton skeleton-player" aria-label="Getting you a place" data-testid="queue-asking" />
  );
}

/** Before the start: the listener's place in the lobby. */
export function LobbyPlace({ admission }: { admission: Admission }) {
  if (admission.kind === 'admitted')
    return (
      <p
        className="muted small tight lobby-note"
        data-testid="lobby-admitted"
        role="status"
        aria-live="polite"
      >
        You have a place. The audio starts here the moment the host starts.
      </p>
    );
  return <QueueCard admission={admission} />;
}
