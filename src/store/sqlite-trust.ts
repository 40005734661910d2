/**
 * SQLite side of TrustStorage (trust-types.ts; the records are src/trust/model.ts). Each record is
 * kept whole as JSON in `doc`, beside the columns its queries use (migration 4). The event log and
 * the statements are append-only (no method changes them; triggers refuse UPDATE and DELETE), and
 * a statement is appended in an immediate transaction: one writer at a time, also across
 * processes. SqliteStorage owns the connection and delegates here. The tables' column lists and
 * the chain check are shared with postgres-trust.ts.
 */
import type Database from 'better-sqlite3';
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
import type { CaseQuery, TrustStorage } from './trust-types.js';

/** Lists are at most 1000 long; SQLite treats a negative LIMIT as none. */
export const trustLimit = (n: number): number =>
  Number.isFinite(n) ? Math.max(0, Math.min(1000, Math.floor(n))) : 0;

/** A table of whole records: its key, its columns (`doc` last) and a record's values in that order. */
export interface DocTable<R> {
  name: string;
  key: string;
  cols: readonly string[];
  values(r: R): unknown[];
}

const table = <R>(name: string, cols: string, values: (r: R) => unknown[]): DocTable<R> => {
  const list = [...cols.split(' '), 'doc'];
  return { name, key: list[0], cols: list, values: (r) => [...values(r), JSON.stringify(r)] };
};

export const CASES = table<CaseRecord>(
  'trust_cases',
  'id status priority created_at updated_at space_id affected_user_id notifier_user_id notifier_email',
  (c) => [
    c.id,
    c.status,
    c.priority,
    c.createdAt,
    c.updatedAt,
    c.subject.spaceId,
    c.affectedUserId,
    c.notice?.userId ?? null,
    c.notice?.email?.toLowerCase() ?? null,
  ],
);
export const COMPLAINTS = table<ComplaintRecord>('trust_complaints', 'id case_id state created_at', (c) => [
  c.id,
  c.caseId,
  c.state,
  c.createdAt,
]);
export const ACCOUNTS = table<AccountStanding>('account_standing', 'user_id updated_at', (s) => [
  s.userId,
  s.updatedAt,
]);
export const NOTIFIERS = table<NotifierStanding>('notifier_standing', 'key updated_at', (s) => [
  s.key,
  s.updatedAt,
]);
export const MODERATION = table<SpaceModeration>(
  'space_moderation',
  'space_id restricted updated_at',
  (m) => [m.spaceId, m.hidden || m.label !== null || m.blockedCountries.length > 0 ? 1 : 0, m.updatedAt],
);
export const EVIDENCE = table<EvidenceRecord>(
  'trust_evidence',
  'id case_id space_id created_at keep_until deleted_at',
  (e) => [e.id, e.caseId, e.spaceId, e.createdAt, e.keepUntil, e.deletedAt],
);
export const TDB = table<TdbOutboxRecord>('tdb_outbox', 'puid state next_attempt_at created_at', (o) => [
  o.puid,
  o.state,
  o.nextAttemptAt,
  o.createdAt,
]);

/**
 * INSERT of a whole record, `slot(i)` the i-th (from 1) parameter's placeholder. On a duplicate
 * key: 'fail' (the driver's error), 'ignore', or 'replace' every column.
 */
export function insertSql<R>(
  t: DocTable<R>,
  slot: (i: number) => string,
  dup: 'fail' | 'ignore' | 'replace',
): string {
  const insert = `INSERT INTO ${t.name} (${t.cols.join(', ')}) VALUES (${t.cols.map((_, i) => slot(i + 1)).join(', ')})`;
  if (dup === 'fail') return insert;
  if (dup === 'ignore') return `${insert} ON CONFLICT (${t.key}) DO NOTHING`;
  const sets = t.cols.filter((c) => c !== t.key).map((c) => `${c} = excluded.${c}`);
  return `${insert} ON CONFLICT (${t.key}) DO UPDATE SET ${sets.join(', ')}`;
}

