import { useState } from 'react';
import { absoluteUrl, client, friendlyMessage, type ClipView } from '../api.js';
import { CopyField, ScissorsIcon } from '../components.js';
import { exposeHooks } from '../testHooks.js';

export const CLIP_SECONDS = 30;

/**
 * "Clip": the last 30 s of a live Space (no start), or 30 s from `getStart()` seconds into a replay.
 * Shows the clip's link once made.
 */
export function ClipControl({
  spaceId,
  getStart,
  label = `Clip the last ${CLIP_SECONDS} s`,
  compact = false,
}: {
  spaceId: string;
  getStart?: () => number | null;
  label?: string;
  compact?: boolean;
}) {
  const [clip, setClip] = useState<ClipView | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const make = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const start = getStart?.();
      if (getStart && (start === null || start === undefined || !Number.isFinite(start) || start < 0)) {
        setError('Enter a start time in seconds.');
        return;
      }
      const c = await client.createClip(
        spaceId,
        start === null || start === undefined
          ? { durationSec: CLIP_SECONDS }
          : { startSec: start, durationSec: CLIP_SECONDS },
      );
      setClip(c);
      exposeHooks({ clip: c });
    } catch (err) {
      setError(friendlyMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className={`clip-control${compact ? ' is-compact' : ''}`}>
      <button
        type="button"
        className="btn btn-secondary"
        onClick={() => void make()}
        disabled={busy}
        data-testid="clip-button"
      >
        <ScissorsIcon />
        {busy ? 'Clipping…' : label}
      </button>
      {error && (
        <p className="warn-text small" role="alert" data-testid="clip-error">
          {error}
        </p>
      )}
      {clip && (
        <div className="clip-result">
          <CopyField
            url={absoluteUrl(clip.shareUrl || `/clip/${clip.id}`)}
            testId="clip-link"
            label="Your clip"
          />
        </div>
      )}
    </div>
  );
}
