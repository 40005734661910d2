/**
 * The capacity model's arithmetic (issue 7 item 4), against hand-computed cases, the figures
 * summary bench:edge stores, and absurd inputs (CAPACITY_OUT_OF_RANGE).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isTribuneError } from '../../src/errors.js';
import { parseCapacityArgs, runCapacityCli } from '../../src/ops/capacity/cli.js';
import { capacitySummary, type BenchResultLike, type EdgeFigures } from '../../src/ops/capacity/figures.js';
import { edgesForRandom, plan, toNumber, type CapacityInput } from '../../src/ops/capacity/model.js';
import { REPO_ROOT } from '../support/server.js';

const FIGURES: EdgeFigures = {
  stream_listeners_per_core: 50_000,
  stream_listeners_measured: 20_000,
  llhls_listeners_per_core: 5_000,
  llhls_listeners_per_core_source: 'test',
  memory_kb_per_listener: 4,
  edge_base_rss_mb: 100,
  wire_bytes_per_listener_s: 5_000,
  bench_bitrate_kbps: 32,
  part_ms: 200,
  stream_connects_per_s_per_core: 10_000,
  stream_connects_source: 'test',
  edge_req_per_core: 100_000,
  first_part_ms: null,
  machine: { cores: 2, cpu_model: 'test', memory_gb: 8, node: 'v20', platform: 'linux' },
  date: '2026-11-27T00:00:00.000Z',
  command: 'test',
  git: null,
};

const base = (over: Partial<CapacityInput> = {}): CapacityInput => ({
  listeners: 1_000_000,
  arrivalPerSec: 10_000,
  bitrateKbps: 64,
  mode: 'stream',
  cpuTarget: 0.8,
  prices: { coreHour: 0, gbEgress: 0, gbRamHour: 0 },
  ...over,
});

function codeOf(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (err) {
    return isTribuneError(err) ? `${err.code}: ${err.detail}` : `other: ${String(err)}`;
  }
}

describe('capacity model: arithmetic', () => {
  it('1M listeners at 10,000/s: listener-bound edges, memory, bandwidth and cost by hand', () => {
    const p = plan(base({ prices: { coreHour: 0.05, gbEgress: 0.02, gbRamHour: 0.01 } }), FIGURES);
    // 50,000 x 0.8 = 40,000 per edge; 10,000 x 0.8 = 8,000 joins/s per edge
    expect(p.perEdge.maxListeners).toBe(40_000);
    expect(p.perEdge.joinsPerSec).toBe(8_000);
    expect(p.edgesForListeners).toBe(25);
    expect(p.edgesForJoins).toBe(2);
    expect(p.edges).toBe(25);
    expect(p.limitedBy).toBe('listeners');
    expect(p.cores).toBe(25);
    // 100 MB + 40,000 x 4 KB = 256.25 MB per edge; x 25 / 1024 GB
    expect(p.perEdge.memoryMb).toBeCloseTo(256.25, 6);
    expect(p.memoryGb).toBeCloseTo((25 * 256.25) / 1024, 9);
    // overhead 5,000 - 32,000/8 = 1,000 B/s; at 64 kbps 8,000 + 1,000 = 9,000 B/s per listener
    expect(p.bandwidth.overheadBytesPerS).toBe(1_000);
    expect(p.bandwidth.bytesPerListenerS).toBe(9_000);
    expect(p.bandwidth.gbitPerS).toBeCloseTo(72, 9);
    expect(p.bandwidth.egressGbPerHour).toBeCloseTo(32_400, 6);
    // cores 25 x 0.05 = 1.25; egress 32,400 x 0.02 = 648; RAM 6.2561 x 0.01
    expect(p.cost.coresPerHour).toBeCloseTo(1.25, 9);
    expect(p.cost.egressPerHour).toBeCloseTo(648, 6);
    expect(p.cost.ramPerHour).toBeCloseTo(0.0625610352, 8);
    expect(p.cost.perListenerHour).toBeCloseTo((1.25 + 648 + 0.0625610352) / 1e6, 12);
    expect(p.pricesUsed).toEqual({ coreHour: 0.05, gbEgress: 0.02, gbRamHour: 0.01 });
  });

  it('no prices: cost 0 and no price listed as used', () => {
    const p = plan(base(), FIGURES);
    expect(p.cost.perHour).toBe(0);
    expect(p.pricesUsed).toEqual({});
    expect(plan(base({ prices: { coreHour: 0, gbEgress: 0.1, gbRamHour: 0 } }), FIGURES).pricesUsed).toEqual({
      gbEgress: 0.1,
    });
  });

  it('a fast arrival makes the join rate decide: 100,000 at 50,000/s -> ceil(50,000 / 8,000) = 7 edges', () => {
    const p = plan(base({ listeners: 100_000, arrivalPerSec: 50_000 }), FIGURES);
    expect(p.edgesForListeners).toBe(3);
    expect(p.edgesForJoins).toBe(7);
    expect(p.edges).toBe(7);
    expect(p.limitedBy).toBe('joins');
    expect(p.perEdge.listeners).toBe(Math.ceil(100_000 / 7));
  });

  it('a per-edge listener limit (open files), given edges, a joins-per-core override', () => {
    expect(plan(base({ maxListenersPerEdge: 19_700 }), FIGURES).edges).toBe(Math.ceil(1e6 / 19_700));
    const given = plan(base({ edges: 10 }), FIGURES);
    expect(given.edges).toBe(10);
    expect(given.limitedBy).toBe('given');
    expect(given.perEdge.listeners).toBe(100_000);
    expect(plan(base({ joinsPerCore: 1_000, arrivalPerSec: 10_000 }), FIGURES).edgesForJoins).toBe(13); // 10,000 / 800
  });

  it('LL-HLS: its own listeners per core and its playlist reloads on the wire', () => {
    const p = plan(base({ mode: 'llhls', bitrateKbps: 32 }), FIGURES);
    expect(p.perEdge.maxListeners).toBe(4_000);
    expect(p.edges).toBe(250);
    // 1,000 + 5 per s x (1,403 B playlist + 2 x 250 B heads)
    expect(p.bandwidth.overheadBytesPerS).toBe(1_000 + 5 * (1_403 + 500));
  });

  it('random balance: edges until the busiest, N/K + sqrt(2 ln K) sqrt(N/K), fits', () => {
    // K = 25: 40,000 + 2.537 x 200 > 40,000; K = 26: 38,461.5 + 2.553 x 196.1 = 38,962 <= 40,000
    expect(edgesForRandom(1e6, 40_000, 25)).toBe(26);
    expect(edgesForRandom(100, 1_000, 1)).toBe(1);
    const p = plan(base({ balance: 'random' }), FIGURES);
    expect(p.edges).toBe(26);
    expect(p.limitedBy).toBe('random balance');
  });

  it('the figures summary bench:edge saves', () => {
    const result: BenchResultLike = {
      edge_req_per_core: 90_000,
      stream_mode: 'stream',
      objects: { part: { edge: { req_per_core: 100_000 } }, playlist: { edge: { req_per_core: 80_000 } } },
      steps: [step(2_000, 20_000, 7_000, 4_900, 0.2, 120), step(20_000, 50_000, 4_096, 5_000, 1.8, 130)],
    };
    const c = capacitySummary(result, {
      machine: FIGURES.machine,
      date: 'd',
      command: 'c',
      git: null,
    });
    expect(c.stream_listeners_per_core).toBe(50_000);
    expect(c.stream_listeners_measured).toBe(20_000);
    expect(c.memory_kb_per_listener).toBe(4);
    expect(c.edge_base_rss_mb).toBe(120);
    expect(c.wire_bytes_per_listener_s).toBe(5_000);
    // 22,000 connects over 2.0 CPU-s
    expect(c.stream_connects_per_s_per_core).toBe(11_000);
    // 1 / (5 / 100,000 + 5 / 80,000) = 8,889
    expect(c.llhls_listeners_per_core).toBe(8_889);
    expect(c.llhls_listeners_per_core_source).toMatch(/^derived/);
  });
});

function step(
  listeners: number,
  perCore: number,
  bytes: number,
  wire: number,
  connectCpu: number,
  rss: number,
) {
  return {
    listeners,
    mode: 'stream',
    connected: listeners,
    listeners_per_core: perCore,
    edge_bytes_per_listener: bytes,
    edge_rss_before_mb: rss,
    first_part_ms: { p50: 1, p99: 2 },
    wire_bytes_per_listener_s: wire,
    connect_cpu_s: connectCpu,
  };
}

describe('capacity model: absurd inputs -> CAPACITY_OUT_OF_RANGE', () => {
  const cases: [string, Partial<CapacityInput>, RegExp][] = [
    ['zero listeners', { listeners: 0 }, /^listeners/],
    ['negative listeners', { listeners: -5 }, /^listeners/],
    ['NaN listeners', { listeners: NaN }, /^listeners.*NaN/],
    ['fractional listeners', { listeners: 1.5 }, /^listeners must be a whole number/],
    ['over 10^9 listeners', { listeners: 1e9 + 1 }, /^listeners.*1000000000/],
    ['bitrate over 10 Mbps', { bitrateKbps: 10_001 }, /^bitrateKbps.*10000/],
    ['zero bitrate', { bitrateKbps: 0 }, /^bitrateKbps/],
    [
      'arrival faster than every listener in 1 ms',
      { listeners: 1000, arrivalPerSec: 1_000_001 },
      /^arrivalPerSec/,
    ],
    ['zero arrival rate', { arrivalPerSec: 0 }, /^arrivalPerSec/],
    ['infinite arrival rate', { arrivalPerSec: Infinity }, /^arrivalPerSec/],
    ['cpu target over 1', { cpuTarget: 1.5 }, /^cpuTarget/],
    ['zero edges', { edges: 0 }, /^edges/],
    ['negative price', { prices: { coreHour: -1, gbEgress: 0, gbRamHour: 0 } }, /^price coreHour/],
  ];
  for (const [name, over, detail] of cases)
    it(name, () => {
      const got = codeOf(() => plan(base(over), FIGURES));
      expect(got.startsWith('CAPACITY_OUT_OF_RANGE: ')).toBe(true);
      expect(got.slice('CAPACITY_OUT_OF_RANGE: '.length)).toMatch(detail);
    });

  it('the CLI parser: malformed numbers, missing or doubled arrival, negative values', () => {
    expect(toNumber('12')).toBe(12);
    expect(toNumber('1e6')).toBe(1e6);
    for (const bad of ['', 'abc', 'NaN', '0x10', '1,000', '12abc']) expect(toNumber(bad)).toBeNaN();
    const parse = (...a: string[]) => codeOf(() => plan(parseCapacityArgs(a).input, FIGURES));
    expect(parse('--listeners', 'abc', '--arrival-window', '60')).toMatch(
      /^CAPACITY_OUT_OF_RANGE: listeners/,
    );
    expect(parse('--listeners', '-5', '--arrival-window', '60')).toMatch(/^CAPACITY_OUT_OF_RANGE: listeners/);
    expect(parse('--listeners', '1000', '--arrival-window', '0')).toMatch(
      /^CAPACITY_OUT_OF_RANGE: arrival-window/,
    );
    expect(parse('--listeners', '1000')).toMatch(/^CAPACITY_OUT_OF_RANGE: give one of/);
    expect(parse('--listeners', '1000', '--arrival-window', '6', '--arrival-per-sec', '5')).toMatch(
      /^CAPACITY_OUT_OF_RANGE: give one of/,
    );
    expect(parse('--arrival-window', '6')).toMatch(/^CAPACITY_OUT_OF_RANGE: listeners is required/);
    expect(parse('--listeners', '1000', '--arrival-window', '10')).toBe('ok');
  });

  it('the command prints CAPACITY_OUT_OF_RANGE: <input and range> and returns 2', () => {
    const err: string[] = [];
    const out: string[] = [];
    const rc = runCapacityCli(
      ['--listeners', '1000', '--arrival-window', '10', '--bitrate-kbps', '20000', '--no-sim'],
      (l) => out.push(l),
      (l) => err.push(l),
    );
    expect(rc).toBe(2);
    expect(out).toEqual([]);
    expect(err).toEqual([
      'CAPACITY_OUT_OF_RANGE: --bitrate-kbps must be a number from 6 to 10000 (got 20000)',
    ]);
  });

  it('tribune capacity as a process: exit status 2 and the code on stderr', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'capacity', '--listeners', '0', '--arrival-window', '10'],
      { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(
      'CAPACITY_OUT_OF_RANGE: --listeners must be a whole number from 1 to 1000000000 (got 0)',
    );
  });
});
