/**
 * One case (`/moderation/cases/:id`): the notice and the subject, the evidence (and "Listen live"
 * while the Space is live), the decision (a restriction, or none), notes, statements of reasons,
 * complaints with their decisions, and the case's event log. Refreshed every 5 s and after each
 * change (other moderators work on the same cases).
 */
import { useCallback, useId, useState, type FormEvent, type ReactNode } from 'react';
import { friendlyMessage } from '../api.js';
import { ErrorBox, formatDate } from '../components.js';
import { usePolling } from '../poll.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';
import { ActionForm, ResolveForm } from './ActionForm.js';
import {
  modApi,
  type ComplaintView,
  type EventView,
  type ModeratorCaseView,
  type NoteView,
  type UserRefView,
} from './api.js';
import { StatementCard } from '../trust/StatementCard.js';
import { EvidencePlayer, ListenLive } from './EvidencePlayer.js';
import {
  categoryWords,
  OUTCOME_WORDS,
  PriorityBadges,
  RESTRICTION_WORDS,
  STATUS_WORDS,
  SubjectLine,
  UserLink,
  userName,
  Field,
} from './shared.js';

export const CASE_POLL_MS = 5000;

export function CaseDetail({ id }: { id: string }) {
  const load = useCallback(() => modApi.caseFull(id), [id]);
  const {
    data: c,
    error,
    reload,
  } = usePolling(load, {
    intervalMs: CASE_POLL_MS,
    stopOn: (e) => e.status === 401 || e.status === 403 || e.status === 404,
  });

  return (
    <article className="mod-case" aria-labelledby="mod-case-title" data-testid="case" data-case-id={id}>
      <p className="small tight">
        <Link to="/moderation">← Moderation queue</Link>
      </p>
      <div className="ops-head">
        <h1 className="ops-title mod-case-title" id="mod-case-title">
          Case {id}
        </h1>
        {c && (
          <p className="mod-badges" data-testid="case-status" data-status={c.status} data-outcome={c.outcome}>
            <span className="badge">{STATUS_WORDS[c.status] ?? c.status}</span>
            <span className="badge">{OUTCOME_WORDS[c.outcome] ?? c.outcome}</span>
            <PriorityBadges c={c} />
          </p>
        )}
      </div>
      {error && (
        <ErrorBox error={error} title={c ? 'Not updating' : "Can't load the case"}>
          {error.status !== 401 && error.status !== 403 && error.status !== 404 && (
            <span className="muted small">Retrying…</span>
          )}
        </ErrorBox>
      )}
      {!c && !error && <div className="skeleton" aria-label="Loading" />}
      {c && <CaseBody c={c} reload={reload} />}
    </article>
  );
}

function Section({ title, children, testId }: { title: string; children: ReactNode; testId?: string }) {
  const headingId = useId();
  return (
    <section className="card ops-card mod-section" aria-labelledby={headingId} data-testid={testId}>
      <h2 className="ops-card-title" id={headingId}>
        {title}
      </h2>
      {children}
    </section>
  );
}

