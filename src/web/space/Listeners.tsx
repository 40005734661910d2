/**
 * The listener list on a live Space's page, for everyone who may listen: the signed-in listeners
 * (a page at a time, "Show more") and how many more listen anonymously.
 *
 * A visitor who is not signed in reads it from the edge (`/hls/spaces/:id/listeners.json`, the
 * same page for everyone, cached 2 s there), so an anonymous page still asks the origin nothing;
 * signed-in users ask the API (`GET /api/spaces/:id/listeners`).
 * It asks only once the section is on screen, and
 * again while it stays there (the tab visible, the list not expanded) when the live count moved or
 * a minute went by, but never sooner than max(5 s, 10 ms per listener) after the last answer: a
 * crowd that never scrolls to it costs nothing, and one that watches it asks about 100 times a
 * second at most, whatever its size. The anonymous figure follows the live count of the state
 * document (every second) less the signed-in listeners of the last answer.
 */
import { useCallback, useEffect, useRef, useState, type RefObject } from 'react';
import { ApiError, client, friendlyMessage, type UserRef } from '../api.js';
import { Avatar } from '../components.js';

const PAGE = 50;
const CHECK_MS = 1000;
const MIN_REFRESH_MS = 5000;
const MS_PER_LISTENER = 10;
const MAX_AGE_MS = 60_000;

type ListenerPage = Awaited<ReturnType<typeof client.listeners>>;
let edgeListMissing = false;

/** One page of the list: from the edge for anonymous visitors (the API if this host has no edge). */
async function fetchPage(
  spaceId: string,
  q: { cursor?: string; limit: number },
  anonymous: boolean,
): Promise<ListenerPage> {
  if (!anonymous || edgeListMissing) return client.listeners(spaceId, q);
  const u = new URL(`/hls/spaces/${encodeURIComponent(spaceId)}/listeners.json`, window.location.href);
  u.searchParams.set('limit', String(q.limit));
  if (q.cursor) u.searchParams.set('cursor', q.cursor);
  let res: Response;
  try {
    res = await fetch(u.href, { headers: { accept: 'application/json' }, credentials: 'omit' });
  } catch (err) {
    throw new ApiError('NETWORK', err instanceof Error ? err.message : String(err), 0);
  }
  const body = (await res.json().catch(() => null)) as
    (ListenerPage & { error?: { code?: string; message?: string } }) | null;
  if (res.ok && body && Array.isArray(body.listeners)) return body;
  const code = body?.error?.code ?? `HTTP_${res.status}`;
  if (res.status === 404 && code !== 'SPACE_NOT_FOUND') {
    edgeListMissing = true;
    return client.listeners(spaceId, q);
  }
  throw new ApiError(code, body?.error?.message ?? res.statusText, res.status);
}

function useOnScreen(ref: RefObject<HTMLElement | null>): boolean {
  const [on, setOn] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (typeof IntersectionObserver === 'undefined') {
      setOn(true);
      return;
    }
    const io = new IntersectionObserver((entries) => setOn(entries.some((e) => e.isIntersecting)));
    io.observe(el);
    return () => io.disconnect();
  }, [ref]);
  return on;
}

