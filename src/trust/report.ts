/**
 * Art. 15 DSA transparency report: the quantitative tables of Implementing Regulation (EU) 2024/2835,
 * computed from the trust event log alone (plus the statements of reasons for the automation flags).
 * Pure: no store, no clock (pass `now`), one pass over the events with Maps.
 *
 * ## The period
 * `[from, to)`: an event counts when `from <= at < to`. Events at or after `to` are ignored
 * completely, so the report for a closed period never changes when it is generated again later.
 * Events before `from` are used only as context (when a case's first notice came, when a complaint
 * was received), so pass the whole log, or at least every event of every case that has an event in
 * the period. `events` and `statements` may come in any order.
 *
 * ## What the event log must contain (the service that writes it follows this)
 * | kind                | `data`                                                                        |
 * |---------------------|-------------------------------------------------------------------------------|
 * | `report`            | `{ category, source: 'notice' \| 'trusted-flagger' }`: a notice received at `at` |
 * | `open`              | `{ category }`: a case opened on the moderator's own initiative                |
 * | `action`            | `{ statementId, restriction, category, source: CaseSource, automatedDetection: boolean, automatedDecision: boolean }` |
 * | `resolve`           | `{ unfounded: boolean }`: closed without action                                |
 * | `complaint`         | `{ complaintId, by }`: an Art. 20 complaint received                           |
 * | `complaint-decided` | `{ complaintId, upheld: boolean }`                                             |
 * | `reverse`           | `{ statementId, reverses }`: a restriction undone (after an upheld complaint)  |
 * | `notifier-paused`   | `{ key }`: Art. 23(2) suspension of a notifier                                 |
 * Other kinds (comment, assign, escalate, unfounded, evidence) are not used here.
 *
 * ## The tables
 * - **Notices** (Art. 15(1)(b)): every `report` event in the period is one notice, counted under its
 *   own `data.category` (an unknown category counts as STATEMENT_CATEGORY_OTHER_VIOLATION_TC, so the
 *   rows always add up to the total) and as a trusted flagger's when `data.source` is
 *   'trusted-flagger'. A notice is *acted on* when its case has an `action` at or after the case's
 *   first `report` and before `to`.
 *   Time to action, per case: the first `action` or `resolve` (any decision, "no action" included) at
 *   or after the case's first `report`, minus that first `report`. The medians take one value per
 *   case whose FIRST notice is in the period (further notices added to the same case do not repeat
 *   it), under that first notice's category; a case not decided before `to` has no value yet.
 *   A case whose notice came before the period and whose action falls inside it is not a notice of
 *   this period: its action still counts in the suspensions and automation tables.
 * - **Own-initiative actions** (Art. 15(1)(c)): `action` events in the period with
 *   `data.source === 'own-initiative'`, by `data.restriction` (every restriction listed, zeros
 *   included; an unknown restriction is not counted); *automated* = `data.automatedDecision`.
 * - **Complaints** (Art. 15(1)(d)): `total` = `complaint` events in the period; `upheld` / `rejected`
 *   = `complaint-decided` events in the period (a decision counts in the period it was taken, even for
 *   a complaint received earlier); `open` = complaints received in the period with no decision before
 *   `to`; the median hours from the `complaint` to its `complaint-decided`, over the decisions in the
 *   period (a decision whose complaint is not in the events given has no value); `reversals` =
 *   `reverse` events in the period.
 * - **Suspensions** (Art. 24(1)(b) and Art. 23): `action` events in the period (any source) with
 *   restriction suspend-account, terminate-account and warn-account (decisions, not distinct
 *   accounts), and `notifier-paused` events in the period.
 * - **Automation** (Art. 15(1)(c)(e)): statements of reasons whose `at` is in the period (reversal
 *   statements included: each is a statement of reasons), and how many say automated detection /
 *   automated decision.
 * Medians are in hours, rounded to 2 decimals (an even count takes the mean of the middle two);
 * null when there is no value.
 */
import { TribuneError } from '../errors.js';
import type { TransparencyReport } from './api-types.js';
import {
  CATEGORIES,
  CATEGORY_WORDS,
  RESTRICTIONS,
  type Category,
  type Restriction,
  type StatementRecord,
  type TrustEvent,
} from './model.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** The longest period a report may cover. */
export const MAX_PERIOD_DAYS = 400;

