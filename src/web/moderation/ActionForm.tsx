/**
 * A case's decision: a restriction that fits the subject (with its ground, explanation and facts,
 * and the duration, countries or label it needs) → its statement of reasons; or no action.
 */
import { useId, useState, type FormEvent } from 'react';
import type { DecisionGround, Restriction, SubjectKind } from '../../trust/model.js';
import { friendlyMessage } from '../api.js';
import { modApi, type ActionBody, type StatementView } from './api.js';
import { RESTRICTION_WORDS, StatementSummary, Field } from './shared.js';

const ACCOUNT: Restriction[] = ['warn-account', 'suspend-account', 'terminate-account'];

/** The restrictions that fit a subject (live ones only while the Space is live). */
export function restrictionsFor(kind: SubjectKind, live: boolean): Restriction[] {
  switch (kind) {
    case 'speaker':
      return [...(live ? (['mute-speaker', 'remove-speaker'] as Restriction[]) : []), ...ACCOUNT];
    case 'space':
      return [
        ...(live ? (['end-space'] as Restriction[]) : []),
        'hide-space',
        'label-space',
        'geo-restrict-space',
        'remove-replay',
      ];
    case 'clip':
      return ['remove-clip'];
    case 'account':
      return ACCOUNT;
    default:
      return [];
  }
}

/** "de, FR  at" → ["DE", "FR", "AT"]; null when one is not a two-letter code. */
export function parseCountries(text: string): string[] | null {
  const parts = text
    .split(/[\s,;]+/)
    .map((p) => p.trim().toUpperCase())
    .filter(Boolean);
  if (parts.length === 0 || parts.some((p) => !/^[A-Z]{2}$/.test(p))) return null;
  return [...new Set(parts)];
}

