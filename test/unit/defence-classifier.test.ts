/**
 * The origin's crowd-or-attack classifier on synthetic telemetry: windows are built from groups of
 * clients (how many, at what rate, in which class, how well they follow the player's pattern),
 * observed once a second on a fake clock. A steady audience, then a flash crowd, floods of one
 * address or of many tokenless ones, a flood during a crowd, quiet; the label's 2 s hold.
 */
import { describe, expect, it } from 'vitest';
import { hash32 } from '../../src/edge/defence/hash.js';
import { Hll } from '../../src/edge/defence/hll.js';
import {
  RATE_BUCKETS,
  REQUEST_CLASSES,
  type ClassCounts,
  type DefenceWindow,
  type RequestClass,
  type Verdict,
} from '../../src/edge/defence/types.js';
import { Classifier, HEAVY_SHARE_MAX, mergeWindows } from '../../src/ops/defence/classifier.js';

interface Group {
  clients: number;
  /** Requests per second of each client. */
  rps: number;
  cls: RequestClass;
  /** Share of requests that follow the player's pattern (default 0.95). */
  ok?: number;
  /** Client address prefix; clients are `${prefix}${i}` (default 'p'). */
  prefix?: string;
  /** Share of the group's networks seen in the past day (default 0.9). */
  known?: number;
}

/** One edge's window of `ms` from `fromMs` in which these groups of clients made requests. */
function window(fromMs: number, groups: Group[], ms = 1000): DefenceWindow {
  const classes = Object.fromEntries(REQUEST_CLASSES.map((c) => [c, 0])) as ClassCounts;
  const rateHistogram = new Array<number>(RATE_BUCKETS).fill(0);
  const hll = new Hll();
  let networks = 0;
  let knownNetworks = 0;
  let patternOk = 0;
  let patternTotal = 0;
  for (const g of groups) {
    const perClient = Math.max(1, Math.round((g.rps * ms) / 1000));
    const requests = perClient * g.clients;
    classes[g.cls] += requests;
    rateHistogram[Math.min(RATE_BUCKETS - 1, Math.floor(Math.log2(perClient)))] += g.clients;
    for (let i = 0; i < g.clients; i++) hll.add(hash32(`${g.prefix ?? 'p'}${i}`));
    const nets = Math.ceil(g.clients / 4);
    networks += nets;
    knownNetworks += Math.round(nets * (g.known ?? 0.9));
    patternTotal += requests;
    patternOk += Math.round(requests * (g.ok ?? 0.95));
  }
  return {
    fromMs,
    toMs: fromMs + ms,
    classes,
    clientsHll: hll.toBase64(),
    rateHistogram,
    networks,
    knownNetworks,
    patternOk,
    patternTotal,
    cpu: 0.2,
    tier: 0,
    underAttack: false,
    admission: { maxListeners: 0, joinsPerSec: 0, admitted: 0, queue: 0, joins: 0, admittedInWindow: 0 },
    joinsBySpace: {},
    pow: { issued: 0, solved: 0, failed: 0 },
  };
}

/** A steady audience: 100 players at 5 req/s with tokens. */
const AUDIENCE: Group = { clients: 100, rps: 5, cls: 'media_token' };

/** A classifier on a fake clock, fed one second at a time; `edges` splits each second's groups. */
function harness(start = 1_700_000_000_000) {
  let t = start;
  const clf = new Classifier({ now: () => t });
  const labels: Verdict[] = [];
  return {
    clf,
    labels,
    now: () => t,
    /** One second of these groups, split evenly over `edges` edges' windows. */
    second(groups: Group[], edges = 1): Verdict {
      const windows = Array.from({ length: edges }, (_, e) =>
        window(
          t,
          groups.map((g) => ({
            ...g,
            clients: Math.round(g.clients / edges),
            prefix: `${g.prefix ?? 'p'}${e}-`,
          })),
        ),
      );
      t += 1000;
      clf.observe(windows, t);
      const v = clf.verdict(t).verdict;
      labels.push(v);
      return v;
    },
    run(seconds: number, groups: (s: number) => Group[], edges = 1): Verdict[] {
      const out: Verdict[] = [];
      for (let s = 0; s < seconds; s++) out.push(this.second(groups(s), edges));
      return out;
    },
  };
}

describe('mergeWindows', () => {
  it('sums windows of several edges and merges their client sketches', () => {
    const a = window(1000, [{ clients: 300, rps: 5, cls: 'media_token' }]);
    const b = window(1000, [
      { clients: 300, rps: 5, cls: 'media_token' }, // the same 300 clients, on another edge
      { clients: 200, rps: 100, cls: 'refused', prefix: 'bot' },
    ]);
    const c = window(2000, [{ clients: 10, rps: 1, cls: 'control', prefix: 'ctl' }]);
    const m = mergeWindows([a, b, c]);
    expect(m.windows).toBe(3);
    expect(m.seconds).toBe(2);
    expect(m.classes).toMatchObject({ media_token: 3000, refused: 20_000, control: 10, tokenless: 0 });
    expect(m.requests).toBe(23_010);
    expect(m.rps).toBe(11_505);
    expect(Math.abs(m.clients / 510 - 1)).toBeLessThan(0.05);
    expect(m.rateHistogram[2]).toBe(600);
    expect(m.rateHistogram[6]).toBe(200);
    expect(m.rateHistogram[0]).toBe(10);
    expect(m.patternTotal).toBe(23_010);
    expect(m.networks).toBe(75 + 75 + 50 + 3);
    expect(m.badSketches).toBe(0);
    expect(mergeWindows([{ ...c, clientsHll: 'AAAA' }]).badSketches).toBe(1);
    const empty = mergeWindows([]);
    expect([empty.requests, empty.rps, empty.clients, empty.seconds]).toEqual([0, 0, 0, 0]);
  });
});

