/**
 * Discrete-event simulation of a crowd arriving through K edges with admission (pure: seeded RNG,
 * simulated clock, no I/O). Each edge runs the real AdmissionController, its `now` bound to the
 * simulated clock (whole milliseconds, like Date.now) and its `random` to the seeded RNG.
 *
 * Per listener: arrival (ramp: uniform over T s; step: all at t = 0; lobby: every page learns the
 * start RTT/2 after it and spreads its join uniformly over the window its edge chooses, its
 * connection already open) -> admit request at the edge -> admitted, or a ticket polled again at
 * the controller's retryInMs (or a fixed pollMs) -> stream request -> first audio. Stream mode
 * sends the newest part at once (first audio = the stream answer + RTT/2); LL-HLS asks for the
 * next part, which the edge answers when it exists (parts every partMs, random phase).
 *
 * Each edge is one core serving its requests in order (a single FIFO server with deterministic
 * service times: an M/D/1-like queue, so a burst above the edge's request throughput waits). An
 * admit or poll answer costs pollServiceMs, a stream connect joinServiceMs; both stretch by
 * 1 / (1 - delivery load), the load being the edge's playing listeners / listenersPerCore.
 * Listeners stay once playing (no departures).
 *
 * Aggregation: with uniform load balancing the edges are independent and identical, so edges are
 * simulated one by one: all K of them when N <= sampleListeners, otherwise a sample of S edges
 * (enough for sampleListeners listeners) and totals scaled by N / simulated listeners. `balance: 'even'` (round robin,
 * least connections) gives each edge N/K; `'random'` (hashing, DNS) draws each edge's count
 * (multinomial for all edges, Binomial(N, 1/K) for a sample), so some edges get more than the mean.
 * Percentiles pool the simulated listeners.
 */
import { AdmissionController, type AdmissionLimits } from '../../edge/admission/controller.js';
import {
  binomial,
  BUCKET_MS,
  bump,
  Heap,
  percentiles,
  seededRandom,
  sortedUniforms,
  type Percentiles,
} from './des-kit.js';

export { seededRandom, type Percentiles };

export type ArrivalProfile = 'ramp' | 'step' | 'lobby';

export interface DesParams {
  listeners: number;
  edges: number;
  profile: ArrivalProfile;
  /** ramp: arrivals spread uniformly over this many seconds */
  arrivalS: number;
  /** lobby: the start spread; default each edge's choice, min(waiting, cap) / joinsPerSec (at least one part) */
  joinWindowS?: number;
  limits: AdmissionLimits;
  mode: 'stream' | 'llhls';
  rttMs: number;
  /** round trips before a new connection's first request (TCP 1, +1 with TLS 1.3) */
  handshakeRtts: number;
  /** edge time per stream connect (1000 / connects per second per core) */
  joinServiceMs: number;
  /** edge time per admit or poll answer, and per LL-HLS part */
  pollServiceMs: number;
  partMs: number;
  /** delivery load of playing listeners on the edge's core; 0 ignores it */
  listenersPerCore: number;
  /** a fixed poll interval instead of the controller's retryInMs */
  pollMs?: number;
  /** waiting listeners give up after this long (default never) */
  abandonAfterS?: number;
  /** change every edge's limits at a time (an operator raising the cap) */
  limitChanges?: { atS: number; limits: AdmissionLimits }[];
  /** stop this long after the last arrival (default 300 s) */
  tailS?: number;
  seed: number;
  /** how listeners are spread over the edges (default even) */
  balance?: 'even' | 'random';
  /** simulate every edge when listeners <= this, else enough edges for this many (default 200,000) */
  sampleListeners?: number;
  /** simulate at least this many edges (default 1) */
  sampleEdges?: number;
  /** per simulated listener: ticket (0 = admitted at once), admission and first-audio times */
  trace?: boolean;
}

export interface TimelinePoint {
  tS: number;
  arrived: number;
  admitted: number;
  playing: number;
  queued: number;
  abandoned: number;
}

