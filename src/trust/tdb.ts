/**
 * A statement of reasons as the DSA Transparency Database's API takes it (Art. 24(5)), without
 * personal data, and the API's validation rules (pure). Enumerations: tdb-enums.ts.
 *
 * Field by field (resources/markdown/api-documentation.md and GroupedSubmissionsService's rules of
 * digital-services-act/transparency-database):
 * - decision_visibility / decision_provision / decision_account: from the restriction (RESTRICTION_DECISIONS);
 *   end_date_*_restriction from `endsAt` for the timed ones;
 * - decision_ground and its grounds and explanations; incompatible_content_illegal when a terms
 *   decision also cites the law;
 * - content_type ['CONTENT_TYPE_AUDIO'] (Spaces, speakers, clips and replays are audio);
 * - category, territorial_scope (EU/EEA codes), content_date and application_date (YYYY-MM-DD, UTC);
 * - source_type, automated_detection (Yes/No), automated_decision (AUTOMATED_DECISION_*);
 * - puid: the statement's puid with every character the API refuses replaced by '_'.
 * Not sent: `url` and `automated_takedown` (no longer API fields), source_identity (the notifier),
 * account_type and content_language (unknown), and anything naming the affected user.
 */
import { CATEGORIES, type Restriction, type StatementRecord } from './model.js';
import {
  ACCOUNT_TYPES,
  AUTOMATED_DECISIONS,
  AUTOMATED_DETECTIONS,
  CONTENT_TYPES,
  DECISION_ACCOUNTS,
  DECISION_GROUNDS,
  DECISION_MONETARIES,
  DECISION_PROVISIONS,
  DECISION_VISIBILITIES,
  INCOMPATIBLE_CONTENT_ILLEGALS,
  SOURCE_TYPES,
  TDB_APPLICATION_DATE_MIN,
  TDB_CONTENT_DATE_MIN,
  TDB_DATE_MAX,
  TDB_DATE_RE,
  TDB_LIMITS,
  TDB_PUID_RE,
  TDB_TERRITORIES,
  type AutomatedDecision,
  type ContentType,
  type DecisionAccount,
  type DecisionProvision,
  type DecisionVisibility,
} from './tdb-enums.js';

export * from './tdb-enums.js';

export interface TdbPayload {
  decision_visibility?: DecisionVisibility[];
  decision_visibility_other?: string;
  end_date_visibility_restriction?: string;
  decision_monetary?: string;
  decision_monetary_other?: string;
  end_date_monetary_restriction?: string;
  decision_provision?: DecisionProvision;
  end_date_service_restriction?: string;
  decision_account?: DecisionAccount;
  end_date_account_restriction?: string;
  account_type?: string;
  decision_ground: StatementRecord['ground'];
  decision_ground_reference_url?: string;
  illegal_content_legal_ground?: string;
  illegal_content_explanation?: string;
  incompatible_content_ground?: string;
  incompatible_content_explanation?: string;
  incompatible_content_illegal?: 'Yes' | 'No';
  content_type: ContentType[];
  content_type_other?: string;
  category: StatementRecord['category'];
  territorial_scope: string[];
  content_language?: string;
  content_date: string;
  application_date: string;
  decision_facts: string;
  source_type: StatementRecord['sourceType'];
  source_identity?: string;
  automated_detection: 'Yes' | 'No';
  automated_decision: AutomatedDecision;
  puid: string;
}

interface Decision {
  visibility?: DecisionVisibility;
  visibilityOther?: string;
  provision?: DecisionProvision;
  account?: DecisionAccount;
}

/**
 * What each restriction is in the database's terms. Every restriction maps to at least one
 * decision_* field.
 *
 * warn-account: an Art. 23 warning (a strike) restricts nothing yet: the content behind it is
 * restricted by its own statement, and the account keeps working. DECISION_PROVISION_PARTIAL_SUSPENSION
 * would publish a suspension that did not happen, and neither decision_provision nor decision_account
 * has an "other" value; DECISION_VISIBILITY_OTHER is the only decision with a free text
 * (decision_visibility_other), so the warning is reported there, in words.
 */
