/**
 * Statements of reasons (Art. 17(3) DSA): drafting one for a restriction or a reversal, the words a
 * person reads, and the view the affected user and the notifier get. Pure.
 */
import { TribuneError } from '../errors.js';
import type { ActionBody, StatementView } from './api-types.js';
import type { StatementDraft } from './chain.js';
import {
  EU_COUNTRIES,
  RESTRICTIONS,
  type CaseRecord,
  type Restriction,
  type SourceType,
  type StatementRecord,
} from './model.js';

const DAY_MS = 86_400_000;

/** Which restrictions fit which subject (and need a live Space). */
export const FITS: Record<Restriction, { kinds: CaseRecord['subject']['kind'][]; live?: true }> = {
  'mute-speaker': { kinds: ['speaker'], live: true },
  'remove-speaker': { kinds: ['speaker'], live: true },
  'end-space': { kinds: ['space', 'speaker'], live: true },
  'hide-space': { kinds: ['space', 'speaker', 'clip'] },
  'label-space': { kinds: ['space', 'speaker'] },
  'geo-restrict-space': { kinds: ['space', 'speaker'] },
  'remove-clip': { kinds: ['clip'] },
  'remove-replay': { kinds: ['space', 'speaker'] },
  'warn-account': { kinds: ['speaker', 'account', 'space', 'clip'] },
  'suspend-account': { kinds: ['speaker', 'account', 'space', 'clip'] },
  'terminate-account': { kinds: ['speaker', 'account', 'space', 'clip'] },
};

/** Restrictions that can be undone by a reversal (the others deleted or ended something for good). */
export const UNDOABLE: ReadonlySet<Restriction> = new Set([
  'mute-speaker',
  'remove-speaker',
  'hide-space',
  'label-space',
  'geo-restrict-space',
  'warn-account',
  'suspend-account',
  'terminate-account',
]);

const text = (v: unknown, min: number, max: number): v is string =>
  typeof v === 'string' && v.trim().length >= min && v.length <= max;

/** Checks an action's body against its restriction (ACTION_INVALID says which part is wrong). */
export function checkAction(b: ActionBody): void {
  const bad = (why: string): never => {
    throw new TribuneError('ACTION_INVALID', why);
  };
  if (!RESTRICTIONS.includes(b.restriction)) bad('unknown restriction');
  if (b.ground === 'DECISION_GROUND_ILLEGAL_CONTENT') {
    if (!text(b.legalGround, 2, 500))
      bad('an illegal-content decision names its legal ground (2-500 characters)');
  } else if (b.ground === 'DECISION_GROUND_INCOMPATIBLE_CONTENT') {
    if (!text(b.termsGround, 2, 500)) bad('a terms decision names the terms ground (2-500 characters)');
  } else bad('ground must be DECISION_GROUND_ILLEGAL_CONTENT or DECISION_GROUND_INCOMPATIBLE_CONTENT');
  if (!text(b.explanation, 10, 2000)) bad('the explanation is 10-2000 characters');
  if (b.facts !== undefined && !text(b.facts, 0, 2000)) bad('facts are at most 2000 characters');
  if (b.restriction === 'suspend-account') {
    const h = b.durationHours;
    if (typeof h !== 'number' || !Number.isInteger(h) || h < 1 || h > 8760)
      bad('a suspension lasts 1-8760 hours');
  } else if (b.durationHours !== undefined) {
    // Only suspensions end by themselves; the others last until a reversal.
    bad('durationHours is for suspend-account only');
  }
  if (b.restriction === 'geo-restrict-space') {
    const c = b.countries;
    if (
      !Array.isArray(c) ||
      c.length < 1 ||
      c.length > 50 ||
      c.some((x) => typeof x !== 'string' || !/^[A-Z]{2}$/.test(x))
    )
      bad('countries: 1-50 ISO 3166-1 alpha-2 codes (e.g. DE)');
  }
  if (b.restriction === 'label-space' && !text(b.label, 3, 120)) bad('a label is 3-120 characters');
}

export interface DraftContext {
  c: CaseRecord;
  body: ActionBody;
  statementId: string;
  puid: string;
  atMs: number;
  contentDate: string;
  complaintWindowDays: number;
  /** The notice's facts and the evidence range, cited in the statement. */
  facts: string;
}

const SOURCE: Record<CaseRecord['source'], SourceType> = {
  notice: 'SOURCE_ARTICLE_16',
  'trusted-flagger': 'SOURCE_TRUSTED_FLAGGER',
  'own-initiative': 'SOURCE_VOLUNTARY',
};

export function redressText(untilIso: string): string {
  return (
    `You can complain about this decision in the app, free of charge, until ${untilIso.slice(0, 10)} ` +
    '(Art. 20 DSA); a person, not an automated system, decides. You can also turn to a certified ' +
    'out-of-court dispute settlement body (Art. 21 DSA) or to the courts.'
  );
}