describe('Classifier', () => {
  it('stays normal at a steady audience and learns it as the baseline', () => {
    const h = harness();
    const start = h.now();
    expect(h.run(90, () => [AUDIENCE, { clients: 20, rps: 1, cls: 'control', prefix: 'c' }])).toEqual(
      new Array(90).fill('normal'),
    );
    const v = h.clf.verdict();
    expect(v.sinceMs).toBe(start);
    expect(h.clf.usual?.rps).toBeCloseTo(520, 0);
    expect(Math.abs(h.clf.usual!.clients / 120 - 1)).toBeLessThan(0.05);
    expect(v.features.surge).toBeCloseTo(520 / 520, 1);
    expect(v.evidence.map((e) => e.feature)).toEqual(
      expect.arrayContaining([
        'surge',
        'client_growth',
        'requests_per_client',
        'heavy_hitter_share',
        'bad_share',
        'pattern_conformance',
        'known_network_share',
      ]),
    );
    expect(v.evidence.every((e) => e.points === 'normal')).toBe(true);
  });

  it('does not call a quiet deployment surging at 20 req/s', () => {
    const h = harness();
    const labels = h.run(60, (s) =>
      s % 10 < 5
        ? [{ clients: 1, rps: 2, cls: 'media_token' }]
        : [
            { clients: 2, rps: 10, cls: 'media_token' },
            { clients: 3, rps: 1, cls: 'control', prefix: 'c' },
          ],
    );
    expect(labels.every((l) => l === 'normal')).toBe(true);
    // Even a lone misbehaving client that stays under the floors is left to the per-address limits.
    expect(h.run(10, () => [{ clients: 1, rps: 40, cls: 'unknown_path', ok: 0 }])).toEqual(
      new Array(10).fill('normal'),
    );
  });

  it('calls a flash crowd (10x clients at a player rate, good pattern, tokens) a crowd within 10 s', () => {
    const h = harness();
    h.run(60, () => [AUDIENCE]);
    const crowd = (s: number): Group[] => {
      const n = Math.min(1000, 100 + 180 * (s + 1)); // 10x in 5 s, then steady
      return [
        { clients: Math.round(n * 0.3), rps: 3, cls: 'media_token', prefix: 'a' },
        { clients: Math.round(n * 0.4), rps: 6, cls: 'media_token', prefix: 'b' },
        { clients: Math.round(n * 0.3), rps: 10, cls: 'media_token', prefix: 'c' },
        { clients: Math.round(n * 0.1), rps: 1, cls: 'control', prefix: 'd' },
      ];
    };
    const crowdStart = h.now();
    const labels = h.run(20, crowd, 3);
    const first = labels.indexOf('crowd');
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThan(10);
    expect(labels.slice(first)).toEqual(new Array(20 - first).fill('crowd'));
    expect(labels.some((l) => l === 'attack' || l === 'mixed')).toBe(false);
    const v = h.clf.verdict();
    expect(v.sinceMs).toBeGreaterThan(crowdStart);
    expect(v.features.clientGrowth).toBeGreaterThan(5);
    expect(v.features.heavyShare).toBe(0);
    const byFeature = Object.fromEntries(v.evidence.map((e) => [e.feature, e]));
    expect(byFeature.surge.points).toBe('crowd');
    expect(byFeature.client_growth.points).toBe('crowd');
    expect(byFeature.heavy_hitter_share.points).toBe('normal');
    expect(byFeature.surge.text).toMatch(/req\/s/);
  });

  it("measures rates by the origin's clock: an edge 30 s ahead, delivering 0 then 2 windows a tick", () => {
    let t = 1_700_000_000_000;
    const clf = new Classifier({ now: () => t });
    const half = (groups: Group[], p: string): Group[] =>
      groups.map((g) => ({ ...g, clients: Math.round(g.clients / 2), prefix: `${p}${g.prefix ?? ''}` }));
    let held: DefenceWindow[] = [];
    const tick = (groups: Group[], s: number): Verdict => {
      const a = window(t, half(groups, 'a')); // on time, one window a tick
      const b = window(t + 30_000, half(groups, 'b')); // its clock 30 s ahead
      held.push(b);
      const windows = s % 2 === 1 ? [a, ...held] : [a]; // edge b's reports land in pairs
      if (s % 2 === 1) held = [];
      t += 1000;
      clf.observe(windows, t);
      return clf.verdict(t).verdict;
    };
    const steady = Array.from({ length: 60 }, (_, s) => tick([AUDIENCE], s));
    expect(steady.slice(10).every((l) => l === 'normal')).toBe(true);
    const crowd: Group[] = [{ clients: 1000, rps: 5, cls: 'media_token' }];
    const labels = Array.from({ length: 20 }, (_, s) => tick(crowd, s));
    const first = labels.indexOf('crowd');
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThan(10);
    expect(labels.slice(first).every((l) => l === 'crowd')).toBe(true);
  });

  it('calls a single-address flood (10,000 req/s, mostly refused) an attack', () => {
    const h = harness();
    h.run(60, () => [AUDIENCE]);
    const labels = h.run(10, () => [
      AUDIENCE,
      { clients: 1, rps: 9000, cls: 'refused', ok: 0, prefix: 'flood' },
      { clients: 1, rps: 1000, cls: 'tokenless', ok: 0, prefix: 'flood' },
    ]);
    expect(labels.slice(0, 1)).toEqual(['normal']); // the hold
    expect(labels.slice(1)).toEqual(new Array(9).fill('attack'));
    const v = h.clf.verdict();
    expect(v.features.heavyShare).toBeGreaterThan(HEAVY_SHARE_MAX);
    expect(v.features.clientGrowth).toBeLessThan(1.5);
    const heavy = v.evidence.find((e) => e.feature === 'heavy_hitter_share')!;
    expect(heavy.points).toBe('attack');
    expect(heavy.text).toMatch(/% of requests came from clients over 64 req\/s/);
  });

  it('calls a tokenless flood from 500 addresses at 40 req/s an attack', () => {
    const h = harness();
    h.run(60, () => [AUDIENCE]);
    const labels = h.run(10, () => [
      AUDIENCE,
      { clients: 500, rps: 40, cls: 'tokenless', ok: 0.1, prefix: 'bot', known: 0.05 },
    ]);
    expect(labels).toEqual(['normal', ...new Array(9).fill('attack')]);
    const v = h.clf.verdict();
    expect(v.verdict).toBe('attack');
    expect(v.features.heavyShare).toBeLessThan(HEAVY_SHARE_MAX); // not what gives it away
    expect(v.features.badShare).toBeGreaterThan(0.5);
    expect(v.features.patternConformance).toBeLessThan(0.6);
    const points = Object.fromEntries(v.evidence.map((e) => [e.feature, e.points]));
    expect(points).toMatchObject({
      bad_share: 'attack',
      pattern_conformance: 'attack',
      known_network_share: 'attack',
      good_surge: 'normal',
    });
  });

  it('calls a flood during a crowd mixed', () => {
    const h = harness();
    h.run(60, () => [AUDIENCE]);
    const crowd: Group[] = [{ clients: 1000, rps: 6, cls: 'media_token', prefix: 'fan' }];
    h.run(10, () => crowd);
    expect(h.clf.verdict().verdict).toBe('crowd');
    const labels = h.run(10, () => [
      ...crowd,
      { clients: 500, rps: 40, cls: 'tokenless', ok: 0.1, prefix: 'bot' },
    ]);
    expect(labels.slice(2)).toEqual(new Array(8).fill('mixed'));
    expect(labels).not.toContain('attack');
    const v = h.clf.verdict();
    expect(v.features.goodSurge).toBeGreaterThan(3);
    // The flood leaves: back to a crowd.
    const after = h.run(10, () => crowd);
    expect(after.at(-1)).toBe('crowd');
  });

  it('changes the label only after it held for 2 consecutive seconds, and reports since when', () => {
    const h = harness();
    h.run(30, () => [AUDIENCE]);
    const flood: Group[] = [AUDIENCE, { clients: 1, rps: 10_000, cls: 'refused', ok: 0, prefix: 'x' }];
    const before = h.now();
    expect(h.second(flood)).toBe('normal');
    const firstSeen = h.now();
    expect(firstSeen).toBe(before + 1000);
    expect(h.second(flood)).toBe('attack');
    expect(h.clf.verdict().sinceMs).toBe(firstSeen);
    // The flood stops; the 5 s evaluation still sees it for a while, then 2 s of normal are needed.
    const back = h.run(10, () => [AUDIENCE]);
    const firstNormal = back.indexOf('normal');
    expect(firstNormal).toBeGreaterThan(0);
    expect(back.slice(firstNormal)).toEqual(new Array(10 - firstNormal).fill('normal'));
    // A second with no reports at all does not reset the label: the span still holds the flood.
    const h2 = harness();
    h2.run(30, () => [AUDIENCE]);
    h2.run(3, () => flood);
    expect(h2.clf.verdict().verdict).toBe('attack');
    const sinceAttack = h2.clf.verdict().sinceMs;
    h2.clf.observe([], h2.now() + 1000);
    expect(h2.clf.verdict(h2.now() + 1000).verdict).toBe('attack');
    expect(h2.clf.verdict(h2.now() + 1000).sinceMs).toBe(sinceAttack);
  });
});
