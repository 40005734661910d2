import { describe, expect, it } from 'vitest';
import { CATEGORIES, EU_COUNTRIES, RESTRICTIONS, type SourceType } from '../../src/trust/model.js';
import {
  AUTOMATED_DECISIONS,
  CONTENT_TYPES,
  DECISION_ACCOUNTS,
  DECISION_GROUNDS,
  DECISION_PROVISIONS,
  DECISION_VISIBILITIES,
  RESTRICTION_DECISIONS,
  SOURCE_TYPES,
  TDB_CATEGORIES,
  TDB_LIMITS,
  stripPersonalData,
  tdbPuid,
  toTdbPayload,
  validateTdbPayload,
  type TdbPayload,
} from '../../src/trust/tdb.js';
import { sampleStatement } from '../support/fake-tdb.js';

const opts = { platformUrl: 'https://tribune.example' };

describe('TDB enumerations', () => {
  it('has the 16 documented categories, and model.ts uses them', () => {
    expect(CATEGORIES).toHaveLength(16);
    expect(TDB_CATEGORIES).toBe(CATEGORIES);
    expect(CATEGORIES).toContain('STATEMENT_CATEGORY_CYBER_VIOLENCE');
    expect(CATEGORIES).toContain('STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE');
    expect(CATEGORIES).not.toContain('STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE');
    expect(CONTENT_TYPES).toContain('CONTENT_TYPE_AUDIO');
    expect(DECISION_GROUNDS).toHaveLength(2);
    expect(AUTOMATED_DECISIONS).toHaveLength(3);
  });
});