/** A statement chain's invariants: the next seq, linked to the last one's hash. */
export function checkLink(last: StatementRecord | undefined, next: StatementRecord): void {
  const seq = (last?.seq ?? 0) + 1;
  const prev = last?.hash ?? '';
  if (next.seq !== seq || next.prevHash !== prev)
    throw new Error(
      `statement ${next.id} does not extend the chain (seq ${next.seq}, expected ${seq}; ` +
        `prevHash ${JSON.stringify(next.prevHash)}, expected ${JSON.stringify(prev)})`,
    );
}

export interface EventRow {
  seq: number | string;
  case_id: string;
  kind: TrustEvent['kind'];
  at: string;
  actor_id: string | null;
  data: string;
}
export const toEvent = (r: EventRow): TrustEvent => ({
  seq: Number(r.seq),
  caseId: r.case_id,
  kind: r.kind,
  at: r.at,
  actorId: r.actor_id,
  data: JSON.parse(r.data) as Record<string, unknown>,
});
export interface RoleRow {
  user_id: string;
  role: TrustRole;
  organisation: string | null;
  created_at: string;
}
export const toRole = (r: RoleRow): RoleGrant => ({
  userId: r.user_id,
  role: r.role,
  organisation: r.organisation,
  createdAt: r.created_at,
});

const CASE_FILTERS = `(@affected IS NULL OR affected_user_id = @affected)
  AND (@notifier IS NULL OR notifier_user_id = @notifier) AND (@email IS NULL OR notifier_email = @email)
  AND (@space IS NULL OR space_id = @space)`;

