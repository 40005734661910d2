/**
 * The trust-and-safety half of the Storage suite (storage-suite.ts; trust-types.ts): cases and the
 * queue order, the append-only event log, the hash-chained statements (one writer at a time, also
 * across connections), complaints, roles, standings, Space moderation, evidence and the
 * Transparency Database outbox. Every backend must give the same results.
 */
import { describe, expect, it } from 'vitest';
import type { Storage } from '../../src/store/types.js';
import type {
  CaseRecord,
  ComplaintRecord,
  EvidenceRecord,
  SpaceModeration,
  StatementRecord,
  TdbOutboxRecord,
} from '../../src/trust/model.js';
import { freshStore, iso, type StorageBackend } from './storage-fixtures.js';

const ids = (list: { id: string }[]): string[] => list.map((x) => x.id);

const caseRec = (id: string, over: Partial<CaseRecord> = {}): CaseRecord => ({
  id,
  createdAt: iso(0),
  updatedAt: iso(0),
  status: 'open',
  priority: 0,
  source: 'notice',
  category: 'STATEMENT_CATEGORY_SCAMS_AND_FRAUD',
  subject: { kind: 'space', spaceId: 's1', userId: null, clipId: null, startSec: null, endSec: null },
  spaceHostId: 'u1',
  affectedUserId: 'u1',
  notice: { explanation: 'a scam', name: 'Ann', email: 'Ann@Example.org', goodFaith: true, userId: 'u2' },
  followKeyHash: null,
  assigneeId: null,
  outcome: 'pending',
  decidedAt: null,
  ...over,
});

/** The statement after `last` (hash `h<seq>`), as the caller's build function makes it. */
const nextStatement =
  (caseId: string, over: Partial<StatementRecord> = {}) =>
  (last: StatementRecord | undefined): StatementRecord => {
    const seq = (last?.seq ?? 0) + 1;
    return {
      seq,
      id: `sor_${caseId}_${seq}`,
      caseId,
      puid: `${caseId}.${seq}`,
      at: iso(seq),
      userId: 'u1',
      restriction: 'hide-space',
      reverses: null,
      territorialScope: ['DE', 'FR'],
      endsAt: null,
      countries: [],
      label: null,
      facts: 'reported by a notice',
      sourceType: 'SOURCE_ARTICLE_16',
      contentDate: iso(0),
      automatedDetection: false,
      automatedDecision: false,
      ground: 'DECISION_GROUND_INCOMPATIBLE_CONTENT',
      legalGround: null,
      termsGround: 'Terms 4.2',
      explanation: 'spam',
      category: 'STATEMENT_CATEGORY_OTHER_VIOLATION_TC',
      redress: 'internal complaint',
      complaintUntil: iso(59),
      prevHash: last?.hash ?? '',
      hash: `h${seq}`,
      ...over,
    };
  };

const complaint = (id: string, over: Partial<ComplaintRecord> = {}): ComplaintRecord => ({
  id,
  caseId: 'c1',
  statementId: 'sor_c1_1',
  by: 'affected',
  userId: 'u1',
  text: 'I did nothing wrong',
  createdAt: iso(1),
  state: 'open',
  decidedAt: null,
  decidedBy: null,
  decisionText: null,
  ...over,
});

const evidence = (id: string, over: Partial<EvidenceRecord> = {}): EvidenceRecord => ({
  id,
  caseId: 'c1',
  spaceId: 's1',
  startSec: 10,
  endSec: 40.5,
  copyStartSec: 8,
  createdAt: iso(1),
  keepUntil: iso(30),
  deletedAt: null,
  ...over,
});

const tdb = (puid: string, over: Partial<TdbOutboxRecord> = {}): TdbOutboxRecord => ({
  puid,
  payload: `{"puid":"${puid}"}`,
  attempts: 0,
  nextAttemptAt: iso(1),
  state: 'pending',
  result: null,
  createdAt: iso(1),
  ...over,
});

const moderation = (spaceId: string, over: Partial<SpaceModeration> = {}): SpaceModeration => ({
  spaceId,
  hidden: false,
  label: null,
  blockedCountries: [],
  updatedAt: iso(1),
  ...over,
});

