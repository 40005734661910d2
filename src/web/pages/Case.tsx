/**
 * `/cases/:id?key=`: follow a report (the receipt's link), or a decision about me.
 * `/cases`: follow a report by its case number and the email address given in it.
 */
import { useCallback, useEffect, useId, useState, type FormEvent } from 'react';
import { toApiError, type ApiError } from '../api.js';
import { ErrorBox, SmallButton } from '../components.js';
import { Link } from '../router.js';
import { followCase, getCase, trustErrorMessage, type CaseFollowView } from '../trust/api.js';
import { CaseView } from '../trust/CaseView.js';
import { usePageHooks } from '../testHooks.js';

export function CasePage({ id, followKey }: { id: string; followKey: string | null }) {
  usePageHooks('case', id);
  const [view, setView] = useState<CaseFollowView | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [attempt, setAttempt] = useState(0);
  const reload = useCallback(() => setAttempt((a) => a + 1), []);

  useEffect(() => {
    let stopped = false;
    getCase(id, followKey).then(
      (v) => {
        if (stopped) return;
        setView(v);
        setError(null);
      },
      (err: unknown) => {
        if (!stopped) setError(toApiError(err));
      },
    );
    return () => {
      stopped = true;
    };
  }, [id, followKey, attempt]);

  if (error && !view)
    return (
      <div className="page narrow" data-testid="case-page">
        <ErrorBox
          error={error}
          message={trustErrorMessage(error)}
          title={
            error.status === 404 || error.status === 403 ? 'Case not available' : "Couldn't load the case"
          }
        >
          {error.status >= 500 || error.status === 0 ? (
            <SmallButton onClick={reload}>Try again</SmallButton>
          ) : null}
          <Link className="btn btn-small btn-ghost" to="/cases">
            Follow a report by email
          </Link>
        </ErrorBox>
      </div>
    );

  if (!view)
    return (
      <div className="page narrow">
        <div className="skeleton skeleton-title" aria-label="Loading" />
      </div>
    );

  return (
    <div className="page trust-page" data-testid="case-page">
      <CaseView view={view} followKey={followKey} onChanged={reload} />
    </div>
  );
}

export function CasesFollowPage({ initialId }: { initialId?: string | null }) {
  usePageHooks('cases');
  const uid = useId();
  const [caseId, setCaseId] = useState(initialId ?? '');
  const [email, setEmail] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [view, setView] = useState<CaseFollowView | null>(null);

  const load = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      setView(await followCase(caseId.trim(), email.trim()));
    } catch (err) {
      setError(trustErrorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const onSubmit = (e: FormEvent): void => {
    e.preventDefault();
    if (busy) return;
    if (!caseId.trim()) {
      setError('Enter the case number from your receipt.');
      document.getElementById(`${uid}-case`)?.focus();
      return;
    }
    if (!email.trim()) {
      setError('Enter the email address you gave in the report.');
      document.getElementById(`${uid}-email`)?.focus();
      return;
    }
    void load();
  };

  if (view)
    return (
      <div className="page trust-page" data-testid="cases-page">
        <CaseView view={view} followEmail={email.trim()} onChanged={() => void load()} />
        <p className="small">
          <button type="button" className="link-btn" onClick={() => setView(null)}>
            Follow another report
          </button>
        </p>
      </div>
    );

  return (
    <div className="page narrow" data-testid="cases-page">
      <header className="room-head">
        <h1 className="room-title">Follow a report</h1>
        <p className="muted">
          Enter the case number from your receipt and the email address you gave. Lost the link? This works
          too.
        </p>
      </header>
      <form className="card form" noValidate onSubmit={onSubmit} aria-label="Follow a report">
        <div className="field">
          <label className="field-label" htmlFor={`${uid}-case`}>
            Case number
          </label>
          <input
            id={`${uid}-case`}
            className="input"
            autoComplete="off"
            spellCheck={false}
            placeholder="case_…"
            value={caseId}
            onChange={(e) => setCaseId(e.target.value)}
            data-testid="follow-case-id"
          />
        </div>
        <div className="field">
          <label className="field-label" htmlFor={`${uid}-email`}>
            Email address
          </label>
          <input
            id={`${uid}-email`}
            className="input"
            type="email"
            autoComplete="email"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            data-testid="follow-email"
          />
        </div>
        <div role="alert" aria-live="assertive" data-testid="follow-error">
          {error && <p className="error-inline">{error}</p>}
        </div>
        <button
          type="submit"
          className="btn btn-primary"
          disabled={busy}
          aria-busy={busy || undefined}
          data-testid="follow-submit"
        >
          Follow
        </button>
      </form>
    </div>
  );
}
