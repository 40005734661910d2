import { lazy, Suspense, useEffect, useRef, useState } from 'react';
import { client, signInPath, spacePath, type FeedItemView } from './api.js';
import { Avatar, BellIcon, formatAgo, formatDate, LogoIcon } from './components.js';
import { ClipPage } from './pages/Clip.js';
import { EmbedPage } from './pages/Embed.js';
import { ProfilePage } from './pages/Profile.js';
import { SearchPage } from './pages/Search.js';
import { SearchBox } from './social/SearchBox.js';
import { profilePath } from './social/SpaceCard.js';
import { HomePage } from './pages/Home.js';
import { JoinPage } from './pages/Join.js';
import { NewSpacePage } from './pages/NewSpace.js';
import { SignInPage } from './pages/SignIn.js';
import { useOperatorAccess } from './ops-api.js';
import { canModerate, useTrustRoles } from './moderation/api.js';
import { SpacePage } from './pages/Space.js';
import { Link, matchRoute, navigate, useLocation } from './router.js';
import { signOut, useSession } from './session.js';
import { usePageHooks } from './testHooks.js';

const NOTIFICATIONS_POLL_MS = 15_000;

/** The operator console (and its plotting library) loads only when opened. */
const ConsolePage = lazy(() => import('./pages/Console.js').then((m) => ({ default: m.ConsolePage })));
/** The moderation console (EU DSA; moderators and admins) too. */
const ModerationPage = lazy(() =>
  import('./pages/Moderation.js').then((m) => ({ default: m.ModerationPage })),
);
/** The EU DSA pages for users (following a report, decisions about me) too. */
const CasePage = lazy(() => import('./pages/Case.js').then((m) => ({ default: m.CasePage })));
const CasesFollowPage = lazy(() => import('./pages/Case.js').then((m) => ({ default: m.CasesFollowPage })));
const DecisionsPage = lazy(() => import('./pages/Decisions.js').then((m) => ({ default: m.DecisionsPage })));
/** The public status page (and the console's stylesheet it shares) too. */
const StatusPage = lazy(() => import('./pages/Status.js').then((m) => ({ default: m.StatusPage })));

const pageLoading = <div className="skeleton" aria-label="Loading" />;

function NotFound() {
  usePageHooks('notfound');
  return (
    <div className="page">
      <div className="error-box" data-testid="error" data-code="NOT_FOUND" role="alert">
        <strong className="error-title">Page not found</strong>
        <p className="error-message">There's nothing at this address.</p>
        <div className="error-actions">
          <Link className="btn btn-small" to="/">
            Go home
          </Link>
        </div>
      </div>
    </div>
  );
}

/** Old links (/listen/:id, /host/:id) now all go to the Space page. */
function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

function Route() {
  const { pathname, search } = useLocation();
  const q = new URLSearchParams(search);
  let m: Record<string, string> | null;
  if (matchRoute('/', pathname)) return <HomePage />;
  if (matchRoute('/signin', pathname)) return <SignInPage next={q.get('next')} />;
  if (matchRoute('/new', pathname)) return <NewSpacePage />;
  if ((m = matchRoute('/s/:id', pathname))) return <SpacePage key={m.id} id={m.id} />;
  if ((m = matchRoute('/clip/:id', pathname))) return <ClipPage key={m.id} id={m.id} />;
  if ((m = matchRoute('/u/:handle', pathname))) return <ProfilePage key={m.handle} handle={m.handle} />;
  if (matchRoute('/search', pathname)) return <SearchPage q={q.get('q') ?? ''} />;
  if (matchRoute('/status', pathname))
    return (
      <Suspense fallback={pageLoading}>
        <StatusPage />
      </Suspense>
    );
  if (matchRoute('/ops', pathname))
    return (
      <Suspense fallback={pageLoading}>
        <ConsolePage />
      </Suspense>
    );
  if (matchRoute('/moderation', pathname))
    return (
      <Suspense fallback={pageLoading}>
        <ModerationPage view="queue" />
      </Suspense>
    );
  if ((m = matchRoute('/moderation/cases/:id', pathname)))
    return (
      <Suspense fallback={pageLoading}>
        <ModerationPage view="case" caseId={m.id} />
      </Suspense>
    );
  if (matchRoute('/moderation/report', pathname))
    return (
      <Suspense fallback={pageLoading}>
        <ModerationPage view="report" />
      </Suspense>
    );
  if (matchRoute('/moderation/admin', pathname))
    return (
      <Suspense fallback={pageLoading}>
        <ModerationPage view="admin" />
      </Suspense>
    );
  if (matchRoute('/cases', pathname))
    return (
      <Suspense fallback={pageLoading}>
        <CasesFollowPage initialId={q.get('id')} />
      </Suspense>
    );
  if ((m = matchRoute('/cases/:id', pathname)))
    return (
      <Suspense fallback={pageLoading}>
        <CasePage key={`${m.id}|${q.get('key') ?? ''}`} id={m.id} followKey={q.get('key')} />
      </Suspense>
    );
  if (matchRoute('/decisions', pathname))
    return (
      <Suspense fallback={pageLoading}>
        <DecisionsPage />
      </Suspense>
    );
  if ((m = matchRoute('/join/:id', pathname))) {
    const invite = q.get('invite');
    return <JoinPage key={`${m.id}|${invite ?? ''}`} id={m.id} invite={invite} />;
  }
  if ((m = matchRoute('/listen/:id', pathname)) || (m = matchRoute('/host/:id', pathname)))
    return <Redirect to={spacePath(m.id)} />;
  return <NotFound />;
}

