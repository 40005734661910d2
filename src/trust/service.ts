/**
 * The trust-and-safety service (EU DSA): the moderation queue and cases (assign, escalate, notes),
 * what notifiers and affected users see, roles, the statements log's export, the transparency
 * report, and start-up (restrictions in force go back to the Space side and the edges).
 * Notices: notices.ts. Restrictions and complaints: decisions.ts.
 */
import { TribuneError } from '../errors.js';
import type { SpaceRecord, UserRecord } from '../store/types.js';
import { toUserRef } from '../spaces/service.js';
import type {
  CaseFollowView,
  CaseSummary,
  ComplaintView,
  EventView,
  ModeratorCaseView,
  SubjectBody,
  NoteView,
  SubjectView,
  TransparencyReport,
  TrustMe,
  UserRefView,
} from './api-types.js';
import { exportLines } from './chain.js';
import type { TrustContext } from './context.js';
import { Decisions } from './decisions.js';
import type {
  CaseRecord,
  CaseStatus,
  ComplaintRecord,
  StatementRecord,
  TrustEvent,
  TrustRole,
} from './model.js';
import { checkSubject, newCaseId, Notices, sha256 } from './notices.js';
import { buildReport } from './report.js';
import { toStatementView } from './statements.js';

const DAY_MS = 86_400_000;
const PAGE = 1000;

export class TrustService {
  readonly notices: Notices;
  readonly decisions: Decisions;

  constructor(readonly x: TrustContext) {
    this.notices = new Notices(x);
    this.decisions = new Decisions(x);
  }

  private applied = new Set<string>();

  /**
   * Restrictions in force go to the Space side (listings, labels, the edges' geo-blocks): at start,
   * and — several origins — every few seconds, so that what a moderator did through one origin
   * shows on every origin's lists and every edge (lifted ones are cleared too).
   */
  async syncModeration(): Promise<void> {
    const now = await this.x.storage.moderatedSpaces();
    const seen = new Set<string>();
    for (const m of now) {
      seen.add(m.spaceId);
      this.x.svc.moderation.set(m.spaceId, m);
      this.x.svc.setBlockedCountries(m.spaceId, m.blockedCountries);
    }
    for (const id of this.applied)
      if (!seen.has(id)) {
        this.x.svc.moderation.set(id, { hidden: false, label: null });
        this.x.svc.setBlockedCountries(id, []);
      }
    this.applied = seen;
  }

  /**
   * Several origins: the Space a request acts on the media or recording of (an action on a case, a
   * complaint decision that may reverse one, a notice naming its Space in `?spaceId=` whose
   * evidence is cut from the recording), so that the cluster runs it where the Space runs.
   */
  async spaceOfAction(method: string, url: string): Promise<string | undefined> {
    if (method !== 'POST') return undefined;
    const n = /^\/api\/trust\/notices\?(?:.*&)?spaceId=([A-Za-z0-9_-]{1,64})(?:&|$)/.exec(url);
    if (n) return n[1];
    const m = /^\/api\/trust\/(cases|complaints)\/([A-Za-z0-9_-]{1,64})\/(actions|decide)(?:\?|$)/.exec(url);
    if (!m) return undefined;
    let caseId = m[2];
    if (m[1] === 'complaints') {
      const k = await this.x.storage.complaintById(m[2]);
      if (!k) return undefined;
      caseId = k.caseId;
    }
    return (await this.x.storage.caseById(caseId))?.subject.spaceId ?? undefined;
  }

  // ------------------------------------------------------------------ people

  private async refs(ids: (string | null | undefined)[]): Promise<Map<string, UserRefView>> {
    const wanted = [...new Set(ids.filter((i): i is string => !!i))];
    const users = wanted.length ? await this.x.storage.usersByIds(wanted) : [];
    return new Map(users.map((u) => [u.id, toUserRef(u)]));
  }

  /** The Space a case is about; `memo` shares one read per Space across a list of cases. */
  private spaceOf(id: string | null, memo?: Map<string, Promise<SpaceRecord | undefined>>) {
    if (!id) return Promise.resolve(undefined);
    let p = memo?.get(id);
    if (!p) {
      p = this.x.storage.spaceById(id);
      memo?.set(id, p);
    }
    return p;
  }

