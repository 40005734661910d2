import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { TribuneError } from '../errors.js';
import { migrate } from './migrations.js';
import type {
  FeedItemRecord,
  FollowCounts,
  FollowEntry,
  Keyset,
  RankedKeyset,
  SpacePage,
} from './social-types.js';
import { SqliteSocial } from './sqlite-social.js';
import { SqliteTrust } from './sqlite-trust.js';
import type { TrustStorage as T } from './trust-types.js';
import type {
  ClipRecord,
  MemberRecord,
  NewSpace,
  NotificationRecord,
  OutboxRecord,
  ReplayState,
  Role,
  SessionRecord,
  SpaceRecord,
  SpaceState,
  SpeakRequestRecord,
  Storage,
  UserRecord,
} from './types.js';
import { newSpaceRecord } from './types.js';

// Rows as SQLite returns them (snake_case, booleans as 0/1).
interface UserRow {
  id: string;
  handle: string;
  display_name: string;
  password_hash: string;
  created_at: string;
}
interface SessionRow {
  id_hash: string;
  user_id: string;
  created_at: string;
  expires_at: string;
}
interface SpaceRow {
  id: string;
  host_id: string;
  title: string;
  description: string;
  state: SpaceState;
  require_sign_in: number;
  scheduled_for: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  replay_state: ReplayState;
  replay_trim_start_sec: number;
  replay_expires_at: string | null;
}
interface MemberRow {
  space_id: string;
  user_id: string;
  role: Role;
  host_muted: number;
  unmute_locked: number;
  self_muted: number;
  blocked: number;
  updated_at: string;
}
interface RequestRow {
  space_id: string;
  user_id: string;
  created_at: string;
}
interface NotificationRow {
  id: string;
  user_id: string;
  space_id: string;
  kind: NotificationRecord['kind'];
  created_at: string;
  read_at: string | null;
}
interface ClipRow {
  id: string;
  space_id: string;
  creator_id: string | null;
  start_sec: number;
  duration_sec: number;
  created_at: string;
}
interface OutboxRow {
  id: string;
  payload: string;
  attempts: number;
  next_attempt_at: string;
  created_at: string;
}

const toUser = (r: UserRow): UserRecord => ({
  id: r.id,
  handle: r.handle,
  displayName: r.display_name,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
});
const toSession = (r: SessionRow): SessionRecord => ({
  idHash: r.id_hash,
  userId: r.user_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});
const toSpace = (r: SpaceRow): SpaceRecord => ({
  id: r.id,
  hostId: r.host_id,
  title: r.title,
  description: r.description,
  state: r.state,
  requireSignIn: r.require_sign_in === 1,
  scheduledFor: r.scheduled_for,
  createdAt: r.created_at,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  replayState: r.replay_state,
  replayTrimStartSec: r.replay_trim_start_sec,
  replayExpiresAt: r.replay_expires_at,
});
const spaceRow = (s: SpaceRecord): SpaceRow => ({
  id: s.id,
  host_id: s.hostId,
  title: s.title,
  description: s.description,
  state: s.state,
  require_sign_in: s.requireSignIn ? 1 : 0,
  scheduled_for: s.scheduledFor,
  created_at: s.createdAt,
  started_at: s.startedAt,
  ended_at: s.endedAt,
  replay_state: s.replayState,
  replay_trim_start_sec: s.replayTrimStartSec,
  replay_expires_at: s.replayExpiresAt,
});
const toMember = (r: MemberRow): MemberRecord => ({
  spaceId: r.space_id,
  userId: r.user_id,
  role: r.role,
  hostMuted: r.host_muted === 1,
  unmuteLocked: r.unmute_locked === 1,
  selfMuted: r.self_muted === 1,
  blocked: r.blocked === 1,
  updatedAt: r.updated_at,
});
const toRequest = (r: RequestRow): SpeakRequestRecord => ({
  spaceId: r.space_id,
  userId: r.user_id,
  createdAt: r.created_at,
});
const toNotification = (r: NotificationRow): NotificationRecord => ({
  id: r.id,
  userId: r.user_id,
  spaceId: r.space_id,
  kind: r.kind,
  createdAt: r.created_at,
  readAt: r.read_at,
});
const toClip = (r: ClipRow): ClipRecord => ({
  id: r.id,
  spaceId: r.space_id,
  creatorId: r.creator_id,
  startSec: r.start_sec,
  durationSec: r.duration_sec,
  createdAt: r.created_at,
});
const toOutbox = (r: OutboxRow): OutboxRecord => ({
  id: r.id,
  payload: r.payload,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  createdAt: r.created_at,
});

