/** What the moderation console's pages share: words, badges, the subject line, a simple statement. */
import { useId, type ReactNode } from 'react';
import { CATEGORY_WORDS, type Category, type Restriction } from '../../trust/model.js';
import { clipPath, spacePath } from '../api.js';
import { formatDate } from '../components.js';
import { Link } from '../router.js';
import { profilePath } from '../social/SpaceCard.js';
import type { CaseSummary, StatementView, SubjectView, UserRefView } from './api.js';

export const RESTRICTION_WORDS: Record<Restriction, string> = {
  'mute-speaker': 'Mute the speaker',
  'remove-speaker': 'Remove the speaker',
  'end-space': 'End the Space',
  'hide-space': 'Hide the Space',
  'label-space': 'Label the Space',
  'geo-restrict-space': 'Block the Space in countries',
  'remove-clip': 'Remove the clip',
  'remove-replay': 'Remove the replay',
  'warn-account': 'Warn the account',
  'suspend-account': 'Suspend the account',
  'terminate-account': 'Terminate the account',
};

export const categoryWords = (c: Category | string): string => CATEGORY_WORDS[c as Category] ?? String(c);

/** Short words for tight places (the queue row keeps the full words in a title). */
export const categoryShort = (c: Category | string): string => categoryWords(c).replace(/\s*\(.*\)\s*$/, '');

export const SUBJECT_WORDS = {
  space: 'Space',
  speaker: 'Speaker',
  clip: 'Clip',
  account: 'Account',
} as const;

export const OUTCOME_WORDS = {
  pending: 'Pending',
  restricted: 'Restricted',
  'no-action': 'No action',
  reversed: 'Reversed',
} as const;

export const STATUS_WORDS = { open: 'Open', escalated: 'Escalated', closed: 'Closed' } as const;

export function userName(u: UserRefView | null | undefined): string {
  if (!u) return '—';
  return u.displayName ? `${u.displayName} (@${u.handle})` : `@${u.handle}`;
}

export function UserLink({ user }: { user: UserRefView | null | undefined }) {
  if (!user) return <span className="muted">—</span>;
  return (
    <Link to={profilePath(user.handle)} className="mod-user">
      {user.displayName || `@${user.handle}`} <span className="muted small">@{user.handle}</span>
    </Link>
  );
}