function CaseBody({ c, reload }: { c: ModeratorCaseView; reload: () => void }) {
  const { user } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const run = async (fn: () => Promise<unknown>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      reload();
    } catch (err) {
      setError(friendlyMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const mine = !!user && c.assignee?.id === user.id;
  const closed = c.status === 'closed';

  return (
    <div className="mod-case-grid">
      <div className="mod-col">
        <Section title="Case" testId="case-summary">
          <dl className="mod-dl">
            <dt>Category</dt>
            <dd>{categoryWords(c.category)}</dd>
            <dt>Subject</dt>
            <dd data-testid="case-subject">
              <SubjectLine subject={c.subject} />
            </dd>
            {c.affected && (
              <>
                <dt>Affected</dt>
                <dd>
                  <UserLink user={c.affected} />
                </dd>
              </>
            )}
            <dt>Opened</dt>
            <dd>
              {formatDate(c.createdAt)}
              {c.source === 'own-initiative' && ' · own initiative'}
            </dd>
            <dt>Assignee</dt>
            <dd data-testid="case-assignee">
              {c.assignee ? userName(c.assignee) : <span className="muted">Nobody</span>}
            </dd>
          </dl>
          <div className="mod-row">
            {user && !mine && (
              <button
                type="button"
                className="btn btn-small btn-secondary"
                disabled={busy}
                onClick={() => void run(() => modApi.assign(c.id, user.id))}
                data-testid="assign-me"
              >
                Assign to me
              </button>
            )}
            {mine && (
              <button
                type="button"
                className="btn btn-small btn-ghost"
                disabled={busy}
                onClick={() => void run(() => modApi.assign(c.id, null))}
                data-testid="unassign"
              >
                Unassign
              </button>
            )}
            {c.status === 'open' && (
              <button
                type="button"
                className="btn btn-small btn-secondary"
                disabled={busy}
                onClick={() => void run(() => modApi.escalate(c.id))}
                data-testid="escalate"
              >
                Escalate
              </button>
            )}
          </div>
          {error && (
            <p className="mod-error" role="alert">
              {error}
            </p>
          )}
        </Section>

        <Section title="Notice" testId="case-notice">
          {c.notice ? (
            <>
              {c.notice.trustedFlagger && (
                <p className="tight">
                  <span className="badge mod-badge-tf">Trusted flagger</span>{' '}
                  <strong data-testid="trusted-flagger-org">{c.notice.trustedFlagger}</strong>
                </p>
              )}
              <blockquote className="mod-quote mod-text" data-testid="notice-explanation">
                {c.notice.explanation}
              </blockquote>
              <dl className="mod-dl">
                <dt>Notifier</dt>
                <dd data-testid="notifier">
                  {c.notice.name ?? <span className="muted">No name given</span>}
                  {c.notice.email && (
                    <>
                      {' · '}
                      <a href={`mailto:${c.notice.email}`}>{c.notice.email}</a>
                    </>
                  )}
                </dd>
                {c.notice.notifier && (
                  <>
                    <dt>Account</dt>
                    <dd>
                      <UserLink user={c.notice.notifier} />
                    </dd>
                  </>
                )}
              </dl>
            </>
          ) : (
            <p className="muted tight">No notice: opened by a moderator on their own initiative.</p>
          )}
        </Section>

        <Section title="Evidence" testId="case-evidence">
          {c.live && c.subject.spaceId && <ListenLive spaceId={c.subject.spaceId} />}
          {c.evidence.length === 0 ? (
            <p className="muted tight">No audio was kept for this case.</p>
          ) : (
            c.evidence.map((e) => <EvidencePlayer key={e.id} evidence={e} />)
          )}
        </Section>

        <Section title="Decision" testId="case-decision">
          {closed && (
            <p className="muted small tight">
              This case is closed ({OUTCOME_WORDS[c.outcome] ?? c.outcome}). A new restriction reopens the
              record.
            </p>
          )}
          <ActionForm caseId={c.id} subjectKind={c.subject.kind} live={c.live} onDone={reload} />
          {!closed && (
            <>
              <hr className="mod-hr" />
              <ResolveForm caseId={c.id} onDone={reload} />
            </>
          )}
        </Section>
      </div>

      <div className="mod-col">
        <Section title="Notes" testId="case-notes">
          <NoteForm caseId={c.id} onDone={reload} />
          <NotesList notes={c.notes} />
        </Section>

        <Section title="Statements of reasons" testId="case-statements">
          {c.statements.length === 0 ? (
            <p className="muted tight">No restriction yet.</p>
          ) : (
            c.statements.map((s) => <StatementCard key={s.id} statement={s} headingLevel={3} />)
          )}
        </Section>

        <Section title="Complaints" testId="case-complaints">
          {c.complaints.length === 0 ? (
            <p className="muted tight">No complaints.</p>
          ) : (
            <ul className="mod-list">
              {c.complaints.map((k) => (
                <li key={k.id}>
                  <ComplaintItem complaint={k} onDone={reload} mine={deciderOf(c, k) === user?.id} />
                </li>
              ))}
            </ul>
          )}
        </Section>

        <Section title="Events" testId="case-events">
          <EventLog
            events={c.events}
            people={[c.assignee, c.affected, c.subject.user, c.notice?.notifier ?? null]}
          />
        </Section>
      </div>
    </div>
  );
}

function NoteForm({ caseId, onDone }: { caseId: string; onDone: () => void }) {
  const [text, setText] = useState('');
  const [visibility, setVisibility] = useState<'internal' | 'public'>('internal');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const id = useId();

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!text.trim()) return setError('Write the note first.');
    setBusy(true);
    setError(null);
    try {
      await modApi.addNote(caseId, { text: text.trim(), visibility });
      setText('');
      onDone();
    } catch (err) {
      setError(friendlyMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="form mod-form" onSubmit={(e) => void submit(e)} aria-busy={busy} data-testid="note-form">
      <Field label="Note">
        {(p) => (
          <textarea
            {...p}
            className="input textarea"
            value={text}
            onChange={(e) => setText(e.target.value)}
            maxLength={2000}
          />
        )}
      </Field>
      <div className="field" role="radiogroup" aria-labelledby={`${id}-vis`}>
        <span className="field-label" id={`${id}-vis`}>
          Visibility
        </span>
        <div className="mod-radios">
          <label className="check mod-check">
            <input
              type="radio"
              name={`${id}-visibility`}
              checked={visibility === 'internal'}
              onChange={() => setVisibility('internal')}
            />
            <span>Internal (moderators)</span>
          </label>
          <label className="check mod-check">
            <input
              type="radio"
              name={`${id}-visibility`}
              checked={visibility === 'public'}
              onChange={() => setVisibility('public')}
            />
            <span>Public (notifier and affected user)</span>
          </label>
        </div>
      </div>
      {error && (
        <p className="mod-error" role="alert">
          {error}
        </p>
      )}
      <div className="mod-row">
        <button type="submit" className="btn btn-small btn-secondary" disabled={busy} data-testid="add-note">
          Add note
        </button>
      </div>
    </form>
  );
}

function NotesList({ notes }: { notes: NoteView[] }) {
  if (notes.length === 0) return <p className="muted tight">No notes yet.</p>;
  return (
    <ul className="mod-list" data-testid="notes">
      {notes.map((n, i) => (
        <li key={`${n.at}|${i}`} className="mod-note" data-testid="note" data-visibility={n.visibility}>
          <div className="mod-row">
            <span className={`badge ${n.visibility === 'public' ? 'badge-soon' : ''}`}>
              {n.visibility === 'public' ? 'Public' : 'Internal'}
            </span>
            <span className="muted small">
              {n.author ? userName(n.author) : 'System'} · {formatDate(n.at)}
            </span>
          </div>
          <p className="mod-text tight">{n.text}</p>
        </li>
      ))}
    </ul>
  );
}

const COMPLAINT_STATE = { open: 'Open', upheld: 'Upheld (reversed)', rejected: 'Rejected' } as const;

/** Who took the decision a complaint is about (Art. 20: someone else decides the complaint). */
function deciderOf(c: ModeratorCaseView, k: ComplaintView): string | undefined {
  const e = k.statementId
    ? c.events.find((x) => x.kind === 'action' && x.data.statementId === k.statementId)
    : c.events.filter((x) => x.kind === 'resolve').at(-1);
  return e?.actor?.id;
}

function ComplaintItem({
  complaint: k,
  onDone,
  mine,
}: {
  complaint: ComplaintView;
  onDone: () => void;
  /** The viewer took the decision complained about: another moderator decides. */
  mine: boolean;
}) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const decide = async (uphold: boolean): Promise<void> => {
    if (!text.trim()) return setError('Give the reasons for the decision.');
    setBusy(true);
    setError(null);
    try {
      await modApi.decideComplaint(k.id, uphold, text.trim());
      setText('');
      onDone();
    } catch (err) {
      setError(friendlyMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="mod-complaint" data-testid="complaint" data-complaint-id={k.id} data-state={k.state}>
      <div className="mod-row">
        <span className={`badge ${k.state === 'open' ? 'badge-soon' : ''}`}>
          {COMPLAINT_STATE[k.state] ?? k.state}
        </span>
        <span className="muted small">
          By the {k.by === 'affected' ? 'affected user' : 'notifier'} · {formatDate(k.createdAt)}
          {k.statementId ? ` · about ${k.statementId}` : ' · about inaction'}
        </span>
      </div>
      <p className="mod-text tight">{k.text}</p>
      {k.state !== 'open' && k.decisionText && (
        <p className="mod-text small tight">
          <span className="muted">Decision{k.decidedAt ? ` (${formatDate(k.decidedAt)})` : ''}:</span>{' '}
          {k.decisionText}
        </p>
      )}
      {k.state === 'open' && mine && (
        <p className="muted small tight" data-testid="complaint-not-mine">
          You took the decision this complaint is about: another moderator decides it.
        </p>
      )}
      {k.state === 'open' && !mine && (
        <form className="form mod-form" onSubmit={(e) => e.preventDefault()} aria-busy={busy}>
          <Field label="Decision reasons">
            {(p) => (
              <textarea
                {...p}
                className="input textarea"
                value={text}
                onChange={(e) => setText(e.target.value)}
                required
                maxLength={2000}
              />
            )}
          </Field>
          {error && (
            <p className="mod-error" role="alert">
              {error}
            </p>
          )}
          <div className="mod-row">
            <button
              type="button"
              className="btn btn-small btn-danger"
              disabled={busy}
              onClick={() => void decide(true)}
              data-testid="uphold"
            >
              Uphold and reverse
            </button>
            <button
              type="button"
              className="btn btn-small btn-secondary"
              disabled={busy}
              onClick={() => void decide(false)}
              data-testid="reject"
            >
              Reject complaint
            </button>
          </div>
        </form>
      )}
    </div>
  );
}

const EVENT_WORDS: Record<string, string> = {
  report: 'Reported',
  open: 'Opened',
  comment: 'Note',
  assign: 'Assigned',
  escalate: 'Escalated',
  action: 'Restricted',
  resolve: 'Resolved without action',
  unfounded: 'Manifestly unfounded',
  complaint: 'Complaint',
  'complaint-decided': 'Complaint decided',
  reverse: 'Reversed',
  'notifier-paused': 'Notifier paused',
  evidence: 'Evidence kept',
};

/** A few words from an event's details (a note's text, an action's restriction...). */
function eventDetail(e: EventView, names: Map<string, string>): string {
  const d = e.data ?? {};
  const str = (k: string): string | null => (typeof d[k] === 'string' && d[k] ? (d[k] as string) : null);
  const parts: string[] = [];
  const r = str('restriction');
  if (r) parts.push(RESTRICTION_WORDS[r as keyof typeof RESTRICTION_WORDS] ?? r);
  if (e.kind === 'assign') {
    const uid = str('userId');
    parts.push(uid ? `to ${str('handle') ? `@${str('handle')}` : (names.get(uid) ?? uid)}` : 'unassigned');
  }
  const vis = str('visibility');
  if (vis) parts.push(vis === 'public' ? 'public' : 'internal');
  if (typeof d.uphold === 'boolean') parts.push(d.uphold ? 'upheld' : 'rejected');
  if (typeof d.unfounded === 'boolean' && d.unfounded) parts.push('manifestly unfounded');
  if (typeof d.startSec === 'number' && typeof d.endSec === 'number')
    parts.push(`${d.startSec.toFixed(0)}–${d.endSec.toFixed(0)} s`);
  const text = str('text') ?? str('explanation');
  if (text) parts.push(`“${text.length > 160 ? `${text.slice(0, 157)}…` : text}”`);
  const sid = str('statementId');
  if (sid) parts.push(sid);
  return parts.join(' · ');
}

/** The case's log, oldest first (Ozone's timeline). */
function EventLog({ events, people }: { events: EventView[]; people: (UserRefView | null)[] }) {
  if (events.length === 0) return <p className="muted tight">No events.</p>;
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  // Ids in the events' details, in words: everyone the case names.
  const names = new Map<string, string>();
  for (const u of [...people, ...events.map((e) => e.actor)]) if (u) names.set(u.id, userName(u));
  return (
    <ol className="mod-timeline-log" data-testid="events">
      {sorted.map((e) => (
        <li key={e.seq} className={`mod-event mod-event-${e.kind}`} data-testid="event" data-kind={e.kind}>
          <span className="mod-event-dot" aria-hidden="true" />
          <div className="mod-event-body">
            <div className="mod-row">
              <strong>{EVENT_WORDS[e.kind] ?? e.kind}</strong>
              <span className="muted small">
                {e.actor ? userName(e.actor) : 'System or notifier'} ·{' '}
                <time dateTime={e.at}>{formatDate(e.at)}</time>
              </span>
            </div>
            {eventDetail(e, names) && <p className="mod-text small tight">{eventDetail(e, names)}</p>}
          </div>
        </li>
      ))}
    </ol>
  );
}