/** The fields updateSpace() may change (anything else in a patch is ignored). */
const SPACE_PATCH_KEYS = [
  'hostId',
  'title',
  'description',
  'state',
  'requireSignIn',
  'scheduledFor',
  'startedAt',
  'endedAt',
  'replayState',
  'replayTrimStartSec',
  'replayExpiresAt',
] as const satisfies readonly (keyof SpaceRecord)[];

/** SQLite LIMIT treats negatives as "no limit": clamp to a sane non-negative integer. */
const lim = (n: number): number => (Number.isFinite(n) ? Math.max(0, Math.floor(n)) : 0);

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function prepareAll(db: Database.Database) {
  return {
    insertUser: db.prepare<[UserRow]>(
      `INSERT INTO users (id, handle, display_name, password_hash, created_at)
       VALUES (@id, @handle, @display_name, @password_hash, @created_at)`,
    ),
    userById: db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?'),
    userByHandle: db.prepare<[string], UserRow>('SELECT * FROM users WHERE handle = ?'),
    usersByIds: db.prepare<[string], UserRow>(
      'SELECT * FROM users WHERE id IN (SELECT value FROM json_each(?))',
    ),

    insertSession: db.prepare<[SessionRow]>(
      `INSERT INTO sessions (id_hash, user_id, created_at, expires_at)
       VALUES (@id_hash, @user_id, @created_at, @expires_at)`,
    ),
    sessionByHash: db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE id_hash = ?'),
    deleteSession: db.prepare<[string]>('DELETE FROM sessions WHERE id_hash = ?'),
    deleteExpiredSessions: db.prepare<[string]>('DELETE FROM sessions WHERE expires_at <= ?'),

    insertSpace: db.prepare<[SpaceRow]>(
      `INSERT INTO spaces (id, host_id, title, description, state, require_sign_in, scheduled_for,
         created_at, started_at, ended_at, replay_state, replay_trim_start_sec, replay_expires_at)
       VALUES (@id, @host_id, @title, @description, @state, @require_sign_in, @scheduled_for,
         @created_at, @started_at, @ended_at, @replay_state, @replay_trim_start_sec, @replay_expires_at)`,
    ),
    spaceById: db.prepare<[string], SpaceRow>('SELECT * FROM spaces WHERE id = ?'),
    mediaFence: db.prepare<[string], { fence: number }>(
      'SELECT fence FROM space_media_fences WHERE space_id = ?',
    ),
    fenceMedia: db.prepare<[string, number], { fence: number }>(
      `INSERT INTO space_media_fences (space_id, fence) VALUES (?, ?)
       ON CONFLICT (space_id) DO UPDATE SET fence = excluded.fence WHERE fence <= excluded.fence
       RETURNING fence`,
    ),
    updateSpace: db.prepare<[SpaceRow]>(
      `UPDATE spaces SET host_id = @host_id, title = @title, description = @description, state = @state,
         require_sign_in = @require_sign_in, scheduled_for = @scheduled_for, started_at = @started_at,
         ended_at = @ended_at, replay_state = @replay_state, replay_trim_start_sec = @replay_trim_start_sec,
         replay_expires_at = @replay_expires_at
       WHERE id = @id`,
    ),
    listSpacesRecent: db.prepare<[string, number], SpaceRow>(
      `SELECT * FROM spaces WHERE state IN (SELECT value FROM json_each(?))
       ORDER BY COALESCE(ended_at, started_at, scheduled_for, created_at) DESC, created_at DESC, id
       LIMIT ?`,
    ),
    listSpacesScheduled: db.prepare<[number], SpaceRow>(
      `SELECT * FROM spaces WHERE state = 'scheduled'
       ORDER BY scheduled_for IS NULL, scheduled_for, created_at, id
       LIMIT ?`,
    ),
    expiredReplays: db.prepare<[string], SpaceRow>(
      `SELECT * FROM spaces
       WHERE state = 'ended' AND replay_state = 'available' AND replay_expires_at <= ?
       ORDER BY replay_expires_at, id`,
    ),

    member: db.prepare<[string, string], MemberRow>(
      'SELECT * FROM members WHERE space_id = ? AND user_id = ?',
    ),
    // roles: a JSON array, or NULL for every role.
    members: db.prepare<{ space: string; roles: string | null }, MemberRow>(
      `SELECT * FROM members
       WHERE space_id = @space AND (@roles IS NULL OR role IN (SELECT value FROM json_each(@roles)))
       ORDER BY CASE role WHEN 'host' THEN 0 WHEN 'cohost' THEN 1 WHEN 'speaker' THEN 2 ELSE 3 END,
         updated_at, user_id`,
    ),
    putMember: db.prepare<[MemberRow]>(
      `INSERT INTO members (space_id, user_id, role, host_muted, unmute_locked, self_muted, blocked, updated_at)
       VALUES (@space_id, @user_id, @role, @host_muted, @unmute_locked, @self_muted, @blocked, @updated_at)
       ON CONFLICT (space_id, user_id) DO UPDATE SET role = excluded.role, host_muted = excluded.host_muted,
         unmute_locked = excluded.unmute_locked, self_muted = excluded.self_muted,
         blocked = excluded.blocked, updated_at = excluded.updated_at`,
    ),

    // ON CONFLICT DO NOTHING rather than INSERT OR IGNORE: only a repeat is ignored, a bad row still fails.
    addRequest: db.prepare<[RequestRow]>(
      `INSERT INTO speak_requests (space_id, user_id, created_at) VALUES (@space_id, @user_id, @created_at)
       ON CONFLICT (space_id, user_id) DO NOTHING`,
    ),
    removeRequest: db.prepare<[string, string]>(
      'DELETE FROM speak_requests WHERE space_id = ? AND user_id = ?',
    ),
    requests: db.prepare<[string], RequestRow>(
      'SELECT * FROM speak_requests WHERE space_id = ? ORDER BY created_at, rowid',
    ),
    clearRequests: db.prepare<[string]>('DELETE FROM speak_requests WHERE space_id = ?'),

    subscribe: db.prepare<[string, string]>(
      `INSERT INTO subscriptions (space_id, user_id) VALUES (?, ?) ON CONFLICT (space_id, user_id) DO NOTHING`,
    ),
    unsubscribe: db.prepare<[string, string]>('DELETE FROM subscriptions WHERE space_id = ? AND user_id = ?'),
    subscribers: db
      .prepare<[string], string>('SELECT user_id FROM subscriptions WHERE space_id = ? ORDER BY rowid')
      .pluck(),
    isSubscribed: db
      .prepare<[string, string], number>('SELECT 1 FROM subscriptions WHERE space_id = ? AND user_id = ?')
      .pluck(),
    insertNotification: db.prepare<[NotificationRow]>(
      `INSERT INTO notifications (id, user_id, space_id, kind, created_at, read_at)
       VALUES (@id, @user_id, @space_id, @kind, @created_at, @read_at)`,
    ),
    notifications: db.prepare<[string, number], NotificationRow>(
      'SELECT * FROM notifications WHERE user_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?',
    ),
    markNotificationsRead: db.prepare<[string, string]>(
      'UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL',
    ),

    insertClip: db.prepare<[ClipRow]>(
      `INSERT INTO clips (id, space_id, creator_id, start_sec, duration_sec, created_at)
       VALUES (@id, @space_id, @creator_id, @start_sec, @duration_sec, @created_at)`,
    ),
    clipById: db.prepare<[string], ClipRow>('SELECT * FROM clips WHERE id = ?'),
    clipsForSpace: db.prepare<[string], ClipRow>(
      'SELECT * FROM clips WHERE space_id = ? ORDER BY created_at, rowid',
    ),
    deleteClipsForSpace: db.prepare<[string]>('DELETE FROM clips WHERE space_id = ?'),
    deleteClip: db.prepare<[string]>('DELETE FROM clips WHERE id = ?'),

    enqueueOutbox: db.prepare<[OutboxRow]>(
      `INSERT INTO outbox (id, payload, attempts, next_attempt_at, created_at)
       VALUES (@id, @payload, @attempts, @next_attempt_at, @created_at)`,
    ),
    dueOutbox: db.prepare<[string, number], OutboxRow>(
      'SELECT * FROM outbox WHERE next_attempt_at <= ? ORDER BY next_attempt_at, created_at, id LIMIT ?',
    ),
    rescheduleOutbox: db.prepare<[number, string, string]>(
      'UPDATE outbox SET attempts = ?, next_attempt_at = ? WHERE id = ?',
    ),
    deleteOutbox: db.prepare<[string]>('DELETE FROM outbox WHERE id = ?'),
  };
}

