/**
 * Trust and safety (EU Digital Services Act): the records every part of src/trust shares.
 *
 * - A **case** is one subject under review (a Space, a speaker in it, a clip, an account), opened by
 *   a notice (Art. 16), a trusted flagger's notice (Art. 22) or a moderator's own initiative.
 * - Every change to a case is an **event** in an append-only log (Bluesky Ozone's model): report,
 *   comment, assign, escalate, action, resolve, complaint, reversal... The transparency report
 *   (Art. 15) is computed from this log alone.
 * - Every restriction has a **statement of reasons** (Art. 17) in a hash-chained, append-only log
 *   that can be exported and verified; each one goes, without personal data, to the Commission's
 *   Transparency Database (Art. 24(5)) through a persistent outbox.
 */

/**
 * The DSA Transparency Database's categories (`STATEMENT_CATEGORY_*`, 16 values), as listed by its API
 * documentation since the July 2025 taxonomy (digital-services-act/transparency-database,
 * resources/markdown/api-documentation.md): cyber violence, consumer information and "not specified
 * by the notifier" were added; non-consensual behaviour, online bullying, pornography, scope of
 * platform service and "unsafe and illegal products" were removed or renamed.
 */
export const CATEGORIES = [
  'STATEMENT_CATEGORY_ANIMAL_WELFARE',
  'STATEMENT_CATEGORY_CONSUMER_INFORMATION',
  'STATEMENT_CATEGORY_CYBER_VIOLENCE',
  'STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN',
  'STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS',
  'STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH',
  'STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS',
  'STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS',
  'STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE',
  'STATEMENT_CATEGORY_OTHER_VIOLATION_TC',
  'STATEMENT_CATEGORY_PROTECTION_OF_MINORS',
  'STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY',
  'STATEMENT_CATEGORY_SCAMS_AND_FRAUD',
  'STATEMENT_CATEGORY_SELF_HARM',
  'STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS',
  'STATEMENT_CATEGORY_VIOLENCE',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Words for people (the report form, the console, statements shown to users). */
export const CATEGORY_WORDS: Record<Category, string> = {
  STATEMENT_CATEGORY_ANIMAL_WELFARE: 'Animal welfare',
  STATEMENT_CATEGORY_CONSUMER_INFORMATION: 'Consumer information infringements',
  STATEMENT_CATEGORY_CYBER_VIOLENCE: 'Cyber violence (e.g. bullying, harassment, stalking, incitement)',
  STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN: 'Cyber violence against women',
  STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS: 'Data protection and privacy violations',
  STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH: 'Illegal or harmful speech (e.g. hate speech)',
  STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS: 'Intellectual property infringement',
  STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS:
    'Negative effects on civic discourse or elections (e.g. disinformation)',
  STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE: 'Not specified (the notifier did not say which kind)',
  STATEMENT_CATEGORY_OTHER_VIOLATION_TC: 'Other violation of the terms of service',
  STATEMENT_CATEGORY_PROTECTION_OF_MINORS: 'Protection of minors (including child sexual abuse)',
  STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY: 'Risk for public security (e.g. incitement, terrorism)',
  STATEMENT_CATEGORY_SCAMS_AND_FRAUD: 'Scams and fraud',
  STATEMENT_CATEGORY_SELF_HARM: 'Self-harm',
  STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS: 'Unsafe, non-compliant or prohibited products',
  STATEMENT_CATEGORY_VIOLENCE: 'Violence',
};

/** EU member states (ISO 3166-1 alpha-2): the Transparency Database's territorial scope values. */
export const EU_COUNTRIES = [
  'AT', 'BE', 'BG', 'CY', 'CZ', 'DE', 'DK', 'EE', 'ES', 'FI', 'FR', 'GR', 'HR', 'HU',
  'IE', 'IT', 'LT', 'LU', 'LV', 'MT', 'NL', 'PL', 'PT', 'RO', 'SE', 'SI', 'SK',
] as const; // prettier-ignore

/** Operator roles (Ozone: admin, moderator, triage). Admins are also the config's `operators`. */
export const TRUST_ROLES = ['admin', 'moderator', 'trusted-flagger'] as const;
export type TrustRole = (typeof TRUST_ROLES)[number];

export interface RoleGrant {
  userId: string;
  role: TrustRole;
  /** The trusted flagger's organisation (Art. 22: status awarded by a Digital Services Coordinator). */
  organisation: string | null;
  createdAt: string;
}

// ------------------------------------------------------------------------------------ subjects

export type SubjectKind = 'space' | 'speaker' | 'clip' | 'account';

/** Where the content is (Art. 16(2)(b) "exact electronic location"): filled in by the app. */
export interface Subject {
  kind: SubjectKind;
  /** The Space (every kind but 'account'). */
  spaceId: string | null;
  /** The speaker ('speaker') or the account ('account'). */
  userId: string | null;
  clipId: string | null;
  /** The range in the Space's programme (seconds into its recording), when audio is reported. */
  startSec: number | null;
  endSec: number | null;
}

// ------------------------------------------------------------------------------------ cases

export type CaseStatus = 'open' | 'escalated' | 'closed';
export type CaseSource = 'notice' | 'trusted-flagger' | 'own-initiative';
export type CaseOutcome = 'pending' | 'restricted' | 'no-action' | 'reversed';

/** Art. 16(2): the notice as the notifier sent it. */
export interface Notice {
  explanation: string;
  /** Optional only for child sexual abuse offences (Art. 16(2)(c)). */
  name: string | null;
  email: string | null;
  goodFaith: true;
  /** The notifier's account, when signed in. */
  userId: string | null;
}

export interface CaseRecord {
  /** `case_<base32>`: the receipt's number and the Transparency Database's `puid` root. */
  id: string;
  createdAt: string;
  updatedAt: string;
  status: CaseStatus;
  /** Higher first: trusted flagger +2, live Space +1 (then oldest first). */
  priority: number;
  source: CaseSource;
  category: Category;
  subject: Subject;
  /** The Space's host when the case is about a Space (hosts never see cases against their Space). */
  spaceHostId: string | null;
  /** The account the decision would restrict (speaker, host, clip maker, account). */
  affectedUserId: string | null;
  notice: Notice | null;
  /** SHA-256 (hex) of the logged-out notifier's follow key (the receipt link's secret). */
  followKeyHash: string | null;
  assigneeId: string | null;
  outcome: CaseOutcome;
  /** When the first decision (action or no action) was taken: Art. 15 "median time to act". */
  decidedAt: string | null;
}

// ------------------------------------------------------------------------------------ the event log

export const EVENT_KINDS = [
  'report', // a notice opened the case (or added to it)
  'open', // a moderator opened a case on their own initiative
  'comment', // a note: internal (moderators) or public (the notifier and the affected user see it)
  'assign',
  'escalate',
  'action', // a restriction; has its statement of reasons
  'resolve', // closed without action ("no violation")
  'unfounded', // the notice was manifestly unfounded (counts towards pausing the notifier)
  'complaint', // Art. 20
  'complaint-decided',
  'reverse', // a restriction undone after a complaint; has its own statement
  'notifier-paused', // Art. 23(2)
  'evidence', // a range of the recording kept
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface TrustEvent {
  /** Assigned by the store, increasing. */
  seq: number;
  caseId: string;
  kind: EventKind;
  at: string;
  /** The moderator or user; null for a logged-out notifier or the system. */
  actorId: string | null;
  /** Kind-specific details (a note's text and visibility, an action's statement id...). */
  data: Record<string, unknown>;
}

// ------------------------------------------------------------------------------------ restrictions

/** Every restriction a moderator can apply, and the Transparency Database decision it maps to. */
export const RESTRICTIONS = [
  'mute-speaker', // live: the speaker is muted and cannot unmute (visibility: disabled)
  'remove-speaker', // live: off the stage and out of the Space (visibility: removed)
  'end-space', // live: the Space ends (visibility: disabled)
  'hide-space', // out of every listing and search (visibility: demoted)
  'label-space', // a warning label over the Space (visibility: labelled)
  'geo-restrict-space', // not served to listeners in the given countries (visibility: disabled)
  'remove-clip', // the clip is deleted (visibility: removed)
  'remove-replay', // the replay is deleted (visibility: removed)
  'warn-account', // Art. 23 warning (a strike; no restriction on the account yet: visibility other, in words)
  'suspend-account', // for a period (account: suspended)
  'terminate-account', // (account: terminated)
] as const;
export type Restriction = (typeof RESTRICTIONS)[number];

export type DecisionGround = 'DECISION_GROUND_ILLEGAL_CONTENT' | 'DECISION_GROUND_INCOMPATIBLE_CONTENT';
export type SourceType = 'SOURCE_ARTICLE_16' | 'SOURCE_TRUSTED_FLAGGER' | 'SOURCE_VOLUNTARY';

/** Art. 17(3): every element of a statement of reasons. */
export interface StatementRecord {
  /** Position in the chain (1, 2, 3...). */
  seq: number;
  /** `sor_<base32>`; with the case id, the Transparency Database's `puid` (`<caseId>.<n>`). */
  id: string;
  caseId: string;
  /**
   * The Transparency Database's platform unique identifier for this statement. The API takes only
   * letters, digits, '-' and '_': tdb.ts's tdbPuid() replaces anything else (the '.') with '_'.
   */
  puid: string;
  /** When the restriction applied (ISO). */
  at: string;
  /** The affected account (never sent to the Transparency Database). */
  userId: string | null;
  restriction: Restriction;
  /** For a reversal: the statement it undoes. */
  reverses: string | null;
  /** Art. 17(3)(a): scope (EU country codes; all of the EU unless geo-restricted) and duration. */
  territorialScope: string[];
  /** When the restriction ends (ISO), null for indefinite. */
  endsAt: string | null;
  /** Countries listeners are blocked in (geo-restrict-space only). */
  countries: string[];
  /** The label shown (label-space only). */
  label: string | null;
  /** Art. 17(3)(b): the facts and circumstances relied on, and where they came from. */
  facts: string;
  sourceType: SourceType;
  /** When the restricted content was created (the Space's start, the clip's creation). */
  contentDate: string;
  /** Art. 17(3)(c): automated means in detection and in the decision. */
  automatedDetection: boolean;
  automatedDecision: boolean;
  /** Art. 17(3)(d)(e): the legal or contractual ground and the explanation. */
  ground: DecisionGround;
  legalGround: string | null;
  termsGround: string | null;
  explanation: string;
  category: Category;
  /** Art. 17(3)(f): the redress open (internal complaint until `complaintUntil`, out-of-court, courts). */
  redress: string;
  complaintUntil: string;
  /** Hash chain: SHA-256 (hex) of the previous statement ('' for the first) and of this one. */
  prevHash: string;
  hash: string;
}

// ------------------------------------------------------------------------------------ complaints

export type ComplaintState = 'open' | 'upheld' | 'rejected';

export interface ComplaintRecord {
  id: string;
  caseId: string;
  /** The restriction complained about; null when a notifier complains of inaction. */
  statementId: string | null;
  /** 'affected' (the restricted user) or 'notifier' (nothing or too little was done). */
  by: 'affected' | 'notifier';
  userId: string | null;
  text: string;
  createdAt: string;
  state: ComplaintState;
  decidedAt: string | null;
  decidedBy: string | null;
  /** The human's reasons (Art. 20(5): never decided solely by automated means). */
  decisionText: string | null;
}

// ------------------------------------------------------------------------------------ standings

/** Art. 23: strikes on an account, with expiry, and its current restriction. */
export interface AccountStanding {
  userId: string;
  /** ISO times of strikes that have not expired. */
  strikes: string[];
  state: 'ok' | 'suspended' | 'terminated';
  /** Suspension end (ISO), null when not suspended or terminated. */
  until: string | null;
  /** The statement behind the current state. */
  statementId: string | null;
  updatedAt: string;
}

/** Art. 23(2): notifiers whose notices were manifestly unfounded, by account or email. */
export interface NotifierStanding {
  /** `user:<id>` or `email:<sha256 of the lowercased address>`. */
  key: string;
  unfounded: number;
  pausedUntil: string | null;
  updatedAt: string;
}

/** What moderators did to a Space's distribution (kept until lifted by a reversal). */
export interface SpaceModeration {
  spaceId: string;
  hidden: boolean;
  label: string | null;
  /** ISO 3166-1 alpha-2 codes of countries whose listeners the edge refuses. */
  blockedCountries: string[];
  updatedAt: string;
}

/** A kept range of a recording (Clubhouse / X keep audio for review). */
export interface EvidenceRecord {
  id: string;
  caseId: string;
  spaceId: string;
  /** The range in the Space's programme, seconds, as reported. */
  startSec: number;
  endSec: number;
  /** Where the kept copy's first segment starts in the programme (segment-aligned, <= startSec). */
  copyStartSec: number;
  createdAt: string;
  /** Deleted after this (the complaint window of every decision that uses it, or the retention). */
  keepUntil: string;
  deletedAt: string | null;
}

/** A statement waiting for the Transparency Database (persistent outbox, retried with backoff). */
export interface TdbOutboxRecord {
  puid: string;
  /** The JSON payload, personal data already stripped. */
  payload: string;
  attempts: number;
  nextAttemptAt: string;
  state: 'pending' | 'sent' | 'failed';
  /** The database's answer (its uuid) or the last error. */
  result: string | null;
  createdAt: string;
}
