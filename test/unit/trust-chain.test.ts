import { describe, expect, it } from 'vitest';
import {
  canonicalStatementJson,
  chainNext,
  exportLines,
  statementHash,
  verifyExport,
  type StatementDraft,
} from '../../src/trust/chain.js';
import type { StatementRecord } from '../../src/trust/model.js';

function draft(n: number): StatementDraft {
  return {
    id: `sor_${n}`,
    caseId: `case_${Math.ceil(n / 2)}`,
    puid: `case_${Math.ceil(n / 2)}-${n}`,
    at: new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString(),
    userId: `u${n}`,
    restriction: n % 2 ? 'remove-clip' : 'suspend-account',
    reverses: null,
    territorialScope: ['DE', 'FR'],
    endsAt: null,
    countries: [],
    label: null,
    facts: `Facts ${n}`,
    sourceType: 'SOURCE_ARTICLE_16',
    contentDate: '2025-12-31T10:00:00.000Z',
    automatedDetection: false,
    automatedDecision: false,
    ground: 'DECISION_GROUND_INCOMPATIBLE_CONTENT',
    legalGround: null,
    termsGround: 'Terms §4',
    explanation: `Explanation ${n}`,
    category: 'STATEMENT_CATEGORY_VIOLENCE',
    redress: 'Internal complaint, out-of-court settlement, courts',
    complaintUntil: '2026-07-01T00:00:00.000Z',
  };
}

function chain(n: number): StatementRecord[] {
  const out: StatementRecord[] = [];
  for (let i = 1; i <= n; i++) out.push(chainNext(out[out.length - 1], draft(i)));
  return out;
}

const lines = (text: string): string[] => text.trimEnd().split('\n');
const join = (ls: string[]): string => `${ls.join('\n')}\n`;

describe('statement hash chain', () => {
  it('canonical JSON sorts keys, leaves out hash, and does not depend on key order', () => {
    const [s] = chain(1);
    const json = canonicalStatementJson(s);
    expect(json).not.toContain('"hash"');
    expect(json).toContain('"prevHash"');
    const keys = Object.keys(JSON.parse(json) as object);
    expect(keys).toEqual([...keys].sort());
    const reversed = Object.fromEntries(Object.entries(s).reverse()) as unknown as StatementRecord;
    expect(canonicalStatementJson(reversed)).toBe(json);
    expect(statementHash('', s)).toBe(s.hash);
    expect(s.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('chainNext fills seq, prevHash and hash', () => {
    const [a, b] = chain(2);
    expect([a.seq, a.prevHash]).toEqual([1, '']);
    expect([b.seq, b.prevHash]).toEqual([2, a.hash]);
    expect(b.hash).toBe(statementHash(a.hash, b));
  });

  it('a chain of 50 exports and verifies', () => {
    const all = chain(50);
    const text = exportLines(all);
    expect(lines(text)).toHaveLength(50);
    const r = verifyExport(text);
    expect(r).toEqual({ ok: true, count: 50, failure: null, head: all[49].hash });
  });

  it('an empty export verifies with an empty head', () => {
    expect(verifyExport('')).toEqual({ ok: true, count: 0, failure: null, head: '' });
  });

  it('an edited field is caught at its line (hash mismatch)', () => {
    const ls = lines(exportLines(chain(50)));
    const s = JSON.parse(ls[19]) as StatementRecord;
    s.explanation = 'Something nicer';
    ls[19] = JSON.stringify(s);
    const r = verifyExport(join(ls));
    expect(r.ok).toBe(false);
    expect(r.failure).toMatchObject({ line: 20, seq: 20 });
    expect(r.failure?.reason).toMatch(/hash mismatch/);
    expect(r.count).toBe(19);
  });

  it('a deleted line is caught at the line after it', () => {
    const ls = lines(exportLines(chain(50)));
    ls.splice(29, 1); // seq 30
    const r = verifyExport(join(ls));
    expect(r.failure).toMatchObject({ line: 30, seq: 31 });
    expect(r.failure?.reason).toMatch(/deleted/);
  });

  it('two swapped lines are caught at the first of them', () => {
    const ls = lines(exportLines(chain(50)));
    [ls[9], ls[10]] = [ls[10], ls[9]];
    const r = verifyExport(join(ls));
    expect(r.failure).toMatchObject({ line: 10, seq: 11 });
    expect(r.failure?.reason).toMatch(/reordered/);
  });

  it('a forged line with a recomputed hash inserted in the middle is caught at the line after it', () => {
    const all = chain(50);
    const forged = chainNext(all[24], { ...draft(99), facts: 'forged' }); // seq 26, valid link to 25
    const ls = lines(exportLines(all));
    ls.splice(25, 0, JSON.stringify(forged));
    const r = verifyExport(join(ls));
    expect(r.failure).toMatchObject({ line: 27, seq: 26 });
    expect(r.failure?.reason).toMatch(/inserted/);
  });

  it('a forged line that keeps the seq numbering breaks the next prevHash', () => {
    const all = chain(50);
    const forged = chainNext(all[24], { ...draft(26), facts: 'forged' }); // replaces seq 26
    const ls = lines(exportLines(all));
    ls[25] = JSON.stringify(forged);
    const r = verifyExport(join(ls));
    expect(r.failure).toMatchObject({ line: 27, seq: 27 });
    expect(r.failure?.reason).toMatch(/prevHash/);
  });

  it('an export must start at seq 1 with prevHash empty: a cut head is caught at line 1', () => {
    const ls = lines(exportLines(chain(50))).slice(5);
    const r = verifyExport(join(ls));
    expect(r.failure).toMatchObject({ line: 1, seq: 6 });
    expect(r.failure?.reason).toMatch(/start at seq 1/);

    const first = JSON.parse(lines(exportLines(chain(1)))[0]) as StatementRecord;
    first.prevHash = 'ab'.repeat(32);
    expect(verifyExport(JSON.stringify(first)).failure?.reason).toMatch(/prevHash must be ''/);
  });

  it('malformed JSON is reported with its line', () => {
    const ls = lines(exportLines(chain(5)));
    ls[2] = ls[2].slice(0, 40);
    const r = verifyExport(join(ls));
    expect(r.failure).toEqual({ line: 3, seq: null, reason: 'malformed JSON' });
    expect(r.head).toBe((JSON.parse(ls[1]) as StatementRecord).hash);
  });

  it('a rewritten tail verifies but its head differs from the one kept elsewhere', () => {
    const all = chain(10);
    const rewritten = all.slice(0, 5);
    for (let i = 6; i <= 10; i++)
      rewritten.push(chainNext(rewritten[rewritten.length - 1], { ...draft(i), facts: 'x' }));
    const r = verifyExport(exportLines(rewritten));
    expect(r.ok).toBe(true);
    expect(r.head).not.toBe(all[9].hash);
  });
});