const CATEGORY_INDEX = new Map<string, number>(CATEGORIES.map((c, i) => [c, i]));
const OTHER_CATEGORY = CATEGORY_INDEX.get('STATEMENT_CATEGORY_OTHER_VIOLATION_TC')!;
const RESTRICTION_INDEX = new Map<string, number>(RESTRICTIONS.map((r, i) => [r, i]));

export interface ReportInput {
  /** Start of the period, inclusive (ISO). */
  from: string;
  /** End of the period, exclusive (ISO). */
  to: string;
  events: Iterable<TrustEvent>;
  statements: Iterable<StatementRecord>;
  /** The report's `generatedAt` (ISO); now by default. */
  now?: string;
}

/** What one pass keeps about a case that had a notice or a decision. */
interface CaseAcc {
  /** The first `report` (ms), NaN when none. */
  firstReportMs: number;
  firstReportCat: number;
  /** Notices in the period: category index, and +1000 when from a trusted flagger. */
  notices: number[] | null;
  /** `action` and `resolve` times (ms) before `to`. */
  decisions: number[] | null;
  actions: number[] | null;
}

interface ComplaintAcc {
  receivedMs: number;
  /** Decided before `to`. */
  decided: boolean;
}

const TF = 1000;

/** The Art. 15 tables for `[from, to)`; see the top of this file for every definition. */
export function buildReport(input: ReportInput): TransparencyReport {
  const fromMs = Date.parse(input.from);
  const toMs = Date.parse(input.to);
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || fromMs >= toMs) {
    throw new TribuneError('REPORT_RANGE_INVALID', `${input.from} .. ${input.to}`);
  }

  const cases = new Map<string, CaseAcc>();
  const caseAcc = (id: string): CaseAcc => {
    let c = cases.get(id);
    if (!c) {
      c = {
        firstReportMs: NaN,
        firstReportCat: OTHER_CATEGORY,
        notices: null,
        decisions: null,
        actions: null,
      };
      cases.set(id, c);
    }
    return c;
  };
  const complaints = new Map<string, ComplaintAcc>();
  /** Complaint decisions in the period: [complaintId, decided ms]. */
  const decidedInPeriod: [string, number][] = [];
  const complaintsReceived: string[] = [];

  const ownTotal = new Array<number>(RESTRICTIONS.length).fill(0);
  const ownAutomated = new Array<number>(RESTRICTIONS.length).fill(0);
  let upheld = 0;
  let rejected = 0;
  let reversals = 0;
  let suspended = 0;
  let terminated = 0;
  let warnings = 0;
  let notifiersPaused = 0;

  for (const e of input.events) {
    const at = Date.parse(e.at);
    if (!(at < toMs)) continue; // after the period (or unparseable): ignored
    const inPeriod = at >= fromMs;
    const d = e.data;
    switch (e.kind) {
      case 'report': {
        const c = caseAcc(e.caseId);
        const cat = CATEGORY_INDEX.get(d.category as string) ?? OTHER_CATEGORY;
        if (!(at >= c.firstReportMs)) {
          // NaN (no report yet) or earlier than the one seen: this is the first notice so far
          c.firstReportMs = at;
          c.firstReportCat = cat;
        }
        if (inPeriod) (c.notices ??= []).push(cat + (d.source === 'trusted-flagger' ? TF : 0));
        break;
      }
      case 'action': {
        const c = caseAcc(e.caseId);
        (c.decisions ??= []).push(at);
        (c.actions ??= []).push(at);
        if (!inPeriod) break;
        const restriction = d.restriction as Restriction;
        if (d.source === 'own-initiative') {
          const r = RESTRICTION_INDEX.get(restriction);
          if (r !== undefined) {
            ownTotal[r]++;
            if (d.automatedDecision === true) ownAutomated[r]++;
          }
        }
        if (restriction === 'suspend-account') suspended++;
        else if (restriction === 'terminate-account') terminated++;
        else if (restriction === 'warn-account') warnings++;
        break;
      }
      case 'resolve':
        (caseAcc(e.caseId).decisions ??= []).push(at);
        break;
      case 'complaint': {
        const id = String(d.complaintId);
        const k = complaints.get(id);
        if (k) k.receivedMs = at < k.receivedMs || Number.isNaN(k.receivedMs) ? at : k.receivedMs;
        else complaints.set(id, { receivedMs: at, decided: false });
        if (inPeriod) complaintsReceived.push(id);
        break;
      }
      case 'complaint-decided': {
        const id = String(d.complaintId);
        const k = complaints.get(id);
        if (k) k.decided = true;
        else complaints.set(id, { receivedMs: NaN, decided: true });
        if (inPeriod) {
          if (d.upheld === true) upheld++;
          else rejected++;
          decidedInPeriod.push([id, at]);
        }
        break;
      }
      case 'reverse':
        if (inPeriod) reversals++;
        break;
      case 'notifier-paused':
        if (inPeriod) notifiersPaused++;
        break;
      default:
        break;
    }
  }

  // ---- notices: counts per notice, times per case
  const nCat = CATEGORIES.length;
  const total = new Array<number>(nCat).fill(0);
  const trusted = new Array<number>(nCat).fill(0);
  const actedOn = new Array<number>(nCat).fill(0);
  const hoursByCat: number[][] = CATEGORIES.map(() => []);
  const hoursAll: number[] = [];
  for (const c of cases.values()) {
    if (!c.notices) continue; // no notice in the period
    const first = c.firstReportMs;
    let acted = false;
    if (c.actions) for (const a of c.actions) if (a >= first) acted = true;
    for (const n of c.notices) {
      const cat = n % TF;
      total[cat]++;
      if (n >= TF) trusted[cat]++;
      if (acted) actedOn[cat]++;
    }
    if (first >= fromMs && c.decisions) {
      let decided = Infinity;
      for (const t of c.decisions) if (t >= first && t < decided) decided = t;
      if (decided !== Infinity) {
        const h = (decided - first) / HOUR_MS;
        hoursByCat[c.firstReportCat]!.push(h);
        hoursAll.push(h);
      }
    }
  }

  // ---- complaints
  let open = 0;
  for (const id of complaintsReceived) if (!complaints.get(id)!.decided) open++;
  const complaintHours: number[] = [];
  for (const [id, at] of decidedInPeriod) {
    const received = complaints.get(id)!.receivedMs;
    if (Number.isFinite(received) && received <= at) complaintHours.push((at - received) / HOUR_MS);
  }

  // ---- automation
  let statements = 0;
  let automatedDetection = 0;
  let automatedDecision = 0;
  for (const s of input.statements) {
    const at = Date.parse(s.at);
    if (!(at >= fromMs && at < toMs)) continue;
    statements++;
    if (s.automatedDetection) automatedDetection++;
    if (s.automatedDecision) automatedDecision++;
  }

  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    generatedAt: input.now ?? new Date().toISOString(),
    notices: {
      byCategory: CATEGORIES.map((category: Category, i) => ({
        category,
        total: total[i]!,
        trustedFlagger: trusted[i]!,
        actedOn: actedOn[i]!,
        medianHoursToAction: median(hoursByCat[i]!),
      })),
      total: sum(total),
      trustedFlagger: sum(trusted),
      medianHoursToAction: median(hoursAll),
    },
    ownInitiative: {
      byRestriction: RESTRICTIONS.map((restriction, i) => ({
        restriction,
        total: ownTotal[i]!,
        automated: ownAutomated[i]!,
      })),
      total: sum(ownTotal),
    },
    complaints: {
      total: complaintsReceived.length,
      upheld,
      rejected,
      open,
      medianHoursToDecision: median(complaintHours),
      reversals,
    },
    suspensions: { accountsSuspended: suspended, accountsTerminated: terminated, notifiersPaused, warnings },
    automation: { statements, automatedDetection, automatedDecision },
  };
}