/** `m:ss` (or `h:mm:ss`). */
export function fmtSec(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s) || s < 0) return '0:00';
  const t = Math.floor(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** "3 min", "2 h", "4 d": how long a case has waited. */
export function age(iso: string, now: number): string {
  const ms = Math.max(0, now - Date.parse(iso));
  if (!Number.isFinite(ms)) return '—';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h`;
  return `${Math.floor(h / 24)} d`;
}

/** The priority badges: a trusted flagger's notice, a live Space. */
export function PriorityBadges({ c }: { c: Pick<CaseSummary, 'source' | 'subject'> & { live?: boolean } }) {
  const live = c.live ?? c.subject.spaceState === 'live';
  return (
    <>
      {c.source === 'trusted-flagger' && (
        <span className="badge mod-badge-tf" data-testid="badge-trusted-flagger">
          Trusted flagger
        </span>
      )}
      {live && (
        <span className="badge badge-live" data-testid="badge-live">
          Live
        </span>
      )}
      {c.source === 'own-initiative' && <span className="badge">Own initiative</span>}
    </>
  );
}

/** The subject in one line: "Speaker @ann in “Title”", with links. */
export function SubjectLine({ subject: s, links = true }: { subject: SubjectView; links?: boolean }) {
  const title = s.spaceTitle ?? (s.spaceId ? s.spaceId : null);
  const space: ReactNode =
    title && s.spaceId && links ? (
      <Link to={spacePath(s.spaceId)}>{title}</Link>
    ) : title ? (
      <span>{title}</span>
    ) : null;
  const user: ReactNode = s.user ? (
    links ? (
      <Link to={profilePath(s.user.handle)}>{s.user.displayName || `@${s.user.handle}`}</Link>
    ) : (
      <span>{s.user.displayName || `@${s.user.handle}`}</span>
    )
  ) : null;
  const range =
    s.startSec != null && s.endSec != null ? (
      <span className="muted small">
        {' '}
        · {fmtSec(s.startSec)}–{fmtSec(s.endSec)}
      </span>
    ) : null;
  return (
    <span className="mod-subject">
      <span className="mod-kind">{SUBJECT_WORDS[s.kind] ?? s.kind}</span>{' '}
      {s.kind === 'speaker' && (
        <>
          {user ?? <span className="muted">unknown speaker</span>}
          {space && <> in {space}</>}
        </>
      )}
      {s.kind === 'space' && (space ?? <span className="muted">unknown Space</span>)}
      {s.kind === 'clip' && (
        <>
          {s.clipId && links ? <Link to={clipPath(s.clipId)}>{s.clipId}</Link> : (s.clipId ?? '')}
          {space && <> of {space}</>}
        </>
      )}
      {s.kind === 'account' && (user ?? <span className="muted">unknown account</span>)}
      {s.spaceState && s.spaceState !== 'live' && <span className="muted small"> ({s.spaceState})</span>}
      {range}
    </span>
  );
}

/**
 * A statement of reasons, simply (src/web/trust/StatementCard.tsx, the users' renderer, did not
 * exist when the console was written; this shows every Art. 17(3) element a moderator needs).
 */
export function StatementSummary({ s, testId = 'statement' }: { s: StatementView; testId?: string }) {
  return (
    <article
      className="mod-statement"
      data-testid={testId}
      data-statement-id={s.id}
      aria-label={`Statement ${s.id}`}
    >
      <div className="mod-row">
        <strong>{RESTRICTION_WORDS[s.restriction] ?? s.restriction}</strong>
        {s.reverses && <span className="badge">Reversal</span>}
        <span className="muted small">
          {formatDate(s.at)} · {s.id}
        </span>
      </div>
      {s.summary && <p className="mod-text">{s.summary}</p>}
      <dl className="mod-dl">
        <dt>Ground</dt>
        <dd>
          {s.ground === 'DECISION_GROUND_ILLEGAL_CONTENT' ? 'Illegal content' : 'Incompatible with the terms'}
          {s.legalGround ? ` — ${s.legalGround}` : ''}
          {s.termsGround ? ` — ${s.termsGround}` : ''}
        </dd>
        <dt>Category</dt>
        <dd>{categoryWords(s.category)}</dd>
        <dt>Explanation</dt>
        <dd className="mod-text">{s.explanation}</dd>
        {s.facts && (
          <>
            <dt>Facts</dt>
            <dd className="mod-text">{s.facts}</dd>
          </>
        )}
        <dt>Scope</dt>
        <dd>
          {s.territorialScope.length > 20 ? 'EU-wide' : s.territorialScope.join(', ') || '—'}
          {s.endsAt ? ` · until ${formatDate(s.endsAt)}` : ' · indefinite'}
        </dd>
        {s.countries.length > 0 && (
          <>
            <dt>Countries</dt>
            <dd>{s.countries.join(', ')}</dd>
          </>
        )}
        {s.label && (
          <>
            <dt>Label</dt>
            <dd>{s.label}</dd>
          </>
        )}
        <dt>Source</dt>
        <dd>
          {s.sourceType === 'SOURCE_TRUSTED_FLAGGER'
            ? 'Trusted flagger notice'
            : s.sourceType === 'SOURCE_ARTICLE_16'
              ? 'Notice (Art. 16)'
              : 'Own initiative'}
          {s.automatedDetection || s.automatedDecision ? ' · automated means used' : ' · no automated means'}
        </dd>
        <dt>Redress</dt>
        <dd className="mod-text">
          {s.redress} <span className="muted small">(complaints until {formatDate(s.complaintUntil)})</span>
        </dd>
      </dl>
    </article>
  );
}

/**
 * A labelled form control: the label beside (not around) the control, so the control's name is the
 * label alone (a wrapping label would also carry a select's options or a hint into it).
 */
export function Field({
  label,
  hint,
  className = 'field',
  children,
}: {
  label: string;
  hint?: ReactNode;
  className?: string;
  children: (p: { id: string; 'aria-describedby'?: string }) => ReactNode;
}) {
  const id = useId();
  return (
    <div className={className}>
      <label className="field-label" htmlFor={id}>
        {label}
      </label>
      {children({ id, ...(hint ? { 'aria-describedby': `${id}-hint` } : {}) })}
      {hint && (
        <span className="field-hint" id={`${id}-hint`}>
          {hint}
        </span>
      )}
    </div>
  );
}
