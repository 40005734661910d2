/**
 * PostgreSQL side of TrustStorage (trust-types.ts), the same tables and queries as sqlite-trust.ts
 * (migration 4 of pg-migrations.ts; the column lists are shared): each record whole as JSON text in
 * `doc`, beside the columns its queries use. The event log and the statements are append-only (a
 * trigger refuses UPDATE, DELETE and TRUNCATE). A statement is appended in a transaction holding an
 * advisory lock, so one writer at a time extends the chain, whichever origin it runs on.
 * PostgresStorage delegates here.
 */
import type pg from 'pg';
import { TribuneError } from '../errors.js';
import type {
  AccountStanding,
  CaseRecord,
  ComplaintRecord,
  EvidenceRecord,
  NotifierStanding,
  RoleGrant,
  SpaceModeration,
  StatementRecord,
  TdbOutboxRecord,
  TrustEvent,
  TrustRole,
} from '../trust/model.js';
import { isDatabaseUnavailable, PgQueries } from './postgres-pool.js';
import {
  ACCOUNTS,
  CASES,
  checkLink,
  COMPLAINTS,
  EVIDENCE,
  insertSql,
  MODERATION,
  NOTIFIERS,
  TDB,
  toEvent,
  toRole,
  trustLimit as lim,
  type DocTable,
  type EventRow,
  type RoleRow,
} from './sqlite-trust.js';
import type { CaseQuery, TrustStorage } from './trust-types.js';

/** Serializes appendStatement across every origin on the database. */
const CHAIN_LOCK = `SELECT pg_advisory_xact_lock(hashtext('tribune:trust-statements'))`;

/** The filters of cases(): $1 affected user, $2 notifier, $3 email, $4 Space; $5 the limit. */
const CASE_FILTERS = `($1::text IS NULL OR affected_user_id = $1) AND ($2::text IS NULL OR notifier_user_id = $2)
  AND ($3::text IS NULL OR notifier_email = $3) AND ($4::text IS NULL OR space_id = $4)`;

const docs = <T>(rows: { doc: string }[]): T[] => rows.map((r) => JSON.parse(r.doc) as T);

/** An error of a transaction's statements, mapped as PgQueries maps a single statement's. */
function mapped(err: unknown): unknown {
  if (isDatabaseUnavailable(err)) return new TribuneError('STORE_UNAVAILABLE', undefined, { cause: err });
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('22'))
    return new TribuneError('BAD_REQUEST', 'a value the database cannot store', { cause: err });
  return err;
}

export class PgTrust extends PgQueries implements TrustStorage {
  /** Writes a whole record (see insertSql). */
  private async write<R>(t: DocTable<R>, dup: 'fail' | 'ignore' | 'replace', r: R): Promise<void> {
    await this.run(
      insertSql(t, (i) => `$${i}`, dup),
      t.values(r),
    );
  }

  private async docs<T>(sql: string, values: unknown[] = []): Promise<T[]> {
    return docs<T>(await this.rows<{ doc: string }>(sql, values));
  }

  private async doc<T>(sql: string, value: string): Promise<T | undefined> {
    return (await this.docs<T>(sql, [value]))[0];
  }

