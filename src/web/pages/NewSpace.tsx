import { useEffect, useState, type FormEvent } from 'react';
import { client, signInPath, spacePath, toApiError, type ApiError, type CreateSpaceBody } from '../api.js';
import { ErrorBox } from '../components.js';
import { navigate } from '../router.js';
import { useSession } from '../session.js';
import { usePageHooks } from '../testHooks.js';

const MAX_AHEAD_MS = 14 * 24 * 3600 * 1000;

/** `YYYY-MM-DDTHH:mm` in local time, what <input type="datetime-local"> speaks. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function NewSpacePage() {
  usePageHooks('new');
  const { ready, user } = useSession();
  const [title, setTitle] = useState('');
  const [description, setDescription] = useState('');
  const [schedule, setSchedule] = useState(false);
  const [when, setWhen] = useState(() => toLocalInput(Date.now() + 3600_000));
  const [requireSignIn, setRequireSignIn] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  useEffect(() => {
    if (ready && !user) navigate(signInPath('/new'), { replace: true });
  }, [ready, user]);

  const now = Date.now();
  const whenMs = new Date(when).getTime();
  const whenInvalid = schedule && (!Number.isFinite(whenMs) || whenMs <= now || whenMs > now + MAX_AHEAD_MS);

  const onSubmit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const t = title.trim();
    if (!t || busy || whenInvalid) return;
    setBusy(true);
    setError(null);
    const body: CreateSpaceBody = { title: t };
    if (description.trim()) body.description = description.trim();
    if (schedule) body.scheduledFor = new Date(whenMs).toISOString();
    if (requireSignIn) body.requireSignIn = true;
    try {
      const space = await client.createSpace(body);
      navigate(spacePath(space.id));
    } catch (err) {
      setError(toApiError(err));
      setBusy(false);
    }
  };

  return (
    <div className="page narrow">
      <header className="room-head">
        <h1 className="room-title">Start a Space</h1>
        <p className="muted">Go live now, or schedule it so people can subscribe and be there on time.</p>
      </header>
      <form className="card form" onSubmit={(e) => void onSubmit(e)} data-testid="create-form">
        <label className="field">
          <span className="field-label">Title</span>
          <input
            className="input"
            data-testid="create-title"
            placeholder="What do you want to talk about?"
            maxLength={120}
            value={title}
            onChange={(e) => setTitle(e.target.value)}
            autoComplete="off"
            required
          />
        </label>
        <label className="field">
          <span className="field-label">
            Description <span className="muted">(optional)</span>
          </span>
          <textarea
            className="input textarea"
            data-testid="create-description"
            placeholder="A few words about it"
            maxLength={1000}
            rows={3}
            value={description}
            onChange={(e) => setDescription(e.target.value)}
          />
        </label>
        <label className="check">
          <input
            type="checkbox"
            data-testid="create-schedule"
            checked={schedule}
            onChange={(e) => setSchedule(e.target.checked)}
          />
          <span>
            <strong>Schedule for later</strong>
            <span className="muted small block">
              Up to 14 days ahead. Subscribers get notified when it starts.
            </span>
          </span>
        </label>
        {schedule && (
          <label className="field">
            <span className="field-label">Starts at</span>
            <input
              className="input"
              type="datetime-local"
              data-testid="create-scheduled-for"
              value={when}
              min={toLocalInput(now)}
              max={toLocalInput(now + MAX_AHEAD_MS)}
              onChange={(e) => setWhen(e.target.value)}
              required
            />
            {whenInvalid && (
              <span className="field-hint warn-text">Pick a time between now and 14 days from now.</span>
            )}
          </label>
        )}
        <label className="check">
          <input
            type="checkbox"
            data-testid="create-require-signin"
            checked={requireSignIn}
            onChange={(e) => setRequireSignIn(e.target.checked)}
          />
          <span>
            <strong>Require sign-in to listen</strong>
            <span className="muted small block">Only signed-in people can hear it.</span>
          </span>
        </label>
        {error && <ErrorBox error={error} title="Couldn't create the Space" />}
        <button
          type="submit"
          className="btn btn-primary btn-block"
          data-testid="create-submit"
          disabled={busy || !title.trim() || whenInvalid}
        >
          {busy ? 'Creating…' : schedule ? 'Schedule Space' : 'Start now'}
        </button>
      </form>
    </div>
  );
}
