/**
 * Decisions on a case: a restriction (applied at once: a live Space's media path before the call
 * returns), its statement of reasons on the hash chain and in the Transparency Database outbox,
 * Art. 23 strikes; no action (optionally "manifestly unfounded", which pauses repeat notifiers);
 * and complaints (Art. 20), decided by a human other than the one who decided, where upholding
 * undoes the restriction with its own statement and tells both sides.
 */
import { TribuneError } from '../errors.js';
import type { UserRecord } from '../store/types.js';
import type { ActionBody, ComplaintBody } from './api-types.js';
import { chainNext } from './chain.js';
import type { TrustContext } from './context.js';
import { CATEGORY_WORDS } from './model.js';
import type {
  AccountStanding,
  CaseRecord,
  ComplaintRecord,
  Restriction,
  SpaceModeration,
  StatementRecord,
} from './model.js';
import { newCaseId, notifierKey, sha256 } from './notices.js';
import { checkAction, draftReversal, draftStatement, FITS, summary, UNDOABLE } from './statements.js';

const DAY_MS = 86_400_000;

/** Restrictions of a whole Space: their statement is addressed to its host. */
const SPACE_WIDE: ReadonlySet<Restriction> = new Set([
  'end-space',
  'hide-space',
  'label-space',
  'geo-restrict-space',
  'remove-replay',
]);

/** The statement with the people's names taken out of its texts (the Transparency Database's copy). */
function redact(s: StatementRecord, names: string[]): StatementRecord {
  if (!names.length) return s;
  const pattern = new RegExp(
    names
      .sort((a, b) => b.length - a.length)
      .map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('|'),
    'gi',
  );
  const clean = (t: string | null): string | null => (t === null ? null : t.replace(pattern, '[person]'));
  return {
    ...s,
    facts: clean(s.facts) as string,
    explanation: clean(s.explanation) as string,
    legalGround: clean(s.legalGround),
    termsGround: clean(s.termsGround),
    label: clean(s.label),
  };
}

export class Decisions {
  constructor(private readonly x: TrustContext) {}

  /**
   * Appends the statement to the chain. Its Transparency Database `puid` is the case id for a
   * case's first statement and `<case>-<seq>` after (seq is unique on the chain, so two moderators
   * acting at once never share one). `personal`: names to keep out of the database's copy.
   */
  private async append(draft: Parameters<typeof chainNext>[1], personal: string[]): Promise<StatementRecord> {
    const first = (await this.x.storage.statements({ caseId: draft.caseId, limit: 1 })).length === 0;
    const s = await this.x.storage.appendStatement((last) => {
      const seq = (last?.seq ?? 0) + 1;
      return chainNext(last, { ...draft, puid: first ? draft.caseId : `${draft.caseId}-${seq}` });
    });
    // Reversals stay on our chain; the Transparency Database takes restrictions that apply in the EU.
    if (!s.reverses && s.territorialScope.length > 0) await this.x.submitter.enqueue(redact(s, personal));
    return s;
  }

  /** Display names and handles of the people in a case (never sent to the Transparency Database). */
  private async personal(c: CaseRecord): Promise<string[]> {
    const ids = [c.affectedUserId, c.subject.userId, c.spaceHostId, c.notice?.userId].filter(
      (x): x is string => !!x,
    );
    const users = ids.length ? await this.x.storage.usersByIds([...new Set(ids)]) : [];
    return [...users.flatMap((u) => [u.displayName, u.handle]), c.notice?.name ?? ''].filter(
      (x) => x.length >= 3,
    );
  }

  /** One decision at a time per case (two moderators on one case act one after the other). */
  private onCase<T>(caseId: string, fn: () => Promise<T>): Promise<T> {
    return this.x.svc.exclusive(`case:${caseId}`, fn);
  }

  /** A moderator restricts: checks, applies, records the statement. Returns the statement. */
  async act(moderator: UserRecord, caseId: string, body: ActionBody): Promise<StatementRecord> {
    checkAction(body);
    return this.onCase(caseId, () => this.actNow(moderator, caseId, body));
  }

