/**
 * The moderation console (EU DSA trust and safety; moderators and admins): the queue
 * (`/moderation`), a case (`/moderation/cases/:id`), the transparency report
 * (`/moderation/report`) and, for admins, roles and the statements' export (`/moderation/admin`).
 * Loaded only when opened, like the operator console. The parts live in ../moderation/.
 */
import type { ReactNode } from 'react';
import 'uplot/dist/uPlot.min.css';
import '../ops.css';
import '../moderation/moderation.css';
import { signInPath } from '../api.js';
import { ErrorBox } from '../components.js';
import { Admin } from '../moderation/Admin.js';
import { canModerate, useTrustRoles } from '../moderation/api.js';
import { CaseDetail } from '../moderation/CaseDetail.js';
import { Queue } from '../moderation/Queue.js';
import { Report } from '../moderation/Report.js';
import { Link, useLocation } from '../router.js';
import { useSession } from '../session.js';
import { usePageHooks } from '../testHooks.js';

export type ModerationView = 'queue' | 'case' | 'report' | 'admin';

export function ModerationPage({ view, caseId }: { view: ModerationView; caseId?: string }) {
  usePageHooks('moderation', caseId);
  const { ready, user } = useSession();
  const { pathname, search } = useLocation();
  const { roles, error } = useTrustRoles(user?.id ?? null);

  if (!ready || (user && !roles && !error))
    return (
      <Shell>
        <div className="skeleton" aria-label="Loading" />
      </Shell>
    );
  if (!user || error?.status === 401)
    return (
      <Shell>
        <ErrorBox
          error={{ code: 'SIGN_IN_REQUIRED' }}
          title="Sign in first"
          message="The moderation console is for moderators and admins."
          testId="mod-signin"
        >
          <Link className="btn btn-small" to={signInPath(pathname + search)}>
            Sign in
          </Link>
        </ErrorBox>
      </Shell>
    );
  if (error)
    return (
      <Shell>
        <ErrorBox error={error} title="Can't open the moderation console" testId="mod-error" />
      </Shell>
    );
  const admin = !!roles?.includes('admin');
  if (!canModerate(roles) || (view === 'admin' && !admin))
    return (
      <Shell admin={admin}>
        <ErrorBox
          error={{ code: 'MODERATOR_REQUIRED' }}
          title={view === 'admin' ? 'Admins only' : 'Moderators only'}
          message={
            view === 'admin'
              ? 'Only trust and safety admins can manage roles and the statements export.'
              : 'Only moderators and admins can open the moderation console. Trusted flaggers send notices from the report form.'
          }
          testId="mod-forbidden"
        >
          <Link className="btn btn-small" to="/">
            Go home
          </Link>
        </ErrorBox>
      </Shell>
    );

  return (
    <Shell admin={admin} view={view}>
      {view === 'queue' && <Queue />}
      {view === 'case' && caseId && <CaseDetail key={caseId} id={caseId} />}
      {view === 'report' && <Report />}
      {view === 'admin' && <Admin />}
    </Shell>
  );
}

function Shell({
  children,
  admin = false,
  view,
}: {
  children: ReactNode;
  admin?: boolean;
  view?: ModerationView;
}) {
  const item = (to: string, label: string, active: boolean) => (
    <Link
      to={to}
      className={`mod-nav-item${active ? ' is-active' : ''}`}
      aria-current={active ? 'page' : undefined}
    >
      {label}
    </Link>
  );
  return (
    <div className="page ops-console mod-console" data-testid="moderation">
      {view && (
        <nav className="mod-nav" aria-label="Moderation">
          {item('/moderation', 'Queue', view === 'queue' || view === 'case')}
          {item('/moderation/report', 'Transparency report', view === 'report')}
          {admin && item('/moderation/admin', 'Admin', view === 'admin')}
        </nav>
      )}
      {children}
    </div>
  );
}
