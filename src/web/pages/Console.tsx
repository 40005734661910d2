/**
 * The operator console (`/ops`, operators only): the crowd-or-attack verdict and its evidence, the
 * under-attack mode, each edge's brownout tier, CPU and capacity (with a tier-floor drill), and
 * live plots of the last 5 minutes. Polls the defence overview every 2 s while the page is shown.
 * The parts live in ../ops/.
 */
// uPlot's stylesheet before ours (ours overrides it); ../ops/Plot.tsx imports it too.
import type { ReactNode } from 'react';
import 'uplot/dist/uPlot.min.css';
import '../ops.css';
import { signInPath } from '../api.js';
import { ErrorBox } from '../components.js';
import type { DefenceOverview } from '../ops-api.js';
import { EdgesTable, TierSummary } from '../ops/Edges.js';
import { clock } from '../ops/format.js';
import { ModeCard } from '../ops/ModeCard.js';
import { Plots } from '../ops/Plots.js';
import { POLL_MS, useConsoleAccess, useOverview, type ApplyOverview } from '../ops/useConsole.js';
import { VerdictCard } from '../ops/VerdictCard.js';
import { Link } from '../router.js';
import { usePageHooks } from '../testHooks.js';

export function ConsolePage() {
  usePageHooks('ops');
  const access = useConsoleAccess();
  const { overview, error, apply } = useOverview(access === 'operator');

  if (access === 'checking')
    return (
      <div className="page ops-console" data-testid="ops-console">
        <h1 className="ops-title">Operator console</h1>
        <div className="skeleton" aria-label="Loading" />
      </div>
    );
  if (access === 'signed-out' || error?.status === 401)
    return (
      <Gate code="SIGN_IN_REQUIRED" testId="ops-signin" title="Sign in first">
        <Link className="btn btn-small" to={signInPath('/ops')}>
          Sign in
        </Link>
      </Gate>
    );
  if (access === 'denied' || error?.status === 403)
    return (
      <Gate code="OPERATOR_REQUIRED" testId="ops-forbidden" title="Operators only">
        <Link className="btn btn-small" to="/status">
          See the public status
        </Link>
      </Gate>
    );

  return (
    <div className="page ops-console" data-testid="ops-console" data-updated-at={overview?.atMs ?? ''}>
      <div className="ops-head">
        <h1 className="ops-title">Operator console</h1>
        <p className="muted small tight" data-testid="ops-updated">
          {overview ? `Updated ${clock(overview.atMs)}` : 'Loading…'}
          {' · '}
          <Link to="/status">Public status</Link>
        </p>
      </div>
      {error && (
        <ErrorBox error={error} title={overview ? 'Not updating' : "Can't load the console"}>
          <span className="muted small">Retrying every {POLL_MS / 1000} s.</span>
        </ErrorBox>
      )}
      {!overview && !error && <div className="skeleton" aria-label="Loading" />}
      {overview && <ConsoleBody overview={overview} apply={apply} />}
    </div>
  );
}

/** The console's page for someone who may not see it (yet): why, and where to go. */
function Gate({
  code,
  testId,
  title,
  children,
}: {
  code: string;
  testId: string;
  title: string;
  children: ReactNode;
}) {
  return (
    <div className="page ops-console" data-testid="ops-console">
      <h1 className="ops-title">Operator console</h1>
      <ErrorBox
        error={{ code }}
        title={title}
        message="Only operators of this deployment can open the console."
        testId={testId}
      >
        {children}
      </ErrorBox>
    </div>
  );
}

function ConsoleBody({ overview, apply }: { overview: DefenceOverview; apply: ApplyOverview }) {
  return (
    <>
      <div className="ops-grid ops-top">
        <VerdictCard overview={overview} />
        <div className="ops-stack">
          <ModeCard overview={overview} apply={apply} />
          <TierSummary edges={overview.edges} />
        </div>
      </div>
      <EdgesTable overview={overview} apply={apply} />
      <Plots overview={overview} />
    </>
  );
}
