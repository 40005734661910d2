/**
 * Trust and safety administration (`/moderation/admin`, admins): who moderates and who is a trusted
 * flagger (grant, revoke), the Transparency Database outbox, and the statements of reasons'
 * hash-chained export with a verifier.
 */
import { useCallback, useState, type ChangeEvent, type FormEvent } from 'react';
import { TRUST_ROLES, type TrustRole } from '../../trust/model.js';
import { friendlyMessage } from '../api.js';
import { ErrorBox, formatDate } from '../components.js';
import { usePolling } from '../poll.js';
import { Field } from './shared.js';
import { modApi, statementsExportUrl, type RoleGrantView, type VerifyResult } from './api.js';

const ROLE_WORDS: Record<TrustRole, string> = {
  admin: 'Admin',
  moderator: 'Moderator',
  'trusted-flagger': 'Trusted flagger',
};

const stopOnDenied = (e: { status: number }): boolean => e.status === 401 || e.status === 403;

export function Admin() {
  return (
    <section className="mod-admin" aria-labelledby="mod-admin-title">
      <div className="ops-head">
        <h1 className="ops-title" id="mod-admin-title">
          Trust and safety admin
        </h1>
      </div>
      <div className="mod-report-grid">
        <Roles />
        <div className="ops-stack">
          <Tdb />
          <Statements />
        </div>
      </div>
    </section>
  );
}

const handleOf = (g: RoleGrantView): string => g.user?.handle ?? g.handle ?? g.userId ?? '';

