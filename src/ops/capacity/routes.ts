/**
 * GET /api/capacity: the capacity model over HTTP, for dashboards and scripts. The arithmetic
 * always; the simulation only while it stays small, since it runs on the origin's event loop: at
 * most 2,000,000 listeners and 20,000 per edge (pass `edges`), 20,000 listeners simulated, about
 * 120 ms for a step on the 2-core CI machine (15-50 ms for a ramp or a lobby); 30 requests per
 * minute per address. Absurd inputs get 400 CAPACITY_OUT_OF_RANGE naming the input and its range.
 *
 *   /api/capacity?listeners=100000&arrivalPerSec=2000&bitrateKbps=32[&edges=4][&mode=stream]
 *     [&profile=ramp|step|lobby][&balance=even|random][&cpuTarget=0.7][&simulate=0]
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorBody } from '../../api/schemas.js';
import { TribuneError } from '../../errors.js';
import type { ArrivalProfile } from './des.js';
import { loadFigures, README_FIGURES, type LoadedFigures } from './figures.js';
import { toNumber, type CapacityInput } from './model.js';
import { capacityReport, DEFAULT_CPU_TARGET } from './predict.js';

export const ROUTE_SIM_MAX_LISTENERS = 2_000_000;
export const ROUTE_SIM_MAX_PER_EDGE = 20_000;
const ROUTE_SIM_SAMPLE = 20_000;

const Num = Type.String({ maxLength: 32 });
export const CapacityQuery = Type.Object(
  {
    listeners: Type.Optional(Num),
    arrivalPerSec: Type.Optional(Num),
    bitrateKbps: Type.Optional(Num),
    edges: Type.Optional(Num),
    cpuTarget: Type.Optional(Num),
    mode: Type.Optional(Type.String({ maxLength: 16 })),
    profile: Type.Optional(Type.String({ maxLength: 16 })),
    balance: Type.Optional(Type.String({ maxLength: 16 })),
    simulate: Type.Optional(Type.Union([Type.Literal('0'), Type.Literal('1')])),
  },
  { additionalProperties: false },
);

export const CapacityAnswer = Type.Object({
  figures: Type.Unknown(),
  input: Type.Unknown(),
  plan: Type.Unknown(),
  simulation: Type.Unknown(),
  simulationNote: Type.Union([Type.String(), Type.Null()]),
});

export interface CapacityRoutesOptions {
  /** default: bench/results/edge.json, else the README's figures */
  figures?: LoadedFigures;
  /** requests per minute per client address (default 30) */
  perMinute?: number;
}

function defaultFigures(): LoadedFigures {
  try {
    return loadFigures();
  } catch (err) {
    // a broken figures file must not keep the origin from starting
    return { figures: README_FIGURES, source: `README figures (${(err as Error).message})` };
  }
}

export const capacityRoutes =
  (opts: CapacityRoutesOptions = {}): FastifyPluginAsyncTypebox =>
  async (app) => {
    const loaded = opts.figures ?? defaultFigures();
    app.get(
      '/capacity',
      {
        config: { rateLimit: { max: opts.perMinute ?? 30, timeWindow: 60_000 } },
        schema: {
          tags: ['ops'],
          summary: 'Edges, cores, memory, bandwidth and time to first audio for an audience',
          querystring: CapacityQuery,
          response: { 200: CapacityAnswer, 400: ErrorBody, 429: ErrorBody },
        },
      },
      async (req, reply) => {
        const q = req.query;
        const num = (s: string | undefined) => (s === undefined ? undefined : toNumber(s));
        const listeners = num(q.listeners);
        const arrivalPerSec = num(q.arrivalPerSec);
        if (listeners === undefined) throw new TribuneError('CAPACITY_OUT_OF_RANGE', 'listeners is required');
        if (arrivalPerSec === undefined)
          throw new TribuneError('CAPACITY_OUT_OF_RANGE', 'arrivalPerSec is required');
        const input: CapacityInput = {
          listeners,
          arrivalPerSec,
          bitrateKbps: num(q.bitrateKbps) ?? 32,
          mode: (q.mode ?? 'stream') as CapacityInput['mode'],
          cpuTarget: num(q.cpuTarget) ?? DEFAULT_CPU_TARGET,
          edges: num(q.edges),
          balance: (q.balance ?? 'even') as CapacityInput['balance'],
          prices: { coreHour: 0, gbEgress: 0, gbRamHour: 0 },
        };
        // the arithmetic first: it refuses absurd numbers before anything is simulated
        const arithmetic = capacityReport(input, loaded.figures, null);
        const perEdge = listeners / arithmetic.plan.edges;
        let note: string | null = null;
        if (q.simulate === '0') note = 'not asked (simulate=0)';
        else if (listeners > ROUTE_SIM_MAX_LISTENERS || perEdge > ROUTE_SIM_MAX_PER_EDGE)
          note = `over ${ROUTE_SIM_MAX_LISTENERS} listeners or ${ROUTE_SIM_MAX_PER_EDGE} per edge: run tribune capacity`;
        const report = note
          ? arithmetic
          : capacityReport(input, loaded.figures, {
              profile: (q.profile ?? 'ramp') as ArrivalProfile,
              seed: 1,
              sampleListeners: ROUTE_SIM_SAMPLE,
            });
        void reply.header('cache-control', 'no-store');
        return {
          figures: { source: loaded.source, date: loaded.figures.date, command: loaded.figures.command },
          input,
          plan: report.plan,
          simulation: report.simulation ? { ...report.simulation, trace: undefined, des: report.des } : null,
          simulationNote: note,
        };
      },
    );
  };
