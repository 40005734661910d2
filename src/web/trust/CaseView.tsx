/**
 * A case as its notifier or the affected user follows it (CaseFollowView): status, outcome, the
 * statements of reasons, public notes, complaints, and the complaint forms the viewer may use.
 */
import { formatDate } from '../components.js';
import { spacePath } from '../api.js';
import { Link } from '../router.js';
import type { CaseFollowView, ComplaintView } from './api.js';
import { ComplaintForm } from './ComplaintForm.js';
import { categoryWords, OUTCOME_WORDS, statusWords, subjectWords } from './format.js';
import { StatementCard } from './StatementCard.js';
import './trust.css';

const COMPLAINT_STATE: Record<ComplaintView['state'], string> = {
  open: 'Under review',
  upheld: 'Upheld: the decision was changed',
  rejected: 'Rejected: the decision stands',
};

export function CaseView({
  view,
  followKey,
  followEmail,
  onChanged,
}: {
  view: CaseFollowView;
  followKey?: string | null;
  /** Followed by case number + email: complaints carry the email instead of a key. */
  followEmail?: string | null;
  /** A complaint was sent: load the case again. */
  onChanged?: () => void;
}) {
  const inactionOpen =
    view.viewer === 'notifier' &&
    view.canComplainUntil !== null &&
    Date.parse(view.canComplainUntil) > Date.now() &&
    !view.complaints.some((c) => c.by === 'notifier' && c.statementId === null && c.state === 'open');
  const s = view.subject;
  return (
    <div className="trust-case" data-testid="case-view" data-case-id={view.caseId} data-status={view.status}>
      <header className="room-head">
        <div className="room-kicker">
          <span className="badge" data-testid="case-status">
            {view.status.toUpperCase()}
          </span>
          <span className="muted small">
            {view.viewer === 'notifier' ? 'You reported this' : 'This case is about you'}
          </span>
        </div>
        <h1 className="room-title trust-case-title">
          Case <span className="trust-case-id">{view.caseId}</span>
        </h1>
      </header>

      <section className="card" aria-labelledby="case-summary-h">
        <h2 id="case-summary-h" className="sr-only">
          Summary
        </h2>
        <dl className="trust-facts">
          <div>
            <dt>Status</dt>
            <dd>{statusWords(view.status, view.outcome)}</dd>
          </div>
          <div>
            <dt>Outcome</dt>
            <dd data-testid="case-outcome" data-outcome={view.outcome}>
              {OUTCOME_WORDS[view.outcome]}
            </dd>
          </div>
          <div>
            <dt>Received</dt>
            <dd>
              <time dateTime={view.createdAt}>{formatDate(view.createdAt)}</time>
            </dd>
          </div>
          <div>
            <dt>Category</dt>
            <dd>{categoryWords(view.category)}</dd>
          </div>
          <div>
            <dt>Reported content</dt>
            <dd>
              {subjectWords(s)}
              {s.spaceId && s.spaceState && s.spaceState !== 'deleted' && (
                <>
                  {' '}
                  <Link to={spacePath(s.spaceId)}>Go to the Space</Link>
                </>
              )}
            </dd>
          </div>
        </dl>
      </section>

      <section className="section" aria-labelledby="case-decisions-h">
        <div className="section-head">
          <h2 id="case-decisions-h">Decisions</h2>
          <span className="count">{view.statements.length}</span>
        </div>
        {view.statements.length === 0 ? (
          <p className="muted empty">
            {view.outcome === 'no-action'
              ? 'The moderators decided not to restrict anything.'
              : 'No decision yet. We will show it here as soon as a moderator decides.'}
          </p>
        ) : (
          <div className="trust-list">
            {view.statements.map((st) => (
              <StatementCard
                key={st.id}
                statement={st}
                actions={
                  st.canComplain ? (
                    <ComplaintForm
                      caseId={view.caseId}
                      statementId={st.id}
                      followKey={followKey}
                      title="Complain about this decision"
                      onSent={onChanged}
                    />
                  ) : null
                }
              />
            ))}
          </div>
        )}
      </section>

      {inactionOpen && (
        <section className="card" aria-label="Complain that nothing was done">
          <ComplaintForm
            caseId={view.caseId}
            followKey={followKey}
            followEmail={followEmail}
            title="Disagree with this outcome?"
            hint={`You can ask us to review it until ${formatDate(view.canComplainUntil)}. Tell us why.`}
            onSent={onChanged}
          />
        </section>
      )}

      {view.publicNotes.length > 0 && (
        <section className="section" aria-labelledby="case-notes-h">
          <div className="section-head">
            <h2 id="case-notes-h">Updates from the moderators</h2>
          </div>
          <ul className="stack-list trust-notes">
            {view.publicNotes.map((n, i) => (
              <li key={`${n.at}-${i}`} className="card">
                <p className="muted small tight">
                  <time dateTime={n.at}>{formatDate(n.at)}</time>
                </p>
                <p className="tight trust-pre">{n.text}</p>
              </li>
            ))}
          </ul>
        </section>
      )}

      {view.complaints.length > 0 && (
        <section className="section" aria-labelledby="case-complaints-h">
          <div className="section-head">
            <h2 id="case-complaints-h">Complaints</h2>
            <span className="count">{view.complaints.length}</span>
          </div>
          <ul className="stack-list trust-notes">
            {view.complaints.map((c) => (
              <li key={c.id} className="card" data-testid="complaint" data-state={c.state}>
                <p className="muted small tight">
                  {c.by === 'affected' ? 'From the affected user' : 'From the notifier'} ·{' '}
                  <time dateTime={c.createdAt}>{formatDate(c.createdAt)}</time>
                </p>
                <p className="tight trust-pre">{c.text}</p>
                <p className="tight">
                  <strong>{COMPLAINT_STATE[c.state]}</strong>
                  {c.decidedAt && <span className="muted small"> · {formatDate(c.decidedAt)}</span>}
                </p>
                {c.decisionText && <p className="tight trust-pre">{c.decisionText}</p>}
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