  private async actNow(moderator: UserRecord, caseId: string, body: ActionBody): Promise<StatementRecord> {
    const found = await this.caseOf(caseId, moderator);
    let c = found;
    const fit = FITS[body.restriction];
    if (!fit.kinds.includes(c.subject.kind))
      throw new TribuneError('ACTION_NOT_APPLICABLE', `${body.restriction} does not fit a ${c.subject.kind}`);
    const space = c.subject.spaceId ? await this.x.storage.spaceById(c.subject.spaceId) : undefined;
    // A restriction of the whole Space restricts its host (who gets the statement), whoever was reported.
    if (SPACE_WIDE.has(body.restriction) && space) c = { ...c, affectedUserId: space.hostId };
    if (fit.live && space?.state !== 'live')
      throw new TribuneError('ACTION_NOT_APPLICABLE', 'the Space is not live');
    if (body.restriction.endsWith('-account') && !c.affectedUserId)
      throw new TribuneError('ACTION_NOT_APPLICABLE', 'no account is concerned (a logged-out clip)');
    const atMs = this.x.now();
    const statementId = newCaseId('sor');
    // The media path first: a live restriction is in force before anything is written about it.
    await this.apply(c, body.restriction, true, body, atMs, undefined, statementId);
    const evidence = await this.x.storage.evidenceForCase(c.id);
    // The facts cite the notice by its category, not its words: they may name people, and the
    // statement goes to a public database. The notice itself stays in the case.
    const cited = [
      c.notice
        ? `A notice (${c.source === 'trusted-flagger' ? 'from a trusted flagger' : 'under Art. 16 DSA'}) reported this content as ${CATEGORY_WORDS[c.category].toLowerCase()}.`
        : 'Found by our moderators on their own initiative.',
      c.subject.startSec !== null
        ? `Reported range: ${c.subject.startSec.toFixed(0)}–${c.subject.endSec?.toFixed(0)} s of the programme.`
        : '',
      evidence.length ? 'The audio of that range was kept as evidence and reviewed by a moderator.' : '',
      body.facts ?? '',
    ].filter(Boolean);
    const draft = draftStatement({
      c,
      body,
      statementId,
      puid: c.id,
      atMs,
      contentDate: space?.startedAt ?? space?.createdAt ?? c.createdAt,
      complaintWindowDays: this.x.config.complaintWindowDays,
      facts: cited.join(' '),
    });
    let s: StatementRecord;
    try {
      s = await this.append(draft, await this.personal(c));
    } catch (err) {
      // No restriction without its statement: undo what can be undone, then fail.
      if (UNDOABLE.has(body.restriction))
        await this.apply(c, body.restriction, false, body, atMs).catch(() => undefined);
      throw err;
    }
    await this.x.log(c.id, 'action', moderator.id, {
      statementId: s.id,
      restriction: s.restriction,
      category: s.category,
      source: c.source,
      automatedDetection: s.automatedDetection,
      automatedDecision: s.automatedDecision,
    });
    const decided: CaseRecord = {
      ...c,
      status: 'closed',
      outcome: 'restricted',
      decidedAt: c.decidedAt ?? s.at,
      updatedAt: s.at,
    };
    await this.x.storage.putCase(decided);
    await this.x.evidence.extend(c.id, s.complaintUntil);
    if (c.subject.spaceId && c.affectedUserId)
      this.x.svc.moderation.setRestriction(c.subject.spaceId, c.affectedUserId, {
        statementId: s.id,
        caseId: c.id,
        restriction: s.restriction,
        summary: summary(s),
        at: s.at,
      });
    if (c.subject.spaceId && c.affectedUserId) this.x.svc.emit('me', c.subject.spaceId, c.affectedUserId);
    this.x.notify({
      type: 'trust.decision',
      caseId: c.id,
      to: { userId: c.affectedUserId, email: null },
      text: summary(s),
    });
    this.notifyNotifier(c, 'trust.decision');
    return s;
  }