export function ListenersSection({
  spaceId,
  liveCount,
  anonymous: fromEdge = false,
}: {
  spaceId: string;
  liveCount: number | null;
  /** Not signed in: read the list from the edge. */
  anonymous?: boolean;
}) {
  const ref = useRef<HTMLElement | null>(null);
  const onScreen = useOnScreen(ref);
  const [items, setItems] = useState<UserRef[]>([]);
  const [signedIn, setSignedIn] = useState(0);
  const [anonymousAtLoad, setAnonymousAtLoad] = useState(0);
  const [next, setNext] = useState<string | null>(null);
  const [pages, setPages] = useState(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  /** Answers to an older request are dropped. */
  const seq = useRef(0);

  /** The live count when the shown list was asked for, and when. */
  const asked = useRef({ count: null as number | null, at: 0 });
  const liveRef = useRef(liveCount);
  liveRef.current = liveCount;

  const loadFirst = useCallback(async () => {
    const mine = ++seq.current;
    asked.current = { count: liveRef.current, at: Date.now() };
    try {
      const l = await fetchPage(spaceId, { limit: PAGE }, fromEdge);
      if (mine !== seq.current) return;
      setItems(l.listeners);
      setSignedIn(l.signedIn);
      setAnonymousAtLoad(l.anonymous);
      setNext(l.nextCursor);
      setPages(1);
      setError(null);
    } catch (err) {
      if (mine === seq.current) setError(friendlyMessage(err));
    }
  }, [spaceId, fromEdge]);

  const more = async (): Promise<void> => {
    if (!next) return;
    const mine = ++seq.current;
    setBusy(true);
    try {
      const l = await fetchPage(spaceId, { cursor: next, limit: PAGE }, fromEdge);
      if (mine !== seq.current) return;
      setItems((cur) => {
        const have = new Set(cur.map((u) => u.id));
        return [...cur, ...l.listeners.filter((u) => !have.has(u.id))];
      });
      setSignedIn(l.signedIn);
      setNext(l.nextCursor);
      setPages((p) => p + 1);
      setError(null);
    } catch (err) {
      if (mine === seq.current) setError(friendlyMessage(err));
    } finally {
      setBusy(false);
    }
  };

  // First load when the section comes on screen; then refresh while it stays there, unexpanded.
  const expanded = pages > 1;
  useEffect(() => {
    if (!onScreen || expanded) return;
    if (asked.current.at === 0) void loadFirst();
    const t = setInterval(() => {
      if (document.visibilityState !== 'visible') return;
      const age = Date.now() - asked.current.at;
      const gap = Math.max(MIN_REFRESH_MS, (liveRef.current ?? 0) * MS_PER_LISTENER);
      if (age >= gap && (liveRef.current !== asked.current.count || age >= MAX_AGE_MS)) void loadFirst();
    }, CHECK_MS);
    return () => clearInterval(t);
  }, [onScreen, expanded, loadFirst]);

  const anonymous = liveCount !== null ? Math.max(0, liveCount - signedIn) : anonymousAtLoad;
  const loaded = pages > 0;
  const others = anonymous === 1 ? 'other' : 'others';
  return (
    <section
      className="section"
      ref={ref}
      data-testid="listeners-section"
      data-loaded={loaded ? 'true' : 'false'}
      aria-labelledby="listeners-heading"
    >
      <div className="section-head">
        <h2 id="listeners-heading">Listeners</h2>
        <span className="count" data-testid="listeners-total">
          {loaded ? signedIn + anonymous : (liveCount ?? '…')}
        </span>
      </div>
      {items.length > 0 && (
        <ul className="chips" data-testid="listener-list">
          {items.map((u) => (
            <li key={u.id} className="chip" data-testid="listener-item" data-handle={u.handle}>
              <Avatar name={u.displayName} seed={u.id} size="xs" />
              {u.displayName}
            </li>
          ))}
        </ul>
      )}
      {loaded && (
        <div className="listeners-more">
          {next && (
            <button
              type="button"
              className="btn btn-small btn-secondary"
              onClick={() => void more()}
              disabled={busy}
              data-testid="listeners-more"
            >
              Show more
            </button>
          )}
          {anonymous > 0 ? (
            <span className="muted small" data-testid="listeners-anonymous" data-count={anonymous}>
              {items.length > 0
                ? `and ${anonymous} ${others} listening anonymously`
                : `${anonymous} listening anonymously`}
            </span>
          ) : (
            items.length === 0 && <span className="muted small">No one is listening yet.</span>
          )}
        </div>
      )}
      {error && <p className="warn-text small">{error}</p>}
    </section>
  );
}
