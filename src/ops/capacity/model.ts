/**
 * The capacity model's arithmetic (pure): from per-node figures measured by bench:edge, the edges,
 * cores, memory and bandwidth a Space of N listeners arriving at R per second needs, and what it
 * costs at the operator's prices.
 *
 * An edge is one edge process on one core (the edge is single-threaded Node). It is planned at
 * `cpuTarget` of its core:
 *   listeners per edge = floor(min(listeners per core x cpuTarget, maxListenersPerEdge))
 *   joins per edge     = floor(joins per core x cpuTarget)
 *   edges              = max(ceil(N / listeners per edge), ceil(R / joins per edge))
 * With `balance: 'random'` (listeners hashed or DNS-spread onto edges rather than balanced), an
 * edge's share varies by about sqrt(N/K): edges grow until the busiest, about
 * N/K + sqrt(2 ln K) x sqrt(N/K), fits under the cap.
 * Memory per edge = its RSS without listeners + listeners on it x KB per listener. Bandwidth per
 * listener = bitrate / 8 + the measured overhead (CMAF boxes, HTTP chunk framing; LL-HLS adds its
 * playlist reloads and response heads). TCP/IP headers are not counted.
 */
import { TribuneError } from '../../errors.js';
import type { EdgeFigures } from './figures.js';

export type DeliveryMode = 'stream' | 'llhls';

export interface Prices {
  /** per core-hour */
  coreHour: number;
  /** per GB (10^9 bytes) leaving the edges */
  gbEgress: number;
  /** per GB (2^30 bytes) of RAM-hour */
  gbRamHour: number;
}

export interface CapacityInput {
  listeners: number;
  /** new listeners per second at the peak of the arrival */
  arrivalPerSec: number;
  bitrateKbps: number;
  mode: DeliveryMode;
  /** share of an edge core planned for (headroom for bursts, GC, the host's other work) */
  cpuTarget: number;
  /** e.g. the open-files limit of an edge host */
  maxListenersPerEdge?: number;
  /** joins per second per edge core, overriding the figures' */
  joinsPerCore?: number;
  /** run this many edges instead of the computed number */
  edges?: number;
  /** how the balancer spreads listeners (default even: round robin, least connections) */
  balance?: 'even' | 'random';
  prices: Prices;
}

export interface CapacityPlan {
  edges: number;
  edgesForListeners: number;
  edgesForJoins: number;
  /** edges for the busiest edge to fit when listeners land on random edges */
  edgesForRandomBalance: number;
  /** what decided the edge count */
  limitedBy: 'listeners' | 'joins' | 'random balance' | 'given';
  perEdge: {
    maxListeners: number;
    joinsPerSec: number;
    listeners: number;
    memoryMb: number;
    mbitPerS: number;
  };
  cores: number;
  memoryGb: number;
  bandwidth: {
    bytesPerListenerS: number;
    overheadBytesPerS: number;
    gbitPerS: number;
    egressGbPerHour: number;
  };
  /** per hour for the whole edge tier, and per listener-hour; 0 where no price was given */
  cost: {
    coresPerHour: number;
    ramPerHour: number;
    egressPerHour: number;
    perHour: number;
    perListenerHour: number;
  };
  pricesUsed: Partial<Prices>;
  /** where each per-node figure came from */
  basis: {
    listenersPerCore: number;
    listenersPerCoreSource: string;
    joinsPerCore: number;
    joinsPerCoreSource: string;
    kbPerListener: number;
    edgeBaseRssMb: number;
  };
}

/** Joins per core assumed when the figures have none and none is given. */
export const ASSUMED_JOINS_PER_CORE = 5_000;
/** Edge RSS without listeners when the figures have none. */
const ASSUMED_EDGE_BASE_RSS_MB = 80;
/** CMAF + chunk framing per second when the figures have no wire measurement: README part 994 B / 200 ms at 32 kbps. */
const ASSUMED_STREAM_OVERHEAD_BYTES_S = 970;
/** Response head bytes of an LL-HLS answer (status line, Content-Type, Cache-Control, length...). */
const LLHLS_HEAD_BYTES = 250;
/** Live playlist size (README: 1,403 B). */
const LLHLS_PLAYLIST_BYTES = 1_403;