  private async subjectView(
    c: CaseRecord,
    refs: Map<string, UserRefView>,
    memo?: Map<string, Promise<SpaceRecord | undefined>>,
  ): Promise<SubjectView> {
    const sp = await this.spaceOf(c.subject.spaceId, memo);
    const uid = c.subject.userId;
    return {
      kind: c.subject.kind,
      spaceId: c.subject.spaceId,
      spaceTitle: sp?.title ?? null,
      spaceState: c.subject.spaceId ? (sp?.state ?? 'deleted') : null,
      user: uid ? (refs.get(uid) ?? null) : null,
      clipId: c.subject.clipId,
      startSec: c.subject.startSec,
      endSec: c.subject.endSec,
    };
  }

  /** `list`: the open-complaint counts and Space reads of a whole list, read once for it. */
  private async summaryOf(
    c: CaseRecord,
    refs: Map<string, UserRefView>,
    list?: { open: Map<string, number>; spaces: Map<string, Promise<SpaceRecord | undefined>> },
  ): Promise<CaseSummary> {
    const open = list
      ? (list.open.get(c.id) ?? 0)
      : (await this.x.storage.complaints({ caseId: c.id, state: 'open', limit: 100 })).length;
    return {
      id: c.id,
      createdAt: c.createdAt,
      status: c.status,
      priority: c.priority,
      source: c.source,
      category: c.category,
      subject: await this.subjectView(c, refs, list?.spaces),
      assignee: c.assigneeId ? (refs.get(c.assigneeId) ?? null) : null,
      outcome: c.outcome,
      openComplaints: open,
    };
  }

  // ------------------------------------------------------------------ the queue (moderators)

  async queue(moderator: UserRecord | null, status: CaseStatus): Promise<CaseSummary[]> {
    await this.x.roles.requireModerator(moderator);
    // Nobody reviews a case about their own Space or account (a host who is also a moderator).
    const cases = (await this.x.storage.cases({ statuses: [status], limit: 200 })).filter(
      (c) => !isParty(c, moderator as UserRecord),
    );
    const refs = await this.refs(cases.flatMap((c) => [c.assigneeId, c.subject.userId]));
    // One read of the open complaints and of each Space for the whole list (it is polled).
    const open = new Map<string, number>();
    for (const k of await this.x.storage.complaints({ state: 'open', limit: 1000 }))
      open.set(k.caseId, (open.get(k.caseId) ?? 0) + 1);
    const list = { open, spaces: new Map<string, Promise<SpaceRecord | undefined>>() };
    return Promise.all(cases.map((c) => this.summaryOf(c, refs, list)));
  }

  async full(moderator: UserRecord | null, id: string): Promise<ModeratorCaseView> {
    const m = await this.x.roles.requireModerator(moderator);
    const c = await this.decisions.caseOf(id, m);
    const [events, statements, complaints, evidence] = await Promise.all([
      this.x.storage.events({ caseId: id, limit: PAGE }),
      this.x.storage.statements({ caseId: id, limit: PAGE }),
      this.x.storage.complaints({ caseId: id, limit: PAGE }),
      this.x.storage.evidenceForCase(id),
    ]);
    const refs = await this.refs([
      c.assigneeId,
      c.subject.userId,
      c.affectedUserId,
      c.notice?.userId,
      ...events.map((e) => e.actorId),
    ]);
    const flagger =
      c.source === 'trusted-flagger' ? events.find((e) => e.kind === 'report')?.data.organisation : null;
    const sp = c.subject.spaceId ? await this.x.storage.spaceById(c.subject.spaceId) : undefined;
    return {
      ...(await this.summaryOf(c, refs)),
      notice: c.notice
        ? {
            explanation: c.notice.explanation,
            name: c.notice.name,
            email: c.notice.email,
            notifier: c.notice.userId ? (refs.get(c.notice.userId) ?? null) : null,
            trustedFlagger:
              typeof flagger === 'string'
                ? flagger
                : c.source === 'trusted-flagger'
                  ? 'trusted flagger'
                  : null,
          }
        : null,
      affected: c.affectedUserId ? (refs.get(c.affectedUserId) ?? null) : null,
      events: events.map((e) => eventView(e, refs)),
      notes: notesOf(events, refs, true),
      evidence: evidence
        .filter((e) => !e.deletedAt)
        .map((e) => ({
          id: e.id,
          startSec: e.startSec,
          endSec: e.endSec,
          copyStartSec: e.copyStartSec,
          keepUntil: e.keepUntil,
          url: `/api/trust/evidence/${e.id}/clip.m3u8`,
        })),
      statements: statements.map((s) => toStatementView(s, false)),
      complaints: complaints.map(complaintView),
      live: sp?.state === 'live',
    };
  }

