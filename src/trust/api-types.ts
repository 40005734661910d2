/**
 * The trust-and-safety HTTP API's shapes, shared by the server (src/trust/routes.ts) and the web
 * app (src/web/trust/*). All routes are under /api/trust; errors are Tribune's `{error:{code,message}}`.
 *
 * Anyone (logged out too):
 * - `POST /notices` NoticeBody → 201 Receipt (Art. 16: receipt with the case id and a follow link)
 * - `GET  /cases/:id?key=` → CaseFollowView (the notifier by key or account, or the affected user)
 * - `POST /follow` `{ caseId, email }` → CaseFollowView (follow by the email address given)
 * - `POST /cases/:id/complaints` ComplaintBody → 201 ComplaintView (Art. 20: affected user, or the
 *   notifier when nothing was done; 6 months from the decision)
 * - `POST /statements/verify` (JSON Lines body, the export) → VerifyResult
 * Signed in:
 * - `GET  /me` → TrustMe (my roles, decisions about me, my notices)
 * Moderators (and admins; trusted flaggers only send notices, which get priority):
 * - `GET  /queue?status=open|escalated|closed` → CaseSummary[] (priority order)
 * - `GET  /cases/:id/full` → ModeratorCaseView
 * - `POST /cases` OwnInitiativeBody → 201 CaseSummary
 * - `POST /cases/:id/assign` `{ userId: string | null }`, `/escalate`, `/notes` NoteBody
 * - `POST /cases/:id/actions` ActionBody → 201 StatementView (the restriction applies at once)
 * - `POST /cases/:id/resolve` `{ text, unfounded }` (no action; Art. 23(2) counts unfounded notices)
 * - `POST /complaints/:id/decide` `{ uphold, text }` (a human other than the one who decided)
 * - `GET  /evidence/:id/clip.m3u8` (+ init.mp4, seg/N.m4s): the kept range
 * - `GET  /report?from=&to=` → TransparencyReport; `GET /report.csv?from=&to=` (Art. 15 templates)
 * Admins (the config's operators, and accounts granted 'admin'):
 * - `GET|POST|DELETE /roles` RoleBody; `GET /statements/export` (JSON Lines); `GET /tdb` TdbStatus
 */
import type {
  CaseOutcome,
  CaseSource,
  CaseStatus,
  Category,
  ComplaintState,
  DecisionGround,
  EventKind,
  Restriction,
  SubjectKind,
  TrustRole,
} from './model.js';

export interface SubjectBody {
  kind: SubjectKind;
  spaceId?: string;
  userId?: string;
  clipId?: string;
  /** A range of the programme (seconds into the recording)... */
  startSec?: number;
  endSec?: number;
  /** ...or the last N seconds of a live Space (10..300). */
  lastSec?: number;
}

export interface NoticeBody {
  subject: SubjectBody;
  category: Category;
  /** Art. 16(2)(a): why the content is illegal or against the terms (10..4000 characters). */
  explanation: string;
  /** Art. 16(2)(c): required unless the category is protection of minors. */
  name?: string;
  email?: string;
  /** Art. 16(2)(d): must be true. */
  goodFaith: boolean;
}

export interface Receipt {
  caseId: string;
  receivedAt: string;
  /** The follow link (carries the secret key) for logged-out notifiers; also for signed-in ones. */
  followUrl: string;
  followKey: string;
  /** The range kept as evidence, when audio was reported. */
  evidence: { startSec: number; endSec: number } | null;
}

export interface UserRefView {
  id: string;
  handle: string;
  displayName: string;
}

export interface SubjectView {
  kind: SubjectKind;
  spaceId: string | null;
  spaceTitle: string | null;
  spaceState: 'scheduled' | 'live' | 'ended' | 'deleted' | null;
  user: UserRefView | null;
  clipId: string | null;
  startSec: number | null;
  endSec: number | null;
}

/** A statement of reasons as the affected user and the notifier see it (Art. 17(3)). */
export interface StatementView {
  id: string;
  caseId: string;
  at: string;
  restriction: Restriction;
  /** In words: "You were removed from the Space ..." */
  summary: string;
  reverses: string | null;
  territorialScope: string[];
  endsAt: string | null;
  countries: string[];
  label: string | null;
  facts: string;
  sourceType: 'SOURCE_ARTICLE_16' | 'SOURCE_TRUSTED_FLAGGER' | 'SOURCE_VOLUNTARY';
  automatedDetection: boolean;
  automatedDecision: boolean;
  ground: DecisionGround;
  legalGround: string | null;
  termsGround: string | null;
  explanation: string;
  category: Category;
  redress: string;
  complaintUntil: string;
  /** Whether the viewer can complain about it now. */
  canComplain: boolean;
}

export interface NoteView {
  at: string;
  text: string;
  visibility: 'internal' | 'public';
  author: UserRefView | null;
}

export interface ComplaintView {
  id: string;
  caseId: string;
  statementId: string | null;
  by: 'affected' | 'notifier';
  text: string;
  createdAt: string;
  state: ComplaintState;
  decidedAt: string | null;
  decisionText: string | null;
}

