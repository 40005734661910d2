/** A complaint (EU DSA Art. 20) about a decision, or a notifier's about inaction. */
import { useId, useState, type FormEvent } from 'react';
import { formatDate } from '../components.js';
import { sendComplaint, trustErrorMessage, type ComplaintView } from './api.js';

const MAX = 4000;

export function ComplaintForm({
  caseId,
  statementId,
  followKey,
  followEmail,
  title,
  hint,
  onSent,
}: {
  caseId: string;
  /** The decision complained about (the affected user); none: a notifier's complaint of inaction. */
  statementId?: string;
  /** A logged-out notifier's follow key. */
  followKey?: string | null;
  /** ...or the email address the notice gave (followed by email on /cases). */
  followEmail?: string | null;
  title: string;
  hint?: string;
  onSent?: (c: ComplaintView) => void;
}) {
  const uid = useId();
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<ComplaintView | null>(null);

  const onSubmit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (busy) return;
    if (!text.trim()) {
      setError('Write what you disagree with and why.');
      document.getElementById(`${uid}-text`)?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const c = await sendComplaint(caseId, {
        text: text.trim(),
        ...(statementId ? { statementId } : {}),
        ...(followKey ? { key: followKey } : followEmail ? { email: followEmail } : {}),
      });
      setSent(c);
      onSent?.(c);
    } catch (err) {
      setError(trustErrorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  if (sent)
    return (
      <div className="notice notice-info trust-complaint-sent" role="status" data-testid="complaint-sent">
        <span>
          Complaint received ({formatDate(sent.createdAt)}). A moderator who did not take the decision will
          review it, and you will see the outcome here.
        </span>
      </div>
    );

  return (
    <form
      className="form trust-complaint"
      noValidate
      aria-labelledby={`${uid}-title`}
      onSubmit={(e) => void onSubmit(e)}
      data-testid="complaint-form"
      data-statement-id={statementId}
    >
      <h4 id={`${uid}-title`} className="trust-complaint-title">
        {title}
      </h4>
      <div className="field">
        <label className="field-label" htmlFor={`${uid}-text`}>
          Your complaint
        </label>
        <textarea
          id={`${uid}-text`}
          className="input textarea"
          rows={4}
          maxLength={MAX}
          value={text}
          onChange={(e) => setText(e.target.value)}
          aria-describedby={`${uid}-hint${error ? ` ${uid}-error` : ''}`}
          aria-invalid={error ? true : undefined}
          data-testid="complaint-text"
        />
        <span id={`${uid}-hint`} className="field-hint trust-counter">
          <span>{hint ?? 'Why should we change this decision?'}</span>
          <span>
            {text.length} / {MAX}
          </span>
        </span>
      </div>
      <div id={`${uid}-error`} role="alert" aria-live="assertive" data-testid="complaint-error">
        {error && <p className="error-inline">{error}</p>}
      </div>
      <div className="trust-actions">
        <button
          type="submit"
          className="btn btn-secondary"
          disabled={busy}
          aria-busy={busy || undefined}
          data-testid="complaint-submit"
        >
          Send complaint
        </button>
      </div>
    </form>
  );
}