export interface DesResult {
  simulatedEdges: number;
  simulatedListeners: number;
  /** totals = simulated x scale (N / simulated listeners) */
  scale: number;
  arrivals: number;
  admitted: number;
  admittedAtOnce: number;
  queued: number;
  abandoned: number;
  playing: number;
  /** the same counts for the simulated edges alone, unscaled */
  simulated: { arrivals: number; admitted: number; queued: number; abandoned: number; playing: number };
  /** from the listener's arrival (ramp, step) or the host's start (lobby), ms */
  firstAudioMs: Percentiles;
  firstAudioAtOnceMs: Percentiles;
  firstAudioFromQueueMs: Percentiles;
  peakQueue: number;
  peakQueueAtS: number;
  peakQueuePerEdge: number;
  /** longest wait of a request for its edge's core */
  maxServerWaitMs: number;
  /** lobby: the join window the (first) edge chose */
  joinWindowS: number | null;
  lastFirstAudioS: number;
  endS: number;
  events: number;
  timeline: TimelinePoint[];
  trace?: { edge: number; ticket: number; refMs: number; admittedMs: number; firstAudioMs: number }[];
}

const K_POLL = 0;
const K_STREAM = 1;
const K_PART = 2;
const K_LIMITS = 3;

interface EdgeOut {
  latencies: Float64Array;
  atOnce: Uint8Array;
  done: number;
  admitted: number;
  admittedAtOnce: number;
  queued: number;
  abandoned: number;
  peakQueue: number;
  maxServerWaitMs: number;
  joinWindowS: number | null;
  lastFirstAudioMs: number;
  endMs: number;
  events: number;
  /** bucketed counts: arrivals, admissions, first audio, tickets, admissions from the queue, give-ups */
  series: { arr: number[]; adm: number[]; play: number[]; tick: number[]; admQ: number[]; aband: number[] };
  trace?: DesResult['trace'];
}