function Roles() {
  const load = useCallback(() => modApi.roles(), []);
  const { data, error, reload } = usePolling(load, { intervalMs: 30_000, stopOn: stopOnDenied });
  const [handle, setHandle] = useState('');
  const [role, setRole] = useState<TrustRole>('moderator');
  const [organisation, setOrganisation] = useState('');
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const grant = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const h = handle.trim().replace(/^@/, '');
    if (!h) return setFormError('Enter the handle.');
    if (role === 'trusted-flagger' && !organisation.trim())
      return setFormError('A trusted flagger needs its organisation (as designated by the coordinator).');
    setBusy(true);
    setFormError(null);
    setDone(null);
    try {
      await modApi.grantRole({
        handle: h,
        role,
        ...(role === 'trusted-flagger' ? { organisation: organisation.trim() } : {}),
      });
      setDone(`@${h} is now ${ROLE_WORDS[role].toLowerCase()}.`);
      setHandle('');
      setOrganisation('');
      reload();
    } catch (err) {
      setFormError(friendlyMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (g: RoleGrantView): Promise<void> => {
    setBusy(true);
    setFormError(null);
    setDone(null);
    try {
      await modApi.revokeRole({ handle: handleOf(g), role: g.role });
      setDone(`Revoked: @${handleOf(g)} (${ROLE_WORDS[g.role] ?? g.role}).`);
      reload();
    } catch (err) {
      setFormError(friendlyMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card ops-card" aria-labelledby="adm-roles" data-testid="admin-roles">
      <h2 className="ops-card-title" id="adm-roles">
        Roles
      </h2>
      {error && <ErrorBox error={error} title="Can't load the roles" />}
      {!data && !error && <div className="skeleton" aria-label="Loading" />}
      {data && data.length === 0 && (
        <p className="muted tight">No grants yet (the config's operators are admins).</p>
      )}
      {data && data.length > 0 && (
        <ul className="mod-list" data-testid="roles">
          {data.map((g) => (
            <li
              key={`${handleOf(g)}|${g.role}`}
              className="mod-role"
              data-testid="role"
              data-handle={handleOf(g)}
              data-role={g.role}
            >
              <div className="mod-role-text">
                <strong>{g.user?.displayName ?? `@${handleOf(g)}`}</strong>{' '}
                <span className="muted small">@{handleOf(g)}</span>
                <div className="small">
                  <span className="badge">{ROLE_WORDS[g.role] ?? g.role}</span>
                  {g.organisation && <span> {g.organisation}</span>}
                  {g.createdAt && <span className="muted"> · since {formatDate(g.createdAt)}</span>}
                </div>
              </div>
              <button
                type="button"
                className="btn btn-small btn-ghost"
                disabled={busy}
                onClick={() => void revoke(g)}
                aria-label={`Revoke ${ROLE_WORDS[g.role] ?? g.role} from @${handleOf(g)}`}
              >
                Revoke
              </button>
            </li>
          ))}
        </ul>
      )}
      <form
        className="form mod-form"
        onSubmit={(e) => void grant(e)}
        aria-busy={busy}
        aria-label="Grant a role"
      >
        <h3 className="ops-card-title small">Grant a role</h3>
        <Field label="Handle">
          {(p) => (
            <input
              {...p}
              className="input"
              value={handle}
              onChange={(e) => setHandle(e.target.value)}
              autoCapitalize="none"
              autoCorrect="off"
              spellCheck={false}
              placeholder="@handle"
            />
          )}
        </Field>
        <Field label="Role">
          {(p) => (
            <select
              {...p}
              className="input"
              value={role}
              onChange={(e) => setRole(e.target.value as TrustRole)}
            >
              {TRUST_ROLES.map((r) => (
                <option key={r} value={r}>
                  {ROLE_WORDS[r]}
                </option>
              ))}
            </select>
          )}
        </Field>
        {role === 'trusted-flagger' && (
          <Field label="Organisation">
            {(p) => (
              <input
                {...p}
                className="input"
                value={organisation}
                onChange={(e) => setOrganisation(e.target.value)}
                maxLength={200}
              />
            )}
          </Field>
        )}
        {formError && (
          <p className="mod-error" role="alert">
            {formError}
          </p>
        )}
        {done && (
          <p className="mod-ok" role="status">
            {done}
          </p>
        )}
        <div className="mod-row">
          <button type="submit" className="btn btn-small btn-primary" disabled={busy}>
            Grant
          </button>
        </div>
      </form>
    </section>
  );
}

function Tdb() {
  const load = useCallback(() => modApi.tdb(), []);
  const { data: t, error } = usePolling(load, { intervalMs: 10_000, stopOn: stopOnDenied });
  return (
    <section className="card ops-card" aria-labelledby="adm-tdb" data-testid="admin-tdb">
      <h2 className="ops-card-title" id="adm-tdb">
        Transparency Database
      </h2>
      {error && <ErrorBox error={error} title="Can't load the status" />}
      {!t && !error && <div className="skeleton" aria-label="Loading" />}
      {t && (
        <dl className="mod-dl" data-mode={t.mode}>
          <dt>Mode</dt>
          <dd>
            <span className={`badge ${t.mode === 'production' ? 'badge-soon' : ''}`}>{t.mode}</span>
          </dd>
          <dt>Endpoint</dt>
          <dd className="mod-mono">{t.endpoint ?? '—'}</dd>
          <dt>Pending</dt>
          <dd>{t.pending}</dd>
          <dt>Sent</dt>
          <dd>{t.sent}</dd>
          <dt>Failed</dt>
          <dd>{t.failed}</dd>
          <dt>Last error</dt>
          <dd className="mod-text">{t.lastError ?? '—'}</dd>
        </dl>
      )}
    </section>
  );
}

function failureText(f: NonNullable<VerifyResult['failure']>): string {
  const where = [f.line > 0 ? `line ${f.line}` : '', f.seq != null ? `statement ${f.seq}` : '']
    .filter(Boolean)
    .join(', ');
  return where ? `${where}: ${f.reason}` : f.reason;
}

function Statements() {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<VerifyResult | null>(null);

  const onFile = (e: ChangeEvent<HTMLInputElement>): void => {
    const file = e.target.files?.[0];
    if (!file) return;
    file.text().then(
      (t) => setText(t),
      () => setError('Could not read that file.'),
    );
  };

  const verify = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!text.trim()) return setError('Paste or upload the export first.');
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await modApi.verify(text.endsWith('\n') ? text : `${text}\n`));
    } catch (err) {
      setError(friendlyMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card ops-card" aria-labelledby="adm-stmts" data-testid="admin-statements">
      <h2 className="ops-card-title" id="adm-stmts">
        Statements of reasons
      </h2>
      <p className="tight">
        <a
          className="btn btn-small btn-secondary"
          href={statementsExportUrl}
          download
          data-testid="export-statements"
        >
          Export statements
        </a>{' '}
        <span className="muted small">JSON Lines, hash-chained.</span>
      </p>
      <form
        className="form mod-form"
        onSubmit={(e) => void verify(e)}
        aria-busy={busy}
        aria-label="Verify an export"
      >
        <Field label="Export to verify">
          {(p) => (
            <textarea
              {...p}
              className="input textarea mod-mono"
              value={text}
              onChange={(e) => setText(e.target.value)}
              placeholder="Paste the JSON Lines here"
              spellCheck={false}
            />
          )}
        </Field>
        <Field label="Or upload the export">
          {(p) => (
            <input
              {...p}
              className="input"
              type="file"
              accept=".jsonl,.ndjson,.json,.txt,application/x-ndjson"
              onChange={onFile}
            />
          )}
        </Field>
        {error && (
          <p className="mod-error" role="alert">
            {error}
          </p>
        )}
        <div className="mod-row">
          <button type="submit" className="btn btn-small btn-primary" disabled={busy} data-testid="verify">
            Verify
          </button>
        </div>
      </form>
      {result && (
        <div
          className={`mod-verify ${result.ok ? 'verify-ok' : 'verify-bad'}`}
          role="status"
          data-testid="verify-result"
          data-ok={result.ok ? 'true' : 'false'}
        >
          {result.ok ? (
            <p className="tight">
              <strong>Verified:</strong> {result.count} statements, chain intact.
            </p>
          ) : (
            <p className="tight">
              <strong>Does not verify</strong>
              {result.failure ? `: ${failureText(result.failure)}` : '.'}{' '}
              {result.count > 0 && <span className="muted small">({result.count} statements read)</span>}
            </p>
          )}
          {result.head && (
            <p className="small tight">
              Last hash: <code className="mod-mono">{result.head}</code>
            </p>
          )}
        </div>
      )}
    </section>
  );
}