/**
 * The default Storage: one SQLite file (WAL, synchronous=FULL, so a resolved write survives a
 * process kill or power loss). better-sqlite3 is synchronous; the methods are async only to fit
 * the Storage interface, and do all their work before the returned promise settles.
 *
 * Timestamps are compared as text: pass them as `Date.prototype.toISOString()` writes them.
 */
export class SqliteStorage implements Storage {
  private readonly q: ReturnType<typeof prepareAll>;
  private readonly insertNotifications: (n: NotificationRecord[]) => void;
  private readonly patchSpace: (id: string, patch: Partial<SpaceRecord>, fence?: number) => SpaceRecord;
  private readonly social: SqliteSocial<SpaceRow, UserRow>;
  private readonly trust: SqliteTrust;

  private constructor(
    /** The connection (diagnostics, backups, tests). Do not write to it outside this class. */
    readonly db: Database.Database,
  ) {
    this.q = prepareAll(db);
    this.social = new SqliteSocial<SpaceRow, UserRow>(db, { toSpace, toUser });
    this.trust = new SqliteTrust(db);
    this.insertNotifications = db.transaction((list: NotificationRecord[]) => {
      for (const n of list)
        this.q.insertNotification.run({
          id: n.id,
          user_id: n.userId,
          space_id: n.spaceId,
          kind: n.kind,
          created_at: n.createdAt,
          read_at: n.readAt,
        });
    });
    this.patchSpace = db.transaction(
      (id: string, patch: Partial<SpaceRecord>, fence?: number): SpaceRecord => {
        const row = this.q.spaceById.get(id);
        if (!row) throw new TribuneError('SPACE_NOT_FOUND');
        if (fence !== undefined && (this.q.mediaFence.get(id)?.fence ?? 0) > fence)
          throw new TribuneError('LEASE_LOST');
        const next: SpaceRecord = toSpace(row);
        const target = next as unknown as Record<string, unknown>;
        for (const key of SPACE_PATCH_KEYS) if (patch[key] !== undefined) target[key] = patch[key];
        this.q.updateSpace.run(spaceRow(next));
        return next;
      },
    );
  }