  /** Runs `fn` in a transaction on one connection. */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect().catch((err: unknown) => {
      throw mapped(err);
    });
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw mapped(err);
    } finally {
      client.release(broken);
    }
  }

  // cases

  createCase = (c: CaseRecord): Promise<void> => this.write(CASES, 'fail', c);
  putCase = (c: CaseRecord): Promise<void> => this.write(CASES, 'replace', c);
  caseById = (id: string): Promise<CaseRecord | undefined> =>
    this.doc('SELECT doc FROM trust_cases WHERE id = $1', id);

  async cases(q: CaseQuery): Promise<CaseRecord[]> {
    const params: unknown[] = [
      q.affectedUserId ?? null,
      q.notifierUserId ?? null,
      q.notifierEmail?.toLowerCase() ?? null,
      q.spaceId ?? null,
      lim(q.limit),
    ];
    if (!q.statuses)
      return this.docs(
        `SELECT doc FROM trust_cases WHERE ${CASE_FILTERS} ORDER BY created_at DESC, id DESC LIMIT $5`,
        params,
      );
    if (q.statuses.length === 0) return [];
    return this.docs(
      `SELECT doc FROM trust_cases WHERE status = ANY ($6::text[]) AND ${CASE_FILTERS}
       ORDER BY priority DESC, created_at, id LIMIT $5`,
      [...params, q.statuses],
    );
  }

  // the event log

  async appendEvent(e: Omit<TrustEvent, 'seq'>): Promise<TrustEvent> {
    const r = await this.rows<{ seq: string }>(
      'INSERT INTO trust_events (case_id, kind, at, actor_id, data) VALUES ($1, $2, $3, $4, $5) RETURNING seq',
      [e.caseId, e.kind, e.at, e.actorId, JSON.stringify(e.data)],
    );
    return {
      seq: Number(r[0].seq),
      caseId: e.caseId,
      kind: e.kind,
      at: e.at,
      actorId: e.actorId,
      data: e.data,
    };
  }

  async events(q: Parameters<TrustStorage['events']>[0]): Promise<TrustEvent[]> {
    const rows = await this.rows<EventRow>(
      `SELECT seq, case_id, kind, at, actor_id, data FROM trust_events
       WHERE ($1::text IS NULL OR case_id = $1) AND ($2::text IS NULL OR at >= $2)
         AND ($3::text IS NULL OR at < $3) AND ($4::bigint IS NULL OR seq > $4)
       ORDER BY seq LIMIT $5`,
      [q.caseId ?? null, q.fromIso ?? null, q.toIso ?? null, q.afterSeq ?? null, lim(q.limit)],
    );
    return rows.map(toEvent);
  }

  // statements of reasons

  async appendStatement(
    build: (last: StatementRecord | undefined) => StatementRecord,
  ): Promise<StatementRecord> {
    return this.tx(async (c) => {
      await c.query(CHAIN_LOCK);
      // Read under the lock: the previous writer has committed.
      const r = await c.query<{ doc: string }>('SELECT doc FROM trust_statements ORDER BY seq DESC LIMIT 1');
      const last = docs<StatementRecord>(r.rows)[0];
      const s = build(last);
      checkLink(last, s);
      await c.query(
        `INSERT INTO trust_statements (seq, id, case_id, user_id, at, prev_hash, hash, doc)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [s.seq, s.id, s.caseId, s.userId, s.at, s.prevHash, s.hash, JSON.stringify(s)],
      );
      return s;
    });
  }

  statementById = (id: string): Promise<StatementRecord | undefined> =>
    this.doc('SELECT doc FROM trust_statements WHERE id = $1', id);

  async statements(q: Parameters<TrustStorage['statements']>[0]): Promise<StatementRecord[]> {
    return this.docs(
      `SELECT doc FROM trust_statements
       WHERE ($1::bigint IS NULL OR seq > $1) AND ($2::text IS NULL OR case_id = $2)
         AND ($3::text IS NULL OR user_id = $3)
       ORDER BY seq LIMIT $4`,
      [q.afterSeq ?? null, q.caseId ?? null, q.userId ?? null, lim(q.limit)],
    );
  }

  // complaints

  createComplaint = (c: ComplaintRecord): Promise<void> => this.write(COMPLAINTS, 'fail', c);
  putComplaint = (c: ComplaintRecord): Promise<void> => this.write(COMPLAINTS, 'replace', c);
  complaintById = (id: string): Promise<ComplaintRecord | undefined> =>
    this.doc('SELECT doc FROM trust_complaints WHERE id = $1', id);

  async complaints(q: Parameters<TrustStorage['complaints']>[0]): Promise<ComplaintRecord[]> {
    return this.docs(
      `SELECT doc FROM trust_complaints WHERE ($1::text IS NULL OR case_id = $1) AND ($2::text IS NULL OR state = $2)
       ORDER BY created_at, id LIMIT $3`,
      [q.caseId ?? null, q.state ?? null, lim(q.limit)],
    );
  }

  // operator roles

  async grantRole(g: RoleGrant): Promise<void> {
    await this.run(
      `INSERT INTO trust_roles (user_id, role, organisation, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (user_id, role) DO UPDATE SET organisation = excluded.organisation`,
      [g.userId, g.role, g.organisation, g.createdAt],
    );
  }

  async revokeRole(userId: string, role: TrustRole): Promise<void> {
    await this.run('DELETE FROM trust_roles WHERE user_id = $1 AND role = $2', [userId, role]);
  }

  async rolesOf(userId: string): Promise<RoleGrant[]> {
    const rows = await this.rows<RoleRow>(
      'SELECT user_id, role, organisation, created_at FROM trust_roles WHERE user_id = $1 ORDER BY role',
      [userId],
    );
    return rows.map(toRole);
  }

  async roleGrants(): Promise<RoleGrant[]> {
    const rows = await this.rows<RoleRow>(
      'SELECT user_id, role, organisation, created_at FROM trust_roles ORDER BY created_at, user_id, role',
    );
    return rows.map(toRole);
  }

  // standings, Space moderation

  accountStanding = (userId: string): Promise<AccountStanding | undefined> =>
    this.doc('SELECT doc FROM account_standing WHERE user_id = $1', userId);
  putAccountStanding = (s: AccountStanding): Promise<void> => this.write(ACCOUNTS, 'replace', s);
  notifierStanding = (key: string): Promise<NotifierStanding | undefined> =>
    this.doc('SELECT doc FROM notifier_standing WHERE key = $1', key);
  putNotifierStanding = (s: NotifierStanding): Promise<void> => this.write(NOTIFIERS, 'replace', s);
  spaceModeration = (spaceId: string): Promise<SpaceModeration | undefined> =>
    this.doc('SELECT doc FROM space_moderation WHERE space_id = $1', spaceId);
  putSpaceModeration = (m: SpaceModeration): Promise<void> => this.write(MODERATION, 'replace', m);
  moderatedSpaces = (): Promise<SpaceModeration[]> =>
    this.docs('SELECT doc FROM space_moderation WHERE restricted = 1 ORDER BY space_id');

  // evidence

  createEvidence = (e: EvidenceRecord): Promise<void> => this.write(EVIDENCE, 'fail', e);
  putEvidence = (e: EvidenceRecord): Promise<void> => this.write(EVIDENCE, 'replace', e);
  evidenceById = (id: string): Promise<EvidenceRecord | undefined> =>
    this.doc('SELECT doc FROM trust_evidence WHERE id = $1', id);
  evidenceForCase = (caseId: string): Promise<EvidenceRecord[]> =>
    this.docs('SELECT doc FROM trust_evidence WHERE case_id = $1 ORDER BY created_at, id', [caseId]);
  expiredEvidence = (nowIso: string, limit: number): Promise<EvidenceRecord[]> =>
    this.docs(
      `SELECT doc FROM trust_evidence WHERE deleted_at IS NULL AND keep_until <= $1
       ORDER BY keep_until, id LIMIT $2`,
      [nowIso, lim(limit)],
    );

  // the Transparency Database outbox

  enqueueTdb = (o: TdbOutboxRecord): Promise<void> => this.write(TDB, 'ignore', o);
  putTdb = (o: TdbOutboxRecord): Promise<void> => this.write(TDB, 'replace', o);
  tdbByPuid = (puid: string): Promise<TdbOutboxRecord | undefined> =>
    this.doc('SELECT doc FROM tdb_outbox WHERE puid = $1', puid);
  dueTdb = (nowIso: string, limit: number): Promise<TdbOutboxRecord[]> =>
    this.docs(
      `SELECT doc FROM tdb_outbox WHERE state = 'pending' AND next_attempt_at <= $1
       ORDER BY created_at, puid LIMIT $2`,
      [nowIso, lim(limit)],
    );
}
