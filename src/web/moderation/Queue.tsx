/**
 * The moderation queue (`/moderation`): open, escalated or closed cases in the server's priority
 * order (trusted flaggers' notices first, then live Spaces, then the oldest). Polls about every
 * second, so a trusted flagger's notice is on top within a second of arriving.
 */
import { useCallback, useState } from 'react';
import { ErrorBox, useNow } from '../components.js';
import { usePolling } from '../poll.js';
import { Link } from '../router.js';
import { modApi, type CaseStatus, type CaseSummary } from './api.js';
import {
  age,
  categoryShort,
  categoryWords,
  OUTCOME_WORDS,
  PriorityBadges,
  SubjectLine,
  userName,
} from './shared.js';

/**
 * Asked again this long after each answer: with the answer's own time, a new case shows within a
 * second of arriving.
 */
export const QUEUE_POLL_MS = 800;

const TABS: { status: CaseStatus; label: string }[] = [
  { status: 'open', label: 'Open' },
  { status: 'escalated', label: 'Escalated' },
  { status: 'closed', label: 'Closed' },
];

export const casePath = (id: string): string => `/moderation/cases/${encodeURIComponent(id)}`;

export function Queue() {
  const [status, setStatus] = useState<CaseStatus>('open');
  return (
    <section className="mod-queue" aria-labelledby="mod-queue-title">
      <div className="ops-head">
        <h1 className="ops-title" id="mod-queue-title">
          Moderation queue
        </h1>
      </div>
      <fieldset className="ops-fieldset mod-tabs">
        <legend className="sr-only">Cases</legend>
        <div className="ops-segmented" role="radiogroup" aria-label="Cases">
          {TABS.map((t) => (
            <label key={t.status} className={`ops-segment${status === t.status ? ' is-checked' : ''}`}>
              <input
                type="radio"
                name="mod-queue-status"
                value={t.status}
                checked={status === t.status}
                onChange={() => setStatus(t.status)}
                data-testid={`queue-tab-${t.status}`}
              />
              {t.label}
            </label>
          ))}
        </div>
      </fieldset>
      <QueueList key={status} status={status} />
    </section>
  );
}

function QueueList({ status }: { status: CaseStatus }) {
  const load = useCallback(() => modApi.queue(status), [status]);
  const { data, error } = usePolling(load, {
    intervalMs: QUEUE_POLL_MS,
    stopOn: (e) => e.status === 401 || e.status === 403,
  });
  const now = useNow(1000);

  return (
    <div className="mod-queue-body" data-testid="queue" data-status={status} data-count={data?.length ?? ''}>
      {error && (
        <ErrorBox error={error} title={data ? 'Not updating' : "Can't load the queue"}>
          {error.status !== 401 && error.status !== 403 && <span className="muted small">Retrying…</span>}
        </ErrorBox>
      )}
      {!data && !error && <div className="skeleton" aria-label="Loading" />}
      {data && data.length === 0 && (
        <p className="card muted" data-testid="queue-empty">
          {status === 'open'
            ? 'No open cases. Nice.'
            : status === 'escalated'
              ? 'Nothing escalated.'
              : 'No closed cases.'}
        </p>
      )}
      {data && data.length > 0 && (
        <div className="card ops-card ops-table-wrap">
          <table className="ops-table mod-table">
            <caption className="sr-only">
              {status} cases, {data.length}, highest priority first
            </caption>
            <thead>
              <tr>
                <th scope="col">Case</th>
                <th scope="col">Priority</th>
                <th scope="col">Category</th>
                <th scope="col">Subject</th>
                <th scope="col">Age</th>
                <th scope="col">Assignee</th>
                <th scope="col">Complaints</th>
                <th scope="col">
                  <span className="sr-only">Open</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.map((c) => (
                <QueueRow key={c.id} c={c} now={now} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function QueueRow({ c, now }: { c: CaseSummary; now: number }) {
  return (
    <tr data-testid="queue-row" data-case-id={c.id} data-priority={c.priority} data-source={c.source}>
      <th scope="row" className="mod-case-id">
        <span className="mod-mono">{c.id}</span>
        {c.outcome !== 'pending' && (
          <span className="muted small"> · {OUTCOME_WORDS[c.outcome] ?? c.outcome}</span>
        )}
      </th>
      <td data-label="Priority">
        <span className="mod-badges">
          <PriorityBadges c={c} />
          {c.source === 'notice' && c.subject.spaceState !== 'live' && (
            <span className="muted small">Normal</span>
          )}
        </span>
      </td>
      <td data-label="Category" title={categoryWords(c.category)}>
        {categoryShort(c.category)}
      </td>
      <td data-label="Subject">
        <SubjectLine subject={c.subject} links={false} />
      </td>
      <td data-label="Age">
        <time dateTime={c.createdAt} title={new Date(c.createdAt).toLocaleString()}>
          {age(c.createdAt, now)}
        </time>
      </td>
      <td data-label="Assignee">
        {c.assignee ? userName(c.assignee) : <span className="muted">Nobody</span>}
      </td>
      <td data-label="Complaints">
        {c.openComplaints > 0 ? (
          <span className="badge badge-soon" data-testid="open-complaints">
            {c.openComplaints} open
          </span>
        ) : (
          <span className="muted">0</span>
        )}
      </td>
      <td className="mod-cell-open">
        <Link
          to={casePath(c.id)}
          className="btn btn-small btn-secondary"
          aria-label={`Open case ${c.id}`}
          data-testid="open-case"
        >
          Open case
        </Link>
      </td>
    </tr>
  );
}
