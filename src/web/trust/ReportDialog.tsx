/**
 * "Report": the EU DSA notice form (Art. 16) in a modal <dialog>. The location (Art. 16(2)(b)) is
 * filled in by the page and shown read-only: the Space, the speaker, the clip, and the time range
 * (the last N seconds of a live Space, a range around the replay's position, or the whole clip).
 * On success the receipt (Art. 16(4)) shows at once, with the follow link to keep.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { absoluteUrl } from '../api.js';
import { CopyField, formatDate } from '../components.js';
import { Link } from '../router.js';
import { useSession } from '../session.js';
import { CATEGORIES, type Category } from '../../trust/model.js';
import {
  casePath,
  sendNotice,
  trustErrorMessage,
  type NoticeBody,
  type Receipt,
  type SubjectBody,
} from './api.js';
import { categoryWords, fmtClock, parseClock } from './format.js';
import './trust.css';

export const MINORS: Category = 'STATEMENT_CATEGORY_PROTECTION_OF_MINORS';
export const EXPLANATION_MIN = 10;
export const EXPLANATION_MAX = 4000;
/** The live choices: the last N seconds. */
export const LAST_SECONDS = [30, 60, 120, 300] as const;
const LAST_WORDS: Record<(typeof LAST_SECONDS)[number], string> = {
  30: 'The last 30 seconds',
  60: 'The last minute',
  120: 'The last 2 minutes',
  300: 'The last 5 minutes',
};
/** A replay's default range: this much before the position. */
const REPLAY_BEFORE_SEC = 30;

/** What the report is about, as the page knows it. */
export interface ReportTarget {
  spaceId: string;
  spaceTitle: string;
  speaker?: { id: string; name: string; handle?: string } | null;
  clip?: { id: string; durationSec: number } | null;
  /** Which time range applies. */
  range:
    | { kind: 'live' }
    | { kind: 'replay'; positionSec: number; durationSec: number | null }
    | { kind: 'clip' }
    | { kind: 'none' };
}

function replayDefaults(positionSec: number, durationSec: number | null): [number, number] {
  const pos = Math.max(0, Math.floor(positionSec));
  const end = Math.max(pos, Math.min(REPLAY_BEFORE_SEC, durationSec ?? REPLAY_BEFORE_SEC));
  return [Math.max(0, end - REPLAY_BEFORE_SEC), end];
}