describe('toTdbPayload', () => {
  it.each(RESTRICTIONS)('%s maps to at least one decision and validates', (restriction) => {
    const s = sampleStatement(1, {
      restriction,
      endsAt: restriction === 'suspend-account' ? '2026-03-09T10:15:00.000Z' : null,
      territorialScope: restriction === 'geo-restrict-space' ? ['DE', 'AT'] : [...EU_COUNTRIES],
      countries: restriction === 'geo-restrict-space' ? ['DE', 'AT'] : [],
      label: restriction === 'label-space' ? 'Contains graphic descriptions' : null,
    });
    const p = toTdbPayload(s, opts);
    const decisions = [
      p.decision_visibility?.length,
      p.decision_provision,
      p.decision_account,
      p.decision_monetary,
    ];
    expect(decisions.some(Boolean)).toBe(true);
    expect(RESTRICTION_DECISIONS[restriction]).toBeDefined();
    for (const v of p.decision_visibility ?? []) expect(DECISION_VISIBILITIES).toContain(v);
    if (p.decision_provision) expect(DECISION_PROVISIONS).toContain(p.decision_provision);
    if (p.decision_account) expect(DECISION_ACCOUNTS).toContain(p.decision_account);
    expect(validateTdbPayload(p)).toEqual([]);
  });

  it('maps each restriction to the documented decision', () => {
    const m = (r: (typeof RESTRICTIONS)[number]): TdbPayload =>
      toTdbPayload(sampleStatement(1, { restriction: r }), opts);
    expect(m('remove-speaker').decision_visibility).toEqual(['DECISION_VISIBILITY_CONTENT_REMOVED']);
    expect(m('remove-clip').decision_visibility).toEqual(['DECISION_VISIBILITY_CONTENT_REMOVED']);
    expect(m('remove-replay').decision_visibility).toEqual(['DECISION_VISIBILITY_CONTENT_REMOVED']);
    expect(m('mute-speaker').decision_visibility).toEqual(['DECISION_VISIBILITY_CONTENT_DISABLED']);
    expect(m('end-space').decision_visibility).toEqual(['DECISION_VISIBILITY_CONTENT_DISABLED']);
    expect(m('geo-restrict-space').decision_visibility).toEqual(['DECISION_VISIBILITY_CONTENT_DISABLED']);
    expect(m('hide-space').decision_visibility).toEqual(['DECISION_VISIBILITY_CONTENT_DEMOTED']);
    expect(m('label-space').decision_visibility).toEqual(['DECISION_VISIBILITY_CONTENT_LABELLED']);
    const warn = m('warn-account');
    expect(warn.decision_visibility).toEqual(['DECISION_VISIBILITY_OTHER']);
    expect(warn.decision_visibility_other).toMatch(/warning/i);
    expect(warn.decision_account).toBeUndefined();
    expect(m('suspend-account').decision_account).toBe('DECISION_ACCOUNT_SUSPENDED');
    expect(m('terminate-account').decision_account).toBe('DECISION_ACCOUNT_TERMINATED');
  });

  it('fills the fixed and date fields in the documented formats', () => {
    const p = toTdbPayload(
      sampleStatement(1, {
        restriction: 'suspend-account',
        endsAt: '2026-03-09T23:30:00.000Z',
        at: '2026-03-02T23:59:59.000Z',
      }),
      opts,
    );
    expect(p.content_type).toEqual(['CONTENT_TYPE_AUDIO']);
    expect(p.content_date).toBe('2026-03-01');
    expect(p.application_date).toBe('2026-03-02');
    expect(p.end_date_account_restriction).toBe('2026-03-09');
    expect(p.end_date_visibility_restriction).toBeUndefined();
    expect(p.territorial_scope).toEqual(['AT', 'DE', 'FR']);
    expect(p.puid).toBe('case_abc1_1'); // '.' is not allowed in a puid
    expect(tdbPuid('case_x.2')).toBe('case_x_2');
    expect(p).not.toHaveProperty('url');
    expect(p).not.toHaveProperty('automated_takedown');

    const timedLabel = toTdbPayload(
      sampleStatement(2, { restriction: 'hide-space', endsAt: '2026-04-01T00:00:00.000Z' }),
      opts,
    );
    expect(timedLabel.end_date_visibility_restriction).toBe('2026-04-01');
  });

  it.each(CATEGORIES)('category %s round-trips', (category) => {
    const p = toTdbPayload(sampleStatement(1, { category }), opts);
    expect(p.category).toBe(category);
    expect(validateTdbPayload(p)).toEqual([]);
  });

  it('both grounds map to their fields', () => {
    const illegal = toTdbPayload(
      sampleStatement(1, {
        ground: 'DECISION_GROUND_ILLEGAL_CONTENT',
        legalGround: '§130 StGB',
        termsGround: null,
      }),
      opts,
    );
    expect(illegal).toMatchObject({
      decision_ground: 'DECISION_GROUND_ILLEGAL_CONTENT',
      illegal_content_legal_ground: '§130 StGB',
      illegal_content_explanation: 'The clip repeats threats against another speaker.',
    });
    expect(illegal.incompatible_content_ground).toBeUndefined();
    expect(validateTdbPayload(illegal)).toEqual([]);

    const terms = toTdbPayload(sampleStatement(1), opts);
    expect(terms).toMatchObject({
      decision_ground: 'DECISION_GROUND_INCOMPATIBLE_CONTENT',
      incompatible_content_ground: 'Community rules §4.2 (harassment)',
      incompatible_content_explanation: 'The clip repeats threats against another speaker.',
      incompatible_content_illegal: 'No',
    });
    expect(terms.illegal_content_legal_ground).toBeUndefined();
    const both = toTdbPayload(sampleStatement(1, { legalGround: '§185 StGB' }), opts);
    expect(both.incompatible_content_illegal).toBe('Yes');
    expect(validateTdbPayload(both)).toEqual([]);
  });

  it.each(['SOURCE_ARTICLE_16', 'SOURCE_TRUSTED_FLAGGER', 'SOURCE_VOLUNTARY'] as SourceType[])(
    'source type %s round-trips',
    (sourceType) => {
      const p = toTdbPayload(sampleStatement(1, { sourceType }), opts);
      expect(p.source_type).toBe(sourceType);
      expect(SOURCE_TYPES).toContain(p.source_type);
      expect(p).not.toHaveProperty('source_identity');
      expect(validateTdbPayload(p)).toEqual([]);
    },
  );

  it.each([
    [false, false, 'No', 'AUTOMATED_DECISION_NOT_AUTOMATED'],
    [true, false, 'Yes', 'AUTOMATED_DECISION_NOT_AUTOMATED'],
    [true, true, 'Yes', 'AUTOMATED_DECISION_FULLY'],
    [false, true, 'No', 'AUTOMATED_DECISION_FULLY'],
  ] as const)('automated detection %s / decision %s', (automatedDetection, automatedDecision, det, dec) => {
    const p = toTdbPayload(sampleStatement(1, { automatedDetection, automatedDecision }), opts);
    expect(p.automated_detection).toBe(det);
    expect(p.automated_decision).toBe(dec);
    expect(validateTdbPayload(p)).toEqual([]);
  });

  it('sends no personal data: emails, handles and the user id are stripped everywhere', () => {
    const userId = 'usr_7hq2mz';
    const s = sampleStatement(1, {
      userId,
      facts: `Reported by jane.doe+dsa@example.org about @loud_mouth (account ${userId}); @loud_mouth.`,
      explanation: `Speaker @loud_mouth threatened @Other.Person; contact him at bob@mail.example.com.`,
      termsGround: `Rules §4 as explained to ${userId}`,
    });
    const p = toTdbPayload(s, opts);
    const json = JSON.stringify(p);
    for (const bad of ['jane.doe', 'example.org', 'loud_mouth', 'Other.Person', 'bob@', userId, '@']) {
      expect(json).not.toContain(bad);
    }
    expect(p.decision_facts).toBe('Reported by [email removed] about [user] (account [user]); [user].');
    expect(validateTdbPayload(p)).toEqual([]);
  });

  it('stripPersonalData keeps ordinary text, legal references and prices', () => {
    expect(stripPersonalData('§130 StGB, Terms 4.2, costs €5 @ 3pm')).toBe(
      '§130 StGB, Terms 4.2, costs €5 @ 3pm',
    );
    expect(stripPersonalData('(@ana) and x@y')).toBe('([user]) and x@y');
    expect(stripPersonalData('mail a.b@c.de.')).toBe('mail [email removed].');
  });

  it('truncates text fields to the documented limits', () => {
    const long = 'é'.repeat(9000);
    const p = toTdbPayload(
      sampleStatement(1, { facts: long, explanation: long, termsGround: long, legalGround: long }),
      opts,
    );
    expect(Array.from(p.decision_facts)).toHaveLength(TDB_LIMITS.decision_facts);
    expect(Array.from(p.incompatible_content_explanation ?? '')).toHaveLength(2000);
    expect(Array.from(p.incompatible_content_ground ?? '')).toHaveLength(500);
    expect(validateTdbPayload(p)).toEqual([]);
    const illegal = toTdbPayload(
      sampleStatement(1, { ground: 'DECISION_GROUND_ILLEGAL_CONTENT', explanation: long, legalGround: long }),
      opts,
    );
    expect(Array.from(illegal.illegal_content_legal_ground ?? '')).toHaveLength(500);
    expect(Array.from(illegal.illegal_content_explanation ?? '')).toHaveLength(2000);
    expect(validateTdbPayload(illegal)).toEqual([]);
  });
});

