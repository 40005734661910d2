/**
 * The capacity model end to end: the arithmetic (model.ts) sizes the edge tier, then the
 * discrete-event simulation (des.ts) runs the arrival through it with the real admission policy.
 * The simulation's parameters are explicit inputs; their defaults come from the stored figures
 * (service times) or are stated assumptions (network round trip).
 */
import { TribuneError } from '../../errors.js';
import type { AdmissionLimits } from '../../edge/admission/controller.js';
import { simulate, type ArrivalProfile, type DesParams, type DesResult } from './des.js';
import { loadFigures, type EdgeFigures } from './figures.js';
import {
  checkRange,
  joinsPerCore,
  listenersPerCore,
  plan,
  type CapacityInput,
  type CapacityPlan,
} from './model.js';

/** Listener <-> edge round trip assumed for a real deployment (listeners on the internet). */
export const DEFAULT_RTT_MS = 50;
/** TCP + TLS 1.3 before a new connection's first request. */
export const DEFAULT_HANDSHAKE_RTTS = 2;
/** Share of an edge core planned for. */
export const DEFAULT_CPU_TARGET = 0.7;
/** The simulation runs at most this many listeners on one edge (wall time and memory). */
export const MAX_SIM_LISTENERS_PER_EDGE = 2_000_000;

export interface SimOptions {
  profile: ArrivalProfile;
  seed: number;
  rttMs?: number;
  handshakeRtts?: number;
  joinServiceMs?: number;
  pollServiceMs?: number;
  pollMs?: number;
  abandonAfterS?: number;
  joinWindowS?: number;
  sampleEdges?: number;
  /** simulated listeners to aim for (default 200,000) */
  sampleListeners?: number;
  /** per-edge admission limits; default the plan's */
  limits?: AdmissionLimits;
}

export type DesSetup = Omit<DesParams, 'trace'> & { sources: Record<string, string> };

export interface CapacityReport {
  plan: CapacityPlan;
  /** the simulation's resolved parameters, and where the defaults came from */
  des: DesSetup | null;
  simulation: DesResult | null;
}

/** Simulation parameters for a plan: the given ones, else defaults from the figures. */
export function desParams(input: CapacityInput, p: CapacityPlan, f: EdgeFigures, o: SimOptions): DesSetup {
  const check = (name: string, v: number | undefined, min: number, max: number, int = false) =>
    v === undefined ? undefined : checkRange(name, v, min, max, int);
  check('rttMs', o.rttMs, 0, 10_000);
  check('handshakeRtts', o.handshakeRtts, 0, 10, true);
  check('joinServiceMs', o.joinServiceMs, 1e-4, 10_000);
  check('pollServiceMs', o.pollServiceMs, 1e-4, 10_000);
  check('pollMs', o.pollMs, 1, 3_600_000);
  check('abandonAfterS', o.abandonAfterS, 0, 86_400);
  check('joinWindowS', o.joinWindowS, 0.001, 86_400);
  check('sampleEdges', o.sampleEdges, 1, 1000, true);
  check('sampleListeners', o.sampleListeners, 1, 2_000_000, true);
  check('seed', o.seed, 0, 2 ** 32 - 1, true);
  if (o.limits) {
    check('maxListeners', o.limits.maxListeners, 0, 1e9, true);
    check('joinsPerSec', o.limits.joinsPerSec, 1e-3, 1e9);
  }
  if (!['ramp', 'step', 'lobby'].includes(o.profile))
    throw new TribuneError('CAPACITY_OUT_OF_RANGE', `profile must be ramp, step or lobby (got ${o.profile})`);
  if (input.listeners / p.edges > MAX_SIM_LISTENERS_PER_EDGE)
    throw new TribuneError(
      'CAPACITY_OUT_OF_RANGE',
      `edges must be at least listeners / ${MAX_SIM_LISTENERS_PER_EDGE} for the simulation (got ${p.edges})`,
    );
  const jpc = joinsPerCore(f, input.joinsPerCore);
  const pollSource = f.edge_req_per_core ? 'figures: 1000 / cached answers per s per core' : 'assumed';
  return {
    listeners: input.listeners,
    edges: p.edges,
    profile: o.profile,
    arrivalS: input.listeners / input.arrivalPerSec,
    joinWindowS: o.joinWindowS,
    limits: o.limits ?? { maxListeners: p.perEdge.maxListeners, joinsPerSec: p.perEdge.joinsPerSec },
    mode: input.mode,
    rttMs: o.rttMs ?? DEFAULT_RTT_MS,
    handshakeRtts: o.handshakeRtts ?? DEFAULT_HANDSHAKE_RTTS,
    joinServiceMs: o.joinServiceMs ?? 1000 / jpc.value,
    pollServiceMs: o.pollServiceMs ?? 1000 / (f.edge_req_per_core ?? 20_000),
    partMs: f.part_ms,
    listenersPerCore: listenersPerCore(f, input.mode).value,
    pollMs: o.pollMs,
    abandonAfterS: o.abandonAfterS,
    seed: o.seed,
    sampleEdges: o.sampleEdges,
    sampleListeners: o.sampleListeners,
    balance: input.balance ?? 'even',
    sources: {
      rttMs: o.rttMs === undefined ? 'assumed: internet listeners' : 'given',
      handshakeRtts: o.handshakeRtts === undefined ? 'assumed: TCP + TLS 1.3' : 'given',
      joinServiceMs:
        o.joinServiceMs === undefined ? `figures: 1000 / joins per core (${jpc.source})` : 'given',
      pollServiceMs: o.pollServiceMs === undefined ? pollSource : 'given',
      pollMs: o.pollMs === undefined ? "the controller's retryInMs (jittered)" : 'given',
      limits: o.limits ? 'given' : 'from the plan',
    },
  };
}

