import { describe, expect, it } from 'vitest';
import { TribuneError } from '../../src/errors.js';
import type { TransparencyReport } from '../../src/trust/api-types.js';
import type { EventKind, Restriction, StatementRecord, TrustEvent } from '../../src/trust/model.js';
import { buildReport, median, parsePeriod, reportCsv } from '../../src/trust/report.js';

// The period: January 2025, [from, to).
const FROM = '2025-01-01T00:00:00.000Z';
const TO = '2025-02-01T00:00:00.000Z';
const NOW = '2025-02-10T12:00:00.000Z';

const SPEECH = 'STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH';
const SCAMS = 'STATEMENT_CATEGORY_SCAMS_AND_FRAUD';
const MINORS = 'STATEMENT_CATEGORY_PROTECTION_OF_MINORS';
const VIOLENCE = 'STATEMENT_CATEGORY_VIOLENCE';
const OTHER = 'STATEMENT_CATEGORY_OTHER_VIOLATION_TC';

let seq = 0;
const ev = (caseId: string, kind: EventKind, at: string, data: Record<string, unknown> = {}): TrustEvent => ({
  seq: ++seq,
  caseId,
  kind,
  at: at.length === 16 ? `${at}:00.000Z` : at,
  actorId: null,
  data,
});
const report = (caseId: string, at: string, category: string, source = 'notice') =>
  ev(caseId, 'report', at, { category, source });
const action = (
  caseId: string,
  at: string,
  restriction: Restriction,
  source: string,
  automatedDecision = false,
  automatedDetection = false,
) =>
  ev(caseId, 'action', at, {
    statementId: `sor_${caseId}`,
    restriction,
    category: SPEECH,
    source,
    automatedDetection,
    automatedDecision,
  });

const statement = (at: string, automatedDetection: boolean, automatedDecision: boolean): StatementRecord =>
  ({ at: `${at}:00.000Z`, automatedDetection, automatedDecision }) as StatementRecord;

/**
 * Hand-computed fixture. Times are YYYY-MM-DDTHH:MM UTC.
 *
 * Notices (report events in January):
 *  c1 speech notice 01-10 00:00, action 02:00                 -> 2 h, acted
 *  c2 speech TRUSTED 01-11 00:00, resolve 05:00               -> 5 h, not acted (no action)
 *  c3 speech notice 01-12 00:00 + speech TRUSTED 01:00 (same case), suspend-account 10:00
 *                                                             -> one value 10 h; 2 notices acted
 *  c4 scams 01-20 00:00, action 01:00                         -> 1 h
 *  c5 scams 01-21 00:00, action 04:00                         -> 4 h
 *  c6 scams 01-31 23:00, action 02-01 00:00 (= to: outside)   -> not acted, no value
 *  c7 violence notice 2024-12-31 23:00 (before), terminate-account 01-01 00:00 (= from: inside)
 *                                                             -> not a notice of the period
 *  c8 minors TRUSTED 01-01 00:00 (= from), resolve 00:30      -> 0.5 h; 2nd report 02-01 (outside)
 *  c9 unknown category 01-05                                  -> counted as OTHER
 * speech: 4 notices, 2 trusted, 3 acted, median(2, 5, 10) = 5 (odd)
 * scams: 3 notices, 0 trusted, 2 acted, median(1, 4) = 2.5 (even)
 * all: 9 notices, 3 trusted, median(0.5, 1, 2, 4, 5, 10) = 3 (even)
 *
 * Own initiative (source own-initiative): o1 hide-space automated 01-03, o2 hide-space 01-04,
 *  o3 warn-account 01-06; o4 end-space 02-01 (outside), o5 label-space 2024-12-31 (outside)
 *  -> hide-space 2 (1 automated), warn-account 1, total 3
 * Suspensions: suspend 1 (c3), terminate 1 (c7), warnings 1 (o3), notifier-paused 01-15 (in) and
 *  02-02 (out) -> 1
 * Complaints: k0 received 2024-12-20, upheld 01-02 (312 h; decision in period, not received in it);
 *  k1 01-10 00:00 rejected 06:00 (6 h); k2 01-11 upheld 01-12 (24 h) + reverse 01-12;
 *  k3 01-30 decided 02-01 (outside: still open); k4 01-31 undecided (open); reverse 02-03 (outside)
 *  -> total 4, upheld 2, rejected 1, open 2, median(312, 6, 24) = 24 (odd), reversals 1
 * Statements: 01-03 det+dec, 01-10 none, 01-20 det, 01-01 00:00 none (in); 02-01 and 2024-12-31
 *  det+dec (out) -> 4, det 2, dec 1
 */
