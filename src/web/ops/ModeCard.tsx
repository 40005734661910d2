/** The under-attack mode switch (off, on, automatic) and whether it is in force. */
import { useId, useState } from 'react';
import { toApiError, type ApiError } from '../api.js';
import { ErrorBox } from '../components.js';
import { DEFENCE_MODES, opsApi, type DefenceMode, type DefenceOverview } from '../ops-api.js';
import type { ApplyOverview } from './useConsole.js';

const MODE_LABELS: Record<DefenceMode, string> = { off: 'Off', on: 'On', auto: 'Automatic' };
const MODE_HINTS: Record<DefenceMode, string> = {
  off: 'Never: every listener is served by load only.',
  on: 'Always: media needs an admission token.',
  auto: 'While the verdict is attack or mixed.',
};

export function ModeCard({ overview, apply }: { overview: DefenceOverview; apply: ApplyOverview }) {
  const [pending, setPending] = useState<DefenceMode | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const name = useId();
  const shown = pending ?? overview.mode;

  const choose = (mode: DefenceMode): void => {
    // One change at a time (the group stays focusable: a disabled fieldset would drop the focus).
    if (pending || mode === overview.mode) return;
    setPending(mode);
    setError(null);
    opsApi.setMode(mode).then(
      (o) => {
        apply(o);
        setPending(null);
      },
      (err: unknown) => {
        setPending(null);
        setError(toApiError(err));
      },
    );
  };

  const announce = pending
    ? `Setting under-attack mode to ${MODE_LABELS[pending]}…`
    : `Under-attack mode: ${MODE_LABELS[overview.mode]}. ${overview.underAttack ? 'In force now.' : 'Not in force now.'}`;

  return (
    <section className="card ops-card" aria-labelledby="ops-mode-h">
      <fieldset className="ops-fieldset" aria-describedby={`${name}-state`} aria-busy={pending !== null}>
        <legend id="ops-mode-h" className="ops-card-title">
          Under-attack mode
        </legend>
        <div className="ops-segmented">
          {DEFENCE_MODES.map((m) => (
            <label key={m} className={`ops-segment${shown === m ? ' is-checked' : ''}`}>
              <input
                type="radio"
                name={name}
                value={m}
                checked={shown === m}
                onChange={() => choose(m)}
                data-testid={`mode-${m}`}
                aria-describedby={`${name}-${m}-hint`}
              />
              <span>{MODE_LABELS[m]}</span>
              <span id={`${name}-${m}-hint`} className="sr-only">
                {MODE_HINTS[m]}
              </span>
            </label>
          ))}
        </div>
      </fieldset>
      <p className="muted small tight">{MODE_HINTS[shown]}</p>
      <p
        id={`${name}-state`}
        className={`ops-inforce${overview.underAttack ? ' is-on' : ''}`}
        aria-live="polite"
        aria-atomic="true"
        data-testid="mode-state"
        data-mode={overview.mode}
        data-under-attack={overview.underAttack}
      >
        {announce}
      </p>
      {error && <ErrorBox error={error} title="Mode not changed" testId="mode-error" />}
    </section>
  );
}