/** Plans the edge tier, then (unless `sim` is null) simulates the arrival through it. */
export function capacityReport(input: CapacityInput, f: EdgeFigures, sim: SimOptions | null): CapacityReport {
  const p = plan(input, f);
  const des = sim ? desParams(input, p, f, sim) : null;
  return { plan: p, des, simulation: des ? simulate(des) : null };
}

export interface PredictParams extends Partial<Omit<DesParams, 'listeners'>> {
  listeners: number;
  /** ramp: arrivals per second (default: all within 60 s) */
  arrivalPerSec?: number;
  bitrateKbps?: number;
  cpuTarget?: number;
  joinsPerCore?: number;
}

export interface FirstAudioPrediction {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  admitted: number;
  admittedAtOnce: number;
  queued: number;
  abandoned: number;
  peakQueue: number;
  lastFirstAudioS: number;
  /** the parameters the simulation ran with */
  params: DesParams;
  result: DesResult;
}

/**
 * Time to first audio the simulation predicts: any DesParams field may be given (e.g. this
 * machine's RTT, service times, one edge capped at 5,000); the rest come from the plan and the
 * figures (default bench/results/edge.json).
 */
export function predictFirstAudio(params: PredictParams, figures?: EdgeFigures): FirstAudioPrediction {
  const f = figures ?? loadFigures().figures;
  const arrivalS = params.arrivalS ?? (params.arrivalPerSec ? params.listeners / params.arrivalPerSec : 60);
  const input: CapacityInput = {
    listeners: params.listeners,
    arrivalPerSec: params.arrivalPerSec ?? params.listeners / Math.max(arrivalS, 1e-3),
    bitrateKbps: params.bitrateKbps ?? 32,
    mode: params.mode ?? 'stream',
    cpuTarget: params.cpuTarget ?? DEFAULT_CPU_TARGET,
    joinsPerCore: params.joinsPerCore,
    edges: params.edges,
    balance: params.balance,
    prices: { coreHour: 0, gbEgress: 0, gbRamHour: 0 },
  };
  const p = plan(input, f);
  const base = desParams(input, p, f, {
    profile: params.profile ?? 'ramp',
    seed: params.seed ?? 1,
    limits: params.limits,
  });
  const { sources: _sources, ...defaults } = base;
  const { arrivalPerSec: _r, bitrateKbps: _b, cpuTarget: _c, joinsPerCore: _j, ...overrides } = params;
  const des: DesParams = { ...defaults, arrivalS, ...stripUndefined(overrides) };
  const r = simulate(des);
  return {
    p50Ms: r.firstAudioMs.p50,
    p90Ms: r.firstAudioMs.p90,
    p99Ms: r.firstAudioMs.p99,
    maxMs: r.firstAudioMs.max,
    meanMs: r.firstAudioMs.mean,
    admitted: r.admitted,
    admittedAtOnce: r.admittedAtOnce,
    queued: r.queued,
    abandoned: r.abandoned,
    peakQueue: r.peakQueue,
    lastFirstAudioS: r.lastFirstAudioS,
    params: des,
    result: r,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
