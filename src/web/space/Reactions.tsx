/**
 * Reactions: the emoji bar, the floating emoji everyone sees when a reaction window closes
 * (the doc's `reactions.seq` changes), and the running totals since the page opened.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { friendlyMessage, toApiError } from '../api.js';
import { REACTION_EMOJI, sendReaction, type LiveDoc } from '../live.js';
import { exposeHooks } from '../testHooks.js';

interface Float {
  id: number;
  emoji: string;
  /** Horizontal position, 0..1 of the lane. */
  x: number;
  delayMs: number;
  durMs: number;
}

const MAX_FLOATS = 60;
/** At most this many floats per emoji per window (big crowds would otherwise flood the screen). */
const MAX_PER_WINDOW = 12;

let nextFloatId = 1;

export function useReactionFeed(doc: LiveDoc | null) {
  const [floats, setFloats] = useState<Float[]>([]);
  const [totals, setTotals] = useState<Record<string, number>>({});
  const lastSeq = useRef<number | null>(null);
  /** My own reactions already shown locally, not yet seen in a window. */
  const pendingOwn = useRef<Record<string, number>>({});
  const timers = useRef(new Set<ReturnType<typeof setTimeout>>());

  const spawn = useCallback((emoji: string, n: number) => {
    if (n <= 0) return;
    const add: Float[] = [];
    for (let i = 0; i < Math.min(n, MAX_PER_WINDOW); i++) {
      add.push({
        id: nextFloatId++,
        emoji,
        x: Math.random(),
        delayMs: i * 120 + Math.random() * 150,
        durMs: 2200 + Math.random() * 900,
      });
    }
    setFloats((f) => [...f, ...add].slice(-MAX_FLOATS));
    const longest = Math.max(...add.map((a) => a.delayMs + a.durMs));
    const ids = new Set(add.map((a) => a.id));
    const t = setTimeout(() => {
      timers.current.delete(t);
      setFloats((f) => f.filter((x) => !ids.has(x.id)));
    }, longest + 100);
    timers.current.add(t);
  }, []);

  useEffect(() => {
    const set = timers.current;
    return () => {
      for (const t of set) clearTimeout(t);
      set.clear();
    };
  }, []);

  const reactions = doc?.reactions;
  useEffect(() => {
    if (!reactions) return;
    if (lastSeq.current === reactions.seq) return;
    const first = lastSeq.current === null;
    lastSeq.current = reactions.seq;
    const counts = reactions.counts ?? {};
    const entries = Object.entries(counts).filter(([, n]) => typeof n === 'number' && n > 0) as [
      string,
      number,
    ][];
    if (entries.length === 0) return;
    // On the first document, an old window (seq from before this page) is not replayed.
    if (first && doc && Date.now() - doc.updatedAtMs > 5000) return;
    setTotals((t) => {
      const next = { ...t };
      for (const [e, n] of entries) next[e] = (next[e] ?? 0) + n;
      exposeHooks({ reactionTotals: next });
      return next;
    });
    for (const [e, n] of entries) {
      const own = pendingOwn.current[e] ?? 0;
      spawn(e, n - own);
    }
    pendingOwn.current = {};
  }, [reactions, doc, spawn]);

  const addOwn = useCallback(
    (emoji: string) => {
      pendingOwn.current[emoji] = (pendingOwn.current[emoji] ?? 0) + 1;
      spawn(emoji, 1);
    },
    [spawn],
  );
  const dropOwn = useCallback((emoji: string) => {
    const n = pendingOwn.current[emoji] ?? 0;
    if (n > 0) pendingOwn.current[emoji] = n - 1;
  }, []);

  return { floats, totals, addOwn, dropOwn };
}

/** The floating emoji layer (fixed above the dock, never catches taps). */
export function ReactionFloats({ floats }: { floats: Float[] }) {
  return (
    <div className="reaction-floats" aria-hidden="true">
      {floats.map((f) => (
        <span
          key={f.id}
          className="reaction-float"
          data-testid="reaction-float"
          data-emoji={f.emoji}
          style={{
            left: `${10 + f.x * 80}%`,
            animationDelay: `${f.delayMs}ms`,
            animationDuration: `${f.durMs}ms`,
          }}
        >
          {f.emoji}
        </span>
      ))}
    </div>
  );
}

/** What a screen reader says for each reaction (the emoji themselves are hidden from it). */
const REACTION_NAMES: Record<string, string> = {
  '👏': 'clapping',
  '❤️': 'heart',
  '😂': 'laughing',
  '🔥': 'fire',
  '💯': 'hundred',
  '🙌': 'raised hands',
  '🎉': 'party',
  '🤔': 'thinking',
};

export function ReactionCounts({ totals }: { totals: Record<string, number> }) {
  const entries = REACTION_EMOJI.filter((e) => (totals[e] ?? 0) > 0);
  return (
    <div className="reaction-counts" data-testid="reaction-counts" aria-label="Reactions so far">
      {entries.length === 0 ? (
        <span className="muted small">No reactions yet</span>
      ) : (
        entries.map((e) => (
          <span
            key={e}
            className="reaction-count"
            data-testid="reaction-count"
            data-emoji={e}
            data-count={totals[e]}
          >
            <span aria-hidden="true">{e}</span> <span className="sr-only">{REACTION_NAMES[e]}:</span>{' '}
            {totals[e]}
          </span>
        ))
      )}
    </div>
  );
}

/** The emoji buttons. Flooding gets a gentle message (429 from the edge). */
export function ReactionBar({
  reactionsUrl,
  token,
  onSent,
  onRejected,
}: {
  reactionsUrl: string;
  token: string | null;
  onSent: (emoji: string) => void;
  onRejected: (emoji: string) => void;
}) {
  const [note, setNote] = useState<string | null>(null);
  const noteTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(noteTimer.current), []);

  const show = (text: string): void => {
    setNote(text);
    clearTimeout(noteTimer.current);
    noteTimer.current = setTimeout(() => setNote(null), 3500);
  };

  const react = (emoji: string): void => {
    onSent(emoji);
    sendReaction(reactionsUrl, emoji, token).catch((err: unknown) => {
      onRejected(emoji);
      const e = toApiError(err);
      if (e.status === 429) show('Easy there! Too many reactions at once; give it a moment.');
      else show(friendlyMessage(e));
    });
  };

  return (
    <div className="reaction-bar-wrap">
      <div className="reaction-bar" role="group" aria-label="React">
        {REACTION_EMOJI.map((e) => (
          <button
            key={e}
            type="button"
            className="reaction-btn"
            onClick={() => react(e)}
            data-testid="reaction-button"
            data-emoji={e}
            aria-label={`React ${REACTION_NAMES[e] ?? e}`}
          >
            {e}
          </button>
        ))}
      </div>
      {note && (
        <p className="reaction-note" role="status" data-testid="reaction-note">
          {note}
        </p>
      )}
    </div>
  );
}