export const LIMITS = {
  listeners: [1, 1e9],
  arrivalPerSec: [1e-6, Infinity],
  bitrateKbps: [6, 10_000],
  cpuTarget: [0.05, 1],
  maxListenersPerEdge: [1, 1e7],
  joinsPerCore: [1, 1e7],
  edges: [1, 1e7],
  price: [0, 1e6],
} as const;

/** A decimal number, or NaN (so that '', '1x', 'NaN' and '0x10' are refused by the range checks). */
export function toNumber(s: string): number {
  return /^[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?$/i.test(s.trim()) ? Number(s) : NaN;
}

/**
 * Refuses a value outside [min, max] (or not a whole number when `integer`) with
 * CAPACITY_OUT_OF_RANGE, naming the input and its range.
 */
export function checkRange(name: string, v: number, min: number, max: number, integer = false): number {
  const ok =
    typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max && (!integer || Number.isInteger(v));
  if (!ok) {
    const range = max === Infinity ? `at least ${min}` : `from ${min} to ${max}`;
    throw new TribuneError(
      'CAPACITY_OUT_OF_RANGE',
      `${name} must be ${integer ? 'a whole number' : 'a number'} ${range} (got ${String(v)})`,
    );
  }
  return v;
}

export function checkInput(i: CapacityInput): void {
  checkRange('listeners', i.listeners, LIMITS.listeners[0], LIMITS.listeners[1], true);
  // more than every listener within one millisecond is not an arrival rate
  checkRange('arrivalPerSec', i.arrivalPerSec, LIMITS.arrivalPerSec[0], i.listeners * 1000);
  checkRange('bitrateKbps', i.bitrateKbps, LIMITS.bitrateKbps[0], LIMITS.bitrateKbps[1]);
  checkRange('cpuTarget', i.cpuTarget, LIMITS.cpuTarget[0], LIMITS.cpuTarget[1]);
  if (i.maxListenersPerEdge !== undefined)
    checkRange('maxListenersPerEdge', i.maxListenersPerEdge, ...LIMITS.maxListenersPerEdge, true);
  if (i.joinsPerCore !== undefined) checkRange('joinsPerCore', i.joinsPerCore, ...LIMITS.joinsPerCore);
  if (i.edges !== undefined) checkRange('edges', i.edges, ...LIMITS.edges, true);
  if (i.balance !== undefined && i.balance !== 'even' && i.balance !== 'random')
    throw new TribuneError(
      'CAPACITY_OUT_OF_RANGE',
      `balance must be even or random (got ${String(i.balance)})`,
    );
  for (const [k, v] of Object.entries(i.prices)) checkRange(`price ${k}`, v, ...LIMITS.price);
  if (i.mode !== 'stream' && i.mode !== 'llhls')
    throw new TribuneError('CAPACITY_OUT_OF_RANGE', `mode must be stream or llhls (got ${String(i.mode)})`);
}

/** Listeners one edge core holds in this mode, and where the figure comes from. */
export function listenersPerCore(f: EdgeFigures, mode: DeliveryMode): { value: number; source: string } {
  if (mode === 'stream')
    return {
      value: f.stream_listeners_per_core,
      source: `stream.mp4, measured at ${f.stream_listeners_measured} listeners`,
    };
  if (f.llhls_listeners_per_core === null)
    throw new TribuneError(
      'CAPACITY_OUT_OF_RANGE',
      'mode llhls: the figures have no LL-HLS listeners per core',
    );
  return { value: f.llhls_listeners_per_core, source: f.llhls_listeners_per_core_source };
}

/** Joins per second one edge core takes: given, measured, or assumed. */
export function joinsPerCore(f: EdgeFigures, given?: number): { value: number; source: string } {
  if (given !== undefined) return { value: given, source: 'given (--joins-per-core)' };
  if (f.stream_connects_per_s_per_core !== null)
    return { value: f.stream_connects_per_s_per_core, source: f.stream_connects_source };
  return { value: ASSUMED_JOINS_PER_CORE, source: 'assumed (the figures have no connect rate)' };
}

/** Bytes per second one listener costs on the wire at `bitrateKbps`. */
export function bytesPerListenerS(
  f: EdgeFigures,
  bitrateKbps: number,
  mode: DeliveryMode,
): { total: number; overhead: number } {
  const measured = f.wire_bytes_per_listener_s;
  let overhead =
    measured !== null
      ? Math.max(0, measured - (f.bench_bitrate_kbps * 1000) / 8)
      : ASSUMED_STREAM_OVERHEAD_BYTES_S;
  if (mode === 'llhls') {
    // per part: a playlist and a part, each with its response head, instead of one chunk
    const perS = 1000 / f.part_ms;
    overhead += perS * (LLHLS_PLAYLIST_BYTES + 2 * LLHLS_HEAD_BYTES);
  }
  return { total: (bitrateKbps * 1000) / 8 + overhead, overhead };
}

/** Smallest K >= from whose busiest edge, N/K + sqrt(2 ln K) sqrt(N/K), stays within cap. */
export function edgesForRandom(n: number, cap: number, from: number): number {
  let k = Math.max(1, from);
  const busiest = (k: number) => n / k + Math.sqrt(2 * Math.log(k)) * Math.sqrt(n / k);
  // grow geometrically, then bisect: the busiest edge's load falls as K grows
  let hi = k;
  while (busiest(hi) > cap) hi *= 2;
  while (k < hi) {
    const mid = Math.floor((k + hi) / 2);
    if (busiest(mid) > cap) k = mid + 1;
    else hi = mid;
  }
  return k;
}

export function plan(i: CapacityInput, f: EdgeFigures): CapacityPlan {
  checkInput(i);
  const lpc = listenersPerCore(f, i.mode);
  const jpc = joinsPerCore(f, i.joinsPerCore);
  const maxListeners = Math.max(
    1,
    Math.floor(Math.min(lpc.value * i.cpuTarget, i.maxListenersPerEdge ?? Infinity)),
  );
  const joinsPerSec = Math.max(1, Math.floor(jpc.value * i.cpuTarget));
  const edgesForListeners = Math.ceil(i.listeners / maxListeners);
  const edgesForJoins = Math.ceil(i.arrivalPerSec / joinsPerSec);
  const edgesForRandomBalance = edgesForRandom(i.listeners, maxListeners, edgesForListeners);
  const balanced = i.balance === 'random' ? edgesForRandomBalance : edgesForListeners;
  const needed = Math.max(balanced, edgesForJoins);
  const edges = i.edges ?? needed;
  const limitedBy: CapacityPlan['limitedBy'] =
    i.edges !== undefined
      ? 'given'
      : edgesForJoins > balanced
        ? 'joins'
        : balanced > edgesForListeners
          ? 'random balance'
          : 'listeners';

  const perEdgeListeners = Math.ceil(i.listeners / edges);
  const baseMb = f.edge_base_rss_mb ?? ASSUMED_EDGE_BASE_RSS_MB;
  const perEdgeMb = baseMb + (perEdgeListeners * f.memory_kb_per_listener) / 1024;
  const memoryGb = (edges * perEdgeMb) / 1024;
  const bw = bytesPerListenerS(f, i.bitrateKbps, i.mode);
  const bytesS = i.listeners * bw.total;
  const egressGbPerHour = (bytesS * 3600) / 1e9;

  const cores = edges;
  const coresPerHour = cores * i.prices.coreHour;
  const ramPerHour = memoryGb * i.prices.gbRamHour;
  const egressPerHour = egressGbPerHour * i.prices.gbEgress;
  const perHour = coresPerHour + ramPerHour + egressPerHour;
  const pricesUsed: Partial<Prices> = {};
  for (const [k, v] of Object.entries(i.prices) as [keyof Prices, number][]) if (v > 0) pricesUsed[k] = v;
  return {
    edges,
    edgesForListeners,
    edgesForJoins,
    edgesForRandomBalance,
    limitedBy,
    perEdge: {
      maxListeners,
      joinsPerSec,
      listeners: perEdgeListeners,
      memoryMb: perEdgeMb,
      mbitPerS: (perEdgeListeners * bw.total * 8) / 1e6,
    },
    cores,
    memoryGb,
    bandwidth: {
      bytesPerListenerS: bw.total,
      overheadBytesPerS: bw.overhead,
      gbitPerS: (bytesS * 8) / 1e9,
      egressGbPerHour,
    },
    cost: { coresPerHour, ramPerHour, egressPerHour, perHour, perListenerHour: perHour / i.listeners },
    pricesUsed,
    basis: {
      listenersPerCore: lpc.value,
      listenersPerCoreSource: lpc.source,
      joinsPerCore: jpc.value,
      joinsPerCoreSource: jpc.source,
      kbPerListener: f.memory_kb_per_listener,
      edgeBaseRssMb: baseMb,
    },
  };
}