  /**
   * Opens (creating it and its parent directory if needed) and migrates the database at `file`;
   * ':memory:' for a private in-memory database. Throws if the file was written by a newer schema.
   */
  static open(file: string): SqliteStorage {
    if (file !== ':memory:' && file !== '') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const db = new Database(file);
    try {
      db.pragma('busy_timeout = 5000');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      migrate(db);
      return new SqliteStorage(db);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  // users

  async createUser(u: UserRecord): Promise<void> {
    try {
      this.q.insertUser.run({
        id: u.id,
        handle: u.handle,
        display_name: u.displayName,
        password_hash: u.passwordHash,
        created_at: u.createdAt,
      });
    } catch (err) {
      // The id is the primary key (SQLITE_CONSTRAINT_PRIMARYKEY): only the handle index raises UNIQUE.
      if (isUniqueViolation(err)) throw new TribuneError('HANDLE_TAKEN', undefined, { cause: err });
      throw err;
    }
  }

  async userById(id: string): Promise<UserRecord | undefined> {
    const r = this.q.userById.get(id);
    return r && toUser(r);
  }

  async userByHandle(handle: string): Promise<UserRecord | undefined> {
    const r = this.q.userByHandle.get(handle);
    return r && toUser(r);
  }

  /** In the order of `ids` (unknown ids skipped, duplicates once). */
  async usersByIds(ids: string[]): Promise<UserRecord[]> {
    if (ids.length === 0) return [];
    const found = new Map(this.q.usersByIds.all(JSON.stringify(ids)).map((r) => [r.id, toUser(r)]));
    const out: UserRecord[] = [];
    for (const id of new Set(ids)) {
      const u = found.get(id);
      if (u) out.push(u);
    }
    return out;
  }

  // sessions

  async createSession(s: SessionRecord): Promise<void> {
    this.q.insertSession.run({
      id_hash: s.idHash,
      user_id: s.userId,
      created_at: s.createdAt,
      expires_at: s.expiresAt,
    });
  }

  async sessionByHash(idHash: string): Promise<SessionRecord | undefined> {
    const r = this.q.sessionByHash.get(idHash);
    return r && toSession(r);
  }

  async deleteSession(idHash: string): Promise<void> {
    this.q.deleteSession.run(idHash);
  }

  /** Deletes sessions with expiresAt <= now; returns how many. */
  async deleteExpiredSessions(nowIso: string): Promise<number> {
    return this.q.deleteExpiredSessions.run(nowIso).changes;
  }

  // spaces

  async createSpace(s: NewSpace): Promise<SpaceRecord> {
    const record = newSpaceRecord(s);
    this.q.insertSpace.run(spaceRow(record));
    return record;
  }

  async spaceById(id: string): Promise<SpaceRecord | undefined> {
    const r = this.q.spaceById.get(id);
    return r && toSpace(r);
  }

  /**
   * `states` exactly ['scheduled']: soonest first (scheduledFor ascending). Otherwise newest first by
   * COALESCE(endedAt, startedAt, scheduledFor, createdAt).
   */
  async listSpaces(q: { states: SpaceState[]; limit: number }): Promise<SpaceRecord[]> {
    if (q.states.length === 0) return [];
    const rows =
      q.states.length === 1 && q.states[0] === 'scheduled'
        ? this.q.listSpacesScheduled.all(lim(q.limit))
        : this.q.listSpacesRecent.all(JSON.stringify(q.states), lim(q.limit));
    return rows.map(toSpace);
  }

  /** Applies the defined fields of `patch` (id and createdAt never change); throws SPACE_NOT_FOUND. */
  async updateSpace(
    id: string,
    patch: Partial<Omit<SpaceRecord, 'id' | 'createdAt'>>,
    fence?: number,
  ): Promise<SpaceRecord> {
    return this.patchSpace(id, patch, fence);
  }

  async fenceSpaceMedia(id: string, fence: number): Promise<boolean> {
    if (!this.q.spaceById.get(id)) throw new TribuneError('SPACE_NOT_FOUND');
    return this.q.fenceMedia.get(id, fence) !== undefined;
  }

  async expiredReplays(nowIso: string): Promise<SpaceRecord[]> {
    return this.q.expiredReplays.all(nowIso).map(toSpace);
  }

  // members

  async member(spaceId: string, userId: string): Promise<MemberRecord | undefined> {
    const r = this.q.member.get(spaceId, userId);
    return r && toMember(r);
  }

  /** Host, co-hosts, speakers, listeners; within a role by updatedAt. `roles` filters (an empty list matches none). */
  async members(spaceId: string, roles?: Role[]): Promise<MemberRecord[]> {
    if (roles && roles.length === 0) return [];
    return this.q.members.all({ space: spaceId, roles: roles ? JSON.stringify(roles) : null }).map(toMember);
  }

  async putMember(m: MemberRecord): Promise<void> {
    this.q.putMember.run({
      space_id: m.spaceId,
      user_id: m.userId,
      role: m.role,
      host_muted: m.hostMuted ? 1 : 0,
      unmute_locked: m.unmuteLocked ? 1 : 0,
      self_muted: m.selfMuted ? 1 : 0,
      blocked: m.blocked ? 1 : 0,
      updated_at: m.updatedAt,
    });
  }

  // requests to speak

  /** A repeated request keeps its original place (and createdAt). */
  async addRequest(r: SpeakRequestRecord): Promise<void> {
    this.q.addRequest.run({ space_id: r.spaceId, user_id: r.userId, created_at: r.createdAt });
  }

  async removeRequest(spaceId: string, userId: string): Promise<boolean> {
    return this.q.removeRequest.run(spaceId, userId).changes > 0;
  }

  async requests(spaceId: string): Promise<SpeakRequestRecord[]> {
    return this.q.requests.all(spaceId).map(toRequest);
  }

  async clearRequests(spaceId: string): Promise<void> {
    this.q.clearRequests.run(spaceId);
  }

  // subscriptions and notifications

  async subscribe(spaceId: string, userId: string): Promise<void> {
    this.q.subscribe.run(spaceId, userId);
  }

  async unsubscribe(spaceId: string, userId: string): Promise<void> {
    this.q.unsubscribe.run(spaceId, userId);
  }

  /** User ids, in the order they subscribed. */
  async subscribers(spaceId: string): Promise<string[]> {
    return this.q.subscribers.all(spaceId);
  }

  async isSubscribed(spaceId: string, userId: string): Promise<boolean> {
    return this.q.isSubscribed.get(spaceId, userId) !== undefined;
  }

  /** All or none (one transaction). */
  async addNotifications(n: NotificationRecord[]): Promise<void> {
    if (n.length) this.insertNotifications(n);
  }

  /** Newest first. */
  async notifications(userId: string, limit: number): Promise<NotificationRecord[]> {
    return this.q.notifications.all(userId, lim(limit)).map(toNotification);
  }

  /** Sets readAt on the user's unread notifications (already read ones keep their readAt). */
  async markNotificationsRead(userId: string, nowIso: string): Promise<void> {
    this.q.markNotificationsRead.run(nowIso, userId);
  }

  // clips

  async createClip(c: ClipRecord): Promise<void> {
    this.q.insertClip.run({
      id: c.id,
      space_id: c.spaceId,
      creator_id: c.creatorId,
      start_sec: c.startSec,
      duration_sec: c.durationSec,
      created_at: c.createdAt,
    });
  }

  async clipById(id: string): Promise<ClipRecord | undefined> {
    const r = this.q.clipById.get(id);
    return r && toClip(r);
  }

  /** Oldest first. */
  async clipsForSpace(spaceId: string): Promise<ClipRecord[]> {
    return this.q.clipsForSpace.all(spaceId).map(toClip);
  }

  async deleteClipsForSpace(spaceId: string): Promise<void> {
    this.q.deleteClipsForSpace.run(spaceId);
  }

  async deleteClip(id: string): Promise<void> {
    this.q.deleteClip.run(id);
  }

  // webhook outbox

  async enqueueOutbox(o: OutboxRecord): Promise<void> {
    this.q.enqueueOutbox.run({
      id: o.id,
      payload: o.payload,
      attempts: o.attempts,
      next_attempt_at: o.nextAttemptAt,
      created_at: o.createdAt,
    });
  }

  /** Entries with nextAttemptAt <= now, earliest first. */
  async dueOutbox(nowIso: string, limit: number): Promise<OutboxRecord[]> {
    return this.q.dueOutbox.all(nowIso, lim(limit)).map(toOutbox);
  }

  async rescheduleOutbox(id: string, attempts: number, nextAttemptAt: string): Promise<void> {
    this.q.rescheduleOutbox.run(attempts, nextAttemptAt, id);
  }

  async deleteOutbox(id: string): Promise<void> {
    this.q.deleteOutbox.run(id);
  }

  // profiles, follows, the notification feed and search (sqlite-social.ts)

  follow = (a: string, b: string, atIso: string): Promise<boolean> => this.social.follow(a, b, atIso);
  unfollow = (a: string, b: string): Promise<boolean> => this.social.unfollow(a, b);
  isFollowing = (a: string, b: string): Promise<boolean> => this.social.isFollowing(a, b);
  followCounts = (userId: string): Promise<FollowCounts> => this.social.followCounts(userId);
  followers = (userId: string, page: { after?: Keyset; limit: number }): Promise<FollowEntry[]> =>
    this.social.followers(userId, page);
  following = (userId: string, page: { after?: Keyset; limit: number }): Promise<FollowEntry[]> =>
    this.social.following(userId, page);
  spacesByHost = (hostId: string, page: SpacePage): Promise<SpaceRecord[]> =>
    this.social.spacesByHost(hostId, page);
  followedSpaces = (userId: string, page: SpacePage): Promise<SpaceRecord[]> =>
    this.social.followedSpaces(userId, page);
  notificationFeed = (
    userId: string,
    q: { sinceIso: string; after?: Keyset; limit: number },
  ): Promise<FeedItemRecord[]> => this.social.notificationFeed(userId, q);
  markFeedRead = (userId: string, nowIso: string): Promise<void> => this.social.markFeedRead(userId, nowIso);
  searchSpaces = (q: { terms: string[]; after?: RankedKeyset; limit: number }): Promise<SpaceRecord[]> =>
    this.social.searchSpaces(q);

  // trust and safety: cases, event log, statements of reasons... (sqlite-trust.ts)

  createCase: T['createCase'] = (...a) => this.trust.createCase(...a);
  caseById: T['caseById'] = (...a) => this.trust.caseById(...a);
  putCase: T['putCase'] = (...a) => this.trust.putCase(...a);
  cases: T['cases'] = (...a) => this.trust.cases(...a);
  appendEvent: T['appendEvent'] = (...a) => this.trust.appendEvent(...a);
  events: T['events'] = (...a) => this.trust.events(...a);
  appendStatement: T['appendStatement'] = (...a) => this.trust.appendStatement(...a);
  statementById: T['statementById'] = (...a) => this.trust.statementById(...a);
  statements: T['statements'] = (...a) => this.trust.statements(...a);
  createComplaint: T['createComplaint'] = (...a) => this.trust.createComplaint(...a);
  putComplaint: T['putComplaint'] = (...a) => this.trust.putComplaint(...a);
  complaintById: T['complaintById'] = (...a) => this.trust.complaintById(...a);
  complaints: T['complaints'] = (...a) => this.trust.complaints(...a);
  grantRole: T['grantRole'] = (...a) => this.trust.grantRole(...a);
  revokeRole: T['revokeRole'] = (...a) => this.trust.revokeRole(...a);
  rolesOf: T['rolesOf'] = (...a) => this.trust.rolesOf(...a);
  roleGrants: T['roleGrants'] = (...a) => this.trust.roleGrants(...a);
  accountStanding: T['accountStanding'] = (...a) => this.trust.accountStanding(...a);
  putAccountStanding: T['putAccountStanding'] = (...a) => this.trust.putAccountStanding(...a);
  notifierStanding: T['notifierStanding'] = (...a) => this.trust.notifierStanding(...a);
  putNotifierStanding: T['putNotifierStanding'] = (...a) => this.trust.putNotifierStanding(...a);
  spaceModeration: T['spaceModeration'] = (...a) => this.trust.spaceModeration(...a);
  putSpaceModeration: T['putSpaceModeration'] = (...a) => this.trust.putSpaceModeration(...a);
  moderatedSpaces: T['moderatedSpaces'] = (...a) => this.trust.moderatedSpaces(...a);
  createEvidence: T['createEvidence'] = (...a) => this.trust.createEvidence(...a);
  putEvidence: T['putEvidence'] = (...a) => this.trust.putEvidence(...a);
  evidenceById: T['evidenceById'] = (...a) => this.trust.evidenceById(...a);
  evidenceForCase: T['evidenceForCase'] = (...a) => this.trust.evidenceForCase(...a);
  expiredEvidence: T['expiredEvidence'] = (...a) => this.trust.expiredEvidence(...a);
  enqueueTdb: T['enqueueTdb'] = (...a) => this.trust.enqueueTdb(...a);
  dueTdb: T['dueTdb'] = (...a) => this.trust.dueTdb(...a);
  putTdb: T['putTdb'] = (...a) => this.trust.putTdb(...a);
  tdbByPuid: T['tdbByPuid'] = (...a) => this.trust.tdbByPuid(...a);

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