/** Runs SQL on the store's own connection, behind its back (SQLite's `db`, PostgreSQL's `pool`). */
async function rawExec(st: Storage, sql: string): Promise<void> {
  const raw = st as unknown as {
    db?: { prepare(sql: string): { run(): unknown } };
    pool?: { query(sql: string): Promise<unknown> };
  };
  if (raw.db) raw.db.prepare(sql).run();
  else if (raw.pool) await raw.pool.query(sql);
  else throw new Error('no raw access to this store');
}

export function describeTrustStorage(name: string, backend: StorageBackend): void {
  describe(`${name}: trust cases`, () => {
    const store = freshStore(backend, false);

    it('creates, finds and replaces cases; a duplicate id is refused', async () => {
      const st = store();
      const c = caseRec('c1');
      await st.createCase(c);
      expect(await st.caseById('c1')).toEqual(c);
      expect(await st.caseById('nope')).toBeUndefined();
      const changed = { ...c, status: 'closed' as const, outcome: 'no-action' as const, updatedAt: iso(5) };
      await st.putCase(changed);
      expect(await st.caseById('c1')).toEqual(changed);
      await expect(st.createCase(caseRec('c1'))).rejects.toMatchObject({ code: backend.codes.primaryKey });
      expect(await st.caseById('c1')).toEqual(changed);
    });

    it('gives the queue by priority, then oldest first, then id; without statuses newest first', async () => {
      const st = store();
      await st.createCase(caseRec('c-old', { createdAt: iso(1) }));
      await st.createCase(caseRec('c-new', { createdAt: iso(5) }));
      await st.createCase(caseRec('c-flag', { createdAt: iso(9), priority: 3 }));
      await st.createCase(caseRec('c-live-b', { createdAt: iso(3), priority: 1 }));
      await st.createCase(caseRec('c-live-a', { createdAt: iso(3), priority: 1 }));
      await st.createCase(caseRec('c-esc', { createdAt: iso(0), status: 'escalated' }));
      await st.createCase(caseRec('c-closed', { createdAt: iso(2), status: 'closed' }));
      expect(ids(await st.cases({ statuses: ['open'], limit: 10 }))).toEqual([
        'c-flag',
        'c-live-a',
        'c-live-b',
        'c-old',
        'c-new',
      ]);
      expect(ids(await st.cases({ statuses: ['open', 'escalated'], limit: 3 }))).toEqual([
        'c-flag',
        'c-live-a',
        'c-live-b',
      ]);
      expect(ids(await st.cases({ statuses: ['escalated', 'closed'], limit: 10 }))).toEqual([
        'c-esc',
        'c-closed',
      ]);
      expect(await st.cases({ statuses: [], limit: 10 })).toEqual([]);
      expect(ids(await st.cases({ limit: 10 }))).toEqual([
        'c-flag',
        'c-new',
        'c-live-b',
        'c-live-a',
        'c-closed',
        'c-old',
        'c-esc',
      ]);
      expect(await st.cases({ limit: 0 })).toEqual([]);
      expect(await st.cases({ limit: -5 })).toEqual([]);
    });

    it('filters by affected user, notifier, email (any case) and Space, combined with AND', async () => {
      const st = store();
      await st.createCase(caseRec('a', { createdAt: iso(1) }));
      await st.createCase(
        caseRec('b', {
          createdAt: iso(2),
          affectedUserId: 'u3',
          subject: { kind: 'speaker', spaceId: 's2', userId: 'u3', clipId: null, startSec: 5, endSec: 9 },
        }),
      );
      await st.createCase(
        caseRec('c', {
          createdAt: iso(3),
          notice: { explanation: 'x', name: null, email: 'bob@example.org', goodFaith: true, userId: null },
        }),
      );
      await st.createCase(
        caseRec('d', {
          createdAt: iso(4),
          source: 'own-initiative',
          notice: null,
          affectedUserId: null,
          subject: {
            kind: 'account',
            spaceId: null,
            userId: 'u4',
            clipId: null,
            startSec: null,
            endSec: null,
          },
        }),
      );
      expect(ids(await st.cases({ affectedUserId: 'u1', limit: 10 }))).toEqual(['c', 'a']);
      expect(ids(await st.cases({ notifierUserId: 'u2', limit: 10 }))).toEqual(['b', 'a']);
      expect(ids(await st.cases({ notifierEmail: 'ann@EXAMPLE.org', limit: 10 }))).toEqual(['b', 'a']);
      expect(ids(await st.cases({ notifierEmail: 'BOB@example.org', limit: 10 }))).toEqual(['c']);
      expect(ids(await st.cases({ spaceId: 's2', limit: 10 }))).toEqual(['b']);
      expect(ids(await st.cases({ spaceId: 's1', notifierUserId: 'u2', limit: 10 }))).toEqual(['a']);
      expect(ids(await st.cases({ statuses: ['open'], affectedUserId: 'u3', limit: 10 }))).toEqual(['b']);
      expect(await st.cases({ affectedUserId: 'u3', spaceId: 's1', limit: 10 })).toEqual([]);
      // A case's key columns follow putCase.
      await st.putCase({ ...caseRec('d'), affectedUserId: 'u3', createdAt: iso(4), status: 'escalated' });
      expect(ids(await st.cases({ affectedUserId: 'u3', limit: 10 }))).toEqual(['d', 'b']);
      expect(ids(await st.cases({ statuses: ['escalated'], spaceId: 's1', limit: 10 }))).toEqual(['d']);
    });
  });

  describe(`${name}: trust event log`, () => {
    const store = freshStore(backend, false);

    it('assigns increasing seqs, also to concurrent appends, and reads them back', async () => {
      const st = store();
      const first = await st.appendEvent({
        caseId: 'c1',
        kind: 'report',
        at: iso(1),
        actorId: null,
        data: { note: 'ünïcode', n: 2, nested: { ok: true } },
      });
      expect(first).toMatchObject({ caseId: 'c1', kind: 'report', at: iso(1), actorId: null });
      expect(typeof first.seq).toBe('number');
      const more = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          st.appendEvent({
            caseId: i % 2 ? 'c2' : 'c1',
            kind: 'comment',
            at: iso(2 + i),
            actorId: 'u1',
            data: { i },
          }),
        ),
      );
      const seqs = [first, ...more].map((e) => e.seq);
      expect(new Set(seqs).size).toBe(11);
      expect(Math.min(...more.map((e) => e.seq))).toBeGreaterThan(first.seq);
      const all = await st.events({ limit: 100 });
      expect(all).toHaveLength(11);
      expect(all[0]).toEqual(first);
      expect(all.map((e) => e.seq)).toEqual([...seqs].sort((a, b) => a - b));
      const last = await st.appendEvent({
        caseId: 'c1',
        kind: 'resolve',
        at: iso(20),
        actorId: 'u2',
        data: {},
      });
      expect(last.seq).toBeGreaterThan(Math.max(...seqs));
    });

    it('filters by case, by [from, to), after a seq, with a limit', async () => {
      const st = store();
      const evs = [];
      for (let i = 0; i < 6; i++)
        evs.push(
          await st.appendEvent({
            caseId: i < 3 ? 'c1' : 'c2',
            kind: 'comment',
            at: iso(i),
            actorId: null,
            data: { i },
          }),
        );
      expect(await st.events({ caseId: 'c2', limit: 10 })).toEqual(evs.slice(3));
      expect(await st.events({ fromIso: iso(1), toIso: iso(4), limit: 10 })).toEqual(evs.slice(1, 4));
      expect(await st.events({ afterSeq: evs[3].seq, limit: 10 })).toEqual(evs.slice(4));
      expect(await st.events({ afterSeq: evs[0].seq, limit: 2 })).toEqual(evs.slice(1, 3));
      expect(await st.events({ caseId: 'c1', fromIso: iso(2), limit: 10 })).toEqual([evs[2]]);
      expect(await st.events({ caseId: 'nope', limit: 10 })).toEqual([]);
    });

    it('is append-only: a raw UPDATE or DELETE is refused', async () => {
      const st = store();
      await st.appendEvent({ caseId: 'c1', kind: 'report', at: iso(1), actorId: null, data: {} });
      await expect(rawExec(st, "UPDATE trust_events SET kind = 'comment'")).rejects.toThrow(/append-only/);
      await expect(rawExec(st, 'DELETE FROM trust_events')).rejects.toThrow(/append-only/);
      expect(await st.events({ limit: 10 })).toMatchObject([{ kind: 'report' }]);
    });
  });

  describe(`${name}: statements of reasons`, () => {
    const store = freshStore(backend, false);

    it('appends a chain: build gets the last statement; finds by id, case, user and after a seq', async () => {
      const st = store();
      const seen: (StatementRecord | undefined)[] = [];
      const s1 = await st.appendStatement((last) => {
        seen.push(last);
        return nextStatement('c1')(last);
      });
      expect(seen).toEqual([undefined]);
      expect(s1).toMatchObject({ seq: 1, prevHash: '', hash: 'h1' });
      const s2 = await st.appendStatement(nextStatement('c2', { userId: 'u2' }));
      const s3 = await st.appendStatement(nextStatement('c1'));
      expect(s3).toMatchObject({ seq: 3, prevHash: 'h2', hash: 'h3' });
      expect(await st.statementById(s2.id)).toEqual(s2);
      expect(await st.statementById('nope')).toBeUndefined();
      expect(await st.statements({ limit: 10 })).toEqual([s1, s2, s3]);
      expect(await st.statements({ afterSeq: 1, limit: 10 })).toEqual([s2, s3]);
      expect(await st.statements({ afterSeq: 0, limit: 1 })).toEqual([s1]);
      expect(await st.statements({ caseId: 'c1', limit: 10 })).toEqual([s1, s3]);
      expect(await st.statements({ userId: 'u2', limit: 10 })).toEqual([s2]);
      expect(await st.statements({ userId: 'u1', caseId: 'c2', limit: 10 })).toEqual([]);
    });

    it('concurrent appends, also from two connections, form one chain', async () => {
      const db = await backend.newDatabase();
      const a = await db.open();
      const b = await db.open();
      try {
        const [x, y] = await Promise.all([
          a.appendStatement(nextStatement('c1')),
          b.appendStatement(nextStatement('c2')),
        ]);
        const [first, second] = x.seq < y.seq ? [x, y] : [y, x];
        expect([first.seq, second.seq]).toEqual([1, 2]);
        expect(second.prevHash).toBe(first.hash);
        await Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).appendStatement(nextStatement(`c${i}`))),
        );
        const chain = await a.statements({ limit: 100 });
        expect(chain.map((s) => s.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
        chain.forEach((s, i) => expect(s.prevHash).toBe(i ? chain[i - 1].hash : ''));
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('a build that throws, or a statement that does not extend the chain, leaves nothing', async () => {
      const st = store();
      await st.appendStatement(nextStatement('c1'));
      await expect(
        st.appendStatement(() => {
          throw new Error('no hash today');
        }),
      ).rejects.toThrow('no hash today');
      await expect(st.appendStatement((last) => nextStatement('c1', { seq: 5 })(last))).rejects.toThrow(
        /does not extend the chain/,
      );
      await expect(
        st.appendStatement((last) => nextStatement('c1', { prevHash: 'x' })(last)),
      ).rejects.toThrow(/does not extend the chain/);
      // A duplicate id is refused too (the database's own constraint).
      await expect(
        st.appendStatement((last) => nextStatement('c1', { id: 'sor_c1_1' })(last)),
      ).rejects.toThrow();
      expect((await st.statements({ limit: 10 })).map((s) => s.seq)).toEqual([1]);
      expect(await st.appendStatement(nextStatement('c1'))).toMatchObject({ seq: 2, prevHash: 'h1' });
    });

    it('is append-only: a raw UPDATE or DELETE is refused', async () => {
      const st = store();
      await st.appendStatement(nextStatement('c1'));
      await expect(rawExec(st, "UPDATE trust_statements SET hash = 'forged'")).rejects.toThrow(/append-only/);
      await expect(rawExec(st, 'DELETE FROM trust_statements')).rejects.toThrow(/append-only/);
      expect(await st.statements({ limit: 10 })).toMatchObject([{ seq: 1, hash: 'h1' }]);
    });
  });

  describe(`${name}: complaints, roles, standings`, () => {
    const store = freshStore(backend, false);

    it('creates, replaces and lists complaints by case and state, oldest first', async () => {
      const st = store();
      await st.createComplaint(complaint('k2', { createdAt: iso(2) }));
      await st.createComplaint(complaint('k1', { createdAt: iso(2) }));
      await st.createComplaint(
        complaint('k3', { createdAt: iso(1), caseId: 'c2', by: 'notifier', statementId: null }),
      );
      expect(await st.complaintById('k3')).toEqual(
        complaint('k3', { createdAt: iso(1), caseId: 'c2', by: 'notifier', statementId: null }),
      );
      expect(await st.complaintById('nope')).toBeUndefined();
      await expect(st.createComplaint(complaint('k1'))).rejects.toMatchObject({
        code: backend.codes.primaryKey,
      });
      expect(ids(await st.complaints({ limit: 10 }))).toEqual(['k3', 'k1', 'k2']);
      expect(ids(await st.complaints({ caseId: 'c1', limit: 10 }))).toEqual(['k1', 'k2']);
      const decided = complaint('k1', {
        createdAt: iso(2),
        state: 'upheld',
        decidedAt: iso(9),
        decidedBy: 'u4',
        decisionText: 'fair',
      });
      await st.putComplaint(decided);
      expect(await st.complaintById('k1')).toEqual(decided);
      expect(ids(await st.complaints({ state: 'open', limit: 10 }))).toEqual(['k3', 'k2']);
      expect(ids(await st.complaints({ state: 'upheld', caseId: 'c1', limit: 10 }))).toEqual(['k1']);
      expect(ids(await st.complaints({ state: 'rejected', limit: 10 }))).toEqual([]);
      expect(ids(await st.complaints({ limit: 1 }))).toEqual(['k3']);
    });

    it('grants roles idempotently (the organisation updated), lists and revokes them', async () => {
      const st = store();
      await st.grantRole({ userId: 'u2', role: 'moderator', organisation: null, createdAt: iso(1) });
      await st.grantRole({
        userId: 'u1',
        role: 'trusted-flagger',
        organisation: 'Hotline A',
        createdAt: iso(2),
      });
      await st.grantRole({
        userId: 'u1',
        role: 'trusted-flagger',
        organisation: 'Hotline B',
        createdAt: iso(3),
      });
      await st.grantRole({ userId: 'u1', role: 'admin', organisation: null, createdAt: iso(4) });
      expect(await st.rolesOf('u1')).toEqual([
        { userId: 'u1', role: 'admin', organisation: null, createdAt: iso(4) },
        { userId: 'u1', role: 'trusted-flagger', organisation: 'Hotline B', createdAt: iso(2) },
      ]);
      expect((await st.roleGrants()).map((g) => `${g.userId}:${g.role}`)).toEqual([
        'u2:moderator',
        'u1:trusted-flagger',
        'u1:admin',
      ]);
      await st.revokeRole('u1', 'trusted-flagger');
      await st.revokeRole('u1', 'trusted-flagger'); // nothing left: no error
      await st.revokeRole('u3', 'moderator');
      expect((await st.rolesOf('u1')).map((g) => g.role)).toEqual(['admin']);
      expect(await st.rolesOf('u3')).toEqual([]);
    });

    it('keeps account and notifier standings', async () => {
      const st = store();
      expect(await st.accountStanding('u1')).toBeUndefined();
      const a = {
        userId: 'u1',
        strikes: [iso(1), iso(2)],
        state: 'suspended' as const,
        until: iso(50),
        statementId: 'sor_1',
        updatedAt: iso(2),
      };
      await st.putAccountStanding(a);
      expect(await st.accountStanding('u1')).toEqual(a);
      const lifted = { ...a, state: 'ok' as const, until: null, strikes: [], updatedAt: iso(51) };
      await st.putAccountStanding(lifted);
      expect(await st.accountStanding('u1')).toEqual(lifted);

      const key = 'email:0f343b0931126a20f133d67c2b018a3b';
      expect(await st.notifierStanding(key)).toBeUndefined();
      await st.putNotifierStanding({ key, unfounded: 1, pausedUntil: null, updatedAt: iso(1) });
      await st.putNotifierStanding({ key, unfounded: 3, pausedUntil: iso(40), updatedAt: iso(2) });
      expect(await st.notifierStanding(key)).toEqual({
        key,
        unfounded: 3,
        pausedUntil: iso(40),
        updatedAt: iso(2),
      });
      expect(await st.notifierStanding('user:u1')).toBeUndefined();
    });
  });

  describe(`${name}: Space moderation, evidence, Transparency Database outbox`, () => {
    const store = freshStore(backend, false);

    it('keeps Space moderation; moderatedSpaces lists those with a restriction in force', async () => {
      const st = store();
      await st.putSpaceModeration(moderation('s-hidden', { hidden: true }));
      await st.putSpaceModeration(moderation('s-label', { label: 'Graphic content' }));
      await st.putSpaceModeration(moderation('s-geo', { blockedCountries: ['DE', 'AT'] }));
      await st.putSpaceModeration(moderation('s-lifted', { hidden: true }));
      await st.putSpaceModeration(moderation('s-lifted', { updatedAt: iso(9) }));
      expect(await st.spaceModeration('s-geo')).toEqual(
        moderation('s-geo', { blockedCountries: ['DE', 'AT'] }),
      );
      expect(await st.spaceModeration('s-lifted')).toEqual(moderation('s-lifted', { updatedAt: iso(9) }));
      expect(await st.spaceModeration('nope')).toBeUndefined();
      expect((await st.moderatedSpaces()).map((m) => m.spaceId)).toEqual(['s-geo', 's-hidden', 's-label']);
    });

    it('keeps evidence; expiredEvidence is what is not deleted and past keepUntil, soonest first', async () => {
      const st = store();
      await st.createEvidence(evidence('e1', { keepUntil: iso(10) }));
      await st.createEvidence(evidence('e2', { keepUntil: iso(5), createdAt: iso(0) }));
      await st.createEvidence(evidence('e3', { keepUntil: iso(20), caseId: 'c2' }));
      await st.createEvidence(evidence('e4', { keepUntil: iso(1), deletedAt: iso(2) }));
      await expect(st.createEvidence(evidence('e1'))).rejects.toMatchObject({
        code: backend.codes.primaryKey,
      });
      expect(ids(await st.evidenceForCase('c1'))).toEqual(['e2', 'e1', 'e4']);
      expect(await st.evidenceById('e4')).toEqual(evidence('e4', { keepUntil: iso(1), deletedAt: iso(2) }));
      expect(await st.evidenceById('nope')).toBeUndefined();
      expect((await st.evidenceForCase('c1'))[1]).toEqual(evidence('e1', { keepUntil: iso(10) }));
      expect(ids(await st.expiredEvidence(iso(10), 10))).toEqual(['e2', 'e1']);
      expect(ids(await st.expiredEvidence(iso(10), 1))).toEqual(['e2']);
      expect(ids(await st.expiredEvidence(iso(4), 10))).toEqual([]);
      await st.putEvidence(evidence('e2', { keepUntil: iso(5), createdAt: iso(0), deletedAt: iso(11) }));
      expect(ids(await st.expiredEvidence(iso(30), 10))).toEqual(['e1', 'e3']);
      expect(await st.evidenceForCase('nope')).toEqual([]);
    });

    it('enqueues idempotently; dueTdb is pending and due, oldest first; putTdb updates', async () => {
      const st = store();
      await st.enqueueTdb(tdb('c1.1', { createdAt: iso(2), nextAttemptAt: iso(2) }));
      await st.enqueueTdb(tdb('c1.1', { payload: '{"other":true}', createdAt: iso(9) })); // a repeat: ignored
      await st.enqueueTdb(tdb('c0.1', { createdAt: iso(1), nextAttemptAt: iso(3) }));
      await st.enqueueTdb(tdb('c2.1', { createdAt: iso(3), nextAttemptAt: iso(30) }));
      await st.enqueueTdb(tdb('c3.1', { createdAt: iso(0), state: 'sent', result: 'uuid-1' }));
      expect(await st.tdbByPuid('c1.1')).toEqual(tdb('c1.1', { createdAt: iso(2), nextAttemptAt: iso(2) }));
      expect(await st.tdbByPuid('nope')).toBeUndefined();
      expect((await st.dueTdb(iso(10), 10)).map((o) => o.puid)).toEqual(['c0.1', 'c1.1']);
      expect((await st.dueTdb(iso(10), 1)).map((o) => o.puid)).toEqual(['c0.1']);
      expect((await st.dueTdb(iso(2), 10)).map((o) => o.puid)).toEqual(['c1.1']);
      const retried = tdb('c0.1', {
        createdAt: iso(1),
        attempts: 1,
        nextAttemptAt: iso(40),
        result: 'HTTP 503',
      });
      await st.putTdb(retried);
      expect(await st.tdbByPuid('c0.1')).toEqual(retried);
      await st.putTdb(tdb('c1.1', { createdAt: iso(2), attempts: 1, state: 'sent', result: 'uuid-2' }));
      await st.putTdb(tdb('c2.1', { createdAt: iso(3), attempts: 8, state: 'failed', result: 'HTTP 422' }));
      expect(await st.dueTdb(iso(39), 10)).toEqual([]);
      expect((await st.dueTdb(iso(40), 10)).map((o) => o.puid)).toEqual(['c0.1']);
    });
  });
}
