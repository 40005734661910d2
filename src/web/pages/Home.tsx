import { useCallback, useEffect, useState, type FormEvent } from 'react';
import {
  ApiError,
  createSpace,
  isAbortError,
  listSpaces,
  loadName,
  saveHostCredentials,
  saveName,
  type SpaceView,
} from '../api.js';
import { Avatar, ErrorBox, SmallButton, TextField } from '../components.js';
import { Link, navigate } from '../router.js';

const LIST_POLL_MS = 3000;

export function HomePage() {
  const [title, setTitle] = useState('');
  const [name, setName] = useState(loadName);
  const [creating, setCreating] = useState(false);
  const [createError, setCreateError] = useState<ApiError | null>(null);

  const [spaces, setSpaces] = useState<SpaceView[] | null>(null);
  const [listError, setListError] = useState<ApiError | null>(null);
  const [reloadKey, setReloadKey] = useState(0);

  useEffect(() => {
    const ctrl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async (): Promise<void> => {
      try {
        setSpaces(await listSpaces(ctrl.signal));
        setListError(null);
      } catch (err) {
        if (isAbortError(err)) return;
        setListError(err instanceof ApiError ? err : new ApiError('NETWORK', 'Could not load Spaces', 0));
      }
      if (!ctrl.signal.aborted) timer = setTimeout(() => void load(), LIST_POLL_MS);
    };
    void load();
    return () => {
      ctrl.abort();
      clearTimeout(timer);
    };
  }, [reloadKey]);

  const onSubmit = useCallback(
    async (e: FormEvent) => {
      e.preventDefault();
      const t = title.trim();
      if (!t || creating) return;
      setCreating(true);
      setCreateError(null);
      try {
        if (name.trim()) saveName(name.trim());
        const space = await createSpace(t);
        saveHostCredentials(space);
        navigate(`/host/${encodeURIComponent(space.id)}`);
      } catch (err) {
        setCreateError(
          err instanceof ApiError ? err : new ApiError('NETWORK', 'Could not create the Space', 0),
        );
        setCreating(false);
      }
    },
    [title, name, creating],
  );

  const live = spaces?.filter((s) => s.state === 'live') ?? [];
  const ended = spaces?.filter((s) => s.state !== 'live') ?? [];

  return (
    <div className="page">
      <section className="hero">
        <h1>
          Talk live.
          <br />
          <span className="accent">Everyone listens.</span>
        </h1>
        <p className="muted">Start an audio Space, invite speakers, and share a link anyone can listen to.</p>
      </section>

      <form className="card create" onSubmit={onSubmit}>
        <TextField
          label="What do you want to talk about?"
          testId="create-title"
          placeholder="Space title"
          maxLength={120}
          value={title}
          onChange={setTitle}
          autoComplete="off"
          required
        />
        <TextField
          label="Your name"
          testId="create-name"
          placeholder="Host"
          maxLength={60}
          value={name}
          onChange={setName}
          autoComplete="nickname"
        />
        <button
          data-testid="create-button"
          className="btn btn-primary btn-block"
          type="submit"
          disabled={creating || !title.trim()}
        >
          {creating ? 'Starting…' : 'Start a Space'}
        </button>
        {createError && <ErrorBox error={createError} title="Couldn't start the Space" />}
      </form>

      <section className="section">
        <div className="section-head">
          <h2>Live now</h2>
          {spaces && <span className="count">{live.length}</span>}
        </div>
        {listError && !spaces && (
          <ErrorBox error={listError} title="Can't load Spaces">
            <SmallButton onClick={() => setReloadKey((k) => k + 1)}>Try again</SmallButton>
          </ErrorBox>
        )}
        {!spaces && !listError && <div className="skeleton" aria-label="Loading" />}
        {spaces && live.length === 0 && <p className="muted empty">No live Spaces right now. Start one!</p>}
        {live.length > 0 && (
          <ul className="space-list">
            {live.map((s) => (
              <SpaceCard key={s.id} space={s} />
            ))}
          </ul>
        )}
        {ended.length > 0 && (
          <>
            <div className="section-head">
              <h2>Replays</h2>
            </div>
            <ul className="space-list">
              {ended.slice(0, 10).map((s) => (
                <SpaceCard key={s.id} space={s} />
              ))}
            </ul>
          </>
        )}
      </section>
    </div>
  );
}

function SpaceCard({ space }: { space: SpaceView }) {
  const isLive = space.state === 'live';
  const speakers = space.speakers ?? [];
  return (
    <li className="space-card" data-testid="space-item" data-space-id={space.id}>
      <div className="space-card-main">
        <div className="space-card-top">
          {isLive ? <span className="badge badge-live">LIVE</span> : <span className="badge">REPLAY</span>}
          <span className="muted small">
            {speakers.length} {speakers.length === 1 ? 'speaker' : 'speakers'}
          </span>
        </div>
        <h3 className="space-title">{space.title || 'Untitled Space'}</h3>
        {speakers.length > 0 && (
          <div className="avatar-stack">
            {speakers.slice(0, 5).map((sp) => (
              <Avatar key={sp.id} name={sp.name} seed={sp.id} />
            ))}
          </div>
        )}
      </div>
      <Link
        to={`/listen/${encodeURIComponent(space.id)}`}
        className="btn btn-secondary"
        data-testid="space-listen-link"
      >
        {isLive ? 'Listen' : 'Play'}
      </Link>
    </li>
  );
}