function simulateEdge(p: DesParams, n: number, edge: number, rnd: () => number): EdgeOut {
  const rtt = p.rttMs;
  let joinWindowS: number | null = null;
  // reference time (first audio counts from it) and the admit request's arrival at the edge
  let ref: Float64Array;
  let atEdge: Float64Array;
  if (p.profile === 'lobby') {
    const w =
      p.joinWindowS ?? Math.max(p.partMs / 1000, Math.min(n, p.limits.maxListeners) / p.limits.joinsPerSec);
    joinWindowS = w;
    ref = new Float64Array(n);
    atEdge = sortedUniforms(n, w * 1000, rnd).map((x) => x + rtt / 2 + rtt / 2);
  } else {
    ref = p.profile === 'step' ? new Float64Array(n) : sortedUniforms(n, p.arrivalS * 1000, rnd);
    const connect = p.handshakeRtts * rtt + rtt / 2;
    atEdge = ref.map((x) => x + connect);
  }
  let clock = 0;
  const ctrl = new AdmissionController({
    limits: { ...p.limits },
    now: () => Math.floor(clock),
    random: rnd,
  });
  const ticket = new Int32Array(n);
  const admittedAt = new Float64Array(n).fill(-1);
  const latencies = new Float64Array(n).fill(-1);
  const atOnce = new Uint8Array(n);
  const heap = new Heap();
  for (const [i, c] of (p.limitChanges ?? []).entries()) heap.push(c.atS * 1000, i * 4 + K_LIMITS);
  const phase = rnd() * p.partMs;
  const lastArrival = n ? atEdge[n - 1]! : 0;
  const horizon = lastArrival + (p.tailS ?? 300) * 1000;
  const abandonMs = p.abandonAfterS === undefined ? Infinity : p.abandonAfterS * 1000;
  const series = { arr: [], adm: [], play: [], tick: [], admQ: [], aband: [] } as EdgeOut['series'];
  let busy = 0;
  let playing = 0;
  let done = 0;
  let admitted = 0;
  let admittedAtOnce = 0;
  let queued = 0;
  let abandoned = 0;
  let peakQueue = 0;
  let maxServerWaitMs = 0;
  let lastFirstAudioMs = 0;
  let events = 0;
  let now: number;

  /** the edge's core: serves a request arriving at t; sets the controller's clock to its start */
  const serve = (t: number, cost: number): number => {
    const start = Math.max(t, busy);
    maxServerWaitMs = Math.max(maxServerWaitMs, start - t);
    const load = p.listenersPerCore > 0 ? Math.min(0.9, playing / p.listenersPerCore) : 0;
    busy = start + cost / (1 - load);
    clock = Math.max(clock, start);
    return busy;
  };
  /** `ticketed`: the listener held a number; `first`: admitted by its first request */
  const admit = (
    i: number,
    decidedAt: number,
    answeredAt: number,
    ticketed: boolean,
    first: boolean,
  ): void => {
    admitted++;
    admittedAt[i] = decidedAt;
    bump(series.adm, decidedAt);
    if (ticketed) {
      queued--;
      bump(series.admQ, decidedAt);
    }
    if (first) {
      admittedAtOnce++;
      atOnce[i] = 1;
    }
    heap.push(answeredAt + rtt, i * 4 + K_STREAM); // answer back, stream request out
  };
  const firstAudio = (i: number, t: number): void => {
    latencies[i] = t - ref[i]!;
    done++;
    lastFirstAudioMs = Math.max(lastFirstAudioMs, t);
    bump(series.play, t);
  };
  const wait = (i: number, answeredAt: number, retryInMs: number): void => {
    const retry = p.pollMs ?? retryInMs;
    const next = answeredAt + rtt / 2 + retry;
    if (next - ref[i]! > abandonMs) {
      queued--;
      abandoned++;
      bump(series.aband, ref[i]! + abandonMs);
      return;
    }
    heap.push(next + rtt / 2, i * 4 + K_POLL);
  };

  let ai = 0;
  for (;;) {
    const tArr = ai < n ? atEdge[ai]! : Infinity;
    const tEv = heap.topTime();
    now = Math.min(tArr, tEv);
    if (now === Infinity || now > horizon) break;
    events++;
    if (tArr <= tEv) {
      const i = ai++;
      bump(series.arr, ref[i]!);
      const d = serve(now, p.pollServiceMs);
      const r = ctrl.arrive();
      if (r.admitted) {
        admit(i, clock, d, false, true);
        continue;
      }
      ticket[i] = r.n;
      queued++;
      bump(series.tick, clock);
      const q = ctrl.poll(r.n);
      if (q.admitted) admit(i, clock, d, true, true);
      else wait(i, d, q.retryInMs);
      peakQueue = Math.max(peakQueue, queued);
      continue;
    }
    const val = heap.pop();
    const i = Math.floor(val / 4);
    const kind = val % 4;
    if (kind === K_POLL) {
      const d = serve(now, p.pollServiceMs);
      const q = ctrl.poll(ticket[i]!);
      if (q.admitted) admit(i, clock, d, true, false);
      else wait(i, d, q.retryInMs);
    } else if (kind === K_STREAM) {
      const d = serve(now, p.joinServiceMs);
      playing++;
      if (p.mode === 'stream') {
        firstAudio(i, d + rtt / 2);
      } else {
        // the playlist answer, then the next part (a blocking request answered when it exists)
        const req = d + rtt;
        heap.push(Math.ceil((req - phase) / p.partMs) * p.partMs + phase, i * 4 + K_PART);
      }
    } else if (kind === K_PART) {
      firstAudio(i, serve(now, p.pollServiceMs) + rtt / 2);
    } else {
      clock = Math.max(clock, now);
      ctrl.setLimits(p.limitChanges![i]!.limits);
    }
  }

  let trace: EdgeOut['trace'];
  if (p.trace)
    trace = Array.from({ length: n }, (_, i) => ({
      edge,
      ticket: ticket[i]!,
      refMs: ref[i]!,
      admittedMs: admittedAt[i]!,
      firstAudioMs: latencies[i]! >= 0 ? ref[i]! + latencies[i]! : -1,
    }));
  return {
    latencies,
    atOnce,
    done,
    admitted,
    admittedAtOnce,
    queued: queued + (n - ai), // arrivals past the horizon count as waiting
    abandoned,
    peakQueue,
    maxServerWaitMs,
    joinWindowS,
    lastFirstAudioMs,
    endMs: Math.min(now, horizon),
    events,
    series,
    trace,
  };
}