  /** No action; `unfounded` counts towards pausing the notifier (Art. 23(2)). */
  async resolve(moderator: UserRecord, caseId: string, text: string, unfounded: boolean): Promise<void> {
    if (typeof text !== 'string' || text.trim().length < 3 || text.length > 2000)
      throw new TribuneError('ACTION_INVALID', 'say why (3-2000 characters)');
    return this.onCase(caseId, () => this.resolveNow(moderator, caseId, text, unfounded));
  }

  private async resolveNow(
    moderator: UserRecord,
    caseId: string,
    text: string,
    unfounded: boolean,
  ): Promise<void> {
    const c = await this.caseOf(caseId, moderator);
    const now = this.x.nowIso();
    await this.x.log(c.id, 'resolve', moderator.id, { unfounded, text });
    await this.x.storage.putCase({
      ...c,
      status: 'closed',
      outcome: c.outcome === 'pending' ? 'no-action' : c.outcome,
      decidedAt: c.decidedAt ?? now,
      updatedAt: now,
    });
    await this.x.evidence.extend(
      c.id,
      new Date(this.x.now() + this.x.config.complaintWindowDays * DAY_MS).toISOString(),
    );
    // Counted once per notice: only when this is the case's first decision.
    if (unfounded && c.notice && c.outcome === 'pending') {
      await this.x.log(c.id, 'unfounded', moderator.id, {});
      const key = notifierKey(c.notice.userId, c.notice.email);
      if (key) {
        const st = (await this.x.storage.notifierStanding(key)) ?? {
          key,
          unfounded: 0,
          pausedUntil: null,
          updatedAt: now,
        };
        const n = st.unfounded + 1;
        const pause = n >= this.x.config.unfoundedBeforePause;
        await this.x.storage.putNotifierStanding({
          key,
          unfounded: pause ? 0 : n,
          pausedUntil: pause
            ? new Date(this.x.now() + this.x.config.notifierPauseDays * DAY_MS).toISOString()
            : st.pausedUntil,
          updatedAt: now,
        });
        if (pause) await this.x.log(c.id, 'notifier-paused', moderator.id, { key });
      }
    }
    this.notifyNotifier(c, 'trust.no-action');
  }

  private notifyNotifier(c: CaseRecord, type: string): void {
    if (c.notice)
      this.x.notify({ type, caseId: c.id, to: { userId: c.notice.userId, email: c.notice.email } });
  }

  /** The case, for `moderator`: CASE_NOT_FOUND also when it is about their own Space or account. */
  async caseOf(id: string, moderator: UserRecord): Promise<CaseRecord> {
    const c = await this.x.storage.caseById(id);
    if (!c || c.spaceHostId === moderator.id || c.affectedUserId === moderator.id)
      throw new TribuneError('CASE_NOT_FOUND');
    return c;
  }

  // ------------------------------------------------------------------ applying and undoing

  private async apply(
    c: CaseRecord,
    r: Restriction,
    on: boolean,
    body: ActionBody | undefined,
    atMs: number,
    original?: StatementRecord,
    sid?: string,
  ): Promise<void> {
    const spaceId = c.subject.spaceId;
    const userId = c.affectedUserId;
    const stage = this.x.stage;
    switch (r) {
      case 'mute-speaker':
        return stage.moderatorMute(spaceId as string, c.subject.userId as string, on);
      case 'remove-speaker':
        return stage.moderatorRemove(spaceId as string, c.subject.userId as string, on);
      case 'end-space':
        if (on) await this.x.svc.end(null, spaceId as string);
        return; // an ended Space stays ended; a reversal says so
      case 'hide-space':
      case 'label-space':
      case 'geo-restrict-space':
        return this.moderateSpace(spaceId as string, r, on, body, original);
      case 'remove-clip': {
        if (!on) return; // deleted for good
        const clip = c.subject.clipId ? await this.x.storage.clipById(c.subject.clipId) : undefined;
        if (!clip) throw new TribuneError('CONTENT_GONE', 'the clip is already gone');
        await this.x.svc.replays.removeClip(clip.id);
        return;
      }
      case 'remove-replay': {
        if (!on) return; // deleted for good (the evidence copy stays)
        const s = await this.x.storage.spaceById(spaceId as string);
        if (!s || s.state !== 'ended' || s.replayState !== 'available')
          throw new TribuneError('ACTION_NOT_APPLICABLE', 'the Space has no replay');
        await this.x.svc.exclusive(s.id, () => this.x.svc.replays.dropReplay(s, 'deleted'));
        this.x.svc.emit('space', s.id);
        return;
      }
      case 'warn-account':
      case 'suspend-account':
      case 'terminate-account':
        return this.standing(userId as string, r, on, body, atMs, original, sid);
    }
  }