export function ActionForm({
  caseId,
  subjectKind,
  live,
  onDone,
}: {
  caseId: string;
  subjectKind: SubjectKind;
  live: boolean;
  onDone: () => void;
}) {
  const options = restrictionsFor(subjectKind, live);
  // Nothing chosen at first: a slip on Apply must not end a Space.
  const [restriction, setRestriction] = useState<Restriction | ''>('');
  const [ground, setGround] = useState<DecisionGround>('DECISION_GROUND_INCOMPATIBLE_CONTENT');
  const [legalGround, setLegalGround] = useState('');
  const [termsGround, setTermsGround] = useState('');
  const [explanation, setExplanation] = useState('');
  const [facts, setFacts] = useState('');
  const [hours, setHours] = useState('24');
  const [countries, setCountries] = useState('');
  const [label, setLabel] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<StatementView | null>(null);
  const id = useId();
  const groundLabelId = `${id}-ground`;

  // The subject may have changed (a Space ended): keep the choice valid.
  const current: Restriction | '' = restriction && options.includes(restriction) ? restriction : '';

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!current) return setError('Choose a restriction.');
    const body: ActionBody = { restriction: current, ground, explanation: explanation.trim() };
    if (ground === 'DECISION_GROUND_ILLEGAL_CONTENT') {
      if (!legalGround.trim()) return setError('Give the legal ground (e.g. the law and its article).');
      body.legalGround = legalGround.trim();
    } else {
      if (!termsGround.trim()) return setError('Give the terms ground (the clause of the terms).');
      body.termsGround = termsGround.trim();
    }
    if (!body.explanation) return setError('Explain the decision.');
    if (facts.trim()) body.facts = facts.trim();
    if (current === 'suspend-account') {
      const h = Number(hours);
      if (!Number.isInteger(h) || h < 1 || h > 8760) return setError('Duration: whole hours from 1 to 8760.');
      body.durationHours = h;
    }
    if (current === 'geo-restrict-space') {
      const list = parseCountries(countries);
      if (!list || list.length > 50)
        return setError('Countries: two-letter codes separated by commas, e.g. DE, FR (1 to 50).');
      body.countries = list;
    }
    if (current === 'label-space') {
      const l = label.trim();
      if (l.length < 3 || l.length > 120) return setError('Label: 3 to 120 characters.');
      body.label = l;
    }
    setBusy(true);
    setError(null);
    try {
      const statement = await modApi.act(caseId, body);
      setResult(statement);
      setExplanation('');
      setFacts('');
      onDone();
    } catch (err) {
      setError(friendlyMessage(err));
    } finally {
      setBusy(false);
    }
  };

  if (options.length === 0) return <p className="muted">No restriction applies to this subject.</p>;

  return (
    <div className="mod-action">
      <form
        className="form mod-form"
        onSubmit={(e) => void submit(e)}
        aria-busy={busy}
        data-testid="action-form"
      >
        <Field label="Restriction">
          {(p) => (
            <select
              {...p}
              className="input"
              value={current}
              onChange={(e) => setRestriction(e.target.value as Restriction)}
              data-testid="restriction"
              required
            >
              <option value="" disabled>
                Choose a restriction…
              </option>
              {options.map((r) => (
                <option key={r} value={r}>
                  {RESTRICTION_WORDS[r]}
                </option>
              ))}
            </select>
          )}
        </Field>

        <div className="field" role="radiogroup" aria-labelledby={groundLabelId}>
          <span className="field-label" id={groundLabelId}>
            Ground
          </span>
          <div className="mod-radios">
            <label className="check mod-check">
              <input
                type="radio"
                name={`${id}-ground`}
                checked={ground === 'DECISION_GROUND_ILLEGAL_CONTENT'}
                onChange={() => setGround('DECISION_GROUND_ILLEGAL_CONTENT')}
                data-testid="ground-illegal"
              />
              <span>Illegal content</span>
            </label>
            <label className="check mod-check">
              <input
                type="radio"
                name={`${id}-ground`}
                checked={ground === 'DECISION_GROUND_INCOMPATIBLE_CONTENT'}
                onChange={() => setGround('DECISION_GROUND_INCOMPATIBLE_CONTENT')}
                data-testid="ground-terms"
              />
              <span>Incompatible with the terms</span>
            </label>
          </div>
        </div>

        {ground === 'DECISION_GROUND_ILLEGAL_CONTENT' ? (
          <Field label="Legal ground">
            {(p) => (
              <input
                {...p}
                className="input"
                value={legalGround}
                onChange={(e) => setLegalGround(e.target.value)}
                placeholder="e.g. §130 StGB"
                maxLength={500}
              />
            )}
          </Field>
        ) : (
          <Field label="Terms ground">
            {(p) => (
              <input
                {...p}
                className="input"
                value={termsGround}
                onChange={(e) => setTermsGround(e.target.value)}
                placeholder="e.g. Terms §4.2 hate speech"
                maxLength={500}
              />
            )}
          </Field>
        )}

        <Field label="Explanation" hint="Why: the affected user and the notifier read it in the statement.">
          {(p) => (
            <textarea
              {...p}
              className="input textarea"
              value={explanation}
              onChange={(e) => setExplanation(e.target.value)}
              maxLength={2000}
            />
          )}
        </Field>

        <Field label="Facts" hint="Optional: the notice and the evidence range are cited automatically.">
          {(p) => (
            <textarea
              {...p}
              className="input textarea"
              value={facts}
              onChange={(e) => setFacts(e.target.value)}
              maxLength={2000}
            />
          )}
        </Field>

        {current === 'suspend-account' && (
          <Field label="Duration (hours)">
            {(p) => (
              <input
                {...p}
                className="input input-narrow"
                type="number"
                inputMode="numeric"
                min={1}
                max={8760}
                step={1}
                value={hours}
                onChange={(e) => setHours(e.target.value)}
              />
            )}
          </Field>
        )}

        {current === 'geo-restrict-space' && (
          <Field label="Countries" hint="Two-letter country codes, separated by commas.">
            {(p) => (
              <input
                {...p}
                className="input"
                value={countries}
                onChange={(e) => setCountries(e.target.value)}
                placeholder="DE, FR"
                autoCapitalize="characters"
              />
            )}
          </Field>
        )}

        {current === 'label-space' && (
          <Field label="Label">
            {(p) => (
              <input
                {...p}
                className="input"
                value={label}
                onChange={(e) => setLabel(e.target.value)}
                maxLength={120}
                placeholder="Shown to listeners over the Space"
              />
            )}
          </Field>
        )}

        {error && (
          <p className="mod-error" role="alert">
            {error}
          </p>
        )}
        <div className="mod-row">
          <button type="submit" className="btn btn-primary" disabled={busy} data-testid="apply">
            Apply
          </button>
        </div>
      </form>
      {result && (
        <div className="mod-result" role="status" data-testid="action-result">
          <p className="mod-ok">Applied. The statement of reasons:</p>
          <StatementSummary s={result} testId="action-statement" />
        </div>
      )}
    </div>
  );
}

/** Close the case without a restriction; "manifestly unfounded" counts towards pausing the notifier. */
export function ResolveForm({ caseId, onDone }: { caseId: string; onDone: () => void }) {
  const [text, setText] = useState('');
  const [unfounded, setUnfounded] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!text.trim()) return setError('Say why nothing is done.');
    setBusy(true);
    setError(null);
    try {
      await modApi.resolve(caseId, text.trim(), unfounded);
      setDone(true);
      setText('');
      onDone();
    } catch (err) {
      setError(friendlyMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="form mod-form"
      onSubmit={(e) => void submit(e)}
      aria-busy={busy}
      data-testid="resolve-form"
    >
      <Field label="Why no action">
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
      <label className="check">
        <input type="checkbox" checked={unfounded} onChange={(e) => setUnfounded(e.target.checked)} />
        <span>
          Manifestly unfounded
          <span className="field-hint"> (counts towards pausing the notifier, Art. 23(2))</span>
        </span>
      </label>
      {error && (
        <p className="mod-error" role="alert">
          {error}
        </p>
      )}
      {done && (
        <p className="mod-ok" role="status">
          Closed without action.
        </p>
      )}
      <div className="mod-row">
        <button type="submit" className="btn btn-secondary" disabled={busy} data-testid="resolve">
          Resolve without action
        </button>
      </div>
    </form>
  );
}