export function draftStatement(x: DraftContext): StatementDraft {
  const { c, body } = x;
  const at = new Date(x.atMs).toISOString();
  const complaintUntil = new Date(x.atMs + x.complaintWindowDays * DAY_MS).toISOString();
  const hours = body.durationHours;
  const geo = body.restriction === 'geo-restrict-space' ? [...new Set(body.countries ?? [])].sort() : [];
  const euBlocked = geo.filter((cc) => (EU_COUNTRIES as readonly string[]).includes(cc));
  return {
    id: x.statementId,
    caseId: c.id,
    puid: x.puid,
    at,
    userId: c.affectedUserId,
    restriction: body.restriction,
    reverses: null,
    // A geo-restriction applies where listeners are refused; everything else applies everywhere.
    territorialScope: geo.length ? (euBlocked.length ? euBlocked : []) : [...EU_COUNTRIES],
    endsAt: hours ? new Date(x.atMs + hours * 3_600_000).toISOString() : null,
    countries: geo,
    label: body.restriction === 'label-space' ? (body.label ?? null) : null,
    facts: x.facts,
    sourceType: SOURCE[c.source],
    contentDate: x.contentDate,
    automatedDetection: false,
    automatedDecision: false,
    ground: body.ground,
    legalGround: body.ground === 'DECISION_GROUND_ILLEGAL_CONTENT' ? (body.legalGround ?? null) : null,
    termsGround: body.ground === 'DECISION_GROUND_INCOMPATIBLE_CONTENT' ? (body.termsGround ?? null) : null,
    explanation: body.explanation,
    category: c.category,
    redress: redressText(complaintUntil),
    complaintUntil,
  };
}

/** The statement recording that `original` was undone after a complaint (its own Art. 17 statement). */
export function draftReversal(
  original: StatementRecord,
  x: { statementId: string; puid: string; atMs: number; reasons: string; complaintWindowDays: number },
): StatementDraft {
  const complaintUntil = new Date(x.atMs + x.complaintWindowDays * DAY_MS).toISOString();
  return {
    ...stripChain(original),
    id: x.statementId,
    puid: x.puid,
    at: new Date(x.atMs).toISOString(),
    reverses: original.id,
    endsAt: new Date(x.atMs).toISOString(),
    facts: `A complaint against statement ${original.id} was upheld by a moderator: ${x.reasons}`,
    explanation: `Reversal of ${original.id}: the restriction "${original.restriction}" is lifted.`,
    redress: redressText(complaintUntil),
    complaintUntil,
  };
}

function stripChain(s: StatementRecord): StatementDraft {
  const { seq: _seq, prevHash: _p, hash: _h, ...rest } = s;
  return rest;
}

const WORDS: Record<Restriction, string> = {
  'mute-speaker': 'You were muted in the Space and cannot unmute yourself',
  'remove-speaker': 'You were removed from the Space',
  'end-space': 'The Space was ended',
  'hide-space': 'The Space was hidden from listings and search',
  'label-space': 'A warning label was put on the Space',
  'geo-restrict-space': 'The Space is not available to listeners in some countries',
  'remove-clip': 'The clip was removed',
  'remove-replay': 'The replay was removed',
  'warn-account': 'Your account received a warning (a strike)',
  'suspend-account': 'Your account was suspended',
  'terminate-account': 'Your account was terminated',
};

/** The restriction in one line, with the ground it rests on (not the notice's category). */
export function summary(
  s: Pick<
    StatementRecord,
    'restriction' | 'reverses' | 'endsAt' | 'countries' | 'ground' | 'legalGround' | 'termsGround'
  >,
): string {
  if (s.reverses) return `A decision was reversed: ${WORDS[s.restriction].toLowerCase()} — this is lifted`;
  const until = s.endsAt ? ` until ${s.endsAt.slice(0, 16).replace('T', ' ')} UTC` : '';
  const where = s.countries.length ? ` (${s.countries.join(', ')})` : '';
  const why =
    s.ground === 'DECISION_GROUND_ILLEGAL_CONTENT'
      ? `illegal content (${s.legalGround ?? 'the law'})`
      : `against our terms (${s.termsGround ?? 'the terms of service'})`;
  return `${WORDS[s.restriction]}${where}${until}: ${why}`;
}

export function toStatementView(s: StatementRecord, canComplain: boolean): StatementView {
  return {
    id: s.id,
    caseId: s.caseId,
    at: s.at,
    restriction: s.restriction,
    summary: summary(s),
    reverses: s.reverses,
    territorialScope: s.territorialScope,
    endsAt: s.endsAt,
    countries: s.countries,
    label: s.label,
    facts: s.facts,
    sourceType: s.sourceType,
    automatedDetection: s.automatedDetection,
    automatedDecision: s.automatedDecision,
    ground: s.ground,
    legalGround: s.legalGround,
    termsGround: s.termsGround,
    explanation: s.explanation,
    category: s.category,
    redress: s.redress,
    complaintUntil: s.complaintUntil,
    canComplain,
  };
}