  async openCase(
    moderator: UserRecord | null,
    body: { subject: SubjectBody; category: CaseRecord['category'] },
  ): Promise<CaseSummary> {
    const m = await this.x.roles.requireModerator(moderator);
    checkSubject(body.subject);
    const loc = await this.notices.locate({
      ...body.subject,
      lastSec: undefined,
      startSec: undefined,
      endSec: undefined,
    });
    const now = this.x.nowIso();
    const c: CaseRecord = {
      id: newCaseId(),
      createdAt: now,
      updatedAt: now,
      status: 'open',
      priority: loc.live ? 1 : 0,
      source: 'own-initiative',
      category: body.category,
      subject: loc.subject,
      spaceHostId: loc.hostId,
      affectedUserId: loc.affected,
      notice: null,
      followKeyHash: null,
      assigneeId: m.id,
      outcome: 'pending',
      decidedAt: null,
    };
    await this.x.storage.createCase(c);
    await this.x.log(c.id, 'open', m.id, { category: c.category });
    return this.summaryOf(c, await this.refs([m.id, c.subject.userId]));
  }

  async assign(moderator: UserRecord | null, id: string, userId: string | null): Promise<void> {
    const m = await this.x.roles.requireModerator(moderator);
    const c = await this.decisions.caseOf(id, m);
    if (userId) {
      const u = await this.x.storage.userById(userId);
      const roles = u ? (await this.x.roles.of(u)).roles : [];
      if (!roles.includes('moderator') && !roles.includes('admin'))
        throw new TribuneError('ACTION_INVALID', 'cases are assigned to moderators');
    }
    await this.x.storage.putCase({ ...c, assigneeId: userId, updatedAt: this.x.nowIso() });
    await this.x.log(id, 'assign', m.id, { userId });
  }

  async escalate(moderator: UserRecord | null, id: string): Promise<void> {
    const m = await this.x.roles.requireModerator(moderator);
    const c = await this.decisions.caseOf(id, m);
    await this.x.storage.putCase({ ...c, status: 'escalated', updatedAt: this.x.nowIso() });
    await this.x.log(id, 'escalate', m.id, {});
  }

  async note(
    moderator: UserRecord | null,
    id: string,
    text: string,
    visibility: 'internal' | 'public',
  ): Promise<void> {
    const m = await this.x.roles.requireModerator(moderator);
    if (typeof text !== 'string' || text.trim().length < 1 || text.length > 4000)
      throw new TribuneError('BAD_REQUEST', 'a note is 1-4000 characters');
    await this.decisions.caseOf(id, m);
    await this.x.log(id, 'comment', m.id, { text: text.trim(), visibility });
  }

  // ------------------------------------------------------------------ notifiers and affected users

  /**
   * A case as the notifier (follow key, or their account) or the affected user sees it. Anything
   * else — an unknown id, a forged or wrong key — is CASE_NOT_FOUND (no oracle for case ids).
   */
  async follow(user: UserRecord | null, id: string, key: string | undefined): Promise<CaseFollowView> {
    const c = await this.x.storage.caseById(id);
    if (!c) throw new TribuneError('CASE_NOT_FOUND');
    const byKey = !!key && !!c.followKeyHash && sha256(key) === c.followKeyHash;
    const notifier = byKey || (!!user && c.notice?.userId === user.id);
    // Affected: the reported account, or the addressee of one of its statements (a host whose
    // whole Space a speaker's case restricted).
    const affected =
      !!user &&
      (c.affectedUserId === user.id ||
        (await this.x.storage.statements({ caseId: c.id, limit: 1000 })).some((s) => s.userId === user.id));
    if (!notifier && !affected) throw new TribuneError('CASE_NOT_FOUND');
    return this.followView(c, notifier ? 'notifier' : 'affected', user);
  }

