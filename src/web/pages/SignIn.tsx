import { useEffect, useState, type FormEvent } from 'react';
import { client, formatWait, friendlyMessage, toApiError, type ApiError } from '../api.js';
import { useNow } from '../components.js';
import { navigate } from '../router.js';
import { setSessionUser, useSession } from '../session.js';
import { usePageHooks } from '../testHooks.js';

/** Only same-origin paths are followed after signing in. */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  return next;
}

type Mode = 'signin' | 'signup';

export function SignInPage({ next }: { next: string | null }) {
  usePageHooks('signin');
  const { user, ready } = useSession();
  const target = safeNext(next);
  const [mode, setMode] = useState<Mode>('signin');
  const [handle, setHandle] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [throttledUntil, setThrottledUntil] = useState(0);
  const now = useNow(throttledUntil > Date.now() ? 500 : 60_000);
  const waitMs = Math.max(0, throttledUntil - now);

  // Already signed in (or just signed in): go on.
  useEffect(() => {
    if (ready && user) navigate(target, { replace: true });
  }, [ready, user, target]);

  const onSubmit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (busy || waitMs > 0) return;
    setBusy(true);
    setError(null);
    try {
      const h = handle.trim().toLowerCase();
      const res =
        mode === 'signin'
          ? await client.signIn({ handle: h, password })
          : await client.signUp({ handle: h, displayName: displayName.trim() || h, password });
      setSessionUser(res.user);
    } catch (err) {
      const e2 = toApiError(err);
      if (e2.code === 'SIGNIN_THROTTLED' || e2.code === 'RATE_LIMITED')
        setThrottledUntil(Date.now() + (e2.retryAfterSec ?? 30) * 1000);
      setError(e2);
      setBusy(false);
    }
  };

  const handleHint =
    mode === 'signup' && handle && !/^[a-z0-9_]{3,24}$/.test(handle.trim().toLowerCase())
      ? '3 to 24 characters: letters, digits and _'
      : null;

  let errorText: string | null = null;
  if (error) {
    if (error.code === 'SIGNIN_THROTTLED')
      errorText =
        waitMs > 0
          ? `Too many failed sign-ins. Try again in ${formatWait(waitMs / 1000)}.`
          : 'You can try again now.';
    else if (error.code === 'BAD_REQUEST' && mode === 'signup')
      errorText = 'Check the fields: handle 3–24 characters (a–z, 0–9, _), password at least 8 characters.';
    else errorText = friendlyMessage(error);
  }

  return (
    <div className="page narrow">
      <header className="room-head">
        <h1 className="room-title">{mode === 'signin' ? 'Welcome back' : 'Create your account'}</h1>
        <p className="muted">
          {mode === 'signin'
            ? 'Sign in to speak, host, subscribe and listen to members-only Spaces.'
            : 'Pick a handle people will know you by.'}
        </p>
      </header>
      <form
        className="card form"
        onSubmit={(e) => void onSubmit(e)}
        data-testid="signin-form"
        data-mode={mode}
      >
        <label className="field">
          <span className="field-label">Handle</span>
          <input
            className="input"
            data-testid="signin-handle"
            name="username"
            autoComplete="username"
            autoCapitalize="none"
            autoCorrect="off"
            spellCheck={false}
            placeholder="your_handle"
            maxLength={64}
            value={handle}
            onChange={(e) => setHandle(e.target.value)}
            required
          />
          {handleHint && <span className="field-hint">{handleHint}</span>}
        </label>
        {mode === 'signup' && (
          <label className="field">
            <span className="field-label">Display name</span>
            <input
              className="input"
              data-testid="signup-display-name"
              name="name"
              autoComplete="name"
              placeholder="Your name"
              maxLength={50}
              value={displayName}
              onChange={(e) => setDisplayName(e.target.value)}
              required
            />
          </label>
        )}
        <label className="field">
          <span className="field-label">Password</span>
          <input
            className="input"
            data-testid="signin-password"
            type="password"
            name="password"
            autoComplete={mode === 'signin' ? 'current-password' : 'new-password'}
            minLength={mode === 'signup' ? 8 : 1}
            maxLength={200}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
          {mode === 'signup' && <span className="field-hint">At least 8 characters.</span>}
        </label>
        {errorText && (
          <div
            className="error-box"
            role="alert"
            data-testid="signin-error"
            data-code={error?.code}
            data-wait-sec={error?.code === 'SIGNIN_THROTTLED' ? Math.ceil(waitMs / 1000) : undefined}
          >
            <p className="error-message">{errorText}</p>
          </div>
        )}
        <button
          type="submit"
          className="btn btn-primary btn-block"
          data-testid="signin-submit"
          disabled={busy || waitMs > 0}
        >
          {busy
            ? mode === 'signin'
              ? 'Signing in…'
              : 'Creating account…'
            : waitMs > 0
              ? `Wait ${formatWait(waitMs / 1000)}`
              : mode === 'signin'
                ? 'Sign in'
                : 'Create account'}
        </button>
        <p className="center small muted switch-mode">
          {mode === 'signin' ? 'New to Tribune?' : 'Already have an account?'}{' '}
          <button
            type="button"
            className="link-btn"
            data-testid="signin-toggle"
            onClick={() => {
              setMode(mode === 'signin' ? 'signup' : 'signin');
              setError(null);
            }}
          >
            {mode === 'signin' ? 'Create an account' : 'Sign in'}
          </button>
        </p>
      </form>
    </div>
  );
}