/** What a notifier (or the affected user) sees of a case: no internal notes, no notifier identity. */
export interface CaseFollowView {
  caseId: string;
  createdAt: string;
  status: CaseStatus;
  outcome: CaseOutcome;
  category: Category;
  subject: SubjectView;
  /** The viewer's relation to the case. */
  viewer: 'notifier' | 'affected';
  statements: StatementView[];
  publicNotes: NoteView[];
  complaints: ComplaintView[];
  /** A notifier can complain of inaction (no restriction) until this time; null otherwise. */
  canComplainUntil: string | null;
}

export interface CaseSummary {
  id: string;
  createdAt: string;
  status: CaseStatus;
  priority: number;
  source: CaseSource;
  category: Category;
  subject: SubjectView;
  assignee: UserRefView | null;
  outcome: CaseOutcome;
  /** Open complaints on the case. */
  openComplaints: number;
}

export interface EvidenceView {
  id: string;
  startSec: number;
  endSec: number;
  /** Where the kept copy starts in the programme: the reported range is startSec-copyStartSec in. */
  copyStartSec: number;
  keepUntil: string;
  /** The kept copy's playlist (moderators only). */
  url: string;
}

export interface EventView {
  seq: number;
  kind: EventKind;
  at: string;
  actor: UserRefView | null;
  data: Record<string, unknown>;
}

export interface ModeratorCaseView extends CaseSummary {
  notice: {
    explanation: string;
    name: string | null;
    email: string | null;
    notifier: UserRefView | null;
    trustedFlagger: string | null;
  } | null;
  affected: UserRefView | null;
  events: EventView[];
  notes: NoteView[];
  evidence: EvidenceView[];
  statements: StatementView[];
  complaints: ComplaintView[];
  /** Live Space: the moderator can listen (the web app's player) and act on it. */
  live: boolean;
}

export interface OwnInitiativeBody {
  subject: SubjectBody;
  category: Category;
}

export interface NoteBody {
  text: string;
  visibility: 'internal' | 'public';
}

export interface ActionBody {
  restriction: Restriction;
  ground: DecisionGround;
  /** Required with DECISION_GROUND_ILLEGAL_CONTENT (e.g. "§130 StGB"). */
  legalGround?: string;
  /** Required with DECISION_GROUND_INCOMPATIBLE_CONTENT (e.g. "Terms §4.2 hate speech"). */
  termsGround?: string;
  explanation: string;
  /** Extra facts; the notice and the evidence range are cited automatically. */
  facts?: string;
  /** suspend-account: hours (1..8760); others: none (indefinite) unless given. */
  durationHours?: number;
  /** geo-restrict-space: ISO 3166-1 alpha-2 codes (1..50). */
  countries?: string[];
  /** label-space: the label shown to listeners (3..120 characters). */
  label?: string;
}

export interface ComplaintBody {
  text: string;
  /** The restriction complained about (the affected user); omitted by a notifier (inaction). */
  statementId?: string;
  /** A logged-out notifier's follow key... */
  key?: string;
  /** ...or the email address their notice gave (with the case number, as on /cases). */
  email?: string;
}

export interface TrustMe {
  roles: TrustRole[];
  organisation: string | null;
  /** Restrictions about me, newest first. */
  decisions: StatementView[];
  /** Notices I sent while signed in, newest first. */
  notices: { caseId: string; createdAt: string; status: CaseStatus; outcome: CaseOutcome }[];
  account: { state: 'ok' | 'suspended' | 'terminated'; until: string | null; strikes: number };
}

export interface RoleBody {
  handle: string;
  role: TrustRole;
  organisation?: string;
}

export interface VerifyResult {
  ok: boolean;
  count: number;
  /** The first statement that does not verify (1-based line of the export) and why. */
  failure: { line: number; seq: number | null; reason: string } | null;
  /** The last hash (to compare with one kept elsewhere). */
  head: string;
}

export interface TdbStatus {
  mode: 'off' | 'sandbox' | 'production';
  endpoint: string | null;
  pending: number;
  sent: number;
  failed: number;
  lastError: string | null;
}

/** Art. 15 / Implementing Regulation (EU) 2024/2835 quantitative tables for a period. */
export interface TransparencyReport {
  from: string;
  to: string;
  generatedAt: string;
  notices: {
    byCategory: {
      category: Category;
      total: number;
      trustedFlagger: number;
      actedOn: number;
      medianHoursToAction: number | null;
    }[];
    total: number;
    trustedFlagger: number;
    medianHoursToAction: number | null;
  };
  ownInitiative: {
    byRestriction: { restriction: Restriction; total: number; automated: number }[];
    total: number;
  };
  complaints: {
    total: number;
    upheld: number;
    rejected: number;
    open: number;
    medianHoursToDecision: number | null;
    reversals: number;
  };
  suspensions: {
    accountsSuspended: number;
    accountsTerminated: number;
    notifiersPaused: number;
    warnings: number;
  };
  automation: { statements: number; automatedDetection: number; automatedDecision: number };
}
