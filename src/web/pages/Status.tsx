/**
 * The public status page (`/status`): the deployment's traffic verdict in plain words, whether the
 * live Spaces are up, how many edges report, the under-attack mode, and the Ed25519 signature of
 * the status document with how to check it. Refreshes every 5 s while shown.
 */
import { useState } from 'react';
import '../ops.css';
import { CopyField, ErrorBox, SmallButton } from '../components.js';
import { canonicalJson, opsApi, verifyStatus, type SignedStatus, type Verdict } from '../ops-api.js';
import { VERDICT_WORDS } from '../ops/format.js';
import { usePolling } from '../poll.js';
import { fmtDuration } from '../space/format.js';
import { usePageHooks } from '../testHooks.js';

const POLL_MS = 5000;

const VERDICT_MEANING: Record<Verdict, string> = {
  normal: 'Everything looks ordinary.',
  crowd: 'Many people are joining at once. Some may wait a moment in a queue before listening.',
  attack: 'Someone is sending junk traffic. Tribune is filtering it out; listeners keep listening.',
  mixed:
    'Many people are joining while someone sends junk traffic. Tribune lets people in and filters the rest.',
};

const TIER_WORDS = ['Full service', 'Light shedding', 'Heavy shedding', 'Essentials only'];

function dateTime(ms: number): string {
  return new Date(ms).toLocaleString('en-GB', {
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

function spacesLine(live: number, up: boolean): string {
  if (live === 0) return up ? 'No Space is live right now.' : 'Spaces are having trouble.';
  if (!up)
    return live === 1
      ? 'The live Space is having trouble.'
      : `Some of the ${live} live Spaces are having trouble.`;
  return live === 1 ? 'The live Space is up.' : `All ${live} live Spaces are up.`;
}

/** The newer of two status documents: an answer sent earlier must not undo a later one. */
const newerStatus = (p: SignedStatus | null, s: SignedStatus): SignedStatus =>
  p && p.document.atMs > s.document.atMs ? p : s;

function useStatus() {
  const { data, error, reload } = usePolling(opsApi.status, { intervalMs: POLL_MS, pick: newerStatus });
  return { status: data, error, reload };
}

export function StatusPage() {
  usePageHooks('status');
  const { status, error, reload } = useStatus();
  const doc = status?.document;

  return (
    <div className="page status-page" data-testid="status-page" data-updated-at={doc?.atMs ?? ''}>
      <div className="ops-head">
        <h1 className="ops-title">Tribune status</h1>
        {doc && <p className="muted small tight">{doc.deployment}</p>}
      </div>

      {error && (
        <ErrorBox error={error} title={status ? 'Not updating' : "Can't load the status"}>
          <SmallButton onClick={reload}>Try again</SmallButton>
        </ErrorBox>
      )}
      {!status && !error && <div className="skeleton" aria-label="Loading" />}

      {doc && status && (
        <>
          <section
            className={`card status-summary status-summary-${doc.verdict}`}
            role="status"
            aria-labelledby="status-verdict"
            data-testid="status-summary"
            data-verdict={doc.verdict}
          >
            <h2
              id="status-verdict"
              className={`ops-verdict ops-verdict-${doc.verdict}`}
              data-testid="verdict"
            >
              {VERDICT_WORDS[doc.verdict]}
            </h2>
            <p className="tight">{VERDICT_MEANING[doc.verdict]}</p>
            <ul className="stack-list status-facts">
              <li data-testid="status-since">
                Since {dateTime(doc.verdictSinceMs)}
                <span aria-hidden="true"> ({fmtDuration((doc.atMs - doc.verdictSinceMs) / 1000)})</span>
              </li>
              <li data-testid="status-spaces" data-up={doc.spaces.up} data-live={doc.spaces.live}>
                <span className={`status-dot ${doc.spaces.up ? 'is-ok' : 'is-bad'}`} aria-hidden="true" />
                {spacesLine(doc.spaces.live, doc.spaces.up)}
              </li>
              <li data-testid="status-edges">
                {doc.edges.reporting === 1
                  ? '1 edge is reporting.'
                  : `${doc.edges.reporting} edges are reporting.`}
              </li>
              <li data-testid="status-under-attack" data-under-attack={doc.underAttack}>
                Under-attack mode is {doc.underAttack ? 'on: listening needs an admission token.' : 'off.'}
              </li>
              <li data-testid="status-tier" data-tier={doc.brownoutTier}>
                Service level: {TIER_WORDS[doc.brownoutTier] ?? `tier ${doc.brownoutTier}`}
                {doc.brownoutTier > 0 && ` (brownout tier ${doc.brownoutTier})`}.
              </li>
            </ul>
          </section>

          {doc.evidence.length > 0 && (
            <section className="card ops-card" aria-labelledby="status-evidence-h">
              <h2 id="status-evidence-h" className="ops-card-title">
                What we see
              </h2>
              <ul className="stack-list status-evidence" data-testid="status-evidence">
                {doc.evidence.map((line, i) => (
                  <li key={i}>{line}</li>
                ))}
              </ul>
            </section>
          )}

          <p className="muted small tight" data-testid="status-time">
            Status as of <time dateTime={new Date(doc.atMs).toISOString()}>{dateTime(doc.atMs)}</time>. This
            page refreshes every {POLL_MS / 1000} s.
          </p>

          <Signature status={status} />
        </>
      )}
    </div>
  );
}

function Signature({ status }: { status: SignedStatus }) {
  const [check, setCheck] = useState<{ at: number; result: boolean | 'unsupported' | 'checking' } | null>(
    null,
  );
  const atMs = status.document.atMs;
  const result = check && check.at === atMs ? check.result : null;

  const run = (): void => {
    setCheck({ at: atMs, result: 'checking' });
    void verifyStatus(status).then((r) => setCheck({ at: atMs, result: r }));
  };

  return (
    <section
      className="card ops-card status-signature"
      aria-labelledby="status-sig-h"
      data-testid="status-signature"
    >
      <h2 id="status-sig-h" className="ops-card-title">
        Signed by this deployment
      </h2>
      <p className="small tight">
        This status is signed with {status.alg}, so a copy of it can be checked later, anywhere.
      </p>
      <CopyField
        label="Signature"
        url={status.signature}
        asLink={false}
        className="status-key"
        copyLabel="signature"
        testId="status-sig"
      />
      <CopyField
        label="Public key"
        url={status.publicKey}
        asLink={false}
        className="status-key"
        copyLabel="public key"
        testId="status-key"
      />
      <div className="row-between">
        <button
          type="button"
          className="btn btn-small btn-secondary"
          onClick={run}
          data-testid="verify-signature"
        >
          Check the signature here
        </button>
        <span
          className="small"
          aria-live="polite"
          data-testid="verify-result"
          data-result={String(result ?? '')}
        >
          {result === 'checking' && 'Checking…'}
          {result === true && (
            <span className="verify-ok">Valid: this document was signed by the key above.</span>
          )}
          {result === false && <span className="verify-bad">Not valid for the key above.</span>}
          {result === 'unsupported' && "This browser can't check Ed25519 signatures; use the steps below."}
        </span>
      </div>
      <details className="status-howto">
        <summary>How to verify</summary>
        <ol className="small">
          <li>
            Take the <code>document</code> object of <code>GET /api/status</code>.
          </li>
          <li>Write it as canonical JSON: object keys sorted, no spaces (UTF-8).</li>
          <li>
            Check the {status.alg} <code>signature</code> (base64url) over those bytes with the public key
            (base64url, 32 raw bytes; also at <code>/api/status/key</code>).
          </li>
        </ol>
        <p className="small tight">
          For example with Node.js 20 (save as <code>verify.mjs</code>):
        </p>
        <pre className="status-code" tabIndex={0} aria-label="Example: verify.mjs">
          <code>{NODE_EXAMPLE}</code>
        </pre>
        <p className="small tight">The canonical JSON of the document shown above:</p>
        <pre
          className="status-code"
          tabIndex={0}
          aria-label="Canonical JSON of the document"
          data-testid="canonical-json"
        >
          <code>{canonicalJson(status.document)}</code>
        </pre>
      </details>
    </section>
  );
}

const NODE_EXAMPLE = `import crypto from 'node:crypto';
const canon = (v) => v === null || typeof v !== 'object' ? JSON.stringify(v)
  : Array.isArray(v) ? '[' + v.map(canon).join(',') + ']'
  : '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + canon(v[k])).join(',') + '}';
const s = await (await fetch('${typeof window === 'undefined' ? '' : window.location.origin}/api/status')).json();
const key = crypto.createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: s.publicKey } });
console.log(crypto.verify(null, Buffer.from(canon(s.document)), key, Buffer.from(s.signature, 'base64url')));`;
