/**
 * `/decisions` (signed in): my account's standing, the moderators' decisions about me (each with
 * its full statement of reasons and a complaint form while complaints are open) and my reports.
 */
import { useCallback, useEffect, useState } from 'react';
import { here, signInPath, toApiError, type ApiError } from '../api.js';
import { ErrorBox, formatDate, SmallButton } from '../components.js';
import { Link, useLocation } from '../router.js';
import { useSession } from '../session.js';
import { casePath, getTrustMe, trustErrorMessage, type TrustMe } from '../trust/api.js';
import { ComplaintForm } from '../trust/ComplaintForm.js';
import { OUTCOME_WORDS, statusWords } from '../trust/format.js';
import { StatementCard } from '../trust/StatementCard.js';
import { usePageHooks } from '../testHooks.js';
import '../trust/trust.css';

function AccountBanner({ account }: { account: TrustMe['account'] }) {
  if (account.state === 'suspended')
    return (
      <div
        className="trust-banner trust-banner-alert"
        role="alert"
        data-testid="account-state"
        data-state="suspended"
      >
        <strong>
          Your account is suspended{account.until ? ` until ${formatDate(account.until)}` : ''}.
        </strong>{' '}
        You can still read the decisions below and complain about them.
      </div>
    );
  if (account.state === 'terminated')
    return (
      <div
        className="trust-banner trust-banner-alert"
        role="alert"
        data-testid="account-state"
        data-state="terminated"
      >
        <strong>Your account was closed.</strong> You can still read the decision below and complain about it.
      </div>
    );
  return (
    <div className="trust-banner trust-banner-ok" role="status" data-testid="account-state" data-state="ok">
      Your account is in good standing
      {account.strikes > 0
        ? ` (${account.strikes} warning${account.strikes === 1 ? '' : 's'} on record)`
        : ''}
      .
    </div>
  );
}

export function DecisionsPage() {
  usePageHooks('decisions');
  const { ready, user } = useSession();
  const { pathname } = useLocation();
  const [me, setMe] = useState<TrustMe | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [attempt, setAttempt] = useState(0);
  const reload = useCallback(() => setAttempt((a) => a + 1), []);

  useEffect(() => {
    if (!ready || !user) return;
    let stopped = false;
    getTrustMe().then(
      (m) => {
        if (stopped) return;
        setMe(m);
        setError(null);
      },
      (err: unknown) => {
        if (!stopped) setError(toApiError(err));
      },
    );
    return () => {
      stopped = true;
    };
  }, [ready, user, attempt]);

  // `/decisions#<statementId>` (the Space page's restriction banner): bring that statement into view.
  const loaded = !!me;
  useEffect(() => {
    if (!loaded) return;
    const id = decodeURIComponent(window.location.hash.slice(1));
    if (!id) return;
    const el = document.getElementById(id);
    if (el) {
      el.scrollIntoView({ block: 'start' });
      el.focus({ preventScroll: true });
    }
  }, [loaded, pathname]);

  if (ready && !user)
    return (
      <div className="page narrow" data-testid="decisions-page">
        <div className="card center">
          <p>Sign in to see the moderators' decisions about you and the reports you sent.</p>
          <Link className="btn btn-primary" to={signInPath(here())}>
            Sign in
          </Link>
          <p className="muted small">
            Reported something without signing in? Use the link on your receipt, or{' '}
            <Link to="/cases">follow it by email</Link>.
          </p>
        </div>
      </div>
    );

  if (error && !me)
    return (
      <div className="page narrow" data-testid="decisions-page">
        <ErrorBox error={error} message={trustErrorMessage(error)} title="Couldn't load your decisions">
          <SmallButton onClick={reload}>Try again</SmallButton>
        </ErrorBox>
      </div>
    );

  if (!me)
    return (
      <div className="page narrow">
        <div className="skeleton skeleton-title" aria-label="Loading" />
      </div>
    );

  return (
    <div className="page trust-page" data-testid="decisions-page">
      <header className="room-head">
        <h1 className="room-title">Decisions about me</h1>
        <p className="muted">
          What Tribune's moderators decided about you and why, and the reports you sent. You can complain
          about any decision for 6 months.
        </p>
      </header>

      <AccountBanner account={me.account} />

      <section className="section" aria-labelledby="decisions-h">
        <div className="section-head">
          <h2 id="decisions-h">Decisions</h2>
          <span className="count">{me.decisions.length}</span>
        </div>
        {me.decisions.length === 0 ? (
          <p className="muted empty">No decisions about you. Nothing was restricted.</p>
        ) : (
          <div className="trust-list">
            {me.decisions.map((s) => (
              <StatementCard
                key={s.id}
                statement={s}
                actions={
                  s.canComplain ? (
                    <ComplaintForm
                      caseId={s.caseId}
                      statementId={s.id}
                      title="Complain"
                      hint="Why should we change this decision? A moderator who did not take it will review it."
                    />
                  ) : (
                    <p className="small tight">
                      <Link to={casePath(s.caseId)}>See the case and any complaints</Link>
                    </p>
                  )
                }
              />
            ))}
          </div>
        )}
      </section>

      <section className="section" aria-labelledby="notices-h">
        <div className="section-head">
          <h2 id="notices-h">My reports</h2>
          <span className="count">{me.notices.length}</span>
        </div>
        {me.notices.length === 0 ? (
          <p className="muted empty">You have not reported anything while signed in.</p>
        ) : (
          <ul className="stack-list trust-notices">
            {me.notices.map((n) => (
              <li
                key={n.caseId}
                className="card trust-notice-row"
                data-testid="my-notice"
                data-case-id={n.caseId}
              >
                <Link to={casePath(n.caseId)} className="trust-notice-link">
                  Case {n.caseId}
                </Link>
                <span className="muted small">
                  <time dateTime={n.createdAt}>{formatDate(n.createdAt)}</time> ·{' '}
                  {statusWords(n.status, n.outcome)} · {OUTCOME_WORDS[n.outcome]}
                </span>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