/**
 * Polls the signed-in user's notification feed (their reminders, and what the people they follow
 * scheduled or started) every 15 s, and at each page change.
 */
function useNotifications(enabled: boolean) {
  const [items, setItems] = useState<FeedItemView[]>([]);
  const { pathname } = useLocation();
  useEffect(() => {
    if (!enabled) {
      setItems([]);
      return;
    }
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async (): Promise<void> => {
      try {
        const page = await client.feed();
        if (!stopped) setItems(page.items);
      } catch {
        // keep the last list; try again next time
      }
      if (!stopped) timer = setTimeout(() => void load(), NOTIFICATIONS_POLL_MS);
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [enabled, pathname]);
  return [items, setItems] as const;
}

function Notifications() {
  const [items, setItems] = useNotifications(true);
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement | null>(null);
  const unread = items.filter((n) => !n.readAt).length;

  useEffect(() => {
    if (!open) return;
    const onDown = (e: PointerEvent): void => {
      if (ref.current && !ref.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('pointerdown', onDown);
    return () => document.removeEventListener('pointerdown', onDown);
  }, [open]);

  const toggle = (): void => {
    const next = !open;
    setOpen(next);
    if (next && unread > 0) {
      const now = new Date().toISOString();
      void client.markFeedRead().then(
        () => setItems((list) => list.map((n) => (n.readAt ? n : { ...n, readAt: now }))),
        () => undefined,
      );
    }
  };

  return (
    <div className="menu" ref={ref}>
      <button
        type="button"
        className="icon-btn"
        onClick={toggle}
        aria-label={unread > 0 ? `Notifications, ${unread} unread` : 'Notifications'}
        aria-expanded={open}
        data-testid="notifications-button"
      >
        <BellIcon />
        {unread > 0 && (
          <span className="badge-count" data-testid="notifications-badge">
            {unread}
          </span>
        )}
      </button>
      {open && (
        <div className="menu-panel" data-testid="notifications-panel">
          <div className="menu-title">Notifications</div>
          {items.length === 0 ? (
            <p className="muted small menu-empty">
              Nothing yet. Follow people or subscribe to an upcoming Space to get a heads-up.
            </p>
          ) : (
            <ul className="menu-list">
              {items.map((n) => (
                <li key={n.id}>
                  <Link
                    to={spacePath(n.spaceId)}
                    className={`menu-item${n.readAt ? '' : ' is-unread'}`}
                    data-testid="notification-item"
                    data-space-id={n.spaceId}
                    data-kind={n.kind}
                    onClick={() => setOpen(false)}
                  >
                    <FeedItemText item={n} />
                  </Link>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}

/** One notification: a reminder ("… started"), or a followed host's "scheduled" / "is live". */
function FeedItemText({ item: n }: { item: FeedItemView }) {
  const ago = <span className="muted small"> · {formatAgo(n.createdAt)}</span>;
  if (n.kind === 'host-scheduled')
    return (
      <>
        <span className="badge badge-soon">NEW</span>
        <span className="menu-item-text">
          {n.host.displayName} scheduled <strong>{n.spaceTitle}</strong>
          {n.scheduledFor && <span className="muted small"> for {formatDate(n.scheduledFor)}</span>}
          {ago}
        </span>
      </>
    );
  return (
    <>
      <span className="badge badge-live">LIVE</span>
      <span className="menu-item-text">
        {n.kind === 'host-live' ? (
          <>
            {n.host.displayName} is live: <strong>{n.spaceTitle}</strong>
          </>
        ) : (
          <>
            <strong>{n.spaceTitle}</strong> started
          </>
        )}
        {ago}
      </span>
    </>
  );
}

function UserMenu() {
  const { user } = useSession();
  const { pathname } = useLocation();
  // Operators find their console here (in the menu, so the header stays one row on a phone).
  const { operator } = useOperatorAccess(user?.id ?? null);
  // Moderators and admins find the moderation console here too (GET /api/trust/me, once).
  const { roles: trustRoles } = useTrustRoles(user?.id ?? null);
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement | null>(null);
  useEffect(() => {
    if (!open) return;
    const onDown = (e: PointerEvent): void => {
      if (ref.current && !ref.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('pointerdown', onDown);
    return () => document.removeEventListener('pointerdown', onDown);
  }, [open]);
  if (!user) return null;
  return (
    <div className="menu" ref={ref}>
      <button
        type="button"
        className="icon-btn avatar-btn"
        onClick={() => setOpen(!open)}
        aria-label={`Signed in as @${user.handle}`}
        aria-expanded={open}
        data-testid="current-user"
        data-handle={user.handle}
      >
        <Avatar name={user.displayName} seed={user.id} size="sm" />
      </button>
      {open && (
        <div className="menu-panel">
          <div className="menu-title">
            {user.displayName}
            <div className="muted small">@{user.handle}</div>
          </div>
          <Link
            to={profilePath(user.handle)}
            className="btn btn-small btn-ghost btn-wide"
            data-testid="my-profile"
            onClick={() => setOpen(false)}
          >
            Your profile
          </Link>
          <Link
            to="/decisions"
            className="btn btn-small btn-ghost btn-wide"
            data-testid="decisions-link"
            onClick={() => setOpen(false)}
          >
            Decisions about me
          </Link>
          {operator && pathname !== '/ops' && (
            <Link
              to="/ops"
              className="btn btn-small btn-ghost btn-wide"
              data-testid="ops-link"
              onClick={() => setOpen(false)}
            >
              Operator console
            </Link>
          )}
          {canModerate(trustRoles) && !pathname.startsWith('/moderation') && (
            <Link
              to="/moderation"
              className="btn btn-small btn-ghost btn-wide"
              data-testid="moderation-link"
              onClick={() => setOpen(false)}
            >
              Moderation
            </Link>
          )}
          <button
            type="button"
            className="btn btn-small btn-ghost btn-wide"
            data-testid="signout"
            onClick={() => {
              setOpen(false);
              void signOut().then(() => navigate('/'));
            }}
          >
            Sign out
          </button>
        </div>
      )}
    </div>
  );
}

function Header() {
  const { ready, user } = useSession();
  const { pathname, search } = useLocation();
  const onSignIn = pathname === '/signin';
  return (
    <header className="topbar">
      <Link to="/" className="brand" aria-label="Tribune home" data-testid="brand">
        <span className="brand-mark" aria-hidden="true">
          <LogoIcon />
        </span>
        <span className="brand-name">Tribune</span>
      </Link>
      <SearchBox />
      <div className="topbar-actions">
        {pathname !== '/new' && (
          <Link
            to={user ? '/new' : signInPath('/new')}
            className="btn btn-primary btn-small"
            data-testid="start-space"
          >
            <span aria-hidden="true">+</span>
            <span>
              Start<span className="hide-xs"> a Space</span>
            </span>
          </Link>
        )}
        {user && <Notifications />}
        {user && <UserMenu />}
        {ready && !user && !onSignIn && (
          <Link
            to={signInPath(pathname === '/' ? undefined : pathname + search)}
            className="btn btn-small btn-ghost"
            data-testid="signin-link"
          >
            Sign in
          </Link>
        )}
      </div>
    </header>
  );
}

export function App() {
  const { pathname } = useLocation();
  // The embeddable player (in other sites' frames): no app chrome.
  const embed = matchRoute('/embed/:id', pathname);
  if (embed) return <EmbedPage key={embed.id} id={embed.id} />;
  return (
    <div className="app">
      <Header />
      <main
        className={
          matchRoute('/ops', pathname) || pathname === '/moderation' || pathname.startsWith('/moderation/')
            ? 'main main-wide'
            : 'main'
        }
      >
        <Route />
      </main>
    </div>
  );
}