const events: TrustEvent[] = [
  report('c1', '2025-01-10T00:00', SPEECH),
  action('c1', '2025-01-10T02:00', 'remove-clip', 'notice'),
  report('c2', '2025-01-11T00:00', SPEECH, 'trusted-flagger'),
  ev('c2', 'resolve', '2025-01-11T05:00', { unfounded: false }),
  report('c3', '2025-01-12T00:00', SPEECH),
  report('c3', '2025-01-12T01:00', SPEECH, 'trusted-flagger'),
  ev('c3', 'comment', '2025-01-12T02:00', { text: 'x' }),
  action('c3', '2025-01-12T10:00', 'suspend-account', 'notice'),
  report('c4', '2025-01-20T00:00', SCAMS),
  action('c4', '2025-01-20T01:00', 'remove-replay', 'notice'),
  report('c5', '2025-01-21T00:00', SCAMS),
  action('c5', '2025-01-21T04:00', 'remove-replay', 'notice'),
  report('c6', '2025-01-31T23:00', SCAMS),
  action('c6', '2025-02-01T00:00', 'remove-clip', 'notice'),
  report('c7', '2024-12-31T23:00', VIOLENCE),
  action('c7', '2025-01-01T00:00', 'terminate-account', 'notice'),
  report('c8', '2025-01-01T00:00', MINORS, 'trusted-flagger'),
  ev('c8', 'resolve', '2025-01-01T00:30', { unfounded: true }),
  report('c8', '2025-02-01T00:00', MINORS),
  report('c9', '2025-01-05T00:00', 'STATEMENT_CATEGORY_BOGUS'),
  ev('o1', 'open', '2025-01-03T00:00', { category: SPEECH }),
  action('o1', '2025-01-03T00:10', 'hide-space', 'own-initiative', true, true),
  action('o2', '2025-01-04T00:00', 'hide-space', 'own-initiative'),
  action('o3', '2025-01-06T00:00', 'warn-account', 'own-initiative'),
  action('o4', '2025-02-01T00:00', 'end-space', 'own-initiative'),
  action('o5', '2024-12-31T00:00', 'label-space', 'own-initiative'),
  ev('c1', 'notifier-paused', '2025-01-15T00:00', { key: 'user:u1' }),
  ev('c2', 'notifier-paused', '2025-02-02T00:00', { key: 'user:u2' }),
  ev('c7', 'complaint', '2024-12-20T00:00', { complaintId: 'k0', by: 'affected' }),
  ev('c7', 'complaint-decided', '2025-01-02T00:00', { complaintId: 'k0', upheld: true }),
  ev('c1', 'complaint', '2025-01-10T00:00', { complaintId: 'k1', by: 'affected' }),
  ev('c1', 'complaint-decided', '2025-01-10T06:00', { complaintId: 'k1', upheld: false }),
  ev('c3', 'complaint', '2025-01-11T00:00', { complaintId: 'k2', by: 'affected' }),
  ev('c3', 'complaint-decided', '2025-01-12T00:00', { complaintId: 'k2', upheld: true }),
  ev('c3', 'reverse', '2025-01-12T00:00', { statementId: 'sor_r', reverses: 'sor_c3' }),
  ev('c4', 'complaint', '2025-01-30T00:00', { complaintId: 'k3', by: 'affected' }),
  ev('c4', 'complaint-decided', '2025-02-01T00:00', { complaintId: 'k3', upheld: false }),
  ev('c5', 'complaint', '2025-01-31T00:00', { complaintId: 'k4', by: 'notifier' }),
  ev('c5', 'reverse', '2025-02-03T00:00', { statementId: 'sor_r2', reverses: 'sor_c5' }),
];
const statements: StatementRecord[] = [
  statement('2025-01-03T00:10', true, true),
  statement('2025-01-10T02:00', false, false),
  statement('2025-01-20T01:00', true, false),
  statement('2025-01-01T00:00', false, false),
  statement('2025-02-01T00:00', true, true),
  statement('2024-12-31T00:00', true, true),
];

