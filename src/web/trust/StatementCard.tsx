/**
 * A statement of reasons (EU DSA Art. 17(3)) in plain words: what was restricted, where and for how
 * long, the facts, whether automated means were used, the legal or terms ground with its
 * explanation, and the ways to challenge it. Shared by the user pages and the moderation console.
 */
import { useId, type ReactNode } from 'react';
import { formatDate, formatDay } from '../components.js';
import { EU_COUNTRIES, type Restriction } from '../../trust/model.js';
import type { StatementView } from '../../trust/api-types.js';
import { categoryWords } from './format.js';
import './trust.css';

export const RESTRICTION_WORDS: Record<Restriction, string> = {
  'mute-speaker': 'Muted on stage (cannot unmute)',
  'remove-speaker': 'Removed from the stage and the Space',
  'end-space': 'Space ended',
  'hide-space': 'Space hidden from listings and search',
  'label-space': 'Warning label shown on the Space',
  'geo-restrict-space': 'Space not available in some countries',
  'remove-clip': 'Clip removed',
  'remove-replay': 'Replay removed',
  'warn-account': 'Warning on the account',
  'suspend-account': 'Account suspended',
  'terminate-account': 'Account closed',
};

export const restrictionWords = (r: string): string => (RESTRICTION_WORDS as Record<string, string>)[r] ?? r;

const SOURCE_WORDS: Record<StatementView['sourceType'], string> = {
  SOURCE_ARTICLE_16: 'We acted on a notice someone sent us (Art. 16 DSA).',
  SOURCE_TRUSTED_FLAGGER: 'We acted on a notice from a trusted flagger (Art. 22 DSA).',
  SOURCE_VOLUNTARY: 'We acted on our own initiative.',
};

function scopeWords(codes: string[]): string {
  if (codes.length === 0) return 'Everywhere Tribune is available';
  const eu = new Set<string>(EU_COUNTRIES);
  if (codes.length >= EU_COUNTRIES.length && EU_COUNTRIES.every((c) => codes.includes(c)))
    return codes.length === EU_COUNTRIES.length
      ? 'The whole European Union'
      : 'Everywhere Tribune is available';
  const names = codes.map((c) => countryName(c));
  return codes.every((c) => eu.has(c)) ? `${names.join(', ')} (EU)` : names.join(', ');
}

function countryName(code: string): string {
  try {
    return new Intl.DisplayNames(undefined, { type: 'region' }).of(code) ?? code;
  } catch {
    return code;
  }
}

/**
 * One statement of reasons. `actions`: what the viewer can do about it (a complaint form), shown
 * under the redress. The card's id is the statement's id, so `/decisions#<id>` scrolls to it.
 */
export function StatementCard({
  statement: s,
  actions,
  headingLevel = 3,
}: {
  statement: StatementView;
  actions?: ReactNode;
  headingLevel?: 2 | 3 | 4;
}) {
  const uid = useId();
  const H = `h${headingLevel}` as 'h2' | 'h3' | 'h4';
  const complaintOpen = Date.parse(s.complaintUntil) > Date.now();
  return (
    <article
      className="card trust-statement"
      id={s.id}
      tabIndex={-1}
      aria-labelledby={`${uid}-h`}
      data-testid="statement-card"
      data-statement-id={s.id}
      data-restriction={s.restriction}
    >
      <header className="trust-statement-head">
        <span className="badge">{s.reverses ? 'REVERSAL' : 'DECISION'}</span>
        <H id={`${uid}-h`} className="trust-statement-title">
          {restrictionWords(s.restriction)}
        </H>
        <p className="muted small tight">
          <time dateTime={s.at}>{formatDate(s.at)}</time> · Statement {s.id} · Case {s.caseId}
        </p>
      </header>
      <p className="tight trust-summary">{s.summary}</p>
      {s.reverses && (
        <p className="notice notice-info tight">
          This decision undoes an earlier one (statement {s.reverses}).
        </p>
      )}

      <dl className="trust-facts trust-statement-facts">
        <div>
          <dt>What we restricted</dt>
          <dd>
            {restrictionWords(s.restriction)}
            {s.label && <> — the label reads “{s.label}”</>}
            {s.countries.length > 0 && <> — not available in {s.countries.map(countryName).join(', ')}</>}
          </dd>
        </div>
        <div>
          <dt>Where it applies</dt>
          <dd>{scopeWords(s.territorialScope)}</dd>
        </div>
        <div>
          <dt>How long</dt>
          <dd>
            {s.endsAt ? (
              <>
                Until{' '}
                <time dateTime={s.endsAt}>
                  {formatDate(s.endsAt)}, {new Date(s.endsAt).getFullYear()}
                </time>
              </>
            ) : (
              'No end date (until it is reversed)'
            )}
          </dd>
        </div>
        <div>
          <dt>The facts</dt>
          <dd className="trust-pre">
            {s.facts}
            <span className="block muted small">{SOURCE_WORDS[s.sourceType]}</span>
          </dd>
        </div>
        <div>
          <dt>Automated means</dt>
          <dd>
            {s.automatedDetection
              ? 'The content was detected by automated means.'
              : 'The content was not detected by automated means.'}{' '}
            {s.automatedDecision
              ? 'The decision was taken (in part) by automated means.'
              : 'A person took the decision; no automated decision-making was used.'}
          </dd>
        </div>
        <div>
          <dt>Why</dt>
          <dd>
            {s.ground === 'DECISION_GROUND_ILLEGAL_CONTENT' ? (
              <>
                We consider it <strong>illegal content</strong>
                {s.legalGround ? (
                  <>
                    {' '}
                    under <strong>{s.legalGround}</strong>
                  </>
                ) : null}
                .
              </>
            ) : (
              <>
                We consider it <strong>incompatible with our terms of service</strong>
                {s.termsGround ? (
                  <>
                    : <strong>{s.termsGround}</strong>
                  </>
                ) : null}
                .
              </>
            )}
            <span className="block trust-pre">{s.explanation}</span>
            <span className="block muted small">Category: {categoryWords(s.category)}</span>
          </dd>
        </div>
        <div>
          <dt>How to challenge it</dt>
          <dd>
            <ul className="trust-redress">
              <li>
                {complaintOpen ? (
                  <>
                    Complain to us, free of charge, until{' '}
                    <time dateTime={s.complaintUntil}>{formatDay(s.complaintUntil)}</time> (Art. 20 DSA): a
                    different person reviews the decision.
                  </>
                ) : (
                  <>
                    The time to complain to us ended on{' '}
                    <time dateTime={s.complaintUntil}>{formatDay(s.complaintUntil)}</time>.
                  </>
                )}
              </li>
              <li>Ask a certified out-of-court dispute settlement body to settle it (Art. 21 DSA).</li>
              <li>Go to court: these options do not take away your right to a judicial remedy.</li>
            </ul>
          </dd>
        </div>
      </dl>
      {actions}
    </article>
  );
}
