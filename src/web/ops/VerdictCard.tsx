/** The crowd-or-attack verdict, since when, and the evidence behind it. */
import type { DefenceOverview, Evidence } from '../ops-api.js';
import { ago, clock, fmt, VERDICT_WORDS } from './format.js';

export function VerdictCard({ overview }: { overview: DefenceOverview }) {
  const { verdict, sinceMs, evidence } = overview.verdict;
  return (
    <section className="card ops-card" aria-labelledby="ops-verdict-h">
      <h2 id="ops-verdict-h" className="ops-card-title">
        Verdict
      </h2>
      <div aria-live="polite" aria-atomic="true">
        <span className={`ops-verdict ops-verdict-${verdict}`} data-testid="verdict" data-verdict={verdict}>
          {VERDICT_WORDS[verdict]}
        </span>
        <span className="sr-only"> since {clock(sinceMs)}</span>
      </div>
      <p className="muted small tight">
        Since {clock(sinceMs)} ({ago(sinceMs, overview.atMs)})
      </p>
      {evidence.length === 0 ? (
        <p className="muted small tight">No evidence recorded.</p>
      ) : (
        <ul className="stack-list" aria-label="Evidence" data-testid="evidence">
          {evidence.map((e) => (
            <EvidenceItem key={e.feature} e={e} />
          ))}
        </ul>
      )}
    </section>
  );
}

function EvidenceItem({ e }: { e: Evidence }) {
  const cmp = e.value > e.threshold ? '>' : e.value < e.threshold ? '<' : '=';
  return (
    <li className="ops-evidence-item" data-feature={e.feature} data-points={e.points}>
      <span className={`ops-points ops-points-${e.points}`}>
        <span className="sr-only">Points to </span>
        {e.points}
      </span>
      <span className="ops-evidence-text">
        {e.text}
        <span className="ops-evidence-num muted small">
          {' '}
          {e.feature}: {fmt(e.value)} {cmp} {fmt(e.threshold)} <span className="sr-only">(threshold)</span>
        </span>
      </span>
    </li>
  );
}