describe('validateTdbPayload', () => {
  const good = (): Record<string, unknown> => ({ ...toTdbPayload(sampleStatement(1), opts) });
  const fields = (problems: string[]): string[] => problems.map((p) => p.slice(0, p.indexOf(':')));

  it('requires the documented fields', () => {
    const problems = validateTdbPayload({});
    expect(new Set(fields(problems))).toEqual(
      new Set([
        'decision_visibility',
        'decision_monetary',
        'decision_provision',
        'decision_account',
        'decision_ground',
        'content_type',
        'category',
        'territorial_scope',
        'content_date',
        'application_date',
        'decision_facts',
        'source_type',
        'automated_detection',
        'automated_decision',
        'puid',
      ]),
    );
    expect(validateTdbPayload(null)).toEqual(['payload: not a JSON object']);
  });

  it('checks enumerations, conditional fields, dates, countries, puid and lengths', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ category: 'STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE' }, 'category'],
      [{ content_type: ['CONTENT_TYPE_PODCAST'] }, 'content_type'],
      [{ content_type: 'CONTENT_TYPE_AUDIO' }, 'content_type'],
      [{ content_type: ['CONTENT_TYPE_OTHER'] }, 'content_type_other'],
      [{ decision_visibility: ['DECISION_VISIBILITY_OTHER'] }, 'decision_visibility_other'],
      [{ decision_visibility: ['CONTENT_REMOVED'] }, 'decision_visibility'],
      [{ decision_account: 'ACCOUNT_SUSPENDED' }, 'decision_account'],
      [{ decision_monetary: 'DECISION_MONETARY_OTHER' }, 'decision_monetary_other'],
      [{ incompatible_content_ground: '' }, 'incompatible_content_ground'],
      [{ decision_ground: 'DECISION_GROUND_ILLEGAL_CONTENT' }, 'illegal_content_legal_ground'],
      [{ incompatible_content_illegal: 'maybe' }, 'incompatible_content_illegal'],
      [{ source_type: 'SOURCE_NOTICE' }, 'source_type'],
      [{ automated_detection: true }, 'automated_detection'],
      [{ automated_decision: 'No' }, 'automated_decision'],
      [{ territorial_scope: ['DE', 'US'] }, 'territorial_scope'],
      [{ territorial_scope: [] }, 'territorial_scope'],
      [{ content_date: '2026-03-01 10:00:00' }, 'content_date'],
      [{ content_date: '1999-12-31' }, 'content_date'],
      [{ application_date: '2019-12-31' }, 'application_date'],
      [{ application_date: '2026-02-30' }, 'application_date'],
      [{ end_date_account_restriction: '2026-03-01' }, 'end_date_account_restriction'],
      [{ end_date_visibility_restriction: '2040-01-01' }, 'end_date_visibility_restriction'],
      [{ puid: 'case.1' }, 'puid'],
      [{ puid: 'a b' }, 'puid'],
      [{ puid: 'x'.repeat(501) }, 'puid'],
      [{ decision_facts: 'x'.repeat(5001) }, 'decision_facts'],
      [{ incompatible_content_explanation: 'x'.repeat(2001) }, 'incompatible_content_explanation'],
      [{ decision_ground_reference_url: 'not a url' }, 'decision_ground_reference_url'],
    ];
    for (const [change, field] of cases) {
      const problems = validateTdbPayload({ ...good(), ...change });
      expect(fields(problems), JSON.stringify(change)).toContain(field);
    }
    // EEA countries are allowed
    expect(validateTdbPayload({ ...good(), territorial_scope: ['NO', 'IS', 'LI'] })).toEqual([]);
  });
});