const row = (r: TransparencyReport, category: string) =>
  r.notices.byCategory.find((c) => c.category === category)!;
const own = (r: TransparencyReport, restriction: string) =>
  r.ownInitiative.byRestriction.find((c) => c.restriction === restriction)!;

describe('buildReport', () => {
  const r = buildReport({ from: FROM, to: TO, events, statements, now: NOW });

  it('echoes the period and the generation time', () => {
    expect(r.from).toBe(FROM);
    expect(r.to).toBe(TO);
    expect(r.generatedAt).toBe(NOW);
  });

  it('counts notices by category, trusted flaggers and acted on (per notice)', () => {
    expect(r.notices.byCategory.map((c) => c.category)).toHaveLength(16);
    expect(row(r, SPEECH)).toEqual({
      category: SPEECH,
      total: 4,
      trustedFlagger: 2,
      actedOn: 3,
      medianHoursToAction: 5,
    });
    expect(row(r, SCAMS)).toEqual({
      category: SCAMS,
      total: 3,
      trustedFlagger: 0,
      actedOn: 2,
      medianHoursToAction: 2.5,
    });
    expect(row(r, MINORS)).toEqual({
      category: MINORS,
      total: 1,
      trustedFlagger: 1,
      actedOn: 0,
      medianHoursToAction: 0.5,
    });
    expect(row(r, OTHER)).toEqual({
      category: OTHER,
      total: 1,
      trustedFlagger: 0,
      actedOn: 0,
      medianHoursToAction: null,
    });
    // c7: notice before the period, action inside it -> not a notice of this period
    expect(row(r, VIOLENCE)).toEqual({
      category: VIOLENCE,
      total: 0,
      trustedFlagger: 0,
      actedOn: 0,
      medianHoursToAction: null,
    });
    expect(r.notices.total).toBe(9);
    expect(r.notices.trustedFlagger).toBe(3);
    expect(r.notices.medianHoursToAction).toBe(3);
    expect(r.notices.byCategory.reduce((a, c) => a + c.total, 0)).toBe(r.notices.total);
  });

  it('counts own-initiative actions by restriction, with the automated ones', () => {
    expect(r.ownInitiative.byRestriction).toHaveLength(11);
    expect(own(r, 'hide-space')).toEqual({ restriction: 'hide-space', total: 2, automated: 1 });
    expect(own(r, 'warn-account')).toEqual({ restriction: 'warn-account', total: 1, automated: 0 });
    expect(own(r, 'end-space').total).toBe(0); // at `to`
    expect(own(r, 'label-space').total).toBe(0); // before `from`
    expect(own(r, 'remove-clip').total).toBe(0); // notice actions are not own-initiative
    expect(r.ownInitiative.total).toBe(3);
  });

  it('counts complaints: received, decided in the period, open, median time, reversals', () => {
    expect(r.complaints).toEqual({
      total: 4,
      upheld: 2,
      rejected: 1,
      open: 2,
      medianHoursToDecision: 24,
      reversals: 1,
    });
  });

  it('counts suspensions, terminations, warnings and paused notifiers', () => {
    expect(r.suspensions).toEqual({
      accountsSuspended: 1,
      accountsTerminated: 1,
      notifiersPaused: 1,
      warnings: 1,
    });
  });

  it('counts statements in the period and their automation flags', () => {
    expect(r.automation).toEqual({ statements: 4, automatedDetection: 2, automatedDecision: 1 });
  });

  it('does not depend on the order of the events or statements', () => {
    const shuffled = buildReport({
      from: FROM,
      to: TO,
      events: [...events].reverse(),
      statements: [...statements].reverse(),
      now: NOW,
    });
    expect(shuffled).toEqual(r);
  });

  it('reads iterables once (generators)', () => {
    function* gen<T>(xs: T[]) {
      yield* xs;
    }
    expect(
      buildReport({ from: FROM, to: TO, events: gen(events), statements: gen(statements), now: NOW }),
    ).toEqual(r);
  });

  it('gives zeros and null medians for an empty log', () => {
    const e = buildReport({ from: FROM, to: TO, events: [], statements: [], now: NOW });
    expect(e.notices.total).toBe(0);
    expect(e.notices.medianHoursToAction).toBeNull();
    expect(e.complaints.medianHoursToDecision).toBeNull();
    expect(e.ownInitiative.total).toBe(0);
    expect(e.automation).toEqual({ statements: 0, automatedDetection: 0, automatedDecision: 0 });
  });

  it('shifting the period moves the boundary events', () => {
    // February: c6's action, c8's second notice, o4 end-space, k3's decision (48 h after 01-30)
    const feb = buildReport({ from: TO, to: '2025-03-01T00:00:00.000Z', events, statements, now: NOW });
    expect(feb.notices.total).toBe(1); // c8's second report
    expect(row(feb, MINORS)).toEqual({
      category: MINORS,
      total: 1,
      trustedFlagger: 0,
      actedOn: 0,
      medianHoursToAction: null,
    });
    expect(row(feb, SCAMS).total).toBe(0);
    expect(feb.ownInitiative.total).toBe(1);
    expect(own(feb, 'end-space').total).toBe(1);
    expect(feb.complaints).toEqual({
      total: 0,
      upheld: 0,
      rejected: 1,
      open: 0,
      medianHoursToDecision: 48,
      reversals: 1,
    });
    expect(feb.suspensions.notifiersPaused).toBe(1);
    expect(feb.automation.statements).toBe(1);
  });

  it('rejects an invalid period', () => {
    expect(() => buildReport({ from: TO, to: FROM, events: [], statements: [] })).toThrow(TribuneError);
    expect(() => buildReport({ from: 'x', to: TO, events: [], statements: [] })).toThrow(/period/);
  });

  it('median: odd, even, empty, rounding', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
    expect(median([1 / 3])).toBe(0.33);
    expect(median([10, 2])).toBe(6); // numeric, not lexicographic, sort
  });
});

