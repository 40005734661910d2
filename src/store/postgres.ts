/**
 * The shared Storage: PostgreSQL through a `pg` connection pool, for several origins (selected by
 * `TRIBUNE_DATABASE_URL`; SQLite stays the embedded default). Same interface, same results and the
 * same error mapping as SqliteStorage; the schema is pg-migrations.ts. Every method is one
 * statement (atomic on its own; appendStatement, a transaction), and resolves once PostgreSQL has
 * committed it. The social methods are PgSocial's (postgres-social.ts), the trust-and-safety ones
 * PgTrust's (postgres-trust.ts); the pool's opening and query helpers are postgres-pool.ts.
 */
import type pg from 'pg';
import { TribuneError } from '../errors.js';
import { openPool, redactDatabaseUrl, type PostgresOptions } from './postgres-pool.js';
import { PgSocial } from './postgres-social.js';
import { PgTrust } from './postgres-trust.js';
import * as row from './postgres-rows.js';
import type {
  ClipRecord,
  MemberRecord,
  NewSpace,
  NotificationRecord,
  OutboxRecord,
  Role,
  SessionRecord,
  SpaceRecord,
  SpaceState,
  SpeakRequestRecord,
  Storage,
  UserRecord,
} from './types.js';
import { newSpaceRecord } from './types.js';
import type { TrustStorage as T } from './trust-types.js';

function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  return e?.code === '23505' && e.constraint === constraint;
}

export class PostgresStorage extends PgSocial implements Storage {
  private closed = false;
  private readonly trust: PgTrust;

  private constructor(
    pool: pg.Pool,
    /** The database's URL without its password. */
    readonly where: string,
  ) {
    super(pool);
    this.trust = new PgTrust(pool);
  }

  /**
   * Connects to `url` (postgres://user:password@host:port/database) and migrates the database.
   * Throws one line naming the URL (without its password) and the cause when the server cannot be
   * reached, or when the database was written by a newer schema.
   */
  static async open(url: string, opts: PostgresOptions = {}): Promise<PostgresStorage> {
    return new PostgresStorage(await openPool(url, opts), redactDatabaseUrl(url));
  }

  // users

  async createUser(u: UserRecord): Promise<void> {
    try {
      await this.run(`INSERT INTO users (${row.USER_COLS}) VALUES ($1, $2, $3, $4, $5)`, [
        u.id,
        u.handle,
        u.displayName,
        u.passwordHash,
        u.createdAt,
      ]);
    } catch (err) {
      // A duplicate id (users_pkey) is not a handle problem: only the handle index means HANDLE_TAKEN.
      if (isUniqueViolation(err, 'users_handle'))
        throw new TribuneError('HANDLE_TAKEN', undefined, { cause: err });
      throw err;
    }
  }

  async userById(id: string): Promise<UserRecord | undefined> {
    const r = await this.first<row.UserRow>(`SELECT ${row.USER_COLS} FROM users WHERE id = $1`, [id]);
    return r && row.toUser(r);
  }

  async userByHandle(handle: string): Promise<UserRecord | undefined> {
    const r = await this.first<row.UserRow>(`SELECT ${row.USER_COLS} FROM users WHERE handle = $1`, [handle]);
    return r && row.toUser(r);
  }