  /** Follow by the email address given in the notice (with the case number from the receipt). */
  async followByEmail(id: string, email: string): Promise<CaseFollowView> {
    const c = await this.x.storage.caseById(id);
    if (!c || typeof email !== 'string' || !this.x.emailMatches(c, email))
      throw new TribuneError('CASE_NOT_FOUND');
    return this.followView(c, 'notifier', null);
  }

  private async followView(
    c: CaseRecord,
    viewer: 'notifier' | 'affected',
    user: UserRecord | null,
  ): Promise<CaseFollowView> {
    const [events, statements, complaints] = await Promise.all([
      this.x.storage.events({ caseId: c.id, limit: PAGE }),
      this.x.storage.statements({ caseId: c.id, limit: PAGE }),
      this.x.storage.complaints({ caseId: c.id, limit: PAGE }),
    ]);
    const refs = await this.refs([c.subject.userId, ...events.map((e) => e.actorId)]);
    const now = this.x.now();
    const reversed = new Set(statements.map((s) => s.reverses).filter(Boolean));
    const canComplain = (s: StatementRecord): boolean =>
      viewer === 'affected' &&
      !!user &&
      s.userId === user.id &&
      !s.reverses &&
      !reversed.has(s.id) &&
      !complaints.some((k) => k.statementId === s.id && k.state === 'open') &&
      Date.parse(s.complaintUntil) > now;
    const inactionUntil =
      viewer === 'notifier' && c.outcome === 'no-action' && c.decidedAt
        ? new Date(Date.parse(c.decidedAt) + this.x.config.complaintWindowDays * DAY_MS).toISOString()
        : null;
    return {
      caseId: c.id,
      createdAt: c.createdAt,
      status: c.status,
      outcome: c.outcome,
      category: c.category,
      subject: await this.subjectView(c, refs),
      viewer,
      statements: statements.map((s) => toStatementView(s, canComplain(s))),
      // Moderators' names stay internal: public notes are signed by the team.
      publicNotes: notesOf(events, refs, false).map((n) => ({ ...n, author: null })),
      complaints: complaints
        .filter((k) => (viewer === 'affected' ? k.by === 'affected' : k.by === 'notifier'))
        .map(complaintView),
      canComplainUntil: inactionUntil && Date.parse(inactionUntil) > now ? inactionUntil : null,
    };
  }

  async me(user: UserRecord): Promise<TrustMe> {
    const { roles, organisation } = await this.x.roles.of(user);
    const mine = await this.x.storage.statements({ userId: user.id, limit: PAGE });
    const reversed = new Set(mine.map((s) => s.reverses).filter(Boolean));
    // A statement with a complaint pending takes no second one (the form would only echo it).
    const pending = new Set<string>();
    for (const caseId of new Set(mine.map((s) => s.caseId)))
      for (const k of await this.x.storage.complaints({ caseId, state: 'open', limit: 100 }))
        if (k.statementId) pending.add(k.statementId);
    const now = this.x.now();
    const notices = await this.x.storage.cases({ notifierUserId: user.id, limit: 100 });
    const st = await this.x.storage.accountStanding(user.id);
    const expiry = this.x.config.strikeExpiryDays * DAY_MS;
    const suspendedOver = st?.state === 'suspended' && st.until !== null && Date.parse(st.until) <= now;
    return {
      roles,
      organisation,
      decisions: mine
        .reverse()
        .map((s) =>
          toStatementView(
            s,
            !s.reverses && !reversed.has(s.id) && !pending.has(s.id) && Date.parse(s.complaintUntil) > now,
          ),
        ),
      notices: notices.map((c) => ({
        caseId: c.id,
        createdAt: c.createdAt,
        status: c.status,
        outcome: c.outcome,
      })),
      account: {
        state: !st || suspendedOver ? 'ok' : st.state,
        until: suspendedOver ? null : (st?.until ?? null),
        strikes: (st?.strikes ?? []).filter((t) => Date.parse(t) + expiry > now).length,
      },
    };
  }

  /** Whether the account may act (write) now: suspended until a time, or terminated. */
  async accountBlock(
    userId: string,
  ): Promise<{ state: 'suspended' | 'terminated'; until: string | null } | null> {
    const st = await this.x.storage.accountStanding(userId);
    if (!st || st.state === 'ok') return null;
    if (st.state === 'suspended' && st.until && Date.parse(st.until) <= this.x.now()) return null;
    return { state: st.state, until: st.until };
  }

