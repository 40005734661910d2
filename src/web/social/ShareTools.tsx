/**
 * Sharing a Space: Copy link (announced politely: "Link copied"), Add to calendar (the `.ics` of a
 * scheduled Space), and for hosts the embeddable player's `<iframe>` snippet with a Copy button.
 */
import { useEffect, useState } from 'react';
import { absoluteUrl, client, type SpaceView } from '../api.js';
import { copyText } from '../components.js';
import { embedRefusal, embedSnippet } from '../../social/embed.js';
import '../social.css';

/** A status that clears itself after a moment (what a polite live region reads out). */
function useFlash(ms = 2500): [string, (s: string) => void] {
  const [text, setText] = useState('');
  useEffect(() => {
    if (!text) return;
    const t = setTimeout(() => setText(''), ms);
    return () => clearTimeout(t);
  }, [text, ms]);
  return [text, setText];
}

export function CopyLinkButton({ space }: { space: SpaceView }) {
  const [status, setStatus] = useFlash();
  const onCopy = async (): Promise<void> => {
    const ok = await copyText(absoluteUrl(space.shareUrl || `/s/${space.id}`));
    setStatus(ok ? 'Link copied' : "Couldn't copy the link");
  };
  return (
    <>
      <button
        type="button"
        className="btn btn-secondary btn-small"
        onClick={() => void onCopy()}
        data-testid="copy-link"
      >
        {status === 'Link copied' ? '✓ Link copied' : 'Copy link'}
      </button>
      <span className="sr-only" role="status" aria-live="polite" data-testid="copy-link-status">
        {status}
      </span>
    </>
  );
}

export function CalendarLink({ space }: { space: SpaceView }) {
  return (
    <a
      className="btn btn-secondary btn-small"
      href={client.calendarUrl(space.id)}
      download={`tribune-${space.id}.ics`}
      data-testid="add-to-calendar"
    >
      Add to calendar
    </a>
  );
}

/** Copy link and Add to calendar, for a scheduled Space. */
export function ScheduledShare({ space }: { space: SpaceView }) {
  return (
    <div className="share-tools" data-testid="share-tools">
      <CopyLinkButton space={space} />
      {space.state === 'scheduled' && <CalendarLink space={space} />}
    </div>
  );
}

/** The host's "Embed": the snippet to paste into another site, and a Copy button. */
export function EmbedBox({ space }: { space: SpaceView }) {
  const [status, setStatus] = useFlash();
  // Members only, or ended without a replay: nothing another site could play.
  if (embedRefusal(space)) return null;
  const snippet = embedSnippet(window.location.origin, space);
  const onCopy = async (): Promise<void> =>
    setStatus((await copyText(snippet)) ? 'Embed code copied' : "Couldn't copy");
  return (
    <section className="card embed-box" data-testid="embed-box" aria-labelledby="embed-box-title">
      <h2 className="embed-box-title" id="embed-box-title">
        Embed
      </h2>
      <p className="muted small tight">
        Put this player on your own site: paste the code into its page. It plays the Space live, and the
        replay afterwards.
      </p>
      <textarea
        readOnly
        value={snippet}
        aria-label="Embed code"
        data-testid="embed-snippet"
        onFocus={(e) => e.currentTarget.select()}
      />
      <div className="share-tools">
        <button
          type="button"
          className="btn btn-secondary btn-small"
          onClick={() => void onCopy()}
          data-testid="embed-copy"
        >
          Copy embed code
        </button>
        <span className="sr-only" role="status" aria-live="polite">
          {status}
        </span>
      </div>
    </section>
  );
}