  private async moderateSpace(
    spaceId: string,
    r: Restriction,
    on: boolean,
    body?: ActionBody,
    original?: StatementRecord,
  ): Promise<void> {
    const cur: SpaceModeration = (await this.x.storage.spaceModeration(spaceId)) ?? {
      spaceId,
      hidden: false,
      label: null,
      blockedCountries: [],
      updatedAt: this.x.nowIso(),
    };
    const next = { ...cur, updatedAt: this.x.nowIso() };
    if (on) {
      if (r === 'hide-space') next.hidden = true;
      if (r === 'label-space') next.label = body?.label ?? null;
      if (r === 'geo-restrict-space')
        next.blockedCountries = [...new Set([...cur.blockedCountries, ...(body?.countries ?? [])])].sort();
    } else {
      // Lifting one statement leaves what other statements on this Space still impose.
      const others = await this.inForce(spaceId, r, original?.id);
      if (r === 'hide-space') next.hidden = others.length > 0;
      if (r === 'label-space') next.label = others.at(-1)?.label ?? null;
      if (r === 'geo-restrict-space')
        next.blockedCountries = [...new Set(others.flatMap((o) => o.countries))].sort();
    }
    await this.x.storage.putSpaceModeration(next);
    this.x.svc.moderation.set(spaceId, next);
    this.x.svc.setBlockedCountries(spaceId, next.blockedCountries);
    this.x.svc.emit('space', spaceId);
  }

