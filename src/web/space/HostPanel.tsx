/**
 * Host and co-host controls, driven by the `participants` event: the requests queue, the members on
 * stage, the listeners, the invite link and (host only) End Space.
 */
import { useState } from 'react';
import {
  absoluteUrl,
  client,
  friendlyMessage,
  type MemberView,
  type Participants,
  type Role,
  type SpaceView,
} from '../api.js';
import { Avatar, ConfirmButton, CopyField, MicIcon } from '../components.js';
import type { LiveDoc } from '../live.js';

type Busy = Record<string, boolean>;

function useActions() {
  const [busy, setBusy] = useState<Busy>({});
  const [error, setError] = useState<string | null>(null);
  const run = async (key: string, fn: () => Promise<unknown>): Promise<boolean> => {
    setBusy((b) => ({ ...b, [key]: true }));
    setError(null);
    try {
      await fn();
      return true;
    } catch (err) {
      setError(friendlyMessage(err));
      return false;
    } finally {
      setBusy((b) => {
        const next = { ...b };
        delete next[key];
        return next;
      });
    }
  };
  return { busy, error, setError, run };
}

const ROLE_LABEL: Record<Role, string> = {
  host: 'Host',
  cohost: 'Co-host',
  speaker: 'Speaker',
  listener: 'Listener',
};
const ON_STAGE: ReadonlySet<Role> = new Set(['host', 'cohost', 'speaker']);

export function InviteLinkBox({ spaceId }: { spaceId: string }) {
  const [url, setUrl] = useState<string | null>(null);
  const { busy, error, run } = useActions();
  const make = (): void => {
    void run('invite', async () => {
      const link = await client.inviteLink(spaceId);
      const path =
        link.url || `/join/${encodeURIComponent(spaceId)}?invite=${encodeURIComponent(link.token)}`;
      setUrl(absoluteUrl(path));
    });
  };
  return (
    <div className="invite-box">
      <div className="row-between">
        <div>
          <strong>Invite speakers</strong>
          <p className="muted small tight">Anyone with the link joins the stage after signing in.</p>
        </div>
        <button
          type="button"
          className="btn btn-secondary btn-small"
          onClick={make}
          disabled={!!busy.invite}
          data-testid="invite-link-button"
        >
          {url ? 'New link' : 'Invite link'}
        </button>
      </div>
      {url && <CopyField url={url} testId="invite-url" />}
      {error && <p className="warn-text small">{error}</p>}
    </div>
  );
}

