import { lazy, Suspense } from 'react';
import { StrokeIcon } from './components.js';
import { HomePage } from './pages/Home.js';
import { HostPage } from './pages/Host.js';
import { JoinPage } from './pages/Join.js';
import { Link, matchRoute, useLocation } from './router.js';

// hls.js is most of the bundle: only listeners download it.
const ListenPage = lazy(() => import('./pages/Listen.js').then((m) => ({ default: m.ListenPage })));

function NotFound() {
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

function Route() {
  const { pathname, search } = useLocation();
  let m: Record<string, string> | null;
  if (matchRoute('/', pathname)) return <HomePage />;
  if ((m = matchRoute('/host/:id', pathname))) return <HostPage key={m.id} id={m.id} />;
  if ((m = matchRoute('/join/:id', pathname))) {
    const invite = new URLSearchParams(search).get('invite');
    return <JoinPage key={`${m.id}|${invite ?? ''}`} id={m.id} invite={invite} />;
  }
  if ((m = matchRoute('/listen/:id', pathname)))
    return (
      <Suspense fallback={<div className="skeleton" aria-label="Loading" />}>
        <ListenPage key={m.id} id={m.id} />
      </Suspense>
    );
  return <NotFound />;
}

export function App() {
  return (
    <div className="app">
      <header className="topbar">
        <Link to="/" className="brand" aria-label="Tribune home">
          <span className="brand-mark" aria-hidden="true">
            <StrokeIcon size={18} strokeWidth={2.2}>
              <rect x="9" y="3" width="6" height="11" rx="3" />
              <path d="M5.5 11a6.5 6.5 0 0 0 13 0M12 17.5V21" />
            </StrokeIcon>
          </span>
          Tribune
        </Link>
      </header>
      <main className="main">
        <Route />
      </main>
    </div>
  );
}
