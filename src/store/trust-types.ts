/**
 * The trust-and-safety half of Storage (src/trust/model.ts has the records): cases, the append-only
 * event log, the hash-chained statements of reasons, complaints, roles, standings, Space
 * moderation, evidence and the Transparency Database outbox. SQLite: sqlite-trust.ts; PostgreSQL:
 * postgres-trust.ts; both pass test/support/storage-suite-trust.ts.
 */
import type {
  AccountStanding,
  CaseRecord,
  CaseStatus,
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

export interface CaseQuery {
  statuses?: CaseStatus[];
  /** Cases whose affected user is this account. */
  affectedUserId?: string;
  /** Cases a signed-in notifier opened. */
  notifierUserId?: string;
  /** Cases whose notice gave this email address (compared lowercased). */
  notifierEmail?: string;
  spaceId?: string;
  limit: number;
}

export interface TrustStorage {
  // cases (the queue is ordered by priority desc, then createdAt asc, then id)
  createCase(c: CaseRecord): Promise<void>;
  caseById(id: string): Promise<CaseRecord | undefined>;
  /** Replaces the whole record (same id). */
  putCase(c: CaseRecord): Promise<void>;
  /** The queue order when `statuses` is given; otherwise newest first. */
  cases(q: CaseQuery): Promise<CaseRecord[]>;

  // the event log: append-only; `seq` is assigned by the store (increasing)
  appendEvent(e: Omit<TrustEvent, 'seq'>): Promise<TrustEvent>;
  /** Events in seq order: one case's, or those whose `at` is in [fromIso, toIso). */
  events(q: {
    caseId?: string;
    fromIso?: string;
    toIso?: string;
    afterSeq?: number;
    limit: number;
  }): Promise<TrustEvent[]>;

  /**
   * Appends a statement to the chain atomically (one writer at a time, also across origins):
   * `build` gets the last statement (or undefined) and returns the new one with its seq, prevHash
   * and hash computed from it. Refused (nothing written) unless it extends the chain: seq =
   * last.seq + 1 (1 for the first) and prevHash = last.hash ('' for the first).
   */
  appendStatement(build: (last: StatementRecord | undefined) => StatementRecord): Promise<StatementRecord>;
  statementById(id: string): Promise<StatementRecord | undefined>;
  /** In seq order: all (export) after `afterSeq`, or one case's, or one user's. */
  statements(q: {
    afterSeq?: number;
    caseId?: string;
    userId?: string;
    limit: number;
  }): Promise<StatementRecord[]>;

  // complaints (Art. 20)
  createComplaint(c: ComplaintRecord): Promise<void>;
  putComplaint(c: ComplaintRecord): Promise<void>;
  complaintById(id: string): Promise<ComplaintRecord | undefined>;
  complaints(q: {
    caseId?: string;
    state?: ComplaintRecord['state'];
    limit: number;
  }): Promise<ComplaintRecord[]>;

  // operator roles
  grantRole(g: RoleGrant): Promise<void>; // idempotent (updates the organisation)
  revokeRole(userId: string, role: TrustRole): Promise<void>;
  rolesOf(userId: string): Promise<RoleGrant[]>;
  roleGrants(): Promise<RoleGrant[]>;

  // standings (Art. 23)
  accountStanding(userId: string): Promise<AccountStanding | undefined>;
  putAccountStanding(s: AccountStanding): Promise<void>;
  notifierStanding(key: string): Promise<NotifierStanding | undefined>;
  putNotifierStanding(s: NotifierStanding): Promise<void>;

  // what moderators did to Spaces' distribution
  spaceModeration(spaceId: string): Promise<SpaceModeration | undefined>;
  putSpaceModeration(m: SpaceModeration): Promise<void>;
  /** Every Space with a restriction in force (hidden, labelled or geo-restricted). */
  moderatedSpaces(): Promise<SpaceModeration[]>;

  // evidence
  createEvidence(e: EvidenceRecord): Promise<void>;
  putEvidence(e: EvidenceRecord): Promise<void>;
  evidenceById(id: string): Promise<EvidenceRecord | undefined>;
  evidenceForCase(caseId: string): Promise<EvidenceRecord[]>;
  /** Not deleted, keepUntil <= now. */
  expiredEvidence(nowIso: string, limit: number): Promise<EvidenceRecord[]>;

  // the Transparency Database outbox
  enqueueTdb(o: TdbOutboxRecord): Promise<void>; // idempotent on puid
  dueTdb(nowIso: string, limit: number): Promise<TdbOutboxRecord[]>; // pending, nextAttemptAt <= now, oldest first
  putTdb(o: TdbOutboxRecord): Promise<void>;
  tdbByPuid(puid: string): Promise<TdbOutboxRecord | undefined>;
}
