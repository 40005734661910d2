/**
 * The DSA Transparency Database's enumerations and limits, as its API documents them
 * (digital-services-act/transparency-database: resources/markdown/api-documentation.md,
 * app/Models/Statement.php, app/Services/GroupedSubmissionsService.php multi_rules(),
 * app/Services/EuropeanCountriesService.php). The categories are model.ts's CATEGORIES.
 */
import { CATEGORIES, EU_COUNTRIES } from './model.js';

export const TDB_CATEGORIES = CATEGORIES;

/** `decision_visibility` (an array of one or more). */
export const DECISION_VISIBILITIES = [
  'DECISION_VISIBILITY_CONTENT_REMOVED',
  'DECISION_VISIBILITY_CONTENT_DISABLED',
  'DECISION_VISIBILITY_CONTENT_DEMOTED',
  'DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED',
  'DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED',
  'DECISION_VISIBILITY_CONTENT_LABELLED',
  'DECISION_VISIBILITY_OTHER',
] as const;
export type DecisionVisibility = (typeof DECISION_VISIBILITIES)[number];

export const DECISION_MONETARIES = [
  'DECISION_MONETARY_SUSPENSION',
  'DECISION_MONETARY_TERMINATION',
  'DECISION_MONETARY_OTHER',
] as const;
export type DecisionMonetary = (typeof DECISION_MONETARIES)[number];

export const DECISION_PROVISIONS = [
  'DECISION_PROVISION_PARTIAL_SUSPENSION',
  'DECISION_PROVISION_TOTAL_SUSPENSION',
  'DECISION_PROVISION_PARTIAL_TERMINATION',
  'DECISION_PROVISION_TOTAL_TERMINATION',
] as const;
export type DecisionProvision = (typeof DECISION_PROVISIONS)[number];

export const DECISION_ACCOUNTS = ['DECISION_ACCOUNT_SUSPENDED', 'DECISION_ACCOUNT_TERMINATED'] as const;
export type DecisionAccount = (typeof DECISION_ACCOUNTS)[number];

export const ACCOUNT_TYPES = ['ACCOUNT_TYPE_BUSINESS', 'ACCOUNT_TYPE_PRIVATE'] as const;

export const DECISION_GROUNDS = [
  'DECISION_GROUND_ILLEGAL_CONTENT',
  'DECISION_GROUND_INCOMPATIBLE_CONTENT',
] as const;

/** `content_type` (an array of one or more). */
export const CONTENT_TYPES = [
  'CONTENT_TYPE_APP',
  'CONTENT_TYPE_AUDIO',
  'CONTENT_TYPE_IMAGE',
  'CONTENT_TYPE_PRODUCT',
  'CONTENT_TYPE_SYNTHETIC_MEDIA',
  'CONTENT_TYPE_TEXT',
  'CONTENT_TYPE_VIDEO',
  'CONTENT_TYPE_OTHER',
] as const;
export type ContentType = (typeof CONTENT_TYPES)[number];

export const SOURCE_TYPES = [
  'SOURCE_ARTICLE_16',
  'SOURCE_TRUSTED_FLAGGER',
  'SOURCE_TYPE_OTHER_NOTIFICATION',
  'SOURCE_VOLUNTARY',
] as const;

export const AUTOMATED_DETECTIONS = ['Yes', 'No'] as const;
/** `automated_decision` is an enumeration since API v1's 2023 revision (no longer Yes/No). */
export const AUTOMATED_DECISIONS = [
  'AUTOMATED_DECISION_FULLY',
  'AUTOMATED_DECISION_PARTIALLY',
  'AUTOMATED_DECISION_NOT_AUTOMATED',
] as const;
export type AutomatedDecision = (typeof AUTOMATED_DECISIONS)[number];

export const INCOMPATIBLE_CONTENT_ILLEGALS = ['Yes', 'No'] as const;

/** `territorial_scope`: EU member states and the EEA (Iceland, Liechtenstein, Norway). */
export const TDB_EU_COUNTRIES = EU_COUNTRIES;
export const TDB_EEA_EXTRA = ['IS', 'LI', 'NO'] as const;
export const TDB_TERRITORIES: readonly string[] = [...TDB_EU_COUNTRIES, ...TDB_EEA_EXTRA];

/** Text limits (characters). */
export const TDB_LIMITS = {
  decision_visibility_other: 500,
  decision_monetary_other: 500,
  decision_facts: 5000,
  decision_ground_reference_url: 500,
  illegal_content_legal_ground: 500,
  illegal_content_explanation: 2000,
  incompatible_content_ground: 500,
  incompatible_content_explanation: 2000,
  content_type_other: 500,
  category_specification_other: 500,
  source_identity: 500,
  puid: 500,
} as const;

/** The batch endpoint takes 1..100 statements per call. */
export const TDB_BATCH_MAX = 100;

/** `puid`: letters, digits, '-' and '_' only. */
export const TDB_PUID_RE = /^[a-zA-Z0-9_-]+$/;
/** Dates are `YYYY-MM-DD`; content_date >= 2000-01-01, application_date >= 2020-01-01, all <= 2038-01-01. */
export const TDB_DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
export const TDB_CONTENT_DATE_MIN = '2000-01-01';
export const TDB_APPLICATION_DATE_MIN = '2020-01-01';
export const TDB_DATE_MAX = '2038-01-01';
