/**
 * Adding the edges' defence windows up (the classifier's and the console's input): classes,
 * per-client rate histograms, networks and pattern counts are summed; the client sketches
 * (HyperLogLog) are merged, so a client seen by two edges, or in two seconds, counts once.
 * Windows come from edges over signed reports; a field that is not a finite number counts 0 and a
 * sketch that does not decode is left out (counted in `badSketches`).
 */
import { Hll } from '../../edge/defence/hll.js';
import { emptyClassCounts } from '../../edge/defence/telemetry.js';
import {
  RATE_BUCKETS,
  REQUEST_CLASSES,
  type ClassCounts,
  type DefenceWindow,
} from '../../edge/defence/types.js';

export interface Merged {
  fromMs: number;
  toMs: number;
  /** The span the windows cover (earliest start to latest end), seconds. */
  seconds: number;
  windows: number;
  /** Mean length of one window, seconds: a histogram count over it is a client's rate. */
  windowSeconds: number;
  classes: ClassCounts;
  requests: number;
  rps: number;
  /** Distinct clients over the whole span (merged HLL estimate). */
  clients: number;
  hll: Hll;
  /** Windows whose clientsHll did not decode (left out of `clients`). */
  badSketches: number;
  rateHistogram: number[];
  networks: number;
  knownNetworks: number;
  patternOk: number;
  patternTotal: number;
}

function num(x: unknown): number {
  return typeof x === 'number' && Number.isFinite(x) ? x : 0;
}

/** Sums any number of windows from any number of edges; merges their client sketches. */
export function mergeWindows(windows: readonly DefenceWindow[]): Merged {
  const classes = emptyClassCounts();
  const rateHistogram = new Array<number>(RATE_BUCKETS).fill(0);
  const hll = new Hll();
  let fromMs = Infinity;
  let toMs = -Infinity;
  let windowMs = 0;
  let badSketches = 0;
  let networks = 0;
  let knownNetworks = 0;
  let patternOk = 0;
  let patternTotal = 0;
  for (const w of windows) {
    fromMs = Math.min(fromMs, w.fromMs);
    toMs = Math.max(toMs, w.toMs);
    windowMs += Math.max(0, w.toMs - w.fromMs);
    for (const c of REQUEST_CLASSES) classes[c] += num(w.classes?.[c]);
    const hist = w.rateHistogram ?? [];
    for (let i = 0; i < RATE_BUCKETS && i < hist.length; i++) rateHistogram[i] += num(hist[i]);
    networks += num(w.networks);
    knownNetworks += num(w.knownNetworks);
    patternOk += num(w.patternOk);
    patternTotal += num(w.patternTotal);
    try {
      hll.merge(Hll.fromBase64(w.clientsHll));
    } catch {
      badSketches++;
    }
  }
  let requests = 0;
  for (const c of REQUEST_CLASSES) requests += classes[c];
  const n = windows.length;
  const seconds = n > 0 ? Math.max(0, toMs - fromMs) / 1000 : 0;
  return {
    fromMs: n > 0 ? fromMs : 0,
    toMs: n > 0 ? toMs : 0,
    seconds,
    windows: n,
    windowSeconds: n > 0 ? windowMs / n / 1000 : 0,
    classes,
    requests,
    rps: seconds > 0 ? requests / seconds : 0,
    clients: hll.estimate(),
    hll,
    badSketches,
    rateHistogram,
    networks,
    knownNetworks,
    patternOk,
    patternTotal,
  };
}