  /** In the order of `ids` (unknown ids skipped, duplicates once). */
  async usersByIds(ids: string[]): Promise<UserRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.rows<row.UserRow>(
      `SELECT ${row.USER_COLS} FROM users WHERE id = ANY ($1::text[])`,
      [ids],
    );
    const found = new Map(rows.map((r) => [r.id, row.toUser(r)]));
    const out: UserRecord[] = [];
    for (const id of new Set(ids)) {
      const u = found.get(id);
      if (u) out.push(u);
    }
    return out;
  }

  // sessions

  async createSession(s: SessionRecord): Promise<void> {
    await this.run(
      'INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)',
      [s.idHash, s.userId, s.createdAt, s.expiresAt],
    );
  }

  async sessionByHash(idHash: string): Promise<SessionRecord | undefined> {
    const r = await this.first<row.SessionRow>(
      'SELECT id_hash, user_id, created_at, expires_at FROM sessions WHERE id_hash = $1',
      [idHash],
    );
    return r && row.toSession(r);
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.run('DELETE FROM sessions WHERE id_hash = $1', [idHash]);
  }

  /** Deletes sessions with expiresAt <= now; returns how many. */
  async deleteExpiredSessions(nowIso: string): Promise<number> {
    return this.run('DELETE FROM sessions WHERE expires_at <= $1', [nowIso]);
  }

  // spaces

  async createSpace(s: NewSpace): Promise<SpaceRecord> {
    const record = newSpaceRecord(s);
    const params = row.spaceParams(record);
    const slots = params.map((_, i) => `$${i + 1}`);
    await this.run(`INSERT INTO spaces (${row.SPACE_COLS}) VALUES (${slots.join(', ')})`, params);
    return record;
  }

  async spaceById(id: string): Promise<SpaceRecord | undefined> {
    const r = await this.first<row.SpaceRow>(`SELECT ${row.SPACE_COLS} FROM spaces WHERE id = $1`, [id]);
    return r && row.toSpace(r);
  }

  /**
   * `states` exactly ['scheduled']: soonest first (scheduledFor ascending). Otherwise newest first by
   * COALESCE(endedAt, startedAt, scheduledFor, createdAt).
   */
  async listSpaces(q: { states: SpaceState[]; limit: number }): Promise<SpaceRecord[]> {
    if (q.states.length === 0) return [];
    const rows =
      q.states.length === 1 && q.states[0] === 'scheduled'
        ? await this.rows<row.SpaceRow>(
            `SELECT ${row.SPACE_COLS} FROM spaces WHERE state = 'scheduled'
             ORDER BY scheduled_for IS NULL, scheduled_for, created_at, id LIMIT $1`,
            [row.lim(q.limit)],
          )
        : await this.rows<row.SpaceRow>(
            `SELECT ${row.SPACE_COLS} FROM spaces WHERE state = ANY ($1::text[])
             ORDER BY COALESCE(ended_at, started_at, scheduled_for, created_at) DESC, created_at DESC, id
             LIMIT $2`,
            [q.states, row.lim(q.limit)],
          );
    return rows.map(row.toSpace);
  }

  /**
   * Applies the defined fields of `patch` (id and createdAt never change); throws SPACE_NOT_FOUND, or
   * LEASE_LOST when `fence` is given and a newer media fence is recorded (one statement: no race).
   */
  async updateSpace(
    id: string,
    patch: Partial<Omit<SpaceRecord, 'id' | 'createdAt'>>,
    fence?: number,
  ): Promise<SpaceRecord> {
    const sets: string[] = [];
    const values: unknown[] = [id];
    for (const [key, column] of Object.entries(row.SPACE_PATCH_COLUMNS)) {
      const v = (patch as Record<string, unknown>)[key];
      if (v === undefined) continue;
      values.push(v);
      sets.push(`${column} = $${values.length}`);
    }
    let fenced = '';
    if (fence !== undefined) {
      values.push(fence);
      fenced = ` AND NOT EXISTS (SELECT 1 FROM space_media_fences f WHERE f.space_id = $1 AND f.fence > $${values.length})`;
    }
    const r = sets.length
      ? await this.first<row.SpaceRow>(
          `UPDATE spaces SET ${sets.join(', ')} WHERE id = $1${fenced} RETURNING ${row.SPACE_COLS}`,
          values,
        )
      : await this.first<row.SpaceRow>(`SELECT ${row.SPACE_COLS} FROM spaces WHERE id = $1${fenced}`, values);
    if (!r) {
      if (fence !== undefined && (await this.spaceById(id))) throw new TribuneError('LEASE_LOST');
      throw new TribuneError('SPACE_NOT_FOUND');
    }
    return row.toSpace(r);
  }

  async fenceSpaceMedia(id: string, fence: number): Promise<boolean> {
    // One statement: an unknown Space shows as the foreign key's refusal (23503).
    const r = await this.rows<{ fence: string }>(
      `INSERT INTO space_media_fences (space_id, fence) VALUES ($1, $2)
       ON CONFLICT (space_id) DO UPDATE SET fence = EXCLUDED.fence
         WHERE space_media_fences.fence <= EXCLUDED.fence
       RETURNING fence`,
      [id, fence],
    ).catch((err: unknown) => {
      throw (err as { code?: unknown }).code === '23503' ? new TribuneError('SPACE_NOT_FOUND') : err;
    });
    return r.length > 0;
  }

  async expiredReplays(nowIso: string): Promise<SpaceRecord[]> {
    const rows = await this.rows<row.SpaceRow>(
      `SELECT ${row.SPACE_COLS} FROM spaces
       WHERE state = 'ended' AND replay_state = 'available' AND replay_expires_at <= $1
       ORDER BY replay_expires_at, id`,
      [nowIso],
    );
    return rows.map(row.toSpace);
  }

  // members

  async member(spaceId: string, userId: string): Promise<MemberRecord | undefined> {
    const r = await this.first<row.MemberRow>('SELECT * FROM members WHERE space_id = $1 AND user_id = $2', [
      spaceId,
      userId,
    ]);
    return r && row.toMember(r);
  }

  /** Host, co-hosts, speakers, listeners; within a role by updatedAt. `roles` filters (an empty list matches none). */
  async members(spaceId: string, roles?: Role[]): Promise<MemberRecord[]> {
    if (roles && roles.length === 0) return [];
    const rows = await this.rows<row.MemberRow>(
      `SELECT * FROM members WHERE space_id = $1 AND ($2::text[] IS NULL OR role = ANY ($2::text[]))
       ORDER BY CASE role WHEN 'host' THEN 0 WHEN 'cohost' THEN 1 WHEN 'speaker' THEN 2 ELSE 3 END,
         updated_at, user_id`,
      [spaceId, roles ?? null],
    );
    return rows.map(row.toMember);
  }

  async putMember(m: MemberRecord): Promise<void> {
    await this.run(
      `INSERT INTO members (space_id, user_id, role, host_muted, unmute_locked, self_muted, blocked, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (space_id, user_id) DO UPDATE SET role = excluded.role, host_muted = excluded.host_muted,
         unmute_locked = excluded.unmute_locked, self_muted = excluded.self_muted,
         blocked = excluded.blocked, updated_at = excluded.updated_at`,
      [m.spaceId, m.userId, m.role, m.hostMuted, m.unmuteLocked, m.selfMuted, m.blocked, m.updatedAt],
    );
  }

  // requests to speak

  /** A repeated request keeps its original place (and createdAt). */
  async addRequest(r: SpeakRequestRecord): Promise<void> {
    await this.run(
      `INSERT INTO speak_requests (space_id, user_id, created_at) VALUES ($1, $2, $3)
       ON CONFLICT (space_id, user_id) DO NOTHING`,
      [r.spaceId, r.userId, r.createdAt],
    );
  }

  async removeRequest(spaceId: string, userId: string): Promise<boolean> {
    return (
      (await this.run('DELETE FROM speak_requests WHERE space_id = $1 AND user_id = $2', [spaceId, userId])) >
      0
    );
  }

  async requests(spaceId: string): Promise<SpeakRequestRecord[]> {
    const rows = await this.rows<row.RequestRow>(
      'SELECT space_id, user_id, created_at FROM speak_requests WHERE space_id = $1 ORDER BY created_at, seq',
      [spaceId],
    );
    return rows.map(row.toRequest);
  }

  async clearRequests(spaceId: string): Promise<void> {
    await this.run('DELETE FROM speak_requests WHERE space_id = $1', [spaceId]);
  }

  // subscriptions and notifications

  async subscribe(spaceId: string, userId: string): Promise<void> {
    await this.run(
      'INSERT INTO subscriptions (space_id, user_id) VALUES ($1, $2) ON CONFLICT (space_id, user_id) DO NOTHING',
      [spaceId, userId],
    );
  }

  async unsubscribe(spaceId: string, userId: string): Promise<void> {
    await this.run('DELETE FROM subscriptions WHERE space_id = $1 AND user_id = $2', [spaceId, userId]);
  }

  /** User ids, in the order they subscribed. */
  async subscribers(spaceId: string): Promise<string[]> {
    const rows = await this.rows<{ user_id: string }>(
      'SELECT user_id FROM subscriptions WHERE space_id = $1 ORDER BY seq',
      [spaceId],
    );
    return rows.map((r) => r.user_id);
  }

  async isSubscribed(spaceId: string, userId: string): Promise<boolean> {
    return (
      (await this.first('SELECT 1 FROM subscriptions WHERE space_id = $1 AND user_id = $2', [
        spaceId,
        userId,
      ])) !== undefined
    );
  }

  /** All or none (one statement). */
  async addNotifications(n: NotificationRecord[]): Promise<void> {
    if (n.length === 0) return;
    await this.run(
      `INSERT INTO notifications (id, user_id, space_id, kind, created_at, read_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])`,
      [
        n.map((x) => x.id),
        n.map((x) => x.userId),
        n.map((x) => x.spaceId),
        n.map((x) => x.kind),
        n.map((x) => x.createdAt),
        n.map((x) => x.readAt),
      ],
    );
  }

  /** Newest first. */
  async notifications(userId: string, limit: number): Promise<NotificationRecord[]> {
    const rows = await this.rows<row.NotificationRow>(
      `SELECT id, user_id, space_id, kind, created_at, read_at FROM notifications WHERE user_id = $1
       ORDER BY created_at DESC, seq DESC LIMIT $2`,
      [userId, row.lim(limit)],
    );
    return rows.map(row.toNotification);
  }

  /** Sets readAt on the user's unread notifications (already read ones keep their readAt). */
  async markNotificationsRead(userId: string, nowIso: string): Promise<void> {
    await this.run('UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL', [
      nowIso,
      userId,
    ]);
  }

  // clips

  async createClip(c: ClipRecord): Promise<void> {
    await this.run(
      `INSERT INTO clips (id, space_id, creator_id, start_sec, duration_sec, created_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [c.id, c.spaceId, c.creatorId, c.startSec, c.durationSec, c.createdAt],
    );
  }

  async clipById(id: string): Promise<ClipRecord | undefined> {
    const r = await this.first<row.ClipRow>(
      'SELECT id, space_id, creator_id, start_sec, duration_sec, created_at FROM clips WHERE id = $1',
      [id],
    );
    return r && row.toClip(r);
  }

  /** Oldest first. */
  async clipsForSpace(spaceId: string): Promise<ClipRecord[]> {
    const rows = await this.rows<row.ClipRow>(
      `SELECT id, space_id, creator_id, start_sec, duration_sec, created_at FROM clips WHERE space_id = $1
       ORDER BY created_at, seq`,
      [spaceId],
    );
    return rows.map(row.toClip);
  }

  async deleteClipsForSpace(spaceId: string): Promise<void> {
    await this.run('DELETE FROM clips WHERE space_id = $1', [spaceId]);
  }

  async deleteClip(id: string): Promise<void> {
    await this.run('DELETE FROM clips WHERE id = $1', [id]);
  }

  // webhook outbox

  async enqueueOutbox(o: OutboxRecord): Promise<void> {
    await this.run(
      'INSERT INTO outbox (id, payload, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5)',
      [o.id, o.payload, o.attempts, o.nextAttemptAt, o.createdAt],
    );
  }

  /** Entries with nextAttemptAt <= now, earliest first. */
  async dueOutbox(nowIso: string, limit: number): Promise<OutboxRecord[]> {
    const rows = await this.rows<row.OutboxRow>(
      'SELECT * FROM outbox WHERE next_attempt_at <= $1 ORDER BY next_attempt_at, created_at, id LIMIT $2',
      [nowIso, row.lim(limit)],
    );
    return rows.map(row.toOutbox);
  }

  async rescheduleOutbox(id: string, attempts: number, nextAttemptAt: string): Promise<void> {
    await this.run('UPDATE outbox SET attempts = $1, next_attempt_at = $2 WHERE id = $3', [
      attempts,
      nextAttemptAt,
      id,
    ]);
  }

  async deleteOutbox(id: string): Promise<void> {
    await this.run('DELETE FROM outbox WHERE id = $1', [id]);
  }

  // trust and safety: cases, event log, statements of reasons... (postgres-trust.ts)

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

  /** Idempotent; waits for queries in flight. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

export { redactDatabaseUrl, type PostgresOptions } from './postgres-pool.js';
