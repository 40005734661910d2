/**
 * Transparency report benchmark (DSA Art. 15, src/trust/report.ts):
 * `npm run bench:trust -- [--cases N] [--runs N] [--seed N] [--json]`
 *
 * Generates N synthetic cases (10,000; seeded PRNG, so every run sees the same log) over one year:
 * notices (a sixth from trusted flaggers, some cases with a second notice) and own-initiative cases,
 * assignments, comments, evidence, escalations, actions or no-action decisions, complaints with decisions and reversals, paused notifiers,
 * and a statement of reasons per action. Then runs buildReport + reportCsv over the whole log
 * `--runs` times (5) and prints the median wall time against the target (< 10,000 ms).
 * Pure computation, in process: no store, no server. Progress on stderr; figures on stdout; with
 * --json the last stdout line is one JSON object.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { seededRandom } from '../src/ops/capacity/des-kit.js';
import {
  CATEGORIES,
  RESTRICTIONS,
  type CaseSource,
  type EventKind,
  type StatementRecord,
  type TrustEvent,
} from '../src/trust/model.js';
import { buildReport, reportCsv } from '../src/trust/report.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    cases: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '5' },
    seed: { type: 'string', default: '42' },
  },
});
const CASES = Math.max(1, Number(args.cases));
const RUNS = Math.max(1, Number(args.runs));
const SEED = Number(args.seed);
const TARGET_MS = 10_000;
const log = (...a: unknown[]) => console.error('[bench:trust]', ...a);

const HOUR = 3_600_000;
const FROM_MS = Date.UTC(2025, 0, 1);
const TO_MS = Date.UTC(2026, 0, 1);

function generate(n: number, seed: number): { events: TrustEvent[]; statements: StatementRecord[] } {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const events: TrustEvent[] = [];
  const statements: StatementRecord[] = [];
  const iso = (ms: number) => new Date(ms).toISOString();
  // a few cases start before the period and a few end after it (straddling)
  const span = TO_MS - FROM_MS + 20 * 24 * HOUR;
  for (let i = 0; i < n; i++) {
    const caseId = `case_${i.toString(32).padStart(6, '0')}`;
    let t = FROM_MS - 10 * 24 * HOUR + Math.floor(rnd() * span);
    const push = (kind: EventKind, data: Record<string, unknown>, actorId: string | null = 'mod_1') =>
      events.push({ seq: events.length + 1, caseId, kind, at: iso(t), actorId, data });
    const category = pick(CATEGORIES);
    const r = rnd();
    const source: CaseSource = r < 0.15 ? 'own-initiative' : r < 0.32 ? 'trusted-flagger' : 'notice';
    if (source === 'own-initiative') push('open', { category });
    else push('report', { category, source }, null);
    if (source !== 'own-initiative' && rnd() < 0.1) {
      t += Math.floor(rnd() * 6 * HOUR);
      push('report', { category, source: 'notice' }, null);
    }
    t += Math.floor(rnd() * 2 * HOUR);
    push('assign', { assigneeId: 'mod_1' });
    for (let c = 1 + Math.floor(rnd() * 3); c > 0; c--) {
      t += Math.floor(rnd() * HOUR);
      push('comment', { text: 'looking', visibility: rnd() < 0.2 ? 'public' : 'internal' });
    }
    if (rnd() < 0.3) push('evidence', { evidenceId: `ev_${i}`, startSec: 60, endSec: 120 });
    if (rnd() < 0.1) push('escalate', {});
    if (rnd() < 0.05) continue; // still undecided
    t += Math.floor(rnd() * 72 * HOUR);
    if (source !== 'own-initiative' && rnd() < 0.35) {
      const unfounded = rnd() < 0.3;
      push('resolve', { unfounded });
      if (unfounded && rnd() < 0.1) push('notifier-paused', { key: `user:u${i}` }, null);
      continue;
    }
    const restriction = pick(RESTRICTIONS);
    const automatedDetection = rnd() < 0.3;
    const automatedDecision = automatedDetection && rnd() < 0.4;
    const statementId = `sor_${i}`;
    push('action', { statementId, restriction, category, source, automatedDetection, automatedDecision });
    statements.push({
      seq: statements.length + 1,
      id: statementId,
      caseId,
      puid: `${caseId}.1`,
      at: iso(t),
      userId: `u${i}`,
      restriction,
      reverses: null,
      territorialScope: ['DE', 'FR'],
      endsAt: null,
      countries: [],
      label: null,
      facts: 'synthetic',
      sourceType:
        source === 'own-initiative'
          ? 'SOURCE_VOLUNTARY'
          : source === 'notice'
            ? 'SOURCE_ARTICLE_16'
            : 'SOURCE_TRUSTED_FLAGGER',
      contentDate: iso(t - HOUR),
      automatedDetection,
      automatedDecision,
      ground: 'DECISION_GROUND_INCOMPATIBLE_CONTENT',
      legalGround: null,
      termsGround: 'Terms §4',
      explanation: 'synthetic',
      category,
      redress: 'internal complaint',
      complaintUntil: iso(t + 183 * 24 * HOUR),
      prevHash: '',
      hash: '',
    });
    if (rnd() < 0.2) {
      const complaintId = `cmp_${i}`;
      t += Math.floor(rnd() * 96 * HOUR);
      push('complaint', { complaintId, by: 'affected' }, `u${i}`);
      if (rnd() < 0.85) {
        t += Math.floor(rnd() * 120 * HOUR);
        const upheld = rnd() < 0.25;
        push('complaint-decided', { complaintId, upheld }, 'mod_2');
        if (upheld) push('reverse', { statementId: `sor_${i}_r`, reverses: statementId }, 'mod_2');
      }
    }
  }
  return { events, statements };
}

function main(): void {
  const g0 = performance.now();
  const { events, statements } = generate(CASES, SEED);
  log(
    `generated ${CASES} cases: ${events.length} events, ${statements.length} statements in ${Math.round(performance.now() - g0)} ms`,
  );
  const from = new Date(FROM_MS).toISOString();
  const to = new Date(TO_MS).toISOString();
  const times: number[] = [];
  let csvBytes = 0;
  let notices = 0;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const report = buildReport({ from, to, events, statements, now: '2026-01-02T00:00:00.000Z' });
    const csv = reportCsv(report);
    times.push(performance.now() - t0);
    csvBytes = csv.length;
    notices = report.notices.total;
    log(`run ${i + 1}/${RUNS}: ${times[i]!.toFixed(1)} ms`);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const medianMs = sorted[sorted.length >> 1]!;
  const pass = medianMs < TARGET_MS;
  const result = {
    cases: CASES,
    events: events.length,
    statements: statements.length,
    notices,
    runs: RUNS,
    median_ms: Number(medianMs.toFixed(1)),
    min_ms: Number(sorted[0]!.toFixed(1)),
    max_ms: Number(sorted[sorted.length - 1]!.toFixed(1)),
    csv_bytes: csvBytes,
    target_ms: TARGET_MS,
    pass,
  };
  console.log(
    `transparency report: ${CASES} cases, ${events.length} events, ${statements.length} statements -> ${notices} notices in the period`,
  );
  console.log(
    `buildReport + reportCsv: median ${result.median_ms} ms over ${RUNS} runs (min ${result.min_ms}, max ${result.max_ms}); target < ${TARGET_MS} ms: ${pass ? 'PASS' : 'FAIL'}`,
  );
  if (args.json) console.log(JSON.stringify(result));
  if (!pass) process.exitCode = 1;
}

main();
