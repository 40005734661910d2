/**
 * Per-node figures for the capacity model, as measured by `npm run bench:edge -- --json --save` on a
 * machine and stored in bench/results/edge.json (`{capacity, result}`: this summary and the bench's
 * own JSON). The summary is derived from the bench result here (pure), so the bench and the tests
 * share one definition.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/results/edge.json in the repository (the same path from src/ and from dist/). */
export const DEFAULT_FIGURES_FILE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../bench/results/edge.json',
);

/** The Opus bitrate the bench's Space is encoded at (config.hls.opusBitrate default). */
export const BENCH_BITRATE_KBPS = 32;
/** LL-HLS part duration (10 Opus frames of 20 ms). */
export const PART_MS = 200;
/** An LL-HLS player asks for a blocking playlist reload and a part per part duration. */
const LLHLS_REQUESTS_PER_LISTENER_S = (2 * 1000) / PART_MS;

export interface EdgeFigures {
  /** stream.mp4 listeners one edge core holds (largest bench step). */
  stream_listeners_per_core: number;
  /** the listener count that figure was measured at */
  stream_listeners_measured: number;
  llhls_listeners_per_core: number | null;
  llhls_listeners_per_core_source: string;
  /** edge RSS growth per stream listener */
  memory_kb_per_listener: number;
  /** edge RSS with no listener */
  edge_base_rss_mb: number | null;
  /** HTTP payload bytes per listener per second (chunk framing included, TCP/IP headers not) */
  wire_bytes_per_listener_s: number | null;
  bench_bitrate_kbps: number;
  part_ms: number;
  /** new stream connections per second one edge core can take (null when not measured) */
  stream_connects_per_s_per_core: number | null;
  stream_connects_source: string;
  /** small cached answers per second per core (wrk, median over part, segment and playlist) */
  edge_req_per_core: number | null;
  /** connect -> first part at the bench's listeners (loopback), largest step */
  first_part_ms: { p50: number; p99: number } | null;
  machine: { cores: number; cpu_model: string; memory_gb: number; node: string; platform: string };
  date: string;
  command: string;
  git: string | null;
}

export interface FiguresFile {
  capacity: EdgeFigures;
  result?: unknown;
}

/** What `capacitySummary` reads of the bench's result (bench/edge.ts `result`). */
export interface BenchResultLike {
  edge_req_per_core: number | null;
  stream_mode: string | null;
  objects: Record<string, { edge: { req_per_core: number } }>;
  steps: {
    listeners: number;
    mode: string;
    connected: number;
    listeners_per_core: number;
    edge_bytes_per_listener: number;
    edge_rss_before_mb: number;
    first_part_ms: { p50: number; p99: number };
    wire_bytes_per_listener_s?: number | null;
    connect_cpu_s?: number | null;
  }[];
}

const pos = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