export function HostPanel({
  space,
  participants,
  doc,
  myRole,
  myId,
  onEnded,
}: {
  space: SpaceView;
  participants: Participants | null;
  /** The live doc: fresher `connected` / `muted` than the last Participants. */
  doc: LiveDoc | null;
  myRole: Role;
  myId: string;
  onEnded: (v: SpaceView) => void;
}) {
  const id = space.id;
  const isHost = myRole === 'host';
  const { busy, error, run } = useActions();
  const members = (participants?.members ?? []).filter((m) => ON_STAGE.has(m.role) && !m.blocked);
  const requests = participants?.requests ?? [];
  const order = { host: 0, cohost: 1, speaker: 2, listener: 3 } as const;
  members.sort((a, b) => order[a.role] - order[b.role]);

  /** Co-hosts manage speakers; the host manages everyone but themselves. */
  const canManage = (m: MemberView): boolean =>
    m.user.id !== myId && m.role !== 'host' && (isHost || m.role === 'speaker');

  return (
    <section className="section host-panel" data-testid="host-panel" aria-label="Host controls">
      <div className="section-head">
        <h2>{isHost ? 'Host controls' : 'Co-host controls'}</h2>
      </div>
      {error && (
        <p className="error-inline" role="alert" data-testid="host-error">
          {error}
        </p>
      )}

      <div className="card panel-card">
        <div className="panel-head">
          <h3>Requests to speak</h3>
          <span className="count" data-testid="request-count">
            {requests.length}
          </span>
        </div>
        {requests.length === 0 ? (
          <p className="muted small tight">No requests right now.</p>
        ) : (
          <ul className="stack-list">
            {requests.map((r) => {
              const key = `req:${r.user.id}`;
              return (
                <li key={r.user.id} className="person" data-testid="request-row" data-handle={r.user.handle}>
                  <Avatar name={r.user.displayName} seed={r.user.id} size="sm" />
                  <span className="person-name">
                    {r.user.displayName} <span className="muted">@{r.user.handle}</span>
                  </span>
                  <span className="person-actions">
                    <button
                      type="button"
                      className="btn btn-small btn-primary"
                      disabled={!!busy[key]}
                      onClick={() => void run(key, () => client.approveRequest(id, r.user.id))}
                      data-testid="request-approve"
                      data-handle={r.user.handle}
                    >
                      Approve
                    </button>
                    <button
                      type="button"
                      className="btn btn-small btn-ghost"
                      disabled={!!busy[key]}
                      onClick={() => void run(key, () => client.denyRequest(id, r.user.id))}
                      data-testid="request-deny"
                      data-handle={r.user.handle}
                    >
                      Deny
                    </button>
                  </span>
                </li>
              );
            })}
          </ul>
        )}
      </div>

      <div className="card panel-card">
        <div className="panel-head">
          <h3>On stage</h3>
          <span className="count">{members.length}</span>
        </div>
        <ul className="stack-list">
          {members.map((m) => {
            const key = `m:${m.user.id}`;
            const b = !!busy[key];
            const h = m.user.handle;
            const live = doc?.speakers.find((s) => s.userId === m.user.id);
            const connected = live ? live.connected : m.connected;
            const muted = m.hostMuted || m.selfMuted;
            const act = (fn: () => Promise<unknown>): void => void run(key, fn);
            return (
              <li
                key={m.user.id}
                className="person person-member"
                data-testid="member-row"
                data-handle={h}
                data-role={m.role}
                data-connected={connected ? 'true' : 'false'}
                data-muted={muted ? 'true' : 'false'}
                data-host-muted={m.hostMuted ? 'true' : 'false'}
                data-locked={m.unmuteLocked ? 'true' : 'false'}
              >
                <div className="person-main">
                  <Avatar name={m.user.displayName} seed={m.user.id} size="sm" />
                  <span className="person-name">
                    {m.user.displayName}
                    {m.user.id === myId && <span className="you"> (you)</span>}
                    <span className="muted small block">
                      @{h} · {ROLE_LABEL[m.role]}
                      {!connected && ' · not connected'}
                    </span>
                  </span>
                  {muted && (
                    <span className="muted-chip" title={m.unmuteLocked ? 'Muted and locked' : 'Muted'}>
                      <MicIcon off />
                      {m.unmuteLocked && <span aria-hidden="true">🔒</span>}
                    </span>
                  )}
                </div>
                {canManage(m) && (
                  <div className="person-actions wrap">
                    <button
                      type="button"
                      className="btn btn-small"
                      disabled={b || muted}
                      onClick={() => act(() => client.mute(id, m.user.id, { muted: true }))}
                      data-testid="member-mute"
                      data-handle={h}
                    >
                      {muted ? 'Muted' : 'Mute'}
                    </button>
                    {m.unmuteLocked ? (
                      <button
                        type="button"
                        className="btn btn-small"
                        disabled={b}
                        onClick={() => act(() => client.mute(id, m.user.id, { muted: true, lock: false }))}
                        data-testid="member-unlock"
                        data-handle={h}
                      >
                        Allow unmute
                      </button>
                    ) : (
                      <button
                        type="button"
                        className="btn btn-small"
                        disabled={b}
                        onClick={() => act(() => client.mute(id, m.user.id, { muted: true, lock: true }))}
                        data-testid="member-lock-mute"
                        data-handle={h}
                      >
                        Mute &amp; lock
                      </button>
                    )}
                    {isHost &&
                      (m.role === 'speaker' ? (
                        <button
                          type="button"
                          className="btn btn-small"
                          disabled={b}
                          onClick={() => act(() => client.setRole(id, m.user.id, 'cohost'))}
                          data-testid="member-make-cohost"
                          data-handle={h}
                        >
                          Make co-host
                        </button>
                      ) : (
                        <button
                          type="button"
                          className="btn btn-small"
                          disabled={b}
                          onClick={() => act(() => client.setRole(id, m.user.id, 'speaker'))}
                          data-testid="member-make-speaker"
                          data-handle={h}
                        >
                          Make speaker
                        </button>
                      ))}
                    <button
                      type="button"
                      className="btn btn-small"
                      disabled={b}
                      onClick={() => act(() => client.setRole(id, m.user.id, 'listener'))}
                      data-testid="member-to-listener"
                      data-handle={h}
                    >
                      Move to listeners
                    </button>
                    <ConfirmButton
                      label="Remove"
                      question={`Remove @${h} from this Space? They cannot come back to it.`}
                      confirmLabel="Remove"
                      onConfirm={() => act(() => client.remove(id, m.user.id))}
                      testId="member-remove"
                      handle={h}
                      className="btn btn-small btn-danger"
                      disabled={b}
                    />
                    {isHost && (
                      <ConfirmButton
                        label="Make host"
                        question={`Hand the Space to @${h}? You become a co-host.`}
                        confirmLabel="Transfer"
                        onConfirm={() => act(() => client.transferHost(id, m.user.id))}
                        testId="member-transfer-host"
                        handle={h}
                        className="btn btn-small btn-ghost"
                        disabled={b}
                      />
                    )}
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      </div>

      <div className="card panel-card">
        <div className="panel-head">
          <h3>Listeners</h3>
          <span className="count" data-testid="participants-listener-count">
            {/* The live doc's count (what the header shows, fresh every publish), not the last Participants. */}
            {doc?.listeners ?? participants?.listeners ?? 0}
          </span>
        </div>
        {participants && participants.listenerSample.length > 0 ? (
          <ul className="chips" data-testid="listener-sample">
            {participants.listenerSample.map((u) => (
              <li key={u.id} className="chip" data-handle={u.handle} data-testid="listener-sample-item">
                <Avatar name={u.displayName} seed={u.id} size="xs" />
                {u.displayName}
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted small tight">Signed-in listeners show up here.</p>
        )}
      </div>

      <div className="card panel-card">
        <InviteLinkBox spaceId={id} />
      </div>

      {isHost && (
        <div className="end-row">
          <ConfirmButton
            label="End Space"
            question="End this Space for everyone?"
            confirmLabel="End it"
            testId="end-space"
            disabled={!!busy.end}
            onConfirm={() =>
              void run('end', async () => {
                onEnded(await client.end(id));
              })
            }
          />
        </div>
      )}
    </section>
  );
}