export function ReportDialog({ target, onClose }: { target: ReportTarget; onClose: () => void }) {
  const { user } = useSession();
  const ref = useRef<HTMLDialogElement | null>(null);
  const uid = useId();
  const titleId = `${uid}-title`;

  const [lastSec, setLastSec] = useState<number>(60);
  const [[defStart, defEnd]] = useState(() =>
    target.range.kind === 'replay'
      ? replayDefaults(target.range.positionSec, target.range.durationSec)
      : [0, 0],
  );
  const [start, setStart] = useState(fmtClock(defStart));
  const [end, setEnd] = useState(fmtClock(defEnd));
  const [category, setCategory] = useState<Category | ''>('');
  const [explanation, setExplanation] = useState('');
  const [name, setName] = useState(user?.displayName ?? '');
  const [email, setEmail] = useState('');
  const [goodFaith, setGoodFaith] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [invalid, setInvalid] = useState<string | null>(null);
  const [receipt, setReceipt] = useState<Receipt | null>(null);
  const receiptRef = useRef<HTMLHeadingElement | null>(null);

  // Open as a modal (the rest of the page inert, Escape closes); give focus back when done.
  useEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (dialog && !dialog.open) dialog.showModal();
    return () => {
      if (dialog?.open) dialog.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);

  useEffect(() => {
    if (receipt) receiptRef.current?.focus();
  }, [receipt]);

  const minors = category === MINORS;
  const explanationLength = explanation.trim().length;

  const subject = (): SubjectBody | 'start' | 'end' => {
    const s: SubjectBody = {
      kind: target.clip ? 'clip' : target.speaker ? 'speaker' : 'space',
      spaceId: target.spaceId,
    };
    if (target.speaker) s.userId = target.speaker.id;
    if (target.clip) s.clipId = target.clip.id;
    if (target.range.kind === 'live') s.lastSec = lastSec;
    if (target.range.kind === 'replay') {
      const a = parseClock(start);
      const b = parseClock(end);
      if (a === null) return 'start';
      if (b === null || b <= a) return 'end';
      s.startSec = a;
      s.endSec = b;
    }
    return s;
  };

  const fail = (field: string, message: string): void => {
    setInvalid(field);
    setError(message);
    document.getElementById(`${uid}-${field}`)?.focus();
  };

  const onSubmit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (busy) return;
    const s = subject();
    if (s === 'start') return fail('start', 'Enter the start as minutes:seconds, e.g. 12:30.');
    if (s === 'end') return fail('end', 'Enter an end (minutes:seconds) after the start.');
    if (!category) return fail('category', 'Choose a category.');
    if (explanationLength < EXPLANATION_MIN)
      return fail('explanation', `Explain why in at least ${EXPLANATION_MIN} characters.`);
    if (explanation.length > EXPLANATION_MAX)
      return fail('explanation', `Keep the explanation under ${EXPLANATION_MAX} characters.`);
    if (!minors && !name.trim()) return fail('name', 'Enter your name.');
    if (!minors && !email.trim()) return fail('email', 'Enter your email address.');
    if (email.trim() && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim()))
      return fail('email', 'Enter a valid email address.');
    if (!goodFaith) return fail('goodfaith', 'Confirm that you send this notice in good faith.');
    const body: NoticeBody = { subject: s, category, explanation: explanation.trim(), goodFaith: true };
    if (name.trim()) body.name = name.trim();
    if (email.trim()) body.email = email.trim();
    setInvalid(null);
    setError(null);
    setBusy(true);
    try {
      setReceipt(await sendNotice(body));
    } catch (err) {
      setError(trustErrorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const fieldProps = (field: string, describedBy?: string) => ({
    id: `${uid}-${field}`,
    'aria-invalid': invalid === field ? true : undefined,
    'aria-describedby':
      [describedBy, invalid === field ? `${uid}-error` : undefined].filter(Boolean).join(' ') || undefined,
  });

  return (
    <dialog
      ref={ref}
      className="trust-dialog"
      aria-labelledby={titleId}
      data-testid="report-dialog"
      onClose={onClose}
      onCancel={(e) => {
        // Escape: close through React (onClose above).
        e.preventDefault();
        onClose();
      }}
    >
      <div className="trust-dialog-head">
        <h2 id={titleId}>Report</h2>
        <button
          type="button"
          className="icon-btn"
          aria-label="Close"
          onClick={onClose}
          data-testid="report-close"
        >
          <span aria-hidden="true">✕</span>
        </button>
      </div>

      {receipt ? (
        <div className="trust-receipt" data-testid="report-receipt" data-case-id={receipt.caseId}>
          <h3 ref={receiptRef} tabIndex={-1}>
            Report received
          </h3>
          <dl className="trust-facts">
            <div>
              <dt>Case number</dt>
              <dd data-testid="receipt-case-id">{receipt.caseId}</dd>
            </div>
            <div>
              <dt>Received</dt>
              <dd>
                <time dateTime={receipt.receivedAt}>{formatDate(receipt.receivedAt)}</time>
              </dd>
            </div>
            {receipt.evidence && (
              <div>
                <dt>Audio kept for review</dt>
                <dd>
                  {fmtClock(receipt.evidence.startSec)}–{fmtClock(receipt.evidence.endSec)}
                </dd>
              </div>
            )}
          </dl>
          <CopyField
            label="Follow link"
            url={absoluteUrl(receipt.followUrl || casePath(receipt.caseId, receipt.followKey))}
            testId="receipt-follow-url"
            copyLabel="follow link"
          />
          <p className="tight">
            <strong>Keep this link to follow your report.</strong> Anyone with it can see how the case goes.
            {user ? ' Your reports are also listed under “Decisions about me”.' : ''}
          </p>
          <p className="muted small tight">
            We review every report and tell you what we decide. If you gave an email address, we write to you
            there too.
          </p>
          <div className="trust-actions">
            <Link
              className="btn btn-small btn-ghost"
              to={casePath(receipt.caseId, receipt.followKey)}
              onClick={onClose}
            >
              Open the case page
            </Link>
            <button type="button" className="btn btn-small btn-primary" onClick={onClose}>
              Done
            </button>
          </div>
        </div>
      ) : (
        <form
          className="form"
          noValidate
          onSubmit={(e) => void onSubmit(e)}
          aria-describedby={`${uid}-intro`}
        >
          <p id={`${uid}-intro`} className="muted small tight">
            Tell us about content you think is illegal or against our terms. You can report without signing
            in.
          </p>

          <section className="trust-where" aria-label="What you are reporting">
            <dl className="trust-facts">
              <div>
                <dt>Space</dt>
                <dd data-testid="report-space">{target.spaceTitle}</dd>
              </div>
              {target.speaker && (
                <div>
                  <dt>Speaker</dt>
                  <dd data-testid="report-speaker">
                    {target.speaker.name}
                    {target.speaker.handle && <span className="muted"> @{target.speaker.handle}</span>}
                  </dd>
                </div>
              )}
              {target.clip && (
                <div>
                  <dt>Clip</dt>
                  <dd data-testid="report-clip">The whole clip ({Math.round(target.clip.durationSec)} s)</dd>
                </div>
              )}
              {target.range.kind === 'none' && !target.clip && (
                <div>
                  <dt>Time</dt>
                  <dd>No audio: the Space as a whole</dd>
                </div>
              )}
            </dl>
            {target.range.kind === 'live' && (
              <label className="field">
                <span className="field-label">Time range</span>
                <select
                  className="input"
                  value={lastSec}
                  onChange={(e) => setLastSec(Number(e.target.value))}
                  data-testid="report-last-sec"
                  {...fieldProps('last', `${uid}-last-hint`)}
                >
                  {LAST_SECONDS.map((n) => (
                    <option key={n} value={n}>
                      {LAST_WORDS[n]}
                    </option>
                  ))}
                </select>
                <span id={`${uid}-last-hint`} className="field-hint">
                  Up to now. We keep this part of the recording for the moderators.
                </span>
              </label>
            )}
            {target.range.kind === 'replay' && (
              <fieldset className="trust-range">
                <legend className="field-label">Time range in the replay (minutes:seconds)</legend>
                <div className="inline-form">
                  <label className="field field-inline">
                    <span className="field-label">From</span>
                    <input
                      className="input input-narrow"
                      inputMode="numeric"
                      autoComplete="off"
                      value={start}
                      onChange={(e) => setStart(e.target.value)}
                      data-testid="report-start"
                      {...fieldProps('start')}
                    />
                  </label>
                  <label className="field field-inline">
                    <span className="field-label">To</span>
                    <input
                      className="input input-narrow"
                      inputMode="numeric"
                      autoComplete="off"
                      value={end}
                      onChange={(e) => setEnd(e.target.value)}
                      data-testid="report-end"
                      {...fieldProps('end')}
                    />
                  </label>
                </div>
                <span className="field-hint">
                  Filled in from where you are in the replay ({fmtClock(target.range.positionSec)}).
                </span>
              </fieldset>
            )}
          </section>

          <label className="field">
            <span className="field-label">Category</span>
            <select
              className="input"
              value={category}
              onChange={(e) => setCategory(e.target.value as Category | '')}
              data-testid="report-category"
              required
              {...fieldProps('category')}
            >
              <option value="">Choose…</option>
              {CATEGORIES.map((c) => (
                <option key={c} value={c}>
                  {categoryWords(c)}
                </option>
              ))}
            </select>
          </label>

          <div className="field">
            <label className="field-label" htmlFor={`${uid}-explanation`}>
              Explanation
            </label>
            <textarea
              className="input textarea"
              rows={5}
              maxLength={EXPLANATION_MAX}
              value={explanation}
              onChange={(e) => setExplanation(e.target.value)}
              data-testid="report-explanation"
              required
              {...fieldProps('explanation', `${uid}-explanation-hint`)}
            />
            <span id={`${uid}-explanation-hint`} className="field-hint trust-counter">
              <span>Why is it illegal or against our terms? At least {EXPLANATION_MIN} characters.</span>
              <span data-testid="report-counter">
                {explanation.length} / {EXPLANATION_MAX}
              </span>
            </span>
          </div>

          <div className="field">
            <label className="field-label" htmlFor={`${uid}-name`}>
              Your name
            </label>
            <input
              className="input"
              autoComplete="name"
              maxLength={200}
              value={name}
              onChange={(e) => setName(e.target.value)}
              required={!minors}
              data-testid="report-name"
              {...fieldProps('name', `${uid}-who-hint`)}
            />
          </div>
          <div className="field">
            <label className="field-label" htmlFor={`${uid}-email`}>
              Your email
            </label>
            <input
              className="input"
              type="email"
              autoComplete="email"
              maxLength={320}
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              required={!minors}
              data-testid="report-email"
              {...fieldProps('email', `${uid}-who-hint`)}
            />
            <span id={`${uid}-who-hint`} className="field-hint">
              {minors
                ? 'Optional for reports about the protection of minors: you may stay anonymous.'
                : 'Required by law (EU Digital Services Act). The person you report does not see them.'}
            </span>
          </div>

          <label className="check">
            <input
              type="checkbox"
              checked={goodFaith}
              onChange={(e) => setGoodFaith(e.target.checked)}
              data-testid="report-good-faith"
              required
              {...fieldProps('goodfaith')}
            />
            <span>I believe in good faith that the information in this notice is accurate and complete</span>
          </label>

          <div id={`${uid}-error`} role="alert" aria-live="assertive" data-testid="report-error">
            {error && <p className="error-inline">{error}</p>}
          </div>

          <div className="trust-actions">
            <button type="button" className="btn btn-ghost" onClick={onClose}>
              Cancel
            </button>
            <button
              type="submit"
              className="btn btn-primary"
              disabled={busy}
              aria-busy={busy || undefined}
              data-testid="report-submit"
            >
              Send report
            </button>
          </div>
          <span className="sr-only" aria-live="polite">
            {busy ? 'Sending your report…' : ''}
          </span>
        </form>
      )}
    </dialog>
  );
}