/** The median (mean of the middle two for an even count), rounded to 2 decimals; null when empty. */
export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = Float64Array.from(xs).sort();
  const mid = s.length >> 1;
  const m = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return Math.round(m * 100) / 100;
}

// ------------------------------------------------------------------------------------ CSV

/** One RFC 4180 field: quoted when it holds a comma, a quote, a line break or edge spaces. */
function field(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The report as one CSV document (RFC 4180, CRLF): a section per table, each a `# table: <name>`
 * line, a header row and its rows, sections separated by an empty line. Tables: period,
 * notices_by_category, notices_total, own_initiative_by_restriction, own_initiative_total,
 * complaints, suspensions, automation. An unknown median is an empty field.
 */
export function reportCsv(r: TransparencyReport): string {
  const sections: [string, string[], (string | number | null)[][]][] = [
    ['period', ['from', 'to', 'generated_at'], [[r.from, r.to, r.generatedAt]]],
    [
      'notices_by_category',
      ['category', 'description', 'notices', 'trusted_flagger_notices', 'acted_on', 'median_hours_to_action'],
      r.notices.byCategory.map((c) => [
        c.category,
        CATEGORY_WORDS[c.category] ?? '',
        c.total,
        c.trustedFlagger,
        c.actedOn,
        c.medianHoursToAction,
      ]),
    ],
    [
      'notices_total',
      ['notices', 'trusted_flagger_notices', 'median_hours_to_action'],
      [[r.notices.total, r.notices.trustedFlagger, r.notices.medianHoursToAction]],
    ],
    [
      'own_initiative_by_restriction',
      ['restriction', 'actions', 'automated'],
      r.ownInitiative.byRestriction.map((x) => [x.restriction, x.total, x.automated]),
    ],
    ['own_initiative_total', ['actions'], [[r.ownInitiative.total]]],
    [
      'complaints',
      ['received', 'upheld', 'rejected', 'open', 'median_hours_to_decision', 'reversals'],
      [
        [
          r.complaints.total,
          r.complaints.upheld,
          r.complaints.rejected,
          r.complaints.open,
          r.complaints.medianHoursToDecision,
          r.complaints.reversals,
        ],
      ],
    ],
    [
      'suspensions',
      ['accounts_suspended', 'accounts_terminated', 'notifiers_paused', 'warnings'],
      [
        [
          r.suspensions.accountsSuspended,
          r.suspensions.accountsTerminated,
          r.suspensions.notifiersPaused,
          r.suspensions.warnings,
        ],
      ],
    ],
    [
      'automation',
      ['statements', 'automated_detection', 'automated_decision'],
      [[r.automation.statements, r.automation.automatedDetection, r.automation.automatedDecision]],
    ],
  ];
  const lines: string[] = [];
  for (const [name, header, rows] of sections) {
    if (lines.length) lines.push('');
    lines.push(`# table: ${name}`, header.join(','));
    for (const row of rows) lines.push(row.map(field).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}

// ------------------------------------------------------------------------------------ the period

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function parseInstant(s: string): number {
  const t = s.trim();
  const m = DATE_RE.exec(t) ?? ISO_RE.exec(t);
  if (!m) throw new TribuneError('REPORT_RANGE_INVALID', `not a date: ${s}`);
  const [, y, mo, d] = m;
  // the calendar date must exist (Date.parse would roll 2025-02-30 over to March)
  const day = Date.UTC(Number(y), Number(mo) - 1, Number(d));
  if (new Date(day).toISOString().slice(0, 10) !== `${y}-${mo}-${d}`) {
    throw new TribuneError('REPORT_RANGE_INVALID', `not a date: ${s}`);
  }
  const ms = DATE_RE.test(t) ? day : Date.parse(t);
  if (!Number.isFinite(ms)) throw new TribuneError('REPORT_RANGE_INVALID', `not a date: ${s}`);
  return ms;
}

const addYearsUtc = (ms: number, years: number): number => {
  const d = new Date(ms);
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d.getTime();
};

/**
 * The report period `[from, to)` from the query: YYYY-MM-DD (midnight UTC) or ISO 8601 with a
 * time zone (`Z` or `±HH:MM`). Both missing: the current calendar year (UTC). Only `from`: one year
 * from it; only `to`: the year before it. Returns ISO strings. Throws REPORT_RANGE_INVALID when a
 * date is malformed, `from >= to`, or the period is over 400 days.
 */
export function parsePeriod(
  from?: string,
  to?: string,
  nowMs: number = Date.now(),
): { from: string; to: string } {
  const has = (s: string | undefined): s is string => s !== undefined && s !== '';
  let fromMs: number;
  let toMs: number;
  if (!has(from) && !has(to)) {
    const year = new Date(nowMs).getUTCFullYear();
    fromMs = Date.UTC(year, 0, 1);
    toMs = Date.UTC(year + 1, 0, 1);
  } else if (!has(to)) {
    fromMs = parseInstant(from!);
    toMs = addYearsUtc(fromMs, 1);
  } else if (!has(from)) {
    toMs = parseInstant(to);
    fromMs = addYearsUtc(toMs, -1);
  } else {
    fromMs = parseInstant(from);
    toMs = parseInstant(to);
  }
  if (fromMs >= toMs) throw new TribuneError('REPORT_RANGE_INVALID', 'from must be before to');
  if (toMs - fromMs > MAX_PERIOD_DAYS * DAY_MS) {
    throw new TribuneError('REPORT_RANGE_INVALID', `longer than ${MAX_PERIOD_DAYS} days`);
  }
  return { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() };
}