export const RESTRICTION_DECISIONS: Record<Restriction, Decision> = {
  'mute-speaker': { visibility: 'DECISION_VISIBILITY_CONTENT_DISABLED' },
  'remove-speaker': { visibility: 'DECISION_VISIBILITY_CONTENT_REMOVED' },
  'end-space': { visibility: 'DECISION_VISIBILITY_CONTENT_DISABLED' },
  'hide-space': { visibility: 'DECISION_VISIBILITY_CONTENT_DEMOTED' },
  'label-space': { visibility: 'DECISION_VISIBILITY_CONTENT_LABELLED' },
  'geo-restrict-space': { visibility: 'DECISION_VISIBILITY_CONTENT_DISABLED' },
  'remove-clip': { visibility: 'DECISION_VISIBILITY_CONTENT_REMOVED' },
  'remove-replay': { visibility: 'DECISION_VISIBILITY_CONTENT_REMOVED' },
  'warn-account': {
    visibility: 'DECISION_VISIBILITY_OTHER',
    visibilityOther:
      'Formal warning to the account (a strike under the repeat-infringement policy); the account is not restricted yet',
  },
  'suspend-account': { account: 'DECISION_ACCOUNT_SUSPENDED' },
  'terminate-account': { account: 'DECISION_ACCOUNT_TERMINATED' },
};

const EMAIL_RE =
  /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+/g;
// an @handle: '@' not preceded by a word character (emails are gone by then)
const HANDLE_RE = /(^|[^\w@])@[A-Za-z0-9_]+(?:[.-][A-Za-z0-9_]+)*/g;

/**
 * Removes personal data from free text: email addresses, @handles, and the given identifiers
 * (the affected user's id...). Used on every text field sent to the database.
 */
export function stripPersonalData(
  text: string,
  identifiers: readonly (string | null | undefined)[] = [],
): string {
  let out = text.replace(EMAIL_RE, '[email removed]').replace(HANDLE_RE, '$1[user]');
  for (const id of identifiers) {
    if (id && id.length >= 3) out = out.split(id).join('[user]');
  }
  return out;
}

/** Cuts to the limit (in characters as the API counts them: code points), marking the cut. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return `${chars.slice(0, max - 1).join('')}…`;
}

/** `YYYY-MM-DD` (UTC) of an ISO time. */
export function tdbDate(iso: string): string {
  return new Date(iso).toISOString().slice(0, 10);
}

/** The puid as the API accepts it (letters, digits, '-', '_'; at most 500). */
export function tdbPuid(puid: string): string {
  return puid.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, TDB_LIMITS.puid);
}

export function toTdbPayload(s: StatementRecord, opts: { platformUrl: string }): TdbPayload {
  void opts; // the API has no field for a link to the content any more (see the header)
  const clean = (text: string, max: number): string =>
    truncate(stripPersonalData(text, [s.userId]).trim(), max);
  const d = RESTRICTION_DECISIONS[s.restriction];
  const end = s.endsAt ? tdbDate(s.endsAt) : undefined;

  const p: TdbPayload = {
    decision_ground: s.ground,
    content_type: ['CONTENT_TYPE_AUDIO'],
    category: s.category,
    territorial_scope: territorialScope(s),
    content_date: tdbDate(s.contentDate),
    application_date: tdbDate(s.at),
    decision_facts: clean(s.facts, TDB_LIMITS.decision_facts),
    source_type: s.sourceType,
    automated_detection: s.automatedDetection ? 'Yes' : 'No',
    // the model records whether the decision was automated, not how much: yes is "fully"
    automated_decision: s.automatedDecision ? 'AUTOMATED_DECISION_FULLY' : 'AUTOMATED_DECISION_NOT_AUTOMATED',
    puid: tdbPuid(s.puid),
  };
  if (d.visibility) {
    p.decision_visibility = [d.visibility];
    if (d.visibility === 'DECISION_VISIBILITY_OTHER') {
      p.decision_visibility_other = clean(
        d.visibilityOther ?? s.restriction,
        TDB_LIMITS.decision_visibility_other,
      );
    }
    if (end) p.end_date_visibility_restriction = end;
  }
  if (d.provision) {
    p.decision_provision = d.provision;
    if (end) p.end_date_service_restriction = end;
  }
  if (d.account) {
    p.decision_account = d.account;
    if (end) p.end_date_account_restriction = end;
  }
  if (s.ground === 'DECISION_GROUND_ILLEGAL_CONTENT') {
    p.illegal_content_legal_ground = clean(s.legalGround ?? '', TDB_LIMITS.illegal_content_legal_ground);
    p.illegal_content_explanation = clean(s.explanation, TDB_LIMITS.illegal_content_explanation);
  } else {
    p.incompatible_content_ground = clean(s.termsGround ?? '', TDB_LIMITS.incompatible_content_ground);
    p.incompatible_content_explanation = clean(s.explanation, TDB_LIMITS.incompatible_content_explanation);
    p.incompatible_content_illegal = s.legalGround ? 'Yes' : 'No';
  }
  return p;
}

