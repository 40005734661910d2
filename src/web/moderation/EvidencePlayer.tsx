/**
 * A case's evidence: each kept copy of the reported audio (EvidenceView: an HLS VOD of fMP4/Opus,
 * played with the app's own engine, as replays and clips are), its reported range marked on the
 * timeline; and, while the Space is live, "Listen live" (the Space page's live player).
 */
import { lazy, Suspense, useCallback, useEffect, useState } from 'react';
import { client, toApiError, type ApiError, type ListenGrant } from '../api.js';
import { formatDay } from '../components.js';
import { ListenSlot } from '../space/Audience.js';
import { useAdmission } from '../space/admission.js';
import type { EvidenceView } from './api.js';
import { fmtSec } from './shared.js';

const EvidenceAudio = lazy(() => import('./EvidenceAudio.js'));

export function EvidencePlayer({ evidence: e }: { evidence: EvidenceView }) {
  const markStart = Math.max(0, e.startSec - e.copyStartSec);
  const markEnd = Math.max(markStart, e.endSec - e.copyStartSec);
  return (
    <div className="mod-evidence" data-testid="evidence" data-evidence-id={e.id}>
      <p className="mod-range" data-testid="reported-range">
        <strong>
          Reported range {fmtSec(markStart)}–{fmtSec(markEnd)}
        </strong>{' '}
        <span className="muted small">
          (at {fmtSec(e.startSec)}–{fmtSec(e.endSec)} in the recording · kept until {formatDay(e.keepUntil)})
        </span>
      </p>
      <Suspense fallback={<div className="skeleton skeleton-player" aria-label="Loading player" />}>
        <EvidenceAudio url={e.url} markStart={markStart} markEnd={markEnd} fallbackDuration={markEnd + 1} />
      </Suspense>
    </div>
  );
}

/** "Listen live": the Space's live audio in the console, with a listen grant for the moderator. */
export function ListenLive({ spaceId }: { spaceId: string }) {
  const [on, setOn] = useState(false);
  return (
    <div className="mod-listen" data-testid="listen-live">
      <div className="mod-row">
        <button
          type="button"
          className={`btn btn-small ${on ? 'btn-accent' : 'btn-secondary'}`}
          aria-pressed={on}
          onClick={() => setOn(!on)}
          data-testid="listen-live-button"
        >
          Listen live
        </button>
        <span className="muted small" aria-live="polite">
          {on ? 'Listening to the Space as it happens. Press again to stop.' : 'The Space is live.'}
        </span>
      </div>
      {on && <LiveListener spaceId={spaceId} />}
    </div>
  );
}

function LiveListener({ spaceId }: { spaceId: string }) {
  const [grant, setGrant] = useState<ListenGrant | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const get = async (): Promise<void> => {
      try {
        const g = await client.listen(spaceId);
        if (stopped) return;
        setGrant(g);
        setError(null);
      } catch (err) {
        if (stopped) return;
        const e = toApiError(err);
        setError(e);
        if (e.status !== 403 && e.status !== 404) timer = setTimeout(() => void get(), 3000);
      }
    };
    void get();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [spaceId, round]);
  const refresh = useCallback(() => setRound((r) => r + 1), []);
  const { admission, refresh: refreshAdmission } = useAdmission(
    spaceId,
    grant?.playbackUrl,
    grant?.token ?? null,
    !!grant,
  );
  return (
    <ListenSlot
      needSignIn={false}
      grant={grant}
      grantError={error}
      onAuthError={refresh}
      admission={admission}
      onAdmissionError={refreshAdmission}
    />
  );
}