/** A minimal RFC 4180 reader (quoted fields, doubled quotes, CRLF). */
function readCsv(text: string): string[][] {
  const rows: string[][] = [];
  let rowBuf: string[] = [];
  let f = '';
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (q) {
      if (ch === '"' && text[i + 1] === '"') {
        f += '"';
        i++;
      } else if (ch === '"') q = false;
      else f += ch;
    } else if (ch === '"') q = true;
    else if (ch === ',') {
      rowBuf.push(f);
      f = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      rowBuf.push(f);
      rows.push(rowBuf);
      rowBuf = [];
      f = '';
      i++;
    } else f += ch;
  }
  return rows;
}

describe('reportCsv', () => {
  const r = buildReport({ from: FROM, to: TO, events, statements, now: NOW });
  const csv = reportCsv(r);

  it('has one section per table, in order, each with a header and rows of its width', () => {
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(csv.replace(/\r\n/g, '')).not.toMatch(/\n/);
    const names = [...csv.matchAll(/^# table: (\w+)\r$/gm)].map((m) => m[1]);
    expect(names).toEqual([
      'period',
      'notices_by_category',
      'notices_total',
      'own_initiative_by_restriction',
      'own_initiative_total',
      'complaints',
      'suspensions',
      'automation',
    ]);
    const sections = csv.split('\r\n\r\n').map((s) => readCsv(s.endsWith('\r\n') ? s : `${s}\r\n`));
    expect(sections).toHaveLength(8);
    const sizes = sections.map((s) => s.length - 2); // minus the "# table" line and the header
    expect(sizes).toEqual([1, 16, 1, 11, 1, 1, 1, 1]);
    for (const s of sections) for (const line of s.slice(2)) expect(line).toHaveLength(s[1]!.length);
  });

  it('writes the numbers (empty for an unknown median) and quotes a comma', () => {
    const lines = csv.split('\r\n');
    expect(lines).toContain('notices,trusted_flagger_notices,median_hours_to_action');
    expect(lines).toContain('9,3,3');
    expect(lines).toContain(
      'STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH,Illegal or harmful speech (e.g. hate speech),4,2,3,5',
    );
    expect(lines).toContain('STATEMENT_CATEGORY_SCAMS_AND_FRAUD,Scams and fraud,3,0,2,2.5');
    expect(lines).toContain(
      'STATEMENT_CATEGORY_OTHER_VIOLATION_TC,Other violation of the terms of service,1,0,0,',
    );
    expect(lines).toContain(
      'STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY,"Risk for public security (e.g. incitement, terrorism)",0,0,0,',
    );
    expect(lines).toContain('hide-space,2,1');
    expect(lines).toContain('received,upheld,rejected,open,median_hours_to_decision,reversals');
    expect(lines).toContain('4,2,1,2,24,1');
    expect(lines).toContain('1,1,1,1');
    expect(lines).toContain('4,2,1');
    expect(lines).toContain(`${FROM},${TO},${NOW}`);
  });

  it('doubles quotes inside a quoted field', () => {
    const out = reportCsv({ ...r, generatedAt: 'a,"b"' });
    expect(out).toContain(`${FROM},${TO},"a,""b"""\r\n`);
    expect(readCsv(out)[2]).toEqual([FROM, TO, 'a,"b"']);
  });
});

describe('parsePeriod', () => {
  const now = Date.UTC(2026, 5, 15, 12);
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return err instanceof TribuneError ? `${err.code} ${err.status}` : String(err);
    }
    return 'no error';
  };

  it('defaults to the current calendar year (UTC)', () => {
    expect(parsePeriod(undefined, undefined, now)).toEqual({
      from: '2026-01-01T00:00:00.000Z',
      to: '2027-01-01T00:00:00.000Z',
    });
    expect(parsePeriod('', '', now).from).toBe('2026-01-01T00:00:00.000Z');
  });

  it('accepts YYYY-MM-DD and ISO with a time zone', () => {
    expect(parsePeriod('2025-01-01', '2025-04-01', now)).toEqual({
      from: '2025-01-01T00:00:00.000Z',
      to: '2025-04-01T00:00:00.000Z',
    });
    expect(parsePeriod('2025-01-01T00:00:00+02:00', '2025-01-02T10:30Z', now)).toEqual({
      from: '2024-12-31T22:00:00.000Z',
      to: '2025-01-02T10:30:00.000Z',
    });
  });

  it('one bound only: a year from or to it', () => {
    expect(parsePeriod('2024-01-01', undefined, now)).toEqual({
      from: '2024-01-01T00:00:00.000Z',
      to: '2025-01-01T00:00:00.000Z', // 366 days (leap year)
    });
    expect(parsePeriod(undefined, '2025-07-01', now)).toEqual({
      from: '2024-07-01T00:00:00.000Z',
      to: '2025-07-01T00:00:00.000Z',
    });
  });

  it('allows 400 days, not 401', () => {
    expect(parsePeriod('2025-01-01', '2026-02-05', now).to).toBe('2026-02-05T00:00:00.000Z');
    expect(code(() => parsePeriod('2025-01-01', '2026-02-06', now))).toBe('REPORT_RANGE_INVALID 400');
    expect(code(() => parsePeriod('2025-01-01T00:00Z', '2026-02-05T00:00:00.001Z', now))).toBe(
      'REPORT_RANGE_INVALID 400',
    );
  });

  it('throws REPORT_RANGE_INVALID for malformed dates and from >= to', () => {
    for (const [f, t] of [
      ['garbage', '2025-02-01'],
      ['2025-02-30', '2025-03-01'], // no such day
      ['2025-13-01', '2025-12-01'],
      ['2025-1-1', '2025-02-01'],
      ['2025-01-01T00:00:00', '2025-02-01'], // no time zone: ambiguous
      ['2025-01-01', '20250201'],
      ['2025-01-01T25:00Z', '2025-02-01'],
      ['2025-02-01', '2025-02-01'], // from = to
      ['2025-03-01', '2025-02-01'], // from > to
    ]) {
      expect(
        code(() => parsePeriod(f, t, now)),
        `${f} .. ${t}`,
      ).toBe('REPORT_RANGE_INVALID 400');
    }
  });
});