function territorialScope(s: StatementRecord): string[] {
  const allowed = new Set(TDB_TERRITORIES);
  const codes = s.territorialScope.map((c) => c.toUpperCase()).filter((c) => allowed.has(c));
  return [...new Set(codes)].sort();
}

// ------------------------------------------------------------------------------------ validation

const TEXT_FIELDS = Object.keys(TDB_LIMITS) as (keyof typeof TDB_LIMITS)[];

/**
 * The API's rules (GroupedSubmissionsService::multi_rules and the documentation), as a list of
 * problems (empty: valid). Messages name the field first, like the API's `errors` keys.
 */
export function validateTdbPayload(input: unknown): string[] {
  const problems: string[] = [];
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    return ['payload: not a JSON object'];
  const p = input as Record<string, unknown>;
  const present = (k: string): boolean => p[k] !== undefined && p[k] !== null && p[k] !== '';
  const oneOf = (k: string, values: readonly string[], required: boolean): void => {
    if (!present(k)) {
      if (required) problems.push(`${k}: The ${words(k)} field is required.`);
      return;
    }
    if (typeof p[k] !== 'string' || !values.includes(p[k] as string))
      problems.push(`${k}: The selected ${words(k)} is invalid.`);
  };
  const arrayOf = (k: string, values: readonly string[], required: boolean): void => {
    if (!present(k) || (Array.isArray(p[k]) && (p[k] as unknown[]).length === 0)) {
      if (required) problems.push(`${k}: The ${words(k)} field is required.`);
      return;
    }
    const v = p[k];
    if (!Array.isArray(v)) return void problems.push(`${k}: The ${words(k)} field must be an array.`);
    if (v.some((x) => typeof x !== 'string' || !values.includes(x)))
      problems.push(`${k}: The selected ${words(k)} is invalid.`);
  };
  const date = (k: string, required: boolean, min?: string): void => {
    if (!present(k)) {
      if (required) problems.push(`${k}: The ${words(k)} field is required.`);
      return;
    }
    const v = p[k];
    if (typeof v !== 'string' || !TDB_DATE_RE.test(v) || !isRealDate(v)) {
      return void problems.push(`${k}: The ${words(k)} does not match the format YYYY-MM-DD.`);
    }
    if (min && v < min) problems.push(`${k}: The ${words(k)} must be a date after or equal to ${min}.`);
    if (v > TDB_DATE_MAX)
      problems.push(`${k}: The ${words(k)} must be a date before or equal to ${TDB_DATE_MAX}.`);
  };

  // the four decisions: at least one
  const decisions = ['decision_visibility', 'decision_monetary', 'decision_provision', 'decision_account'];
  const hasVisibility = Array.isArray(p.decision_visibility) && p.decision_visibility.length > 0;
  if (!hasVisibility && !decisions.slice(1).some(present)) {
    for (const k of decisions) {
      const others = decisions
        .filter((o) => o !== k)
        .map(words)
        .join(' / ');
      problems.push(`${k}: The ${words(k)} field is required when none of ${others} are present.`);
    }
  }
  arrayOf('decision_visibility', DECISION_VISIBILITIES, false);
  if (
    hasVisibility &&
    (p.decision_visibility as unknown[]).includes('DECISION_VISIBILITY_OTHER') &&
    !present('decision_visibility_other')
  ) {
    problems.push(
      'decision_visibility_other: The decision visibility other field is required when decision visibility is other.',
    );
  }
  oneOf('decision_monetary', DECISION_MONETARIES, false);
  if (p.decision_monetary === 'DECISION_MONETARY_OTHER' && !present('decision_monetary_other')) {
    problems.push(
      'decision_monetary_other: The decision monetary other field is required when decision monetary is other.',
    );
  }
  oneOf('decision_provision', DECISION_PROVISIONS, false);
  oneOf('decision_account', DECISION_ACCOUNTS, false);
  oneOf('account_type', ACCOUNT_TYPES, false);

  oneOf('decision_ground', DECISION_GROUNDS, true);
  if (p.decision_ground === 'DECISION_GROUND_ILLEGAL_CONTENT') {
    for (const k of ['illegal_content_legal_ground', 'illegal_content_explanation']) {
      if (!present(k))
        problems.push(`${k}: The ${words(k)} field is required when decision ground is illegal content.`);
    }
  }
  if (p.decision_ground === 'DECISION_GROUND_INCOMPATIBLE_CONTENT') {
    for (const k of ['incompatible_content_ground', 'incompatible_content_explanation']) {
      if (!present(k))
        problems.push(
          `${k}: The ${words(k)} field is required when decision ground is incompatible content.`,
        );
    }
    oneOf('incompatible_content_illegal', INCOMPATIBLE_CONTENT_ILLEGALS, false);
  }
  if (
    present('decision_ground_reference_url') &&
    !/^https?:\/\/\S+$/.test(String(p.decision_ground_reference_url))
  ) {
    problems.push(
      'decision_ground_reference_url: The decision ground reference url field must be a valid URL.',
    );
  }

  arrayOf('content_type', CONTENT_TYPES, true);
  if (
    Array.isArray(p.content_type) &&
    p.content_type.includes('CONTENT_TYPE_OTHER') &&
    !present('content_type_other')
  ) {
    problems.push('content_type_other: The content type other field is required when content is other.');
  }
  oneOf('category', CATEGORIES, true);
  arrayOf('category_addition', CATEGORIES, false);
  arrayOf('territorial_scope', TDB_TERRITORIES, true);

  date('content_date', true, TDB_CONTENT_DATE_MIN);
  date('application_date', true, TDB_APPLICATION_DATE_MIN);
  for (const k of ['account', 'monetary', 'service', 'visibility']) {
    const field = `end_date_${k}_restriction`;
    date(field, false);
    if (present(field) && typeof p.application_date === 'string' && String(p[field]) < p.application_date) {
      problems.push(`${field}: The ${words(field)} must be a date after or equal to application date.`);
    }
  }

  if (!present('decision_facts')) problems.push('decision_facts: The decision facts field is required.');
  oneOf('source_type', SOURCE_TYPES, true);
  oneOf('automated_detection', AUTOMATED_DETECTIONS, true);
  oneOf('automated_decision', AUTOMATED_DECISIONS, true);

  if (!present('puid')) problems.push('puid: The puid field is required.');
  else if (typeof p.puid !== 'string' || !TDB_PUID_RE.test(p.puid))
    problems.push('puid: The puid format is invalid.');

  for (const k of TEXT_FIELDS) {
    const v = p[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') problems.push(`${k}: The ${words(k)} field must be a string.`);
    else if (Array.from(v).length > TDB_LIMITS[k]) {
      problems.push(`${k}: The ${words(k)} field must not be greater than ${TDB_LIMITS[k]} characters.`);
    }
  }
  return problems;
}

/** Problems grouped by field, the shape of the API's `errors` object. */
export function problemsByField(problems: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const pr of problems) {
    const i = pr.indexOf(': ');
    const k = i > 0 ? pr.slice(0, i) : 'payload';
    (out[k] ??= []).push(i > 0 ? pr.slice(i + 2) : pr);
  }
  return out;
}

function words(field: string): string {
  return field.replace(/_/g, ' ');
}

function isRealDate(ymd: string): boolean {
  const d = new Date(`${ymd}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === ymd;
}
