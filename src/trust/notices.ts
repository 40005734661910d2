/**
 * Notices (Art. 16 DSA), logged out too: checks the notice's elements, resolves the reported
 * location (a Space, a speaker in it, a clip, an account; a range of the programme), keeps that range
 * of the recording as evidence, opens the case (trusted flaggers first, live Spaces next) and hands
 * back a receipt with a follow link. Floods are refused per client address and per account.
 */
import { createHash, randomBytes } from 'node:crypto';
import { TribuneError } from '../errors.js';
import type { HlsStore } from '../hls/store.js';
import type { UserRecord } from '../store/types.js';
import type { NoticeBody, Receipt, SubjectBody } from './api-types.js';
import { CATEGORIES, type CaseRecord, type Subject } from './model.js';
import type { TrustContext } from './context.js';
import { HourlyLimit } from './roles.js';

const DAY_MS = 86_400_000;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{1,63}$/;
const ID = /^[A-Za-z0-9_-]{1,64}$/;

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
export const notifierKey = (userId: string | null, email: string | null): string | null =>
  userId ? `user:${userId}` : email ? `email:${sha256(email.toLowerCase())}` : null;

/** `case_<26 base32>` style ids: random, unguessable, URL-safe. */
export function newCaseId(prefix = 'case'): string {
  return `${prefix}_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
}

function bad(why: string): never {
  throw new TribuneError('NOTICE_INVALID', why);
}

/** The location's shape (the content itself is checked by Notices.locate). */
export function checkSubject(s: SubjectBody): void {
  if (!s || typeof s !== 'object') bad('the location (subject) is missing');
  if (!['space', 'speaker', 'clip', 'account'].includes(s.kind))
    bad('subject.kind is space, speaker, clip or account');
  for (const k of ['spaceId', 'userId', 'clipId'] as const)
    if (s[k] !== undefined && (typeof s[k] !== 'string' || !ID.test(s[k] as string)))
      bad(`subject.${k} is malformed`);
  if (s.kind !== 'account' && s.kind !== 'clip' && !s.spaceId) bad('subject.spaceId is required');
  if ((s.kind === 'speaker' || s.kind === 'account') && !s.userId) bad('subject.userId is required');
  if (s.kind === 'clip' && !s.clipId) bad('subject.clipId is required');
}

/** The notice's own elements (Art. 16(2)); the location is checked against the content after. */
export function checkNotice(b: NoticeBody): void {
  if (!CATEGORIES.includes(b.category)) bad('category must be one of the 16 STATEMENT_CATEGORY_* values');
  if (typeof b.explanation !== 'string' || b.explanation.trim().length < 10 || b.explanation.length > 4000)
    bad('the explanation (why the content is illegal or against the terms) is 10-4000 characters');
  if (b.goodFaith !== true) bad('confirm that the notice is accurate and complete, in good faith');
  // Art. 16(2)(c): name and email, except for child sexual abuse offences.
  const minors = b.category === 'STATEMENT_CATEGORY_PROTECTION_OF_MINORS';
  if (!minors || b.name !== undefined)
    if (typeof b.name !== 'string' || b.name.trim().length < 1 || b.name.length > 200)
      bad('your name is required (1-200 characters)');
  if (!minors || b.email !== undefined)
    if (typeof b.email !== 'string' || b.email.length > 320 || !EMAIL.test(b.email))
      bad('a valid email address is required');
  checkSubject(b.subject);
}

export class Notices {
  private readonly perAddress: HourlyLimit;
  private readonly perAccount: HourlyLimit;

  constructor(private readonly x: TrustContext) {
    this.perAddress = new HourlyLimit(x.config.noticesPerAddressPerHour, x.now);
    this.perAccount = new HourlyLimit(x.config.noticesPerAccountPerHour, x.now);
  }

  async receive(body: NoticeBody, user: UserRecord | null, address: string): Promise<Receipt> {
    checkNotice(body);
    if (!this.perAddress.take(address))
      throw new TribuneError('NOTICE_RATE_LIMITED', 'too many from this address');
    if (user && !this.perAccount.take(user.id))
      throw new TribuneError('NOTICE_RATE_LIMITED', 'too many from this account');
    const email = body.email ?? null;
    const key = notifierKey(user?.id ?? null, email);
    if (key) {
      const st = await this.x.storage.notifierStanding(key);
      if (st?.pausedUntil && st.pausedUntil > this.x.nowIso())
        throw new TribuneError('NOTIFIER_PAUSED', `until ${st.pausedUntil.slice(0, 10)}`);
    }
    const { subject, hostId, affected, live, evidenceOf } = await this.locate(body.subject);
    const { roles, organisation } = await this.x.roles.of(user);
    const flagger = roles.includes('trusted-flagger');
    const followKey = randomBytes(18).toString('base64url');
    const now = this.x.nowIso();
    const c: CaseRecord = {
      id: newCaseId(),
      createdAt: now,
      updatedAt: now,
      status: 'open',
      priority: (flagger ? 2 : 0) + (live ? 1 : 0),
      source: flagger ? 'trusted-flagger' : 'notice',
      category: body.category,
      subject,
      spaceHostId: hostId,
      affectedUserId: affected,
      notice: {
        explanation: body.explanation.trim(),
        name: body.name?.trim() ?? null,
        email,
        goodFaith: true,
        userId: user?.id ?? null,
      },
      followKeyHash: sha256(followKey),
      assigneeId: null,
      outcome: 'pending',
      decidedAt: null,
    };
    await this.x.storage.createCase(c);
    await this.x.log(c.id, 'report', user?.id ?? null, {
      category: c.category,
      source: c.source,
      ...(organisation && flagger ? { organisation } : {}),
    });
    let evidence: Receipt['evidence'] = null;
    if (evidenceOf) {
      const e = await this.x.evidence.keep({
        caseId: c.id,
        spaceId: evidenceOf.spaceId,
        hls: evidenceOf.hls,
        startSec: evidenceOf.startSec,
        endSec: evidenceOf.endSec,
        keepUntil: new Date(this.x.now() + this.x.config.evidenceRetentionDays * DAY_MS).toISOString(),
      });
      await this.x.log(c.id, 'evidence', null, { evidenceId: e.id, startSec: e.startSec, endSec: e.endSec });
      evidence = { startSec: e.startSec, endSec: e.endSec };
    }
    this.x.notify({ type: 'trust.notice-received', caseId: c.id, to: { userId: user?.id ?? null, email } });
    return {
      caseId: c.id,
      receivedAt: now,
      followUrl: `/cases/${c.id}?key=${followKey}`,
      followKey,
      evidence,
    };
  }

  /**
   * The exact location, checked against the content: SPACE_NOT_FOUND, USER_NOT_FOUND, NOT_A_MEMBER,
   * CLIP_NOT_FOUND, CONTENT_GONE (a range of a replay that was deleted), RANGE_OUT_OF_RECORDING.
   */
  async locate(s: SubjectBody): Promise<{
    subject: Subject;
    hostId: string | null;
    affected: string | null;
    live: boolean;
    evidenceOf: { spaceId: string; hls: HlsStore; startSec: number; endSec: number } | null;
  }> {
    const subject: Subject = {
      kind: s.kind,
      spaceId: s.spaceId ?? null,
      userId: s.userId ?? null,
      clipId: s.clipId ?? null,
      startSec: null,
      endSec: null,
    };
    if (s.kind === 'account') {
      const u = await this.x.storage.userById(s.userId as string);
      if (!u) throw new TribuneError('USER_NOT_FOUND');
      return {
        subject: { ...subject, spaceId: null, clipId: null },
        hostId: null,
        affected: u.id,
        live: false,
        evidenceOf: null,
      };
    }
    let rangeReq: { startSec?: number; endSec?: number; lastSec?: number } | null = null;
    if (s.kind === 'clip') {
      const clip = await this.x.storage.clipById(s.clipId as string);
      if (!clip) throw new TribuneError('CLIP_NOT_FOUND');
      subject.spaceId = clip.spaceId;
      subject.startSec = clip.startSec;
      subject.endSec = clip.startSec + clip.durationSec;
      const sp = await this.x.storage.spaceById(clip.spaceId);
      return { subject, hostId: sp?.hostId ?? null, affected: clip.creatorId, live: false, evidenceOf: null };
    }
    const sp = await this.x.storage.spaceById(s.spaceId as string);
    if (!sp) throw new TribuneError('SPACE_NOT_FOUND');
    let affected = sp.hostId;
    if (s.kind === 'speaker') {
      const m = await this.x.storage.member(sp.id, s.userId as string);
      if (!m && sp.hostId !== s.userId) {
        if (!(await this.x.storage.userById(s.userId as string))) throw new TribuneError('USER_NOT_FOUND');
        throw new TribuneError('NOT_A_MEMBER', 'that user never spoke in this Space');
      }
      affected = s.userId as string;
    }
    const hasRange = s.lastSec !== undefined || s.startSec !== undefined || s.endSec !== undefined;
    if (hasRange) {
      if (sp.state === 'scheduled')
        throw new TribuneError('RANGE_OUT_OF_RECORDING', 'the Space has not started');
      if (sp.state === 'ended' && sp.replayState !== 'available')
        throw new TribuneError(
          'CONTENT_GONE',
          `the replay was ${sp.replayState === 'none' ? 'never recorded' : sp.replayState}`,
        );
      if (sp.state === 'ended' && s.lastSec !== undefined)
        throw new TribuneError(
          'NOTICE_INVALID',
          'lastSec is for live Spaces; give startSec and endSec of the replay',
        );
      rangeReq = { startSec: s.startSec, endSec: s.endSec, lastSec: s.lastSec };
    }
    let evidenceOf = null;
    if (rangeReq) {
      const hls = await this.x.hlsOf(sp.id);
      if (!hls) throw new TribuneError('CONTENT_GONE', 'the recording is not available here');
      const r = this.x.evidence.rangeFor(hls, rangeReq);
      subject.startSec = r.startSec;
      subject.endSec = r.endSec;
      evidenceOf = { spaceId: sp.id, hls, ...r };
    }
    return { subject, hostId: sp.hostId, affected, live: sp.state === 'live', evidenceOf };
  }
}
