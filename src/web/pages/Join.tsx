import { useEffect, useRef, useState } from 'react';
import { client, here, signInPath, spacePath, toApiError, type ApiError } from '../api.js';
import { ErrorBox, SmallButton } from '../components.js';
import { Link, navigate } from '../router.js';
import { useSession } from '../session.js';
import { usePageHooks } from '../testHooks.js';

/** `/join/:id?invite=TOKEN`: sign in (and come back), accept the invite, go to the Space. */
export function JoinPage({ id, invite }: { id: string; invite: string | null }) {
  usePageHooks('join', id);
  const { ready, user } = useSession();
  const [error, setError] = useState<ApiError | null>(null);
  const [attempt, setAttempt] = useState(0);
  const accepting = useRef(false);

  useEffect(() => {
    if (!ready || !invite) return;
    if (!user) {
      navigate(signInPath(here()), { replace: true });
      return;
    }
    if (accepting.current) return;
    accepting.current = true;
    setError(null);
    client.acceptInvite(id, invite).then(
      () => navigate(spacePath(id), { replace: true }),
      (err: unknown) => {
        accepting.current = false;
        setError(toApiError(err));
      },
    );
  }, [ready, user, id, invite, attempt]);

  if (!invite)
    return (
      <div className="page narrow">
        <ErrorBox title="Invalid invite" message="This invite link is incomplete: it has no invite token.">
          <Link className="btn btn-small" to={spacePath(id)}>
            Go to the Space
          </Link>
        </ErrorBox>
      </div>
    );

  return (
    <div className="page narrow">
      {error ? (
        <ErrorBox
          error={error}
          title="Couldn't accept the invite"
          message={
            error.code === 'FORBIDDEN' || error.code === 'UNAUTHORIZED' || error.code === 'BAD_REQUEST'
              ? 'This invite link is invalid or has expired. Ask the host for a new one.'
              : undefined
          }
        >
          {error.status === 0 || error.status >= 500 ? (
            <SmallButton onClick={() => setAttempt((a) => a + 1)}>Try again</SmallButton>
          ) : null}
          <Link className="btn btn-small btn-ghost" to={spacePath(id)}>
            Go to the Space
          </Link>
        </ErrorBox>
      ) : (
        <div className="card center" data-testid="join-pending">
          <div className="spinner" aria-hidden="true" />
          <p>Joining the stage…</p>
        </div>
      )}
    </div>
  );
}