  // ------------------------------------------------------------------ admin

  async roles(admin: UserRecord | null) {
    await this.x.roles.requireAdmin(admin);
    const grants = await this.x.storage.roleGrants();
    const refs = await this.refs(grants.map((g) => g.userId));
    return grants.map((g) => ({
      user: refs.get(g.userId) ?? null,
      role: g.role,
      organisation: g.organisation,
      createdAt: g.createdAt,
    }));
  }

  async grant(
    admin: UserRecord | null,
    handle: string,
    role: TrustRole,
    organisation: string | undefined,
    on: boolean,
  ): Promise<void> {
    await this.x.roles.requireAdmin(admin);
    const u = await this.x.storage.userByHandle(String(handle).toLowerCase());
    if (!u) throw new TribuneError('USER_NOT_FOUND');
    if (!on) return this.x.storage.revokeRole(u.id, role);
    if (role === 'trusted-flagger' && (typeof organisation !== 'string' || organisation.trim().length < 2))
      throw new TribuneError('BAD_REQUEST', 'a trusted flagger names its organisation');
    await this.x.storage.grantRole({
      userId: u.id,
      role,
      organisation: organisation?.trim() || null,
      createdAt: this.x.nowIso(),
    });
  }

  /** The whole statements log as JSON Lines (verifiable with POST /api/trust/statements/verify). */
  async exportStatements(admin: UserRecord | null): Promise<string> {
    await this.x.roles.requireAdmin(admin);
    const all: StatementRecord[] = [];
    for (let after = 0; ;) {
      const page = await this.x.storage.statements({ afterSeq: after, limit: PAGE });
      all.push(...page);
      if (page.length < PAGE) break;
      after = page[page.length - 1].seq;
    }
    return exportLines(all);
  }

  async report(moderator: UserRecord | null, from: string, to: string): Promise<TransparencyReport> {
    await this.x.roles.requireModerator(moderator);
    return this.reportFor(from, to);
  }

  /** The report from the log: every event up to `to` (a notice before the period may be decided in it). */
  async reportFor(from: string, to: string): Promise<TransparencyReport> {
    const events: TrustEvent[] = [];
    for (let after = 0; ;) {
      const page = await this.x.storage.events({ afterSeq: after, toIso: to, limit: PAGE });
      events.push(...page);
      if (page.length < PAGE) break;
      after = page[page.length - 1].seq;
    }
    const statements: StatementRecord[] = [];
    for (let after = 0; ;) {
      const page = await this.x.storage.statements({ afterSeq: after, limit: PAGE });
      statements.push(...page);
      if (page.length < PAGE) break;
      after = page[page.length - 1].seq;
    }
    return buildReport({ from, to, events, statements, now: this.x.nowIso() });
  }
}

/** The moderator is the case's host or affected user: they may not see or decide it. */
export function isParty(c: CaseRecord, user: UserRecord): boolean {
  return c.spaceHostId === user.id || c.affectedUserId === user.id;
}

function eventView(e: TrustEvent, refs: Map<string, UserRefView>): EventView {
  return {
    seq: e.seq,
    kind: e.kind,
    at: e.at,
    actor: e.actorId ? (refs.get(e.actorId) ?? null) : null,
    data: e.data,
  };
}

function notesOf(events: TrustEvent[], refs: Map<string, UserRefView>, internalToo: boolean): NoteView[] {
  return events
    .filter((e) => e.kind === 'comment' && (internalToo || e.data.visibility === 'public'))
    .map((e) => ({
      at: e.at,
      text: String(e.data.text ?? ''),
      visibility: e.data.visibility === 'public' ? 'public' : 'internal',
      author: e.actorId ? (refs.get(e.actorId) ?? null) : null,
    }));
}

function complaintView(k: ComplaintRecord): ComplaintView {
  return {
    id: k.id,
    caseId: k.caseId,
    statementId: k.statementId,
    by: k.by,
    text: k.text,
    createdAt: k.createdAt,
    state: k.state,
    decidedAt: k.decidedAt,
    decisionText: k.decisionText,
  };
}