  /** Statements of restriction `r` on the Space still in force (not reversed), but `except`. */
  private async inForce(spaceId: string, r: Restriction, except?: string): Promise<StatementRecord[]> {
    const out: StatementRecord[] = [];
    for (const c of await this.x.storage.cases({ spaceId, limit: 1000 })) {
      const all = await this.x.storage.statements({ caseId: c.id, limit: 1000 });
      const reversed = new Set(all.map((x) => x.reverses).filter(Boolean));
      for (const st of all)
        if (st.restriction === r && !st.reverses && !reversed.has(st.id) && st.id !== except) out.push(st);
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  /** Art. 23: a warning is a strike; suspension for a period; termination. Undo restores `ok`. */
  private async standing(
    userId: string,
    r: Restriction,
    on: boolean,
    body: ActionBody | undefined,
    atMs: number,
    original?: StatementRecord,
    sid?: string,
  ): Promise<void> {
    const now = this.x.now();
    const expiry = this.x.config.strikeExpiryDays * DAY_MS;
    const cur: AccountStanding = (await this.x.storage.accountStanding(userId)) ?? {
      userId,
      strikes: [],
      state: 'ok',
      until: null,
      statementId: null,
      updatedAt: new Date(now).toISOString(),
    };
    const strikes = cur.strikes.filter((t) => Date.parse(t) + expiry > now);
    let next: AccountStanding;
    if (!on) {
      // Undo this statement's own effect: its strike (stamped with the statement's time), or the
      // suspension/termination it put in place (not one a later decision put there).
      const mine = original && cur.statementId === original.id;
      next =
        r === 'warn-account'
          ? { ...cur, strikes: strikes.filter((t) => t !== original?.at) }
          : mine
            ? { ...cur, strikes, state: 'ok', until: null, statementId: null }
            : { ...cur, strikes };
    } else if (r === 'warn-account') {
      next = { ...cur, strikes: [...strikes, new Date(atMs).toISOString()] };
    } else if (r === 'suspend-account') {
      next = {
        ...cur,
        strikes,
        state: 'suspended',
        until: new Date(atMs + (body?.durationHours ?? 24) * 3_600_000).toISOString(),
        statementId: sid ?? null,
      };
    } else {
      next = { ...cur, strikes, state: 'terminated', until: null, statementId: sid ?? null };
    }
    await this.x.storage.putAccountStanding({ ...next, updatedAt: new Date(now).toISOString() });
    // Suspended or terminated: off every live stage here now (their media sessions close).
    if (on && next.state !== 'ok') await this.x.svc.registry.unpublishEverywhere(userId);
  }

  // ------------------------------------------------------------------ complaints (Art. 20)

  async complain(user: UserRecord | null, caseId: string, body: ComplaintBody): Promise<ComplaintRecord> {
    if (typeof body.text !== 'string' || body.text.trim().length < 10 || body.text.length > 4000)
      throw new TribuneError('BAD_REQUEST', 'a complaint says why, in 10-4000 characters');
    const c = await this.x.storage.caseById(caseId);
    if (!c) throw new TribuneError('CASE_NOT_FOUND');
    const keyOk =
      (!!body.key && !!c.followKeyHash && sha256(body.key) === c.followKeyHash) ||
      (typeof body.email === 'string' && this.x.emailMatches(c, body.email));
    const isNotifier = keyOk || (!!user && c.notice?.userId === user.id);
    const now = this.x.now();
    let statementId: string | null = null;
    let by: ComplaintRecord['by'];
    if (body.statementId !== undefined) {
      const s = await this.x.storage.statementById(body.statementId);
      // The statement's own addressee (the host, for a restriction of their whole Space).
      if (!user || !s || s.userId !== user.id)
        throw new TribuneError(
          'COMPLAINT_NOT_ALLOWED',
          'only the affected user complains about a restriction',
        );
      if (s.caseId !== c.id || s.reverses)
        throw new TribuneError('COMPLAINT_NOT_ALLOWED', 'not a restriction of this case');
      const reversed = (await this.x.storage.statements({ caseId: c.id, limit: 1000 })).some(
        (x) => x.reverses === s.id,
      );
      if (reversed) throw new TribuneError('COMPLAINT_DECIDED', 'this restriction was already reversed');
      if (Date.parse(s.complaintUntil) <= now) throw new TribuneError('COMPLAINT_WINDOW_CLOSED');
      statementId = s.id;
      by = 'affected';
    } else {
      if (!isNotifier)
        throw new TribuneError('COMPLAINT_NOT_ALLOWED', 'only the notifier complains of inaction');
      if (c.outcome !== 'no-action' || !c.decidedAt)
        throw new TribuneError('COMPLAINT_NOT_ALLOWED', 'there is no decision not to act on this case');
      if (Date.parse(c.decidedAt) + this.x.config.complaintWindowDays * DAY_MS <= now)
        throw new TribuneError('COMPLAINT_WINDOW_CLOSED');
      by = 'notifier';
    }
    const open = (await this.x.storage.complaints({ caseId: c.id, state: 'open', limit: 100 })).find(
      (k) => k.statementId === statementId && k.by === by,
    );
    if (open) return open;
    const k: ComplaintRecord = {
      id: newCaseId('cpl'),
      caseId: c.id,
      statementId,
      by,
      userId: user?.id ?? null,
      text: body.text.trim(),
      createdAt: new Date(now).toISOString(),
      state: 'open',
      decidedAt: null,
      decidedBy: null,
      decisionText: null,
    };
    await this.x.storage.createComplaint(k);
    await this.x.log(c.id, 'complaint', user?.id ?? null, { complaintId: k.id, by });
    await this.x.storage.putCase({
      ...c,
      status: c.status === 'closed' ? 'open' : c.status,
      updatedAt: k.createdAt,
    });
    return k;
  }

  async decideComplaint(
    moderator: UserRecord,
    complaintId: string,
    uphold: boolean,
    text: string,
  ): Promise<ComplaintRecord> {
    if (typeof text !== 'string' || text.trim().length < 10 || text.length > 2000)
      throw new TribuneError('ACTION_INVALID', 'the decision gives its reasons (10-2000 characters)');
    const first = await this.x.storage.complaintById(complaintId);
    if (!first) throw new TribuneError('COMPLAINT_NOT_FOUND');
    return this.onCase(first.caseId, () => this.decideNow(moderator, complaintId, uphold, text));
  }

  private async decideNow(
    moderator: UserRecord,
    complaintId: string,
    uphold: boolean,
    text: string,
  ): Promise<ComplaintRecord> {
    const k = await this.x.storage.complaintById(complaintId);
    if (!k) throw new TribuneError('COMPLAINT_NOT_FOUND');
    if (k.state !== 'open') throw new TribuneError('COMPLAINT_DECIDED');
    const c = await this.caseOf(k.caseId, moderator);
    // Art. 20(6): reviewed afresh, by someone other than the moderator who took the decision
    // complained about (the restriction's, or the last "no action").
    const events = await this.x.storage.events({ caseId: c.id, limit: 1000 });
    const decider = k.statementId
      ? events.find((e) => e.kind === 'action' && e.data.statementId === k.statementId)?.actorId
      : events.filter((e) => e.kind === 'resolve').at(-1)?.actorId;
    if (decider === moderator.id) throw new TribuneError('SAME_DECIDER');
    const now = this.x.nowIso();
    const done: ComplaintRecord = {
      ...k,
      state: uphold ? 'upheld' : 'rejected',
      decidedAt: now,
      decidedBy: moderator.id,
      decisionText: text.trim(),
    };
    // Undo first: a reversal that fails leaves the complaint open to be decided again.
    if (uphold && k.statementId) await this.reverse(moderator, c, k.statementId, text.trim());
    await this.x.storage.putComplaint(done);
    await this.x.log(c.id, 'complaint-decided', moderator.id, { complaintId: k.id, upheld: uphold });
    if (uphold && k.statementId) {
      // reverse() closed the case as reversed
    } else if (uphold) {
      // A notifier was right that something should be done: the case goes back to the queue.
      await this.x.storage.putCase({ ...c, status: 'open', outcome: 'pending', updatedAt: now });
    } else {
      await this.x.storage.putCase({ ...c, status: 'closed', updatedAt: now });
    }
    this.x.notify({
      type: 'trust.complaint-decided',
      caseId: c.id,
      to: { userId: c.affectedUserId, email: null },
    });
    this.notifyNotifier(c, 'trust.complaint-decided');
    return done;
  }

  private async reverse(
    moderator: UserRecord,
    c: CaseRecord,
    statementId: string,
    reasons: string,
  ): Promise<void> {
    const original = await this.x.storage.statementById(statementId);
    if (!original) throw new TribuneError('COMPLAINT_NOT_FOUND', 'its statement is missing');
    const affected = { ...c, affectedUserId: original.userId };
    const atMs = this.x.now();
    if (UNDOABLE.has(original.restriction))
      await this.apply(affected, original.restriction, false, undefined, atMs, original);
    const s = await this.append(
      draftReversal(original, {
        statementId: newCaseId('sor'),
        puid: c.id,
        atMs,
        reasons,
        complaintWindowDays: this.x.config.complaintWindowDays,
      }),
      [],
    );
    await this.x.log(c.id, 'reverse', moderator.id, { statementId: s.id, reverses: original.id });
    await this.x.storage.putCase({ ...c, status: 'closed', outcome: 'reversed', updatedAt: s.at });
    // The reversal can be complained about too: its evidence stays as long.
    await this.x.evidence.extend(c.id, s.complaintUntil);
    if (c.subject.spaceId && original.userId) {
      this.x.svc.moderation.setRestriction(c.subject.spaceId, original.userId, null);
      this.x.svc.emit('me', c.subject.spaceId, original.userId);
    }
  }
}