export function simulate(p: DesParams): DesResult {
  const rnd = seededRandom(p.seed);
  const k = p.edges;
  const target = p.sampleListeners ?? 200_000;
  const full = p.listeners <= target && k <= 10_000;
  const perEdge = p.listeners / k;
  const sample = full
    ? k
    : Math.min(k, Math.max(p.sampleEdges ?? 1, Math.ceil(target / Math.max(1, perEdge))));
  const random = p.balance === 'random';
  // listeners per simulated edge: all N split (evenly, or multinomially), or a sample's counts
  // (N/K each, or Binomial(N, 1/K) draws)
  const counts: number[] = [];
  let left = p.listeners;
  for (let e = 0; e < sample; e++) {
    if (full) {
      const c = random ? (e === k - 1 ? left : binomial(left, 1 / (k - e), rnd)) : Math.ceil(left / (k - e));
      counts.push(c);
      left -= c;
    } else counts.push(random ? binomial(p.listeners, 1 / k, rnd) : Math.round(perEdge));
  }
  const outs = counts.map((c, e) => simulateEdge(p, c, e, rnd));
  const simulated = counts.reduce((a, b) => a + b, 0);
  // totals: simulated x N / simulated (= K / S when every simulated edge holds N/K)
  const scale = simulated > 0 ? p.listeners / simulated : k / sample;
  const cat = (pick: (o: EdgeOut) => Float64Array, keep: (o: EdgeOut, j: number) => boolean) => {
    const all = new Float64Array(simulated).fill(-1);
    let off = 0;
    for (const o of outs) {
      const xs = pick(o);
      for (let j = 0; j < xs.length; j++) if (keep(o, j)) all[off + j] = xs[j]!;
      off += xs.length;
    }
    return all;
  };
  const sum = (f: (o: EdgeOut) => number) => outs.reduce((a, o) => a + f(o), 0);
  const tot = (f: (o: EdgeOut) => number) => Math.round(sum(f) * scale);

  // timeline: cumulative counts per bucket, summed over edges and scaled
  const buckets = Math.max(1, ...outs.map((o) => Math.max(...Object.values(o.series).map((a) => a.length))));
  const cum = (key: keyof EdgeOut['series']) => {
    const out = new Float64Array(buckets);
    for (const o of outs) {
      let c = 0;
      for (let b = 0; b < buckets; b++) out[b] += c += o.series[key][b] ?? 0;
    }
    return out.map((x) => x * scale);
  };
  const arr = cum('arr');
  const adm = cum('adm');
  const play = cum('play');
  const tick = cum('tick');
  const admQ = cum('admQ');
  const aband = cum('aband');
  let peakQueue = 0;
  let peakQueueAtS = 0;
  const points: TimelinePoint[] = [];
  const every = Math.max(1, Math.ceil(buckets / 40));
  for (let b = 0; b < buckets; b++) {
    const queued = tick[b]! - admQ[b]! - aband[b]!;
    if (queued > peakQueue) {
      peakQueue = queued;
      peakQueueAtS = ((b + 1) * BUCKET_MS) / 1000;
    }
    if (b % every === every - 1 || b === buckets - 1)
      points.push({
        tS: ((b + 1) * BUCKET_MS) / 1000,
        arrived: Math.round(arr[b]!),
        admitted: Math.round(adm[b]!),
        playing: Math.round(play[b]!),
        queued: Math.round(queued),
        abandoned: Math.round(aband[b]!),
      });
  }
  const latencies = cat(
    (o) => o.latencies,
    () => true,
  );
  return {
    simulatedEdges: sample,
    simulatedListeners: simulated,
    scale,
    arrivals: p.listeners,
    admitted: tot((o) => o.admitted),
    admittedAtOnce: tot((o) => o.admittedAtOnce),
    queued: tot((o) => o.queued),
    abandoned: tot((o) => o.abandoned),
    playing: tot((o) => o.done),
    simulated: {
      arrivals: simulated,
      admitted: sum((o) => o.admitted),
      queued: sum((o) => o.queued),
      abandoned: sum((o) => o.abandoned),
      playing: sum((o) => o.done),
    },
    firstAudioMs: percentiles(latencies),
    firstAudioAtOnceMs: percentiles(
      cat(
        (o) => o.latencies,
        (o, j) => o.atOnce[j] === 1,
      ),
    ),
    firstAudioFromQueueMs: percentiles(
      cat(
        (o) => o.latencies,
        (o, j) => o.atOnce[j] === 0,
      ),
    ),
    peakQueue: Math.round(peakQueue),
    peakQueueAtS,
    peakQueuePerEdge: Math.max(0, ...outs.map((o) => o.peakQueue)),
    maxServerWaitMs: Math.round(Math.max(0, ...outs.map((o) => o.maxServerWaitMs)) * 10) / 10,
    joinWindowS: outs[0]?.joinWindowS ?? null,
    lastFirstAudioS: Math.round(Math.max(0, ...outs.map((o) => o.lastFirstAudioMs))) / 1000,
    endS: Math.round(Math.max(0, ...outs.map((o) => o.endMs))) / 1000,
    events: sum((o) => o.events),
    timeline: points,
    trace: p.trace ? outs.flatMap((o) => o.trace ?? []) : undefined,
  };
}