export function capacitySummary(
  r: BenchResultLike,
  meta: Pick<EdgeFigures, 'machine' | 'date' | 'command' | 'git'>,
): EdgeFigures {
  const stream = r.steps.filter((s) => s.mode === 'stream');
  const llhls = r.steps.filter((s) => s.mode === 'llhls');
  const main = (stream.length ? stream : r.steps).at(-1);
  if (!main || !pos(main.listeners_per_core))
    throw new Error('the bench measured no listener step: run it with the stream phase');
  let llhlsPerCore: number | null = null;
  let llhlsSource = 'not measured';
  if (llhls.length && pos(llhls.at(-1)!.listeners_per_core)) {
    llhlsPerCore = llhls.at(-1)!.listeners_per_core;
    llhlsSource = `measured: ${llhls.at(-1)!.listeners} LL-HLS listeners (--mode llhls)`;
  } else {
    const part = r.objects.part?.edge.req_per_core;
    const playlist = r.objects.playlist?.edge.req_per_core;
    if (pos(part) && pos(playlist)) {
      // half the requests are parts, half blocking playlist reloads
      const half = LLHLS_REQUESTS_PER_LISTENER_S / 2;
      llhlsPerCore = Math.round(1 / (half / part + half / playlist));
      llhlsSource = `derived: req/s per core (part ${part}, playlist ${playlist}) / ${LLHLS_REQUESTS_PER_LISTENER_S} requests per listener-second (optimistic: a blocking reload costs more than a cached answer)`;
    }
  }
  let connectsPerCore: number | null = null;
  let connectsSource = 'not measured';
  const withCpu = stream.filter((s) => pos(s.connect_cpu_s));
  if (withCpu.length) {
    const n = withCpu.reduce((a, s) => a + s.connected, 0);
    const cpu = withCpu.reduce((a, s) => a + s.connect_cpu_s!, 0);
    connectsPerCore = Math.round(n / cpu);
    connectsSource = `estimated: ${n} stream connects over ${cpu.toFixed(2)} edge CPU-s during the ramps, minus delivery at the hold's rate`;
  }
  const wire = main.wire_bytes_per_listener_s;
  return {
    stream_listeners_per_core: main.listeners_per_core,
    stream_listeners_measured: main.listeners,
    llhls_listeners_per_core: llhlsPerCore,
    llhls_listeners_per_core_source: llhlsSource,
    memory_kb_per_listener: Math.round((Math.max(0, main.edge_bytes_per_listener) / 1024) * 100) / 100,
    edge_base_rss_mb: pos(r.steps[0]?.edge_rss_before_mb) ? r.steps[0]!.edge_rss_before_mb : null,
    wire_bytes_per_listener_s: pos(wire) ? wire : null,
    bench_bitrate_kbps: BENCH_BITRATE_KBPS,
    part_ms: PART_MS,
    stream_connects_per_s_per_core: connectsPerCore,
    stream_connects_source: connectsSource,
    edge_req_per_core: pos(r.edge_req_per_core) ? r.edge_req_per_core : null,
    first_part_ms: main.first_part_ms ?? null,
    ...meta,
  };
}

/**
 * The README's figures (bench:edge on the 2-core CI machine, 2026-11), used only when no stored
 * figures file exists; output says so.
 */
export const README_FIGURES: EdgeFigures = {
  stream_listeners_per_core: 50_000,
  stream_listeners_measured: 19_700,
  llhls_listeners_per_core: 4_465,
  llhls_listeners_per_core_source: 'README: bench:edge --mode llhls, 2,000 listeners',
  memory_kb_per_listener: 5.3,
  edge_base_rss_mb: null,
  wire_bytes_per_listener_s: null,
  bench_bitrate_kbps: BENCH_BITRATE_KBPS,
  part_ms: PART_MS,
  stream_connects_per_s_per_core: null,
  stream_connects_source: 'not measured',
  edge_req_per_core: 68_591,
  first_part_ms: null,
  machine: { cores: 2, cpu_model: 'AMD EPYC', memory_gb: 0, node: 'v20', platform: 'linux' },
  date: '2026-11-27',
  command: 'README.md "Performance" (npm run bench:edge -- --rt --json)',
  git: null,
};

/** Checks a parsed figures file; throws an Error naming the first bad field. */
export function parseFigures(json: unknown): EdgeFigures {
  const c = (json as FiguresFile | null)?.capacity;
  if (!c || typeof c !== 'object') throw new Error('no "capacity" object (save it with bench:edge --save)');
  for (const k of ['stream_listeners_per_core', 'memory_kb_per_listener', 'part_ms'] as const)
    if (!(typeof c[k] === 'number' && Number.isFinite(c[k]) && c[k] >= 0))
      throw new Error(`bad capacity.${k}`);
  if (!(c.stream_listeners_per_core > 0)) throw new Error('bad capacity.stream_listeners_per_core');
  return c;
}

export interface LoadedFigures {
  figures: EdgeFigures;
  /** where they came from: a file path, or the README fallback */
  source: string;
}

/** Reads `file` (default bench/results/edge.json); without an explicit file, a missing one falls back to the README's. */
export function loadFigures(file?: string): LoadedFigures {
  const p = file ?? DEFAULT_FIGURES_FILE;
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch (err) {
    if (file === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT')
      return { figures: README_FIGURES, source: 'README figures (bench/results/edge.json not found)' };
    throw new Error(`cannot read figures ${p}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return { figures: parseFigures(JSON.parse(text)), source: file ?? 'bench/results/edge.json' };
  } catch (err) {
    throw new Error(`figures ${p}: ${(err as Error).message}`, { cause: err });
  }
}
