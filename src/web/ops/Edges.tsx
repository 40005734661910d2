/**
 * The edges: each one's brownout tier and CPU at a glance, and a table with its capacity (max
 * listeners, joins per second) and a tier-floor drill, both changed from here.
 */
import { useEffect, useId, useRef, useState, type FormEvent, type MouseEvent } from 'react';
import { toApiError, type ApiError } from '../api.js';
import { ErrorBox } from '../components.js';
import { opsApi, type BrownoutTier, type DefenceOverview, type EdgeOverview } from '../ops-api.js';
import { ago, fmt, pct } from './format.js';
import type { ApplyOverview } from './useConsole.js';

const TIERS: BrownoutTier[] = [0, 1, 2, 3];
/** What each brownout tier sheds (src/edge/defence/brownout.ts); audio is never shed. */
const TIER_WORDS = [
  'full service',
  'reactions, clips and listener avatars paused',
  'also slower live-state updates',
  'also new joins wait in the queue',
];

const MAX_LIMIT = 10_000_000;

export function TierSummary({ edges }: { edges: EdgeOverview[] }) {
  return (
    <section className="card ops-card" aria-labelledby="ops-tiers-h">
      <h2 id="ops-tiers-h" className="ops-card-title">
        Brownout by edge
      </h2>
      {edges.length === 0 ? (
        <p className="muted small tight">No edge is reporting.</p>
      ) : (
        <ul className="ops-tiers" data-testid="edge-tiers">
          {edges.map((e) => (
            <li key={e.edgeId} data-edge-id={e.edgeId} data-tier={e.tier}>
              <span className="ops-edge-name">{e.edgeId}</span>
              <span className={`ops-tier ops-tier-${e.tier}`}>
                Tier {e.tier}
                <span className="sr-only"> ({TIER_WORDS[e.tier]})</span>
              </span>
              <Meter value={e.cpu} label={`CPU of ${e.edgeId}`} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Meter({ value, label }: { value: number; label: string }) {
  const v = Math.max(0, Math.min(1, value));
  const level = v >= 0.85 ? 'hot' : v >= 0.6 ? 'warm' : 'ok';
  return (
    <span className="ops-meter-wrap">
      <span
        className={`ops-meter ops-meter-${level}`}
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(v * 100)}
        aria-valuetext={`${pct(v)}`}
      >
        <span style={{ width: `${v * 100}%` }} />
      </span>
      <span className="ops-meter-num">CPU {pct(v)}</span>
    </span>
  );
}

export function EdgesTable({ overview, apply }: { overview: DefenceOverview; apply: ApplyOverview }) {
  const { edges, atMs } = overview;
  return (
    <section className="card ops-card" aria-labelledby="ops-edges-h">
      <h2 id="ops-edges-h" className="ops-card-title">
        Edges <span className="count">{edges.length}</span>
      </h2>
      {edges.length === 0 ? (
        <p className="muted small tight">No edge has reported in the last 5 minutes.</p>
      ) : (
        <div className="ops-table-wrap">
          <table className="ops-table" data-testid="edges">
            <thead>
              <tr>
                <th scope="col">Edge</th>
                <th scope="col">Last seen</th>
                <th scope="col">CPU</th>
                <th scope="col">Tier</th>
                <th scope="col">Admitted</th>
                <th scope="col">Queue</th>
                <th scope="col">Capacity</th>
                <th scope="col">Drill</th>
              </tr>
            </thead>
            <tbody>
              {edges.map((e) => (
                <tr key={e.edgeId} data-testid="edge-row" data-edge-id={e.edgeId}>
                  <th scope="row" data-label="Edge">
                    {e.edgeId}
                  </th>
                  <td data-label="Last seen">{ago(e.lastSeenMs, atMs)}</td>
                  <td data-label="CPU">{pct(e.cpu)}</td>
                  <td data-label="Tier">
                    <span className={`ops-tier ops-tier-${e.tier}`}>{e.tier}</span>
                    {e.tierFloor > 0 && <span className="muted small"> (floor {e.tierFloor})</span>}
                  </td>
                  <td data-label="Admitted">{fmt(e.admitted)}</td>
                  <td data-label="Queue">{fmt(e.queue)}</td>
                  <td data-label="Capacity" className="ops-cell-form">
                    <LimitsForm edge={e} apply={apply} />
                  </td>
                  <td data-label="Drill" className="ops-cell-form">
                    <TierFloorControl edge={e} apply={apply} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function checkLimit(raw: string, what: string, min: number): string | null {
  const s = raw.trim();
  if (!s) return `Enter ${what}.`;
  if (!/^\d+$/.test(s)) return `${what[0].toUpperCase()}${what.slice(1)} must be a whole number.`;
  const n = Number(s);
  if (n < min) return `At least ${min}.`;
  if (n > MAX_LIMIT) return `At most ${fmt(MAX_LIMIT)}.`;
  return null;
}

function LimitsForm({ edge, apply }: { edge: EdgeOverview; apply: ApplyOverview }) {
  const id = useId();
  const [max, setMax] = useState(String(edge.limits.maxListeners));
  const [jps, setJps] = useState(String(edge.limits.joinsPerSec));
  const [dirty, setDirty] = useState(false);
  const [tried, setTried] = useState(false);
  /** Fields left (blurred) since the last save: each shows its own error from then on. */
  const [left, setLeft] = useState({ max: false, jps: false });
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState('');
  const [error, setError] = useState<ApiError | null>(null);

  // Follow the server's values until the operator starts typing.
  useEffect(() => {
    if (dirty || busy) return;
    setMax(String(edge.limits.maxListeners));
    setJps(String(edge.limits.joinsPerSec));
  }, [edge.limits.maxListeners, edge.limits.joinsPerSec, dirty, busy]);

  const maxErr = checkLimit(max, 'the maximum number of listeners', 1);
  const jpsErr = checkLimit(jps, 'joins per second', 1);
  const showMaxErr = (tried || left.max) && maxErr;
  const showJpsErr = (tried || left.jps) && jpsErr;

  const submit = (ev: FormEvent): void => {
    ev.preventDefault();
    setTried(true);
    setError(null);
    if (maxErr || jpsErr) {
      setMessage('');
      // To the first wrong field: its error is read with it (aria-describedby).
      document.getElementById(maxErr ? `${id}-max` : `${id}-jps`)?.focus();
      return;
    }
    const limits = { maxListeners: Number(max.trim()), joinsPerSec: Number(jps.trim()) };
    setBusy(true);
    setMessage(`Saving capacity for ${edge.edgeId}…`);
    opsApi.setLimits(edge.edgeId, limits).then(
      (o) => {
        apply(o);
        setBusy(false);
        setDirty(false);
        setTried(false);
        setLeft({ max: false, jps: false });
        setMessage(
          `Saved: ${edge.edgeId} takes at most ${fmt(limits.maxListeners)} listeners, ${fmt(limits.joinsPerSec)} joins/s.`,
        );
      },
      (err: unknown) => {
        setBusy(false);
        setMessage('');
        setError(toApiError(err));
      },
    );
  };

  const edit =
    (set: (v: string) => void) =>
    (v: string): void => {
      set(v);
      setDirty(true);
      setMessage('');
    };

  return (
    <form
      className="ops-limits"
      onSubmit={submit}
      noValidate
      aria-label={`Capacity of ${edge.edgeId}`}
      data-testid={`limits-form-${edge.edgeId}`}
    >
      <div className="ops-limits-fields">
        <NumberField
          id={`${id}-max`}
          label="Max listeners"
          value={max}
          onChange={edit(setMax)}
          onBlur={() => setLeft((l) => (l.max ? l : { ...l, max: true }))}
          error={showMaxErr || null}
          testId={`max-listeners-${edge.edgeId}`}
        />
        <NumberField
          id={`${id}-jps`}
          label="Joins/s"
          value={jps}
          onChange={edit(setJps)}
          onBlur={() => setLeft((l) => (l.jps ? l : { ...l, jps: true }))}
          error={showJpsErr || null}
          testId={`joins-per-sec-${edge.edgeId}`}
        />
        <button
          type="submit"
          className="btn btn-small btn-secondary"
          disabled={busy}
          aria-label={`Save capacity of ${edge.edgeId}`}
          data-testid={`save-limits-${edge.edgeId}`}
        >
          {busy ? 'Saving…' : 'Save'}
        </button>
      </div>
      <FormOutcome message={message} error={error} errorTitle="Capacity not saved" testId="limits-error" />
    </form>
  );
}

/** What a change came to: a polite progress/success line, or the refusal. */
function FormOutcome({
  message,
  error,
  errorTitle,
  testId,
}: {
  message: string;
  error: ApiError | null;
  errorTitle: string;
  testId: string;
}) {
  return (
    <>
      <p className="ops-form-status small" aria-live="polite">
        {message}
      </p>
      {error && <ErrorBox error={error} title={errorTitle} testId={testId} />}
    </>
  );
}

/**
 * A whole-number input. Its error is shown (once the field was left, or on submit) under it and
 * tied to it with aria-describedby, so it is read with the field, not announced at each keystroke.
 */
function NumberField({
  id,
  label,
  value,
  onChange,
  onBlur,
  error,
  testId,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  onBlur: () => void;
  error: string | null;
  testId: string;
}) {
  return (
    <div className="ops-field">
      <label htmlFor={id} className="field-label">
        {label}
      </label>
      <input
        id={id}
        className="input ops-input"
        type="text"
        inputMode="numeric"
        autoComplete="off"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        onBlur={onBlur}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-err` : undefined}
        data-testid={testId}
      />
      {error && (
        <span id={`${id}-err`} className="ops-field-error">
          {error}
        </span>
      )}
    </div>
  );
}

/**
 * The tier-floor drill: pick a tier, then Apply. Not applied on change, since arrow keys on a
 * closed select fire `change` at each step (Chromium) and would pass through tier 3 (new joins held).
 */
function TierFloorControl({ edge, apply }: { edge: EdgeOverview; apply: ApplyOverview }) {
  const id = useId();
  /** The operator's pick, until applied (null: show the edge's floor). */
  const [choice, setChoice] = useState<BrownoutTier | null>(null);
  const [saving, setSaving] = useState(false);
  const [message, setMessage] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const selectRef = useRef<HTMLSelectElement | null>(null);
  const value = choice ?? edge.tierFloor;
  const unchanged = value === edge.tierFloor;

  const pick = (tier: BrownoutTier): void => {
    if (saving) return;
    setChoice(tier === edge.tierFloor ? null : tier);
    setMessage('');
  };

  const submit = (ev: MouseEvent<HTMLButtonElement>): void => {
    if (saving || unchanged) return;
    const tier = value;
    // The button is disabled while saving (and after, the floor being applied): keep the focus.
    if (document.activeElement === ev.currentTarget) selectRef.current?.focus();
    setSaving(true);
    setError(null);
    setMessage('');
    opsApi.setTierFloor(edge.edgeId, tier).then(
      (o) => {
        apply(o);
        setSaving(false);
        setChoice(null);
        setMessage(
          tier === 0
            ? `Drill over: ${edge.edgeId} sheds by load only.`
            : `Drill: ${edge.edgeId} sheds at least tier ${tier}.`,
        );
      },
      (err: unknown) => {
        setSaving(false);
        setError(toApiError(err));
      },
    );
  };

  return (
    <div className="ops-field">
      <label htmlFor={id} className="field-label">
        Tier floor<span className="sr-only"> (drill) for {edge.edgeId}</span>
      </label>
      <div className="ops-drill-row">
        <select
          ref={selectRef}
          id={id}
          className="input ops-select"
          value={value}
          aria-busy={saving}
          onChange={(e) => pick(Number(e.target.value) as BrownoutTier)}
          data-testid={`tier-floor-${edge.edgeId}`}
        >
          {TIERS.map((t) => (
            <option key={t} value={t}>
              {t === 0 ? '0 · by load only' : `${t} · ${TIER_WORDS[t]}`}
            </option>
          ))}
        </select>
        <button
          type="button"
          className="btn btn-small btn-secondary"
          disabled={saving || unchanged}
          onClick={submit}
          aria-label={`Apply drill tier for ${edge.edgeId}`}
          data-testid={`apply-tier-floor-${edge.edgeId}`}
        >
          {saving ? 'Applying…' : 'Apply'}
        </button>
      </div>
      <FormOutcome message={message} error={error} errorTitle="Drill not changed" testId="tier-floor-error" />
    </div>
  );
}