function prepare(db: Database.Database) {
  const docs = (sql: string) => db.prepare(sql).pluck();
  const write = <R>(t: DocTable<R>, dup: 'fail' | 'ignore' | 'replace') => {
    const stmt = db.prepare(insertSql(t, () => '?', dup));
    return (r: R): void => void stmt.run(...t.values(r));
  };
  return {
    insertCase: write(CASES, 'fail'),
    putCase: write(CASES, 'replace'),
    caseById: docs('SELECT doc FROM trust_cases WHERE id = ?'),
    queue: docs(
      `SELECT doc FROM trust_cases WHERE status IN (SELECT value FROM json_each(@statuses)) AND ${CASE_FILTERS}
       ORDER BY priority DESC, created_at, id LIMIT @limit`,
    ),
    recent: docs(
      `SELECT doc FROM trust_cases WHERE ${CASE_FILTERS} ORDER BY created_at DESC, id DESC LIMIT @limit`,
    ),

    appendEvent: db
      .prepare(
        'INSERT INTO trust_events (case_id, kind, at, actor_id, data) VALUES (?, ?, ?, ?, ?) RETURNING seq',
      )
      .pluck(),
    events: db.prepare(
      `SELECT * FROM trust_events
       WHERE (@case_id IS NULL OR case_id = @case_id) AND (@from IS NULL OR at >= @from)
         AND (@to IS NULL OR at < @to) AND (@after IS NULL OR seq > @after)
       ORDER BY seq LIMIT @limit`,
    ),

    lastStatement: docs('SELECT doc FROM trust_statements ORDER BY seq DESC LIMIT 1'),
    insertStatement: db.prepare(
      `INSERT INTO trust_statements (seq, id, case_id, user_id, at, prev_hash, hash, doc)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    statementById: docs('SELECT doc FROM trust_statements WHERE id = ?'),
    statements: docs(
      `SELECT doc FROM trust_statements
       WHERE (@after IS NULL OR seq > @after) AND (@case_id IS NULL OR case_id = @case_id)
         AND (@user_id IS NULL OR user_id = @user_id)
       ORDER BY seq LIMIT @limit`,
    ),

    insertComplaint: write(COMPLAINTS, 'fail'),
    putComplaint: write(COMPLAINTS, 'replace'),
    complaintById: docs('SELECT doc FROM trust_complaints WHERE id = ?'),
    complaints: docs(
      `SELECT doc FROM trust_complaints
       WHERE (@case_id IS NULL OR case_id = @case_id) AND (@state IS NULL OR state = @state)
       ORDER BY created_at, id LIMIT @limit`,
    ),

    grantRole: db.prepare(
      `INSERT INTO trust_roles (user_id, role, organisation, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id, role) DO UPDATE SET organisation = excluded.organisation`,
    ),
    revokeRole: db.prepare('DELETE FROM trust_roles WHERE user_id = ? AND role = ?'),
    rolesOf: db.prepare('SELECT * FROM trust_roles WHERE user_id = ? ORDER BY role'),
    roleGrants: db.prepare('SELECT * FROM trust_roles ORDER BY created_at, user_id, role'),

    accountStanding: docs('SELECT doc FROM account_standing WHERE user_id = ?'),
    putAccountStanding: write(ACCOUNTS, 'replace'),
    notifierStanding: docs('SELECT doc FROM notifier_standing WHERE key = ?'),
    putNotifierStanding: write(NOTIFIERS, 'replace'),

    spaceModeration: docs('SELECT doc FROM space_moderation WHERE space_id = ?'),
    putSpaceModeration: write(MODERATION, 'replace'),
    moderatedSpaces: docs('SELECT doc FROM space_moderation WHERE restricted = 1 ORDER BY space_id'),

    insertEvidence: write(EVIDENCE, 'fail'),
    putEvidence: write(EVIDENCE, 'replace'),
    evidenceById: docs('SELECT doc FROM trust_evidence WHERE id = ?'),
    evidenceForCase: docs('SELECT doc FROM trust_evidence WHERE case_id = ? ORDER BY created_at, id'),
    expiredEvidence: docs(
      `SELECT doc FROM trust_evidence WHERE deleted_at IS NULL AND keep_until <= ?
       ORDER BY keep_until, id LIMIT ?`,
    ),

    enqueueTdb: write(TDB, 'ignore'),
    putTdb: write(TDB, 'replace'),
    dueTdb: docs(
      `SELECT doc FROM tdb_outbox WHERE state = 'pending' AND next_attempt_at <= ?
       ORDER BY created_at, puid LIMIT ?`,
    ),
    tdbByPuid: docs('SELECT doc FROM tdb_outbox WHERE puid = ?'),
  };
}

type Build = (last: StatementRecord | undefined) => StatementRecord;

export class SqliteTrust implements TrustStorage {
  private readonly q: ReturnType<typeof prepare>;
  private readonly appendTx: (build: Build) => StatementRecord;

  constructor(db: Database.Database) {
    const q = (this.q = prepare(db));
    const tx = db.transaction((build: Build) => {
      const last = one<StatementRecord>(q.lastStatement);
      const s = build(last);
      checkLink(last, s);
      q.insertStatement.run(s.seq, s.id, s.caseId, s.userId, s.at, s.prevHash, s.hash, JSON.stringify(s));
      return s;
    });
    // Immediate: the write lock is taken before the last statement is read.
    this.appendTx = (build) => tx.immediate(build);
  }

  // cases

  createCase = async (c: CaseRecord): Promise<void> => this.q.insertCase(c);
  putCase = async (c: CaseRecord): Promise<void> => this.q.putCase(c);
  caseById = async (id: string): Promise<CaseRecord | undefined> => one(this.q.caseById, id);

  async cases(q: CaseQuery): Promise<CaseRecord[]> {
    const params = {
      affected: q.affectedUserId ?? null,
      notifier: q.notifierUserId ?? null,
      email: q.notifierEmail?.toLowerCase() ?? null,
      space: q.spaceId ?? null,
      limit: trustLimit(q.limit),
    };
    if (!q.statuses) return all(this.q.recent, params);
    if (q.statuses.length === 0) return [];
    return all(this.q.queue, { ...params, statuses: JSON.stringify(q.statuses) });
  }

  // the event log

  async appendEvent(e: Omit<TrustEvent, 'seq'>): Promise<TrustEvent> {
    const seq = this.q.appendEvent.get(e.caseId, e.kind, e.at, e.actorId, JSON.stringify(e.data)) as number;
    return { seq, caseId: e.caseId, kind: e.kind, at: e.at, actorId: e.actorId, data: e.data };
  }

  async events(q: Parameters<TrustStorage['events']>[0]): Promise<TrustEvent[]> {
    const rows = this.q.events.all({
      case_id: q.caseId ?? null,
      from: q.fromIso ?? null,
      to: q.toIso ?? null,
      after: q.afterSeq ?? null,
      limit: trustLimit(q.limit),
    }) as EventRow[];
    return rows.map(toEvent);
  }

  // statements of reasons

  appendStatement = async (build: Build): Promise<StatementRecord> => this.appendTx(build);
  statementById = async (id: string): Promise<StatementRecord | undefined> => one(this.q.statementById, id);

  async statements(q: Parameters<TrustStorage['statements']>[0]): Promise<StatementRecord[]> {
    return all(this.q.statements, {
      after: q.afterSeq ?? null,
      case_id: q.caseId ?? null,
      user_id: q.userId ?? null,
      limit: trustLimit(q.limit),
    });
  }

  // complaints

  createComplaint = async (c: ComplaintRecord): Promise<void> => this.q.insertComplaint(c);
  putComplaint = async (c: ComplaintRecord): Promise<void> => this.q.putComplaint(c);
  complaintById = async (id: string): Promise<ComplaintRecord | undefined> => one(this.q.complaintById, id);

  async complaints(q: Parameters<TrustStorage['complaints']>[0]): Promise<ComplaintRecord[]> {
    return all(this.q.complaints, {
      case_id: q.caseId ?? null,
      state: q.state ?? null,
      limit: trustLimit(q.limit),
    });
  }

  // operator roles

  async grantRole(g: RoleGrant): Promise<void> {
    this.q.grantRole.run(g.userId, g.role, g.organisation, g.createdAt);
  }

  async revokeRole(userId: string, role: TrustRole): Promise<void> {
    this.q.revokeRole.run(userId, role);
  }

  rolesOf = async (userId: string): Promise<RoleGrant[]> =>
    (this.q.rolesOf.all(userId) as RoleRow[]).map(toRole);
  roleGrants = async (): Promise<RoleGrant[]> => (this.q.roleGrants.all() as RoleRow[]).map(toRole);

  // standings, Space moderation

  accountStanding = async (userId: string): Promise<AccountStanding | undefined> =>
    one(this.q.accountStanding, userId);
  putAccountStanding = async (s: AccountStanding): Promise<void> => this.q.putAccountStanding(s);
  notifierStanding = async (key: string): Promise<NotifierStanding | undefined> =>
    one(this.q.notifierStanding, key);
  putNotifierStanding = async (s: NotifierStanding): Promise<void> => this.q.putNotifierStanding(s);
  spaceModeration = async (spaceId: string): Promise<SpaceModeration | undefined> =>
    one(this.q.spaceModeration, spaceId);
  putSpaceModeration = async (m: SpaceModeration): Promise<void> => this.q.putSpaceModeration(m);
  moderatedSpaces = async (): Promise<SpaceModeration[]> => all(this.q.moderatedSpaces);

  // evidence

  createEvidence = async (e: EvidenceRecord): Promise<void> => this.q.insertEvidence(e);
  putEvidence = async (e: EvidenceRecord): Promise<void> => this.q.putEvidence(e);
  evidenceById = async (id: string): Promise<EvidenceRecord | undefined> => one(this.q.evidenceById, id);
  evidenceForCase = async (caseId: string): Promise<EvidenceRecord[]> => all(this.q.evidenceForCase, caseId);
  expiredEvidence = async (nowIso: string, limit: number): Promise<EvidenceRecord[]> =>
    all(this.q.expiredEvidence, nowIso, trustLimit(limit));

  // the Transparency Database outbox

  enqueueTdb = async (o: TdbOutboxRecord): Promise<void> => this.q.enqueueTdb(o);
  putTdb = async (o: TdbOutboxRecord): Promise<void> => this.q.putTdb(o);
  tdbByPuid = async (puid: string): Promise<TdbOutboxRecord | undefined> => one(this.q.tdbByPuid, puid);
  dueTdb = async (nowIso: string, limit: number): Promise<TdbOutboxRecord[]> =>
    all(this.q.dueTdb, nowIso, trustLimit(limit));
}

/** The records a `SELECT doc` statement (plucked) returns. */
function all<T>(stmt: Database.Statement, ...params: unknown[]): T[] {
  return (stmt.all(...params) as string[]).map((d) => JSON.parse(d) as T);
}

function one<T>(stmt: Database.Statement, ...params: unknown[]): T | undefined {
  const d = stmt.get(...params) as string | undefined;
  return d === undefined ? undefined : (JSON.parse(d) as T);
}
