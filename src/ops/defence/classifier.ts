/**
 * The origin's crowd-or-attack classifier over the edges' defence telemetry (src/edge/defence).
 * Jung, Krishnamurthy & Rabinovich ("Flash crowds and denial of service attacks", WWW 2002): a
 * flash crowd grows by the NUMBER of clients while each client's rate stays steady, its clients
 * mostly come from networks seen before, and its requests follow the content's popularity (here:
 * the player's request pattern); an attack breaks these. Each second the classifier merges all
 * edges' windows, evaluates the last EVAL_WINDOW_MS against a baseline learned from normal
 * periods, and labels the load `normal`, `crowd`, `attack` or `mixed` (an attack during a crowd).
 *
 * Thresholds, and why:
 * - SURGE_RATIO 3: total req/s at least 3x the baseline. Daily audience swings and a Space
 *   starting on time move load by less than that within the baseline's minute; the floors
 *   (MIN_BASELINE_RPS 50, MIN_BASELINE_CLIENTS 10) keep an idle deployment from calling 20 req/s
 *   a surge. Without a surge nothing is labelled crowd or attack: per-address limits handle a
 *   single misbehaving client that does not move the fleet's load.
 * - CLIENT_GROWTH_RATIO 2: distinct clients per second at least 2x the baseline: a crowd is more
 *   people, not the same people asking more.
 * - STEADY_RATE_RATIO 2 and P90_STEADY_RPS 32: per-client req/s at most 2x the baseline's and
 *   the 90th-percentile client under 32 req/s. A player makes <= ~12 req/s (LL-HLS parts at
 *   ~4/s, playlists, a state poll); 32 leaves room for a few players behind one NAT.
 * - HEAVY_RPS 64, HEAVY_SHARE_MAX 0.5: a client over 64 req/s is not one player (5x its rate);
 *   when such clients make over half the requests, the load is theirs. Decisive for attack.
 * - BAD_SHARE_MAX 0.5 (and BAD_EXCESS_MIN 0.25 over the baseline's bad share): over half the
 *   requests tokenless, with a bad token, for unknown paths or refused, and at least 25 points
 *   more than usual (a deployment without admission serves everything tokenless). Decisive.
 * - PATTERN_MIN 0.6: under 60% of requests follow the player's pattern. Players sharing an
 *   address lose some conformance; a crowd of real players stays well above (CROWD_PATTERN_MIN
 *   0.8 is required to call a crowd). Decisive for attack below 0.6.
 * - CROWD_BAD_SHARE_MAX 0.2 (or within 0.1 of the baseline's): a crowd's requests are mostly good.
 * - GOOD_SURGE_RATIO 3: for `mixed`, the well-behaved requests (media with a valid token and
 *   control) alone are 3x their baseline, with client growth: a crowd is there under the flood.
 * - KNOWN_NETWORK_CROWD 0.5 / KNOWN_NETWORK_ATTACK 0.2: share of networks seen in the past day.
 *   Weak (a new audience comes from new networks too): evidence only, never decisive.
 * - BASELINE_TAU_MS 60 s: the baseline is an EWMA over about a minute of seconds labelled
 *   normal, frozen while the label is anything else (a crowd must not become its own baseline);
 *   the first second reported seeds it.
 * - HOLD_OBSERVATIONS 2: a new label must come out of 2 consecutive observations (2 s at one
 *   per second) before it replaces the current one, so the verdict does not flap.
 */
import {
  type DefenceWindow,
  type Evidence,
  type Verdict,
  type VerdictResult,
} from '../../edge/defence/types.js';
import { mergeWindows, type Merged } from './merge.js';

export { mergeWindows, type Merged } from './merge.js';

export const EVAL_WINDOW_MS = 5_000;
export const HOLD_OBSERVATIONS = 2;
export const BASELINE_TAU_MS = 60_000;
export const MIN_BASELINE_RPS = 50;
export const MIN_BASELINE_GOOD_RPS = 50;
export const MIN_BASELINE_CLIENTS = 10;
export const SURGE_RATIO = 3;
export const GOOD_SURGE_RATIO = 3;
export const CLIENT_GROWTH_RATIO = 2;
export const STEADY_RATE_RATIO = 2;
export const P90_STEADY_RPS = 32;
export const HEAVY_RPS = 64;
export const HEAVY_SHARE_MAX = 0.5;
export const BAD_SHARE_MAX = 0.5;
export const BAD_EXCESS_MIN = 0.25;
export const CROWD_BAD_SHARE_MAX = 0.2;
export const CROWD_BAD_EXCESS_MAX = 0.1;
export const PATTERN_MIN = 0.6;
export const CROWD_PATTERN_MIN = 0.8;
export const KNOWN_NETWORK_CROWD = 0.5;
export const KNOWN_NETWORK_ATTACK = 0.2;

/** Requests that are neither a player's nor served normally. */
const BAD_CLASSES = ['tokenless', 'bad_token', 'unknown_path', 'refused'] as const;
/** Requests of well-behaved players. */
const GOOD_CLASSES = ['media_token', 'control'] as const;

/** The usual load, learned from normal seconds. */
export interface Baseline {
  rps: number;
  goodRps: number;
  clients: number;
  badShare: number;
}

/** A histogram bucket's typical request count: 1, then the middle of [2^i, 2^(i+1)). */
function bucketMid(i: number): number {
  return i === 0 ? 1 : 1.5 * 2 ** i;
}

/** The rate (req/s) of the client at quantile q of the histogram, from its bucket's middle. */
function histQuantile(hist: readonly number[], q: number, windowSeconds: number): number {
  let total = 0;
  for (const n of hist) total += n;
  if (total === 0) return 0;
  let acc = 0;
  for (let i = 0; i < hist.length; i++) {
    acc += hist[i];
    if (acc >= q * total) return bucketMid(i) / windowSeconds;
  }
  return bucketMid(hist.length - 1) / windowSeconds;
}

/** Share of requests (estimated from bucket middles) from clients at HEAVY_RPS or more. */
function heavyShareOf(hist: readonly number[], windowSeconds: number): number {
  let heavy = 0;
  let all = 0;
  for (let i = 0; i < hist.length; i++) {
    const requests = hist[i] * bucketMid(i);
    all += requests;
    if (2 ** i / windowSeconds >= HEAVY_RPS) heavy += requests;
  }
  return all > 0 ? heavy / all : 0;
}

export interface Evaluation extends VerdictResult {
  features: Record<string, number>;
}

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

function r1(x: number): string {
  return x >= 100 ? String(Math.round(x)) : x.toFixed(1);
}

/**
 * The label the evidence of one evaluation span calls for (before the hold), pure.
 * `merged`: all windows of the span; `clientsPerSecond`: the mean of the per-second distinct
 * client estimates over the span (comparable with the baseline's); `spanSeconds`: how long the
 * span lasted by the origin's clock (default: the windows' own span; with several edges whose
 * clocks differ, the caller's clock is the one to use).
 */
export function evaluate(
  merged: Merged,
  clientsPerSecond: number,
  baseline: Baseline,
  spanSeconds = merged.seconds,
): Evaluation {
  const winS = merged.windowSeconds > 0 ? merged.windowSeconds : 1;
  const seconds = spanSeconds > 0 ? spanSeconds : 1;
  const rps = merged.requests / seconds;
  let good = 0;
  for (const c of GOOD_CLASSES) good += merged.classes[c];
  let bad = 0;
  for (const c of BAD_CLASSES) bad += merged.classes[c];
  const goodRps = good / seconds;
  const baseRps = Math.max(baseline.rps, MIN_BASELINE_RPS);
  const baseGoodRps = Math.max(baseline.goodRps, MIN_BASELINE_GOOD_RPS);
  const baseClients = Math.max(baseline.clients, MIN_BASELINE_CLIENTS);
  const surge = rps / baseRps;
  const goodSurge = goodRps / baseGoodRps;
  const clientGrowth = clientsPerSecond / baseClients;
  const perClient = clientsPerSecond > 0 ? rps / clientsPerSecond : 0;
  const basePerClient = baseRps / baseClients;
  const perClientRatio = perClient / basePerClient;
  const medianRps = histQuantile(merged.rateHistogram, 0.5, winS);
  const p90Rps = histQuantile(merged.rateHistogram, 0.9, winS);
  const heavyShare = heavyShareOf(merged.rateHistogram, winS);
  const badShare = merged.requests > 0 ? bad / merged.requests : 0;
  const badExcess = badShare - baseline.badShare;
  const pattern = merged.patternTotal > 0 ? merged.patternOk / merged.patternTotal : 1;
  const knownShare = merged.networks > 0 ? merged.knownNetworks / merged.networks : 1;

  const surging = surge >= SURGE_RATIO;
  const growing = clientGrowth >= CLIENT_GROWTH_RATIO;
  const steady = perClientRatio <= STEADY_RATE_RATIO && p90Rps <= P90_STEADY_RPS;
  const heavy = heavyShare > HEAVY_SHARE_MAX;
  const badMostly = badShare > BAD_SHARE_MAX && badExcess >= BAD_EXCESS_MIN;
  const offPattern = pattern < PATTERN_MIN;
  const attackSigns = heavy || badMostly || offPattern;
  const goodCrowd = goodSurge >= GOOD_SURGE_RATIO && growing;
  const lowBad = badShare <= CROWD_BAD_SHARE_MAX || badExcess <= CROWD_BAD_EXCESS_MAX;

  let verdict: Verdict = 'normal';
  if (surging && attackSigns) verdict = goodCrowd ? 'mixed' : 'attack';
  else if (surging && growing && steady && pattern >= CROWD_PATTERN_MIN && lowBad) verdict = 'crowd';

  const evidence: Evidence[] = [
    {
      feature: 'surge',
      value: surge,
      threshold: SURGE_RATIO,
      points: !surging ? 'normal' : growing ? 'crowd' : 'attack',
      text: `${r1(rps)} req/s, ${r1(surge)}x the usual ${r1(baseRps)} req/s`,
    },
    {
      feature: 'client_growth',
      value: clientGrowth,
      threshold: CLIENT_GROWTH_RATIO,
      points: growing ? 'crowd' : surging ? 'attack' : 'normal',
      text: `${r1(clientsPerSecond)} distinct clients a second, ${r1(clientGrowth)}x the usual ${r1(baseClients)}`,
    },
    {
      feature: 'requests_per_client',
      value: perClientRatio,
      threshold: STEADY_RATE_RATIO,
      points: perClientRatio <= STEADY_RATE_RATIO ? (surging ? 'crowd' : 'normal') : 'attack',
      text: `each client makes ${r1(perClient)} req/s (median ${r1(medianRps)}, p90 ${r1(p90Rps)}), ${r1(perClientRatio)}x the usual ${r1(basePerClient)}`,
    },
    {
      feature: 'p90_client_rps',
      value: p90Rps,
      threshold: P90_STEADY_RPS,
      points: p90Rps <= P90_STEADY_RPS ? (surging ? 'crowd' : 'normal') : 'attack',
      text: `90% of clients make at most about ${r1(p90Rps)} req/s; a player makes up to ~12`,
    },
    {
      feature: 'heavy_hitter_share',
      value: heavyShare,
      threshold: HEAVY_SHARE_MAX,
      points: heavy ? 'attack' : 'normal',
      text: `${pct(heavyShare)} of requests came from clients over ${HEAVY_RPS} req/s`,
    },
    {
      feature: 'bad_share',
      value: badShare,
      threshold: BAD_SHARE_MAX,
      points: badMostly ? 'attack' : lowBad && surging ? 'crowd' : 'normal',
      text: `${pct(badShare)} of requests were tokenless, with a bad token, for unknown paths or refused (usually ${pct(baseline.badShare)})`,
    },
    {
      feature: 'pattern_conformance',
      value: pattern,
      threshold: PATTERN_MIN,
      points: offPattern ? 'attack' : pattern >= CROWD_PATTERN_MIN && surging ? 'crowd' : 'normal',
      text: `${pct(pattern)} of requests followed the player's pattern`,
    },
    {
      feature: 'good_surge',
      value: goodSurge,
      threshold: GOOD_SURGE_RATIO,
      points: goodCrowd ? 'crowd' : 'normal',
      text: `${r1(goodRps)} req/s from players with tokens or control requests, ${r1(goodSurge)}x the usual ${r1(baseGoodRps)}`,
    },
    {
      feature: 'known_network_share',
      value: knownShare,
      threshold: KNOWN_NETWORK_CROWD,
      points: !surging
        ? 'normal'
        : knownShare >= KNOWN_NETWORK_CROWD
          ? 'crowd'
          : knownShare < KNOWN_NETWORK_ATTACK
            ? 'attack'
            : 'normal',
      text: `${pct(knownShare)} of client networks were seen in the past day (weak evidence)`,
    },
  ];
  const features: Record<string, number> = {
    seconds: merged.seconds,
    rps,
    baselineRps: baseRps,
    surge,
    goodRps,
    baselineGoodRps: baseGoodRps,
    goodSurge,
    clients: clientsPerSecond,
    clientsInSpan: merged.clients,
    baselineClients: baseClients,
    clientGrowth,
    perClientRps: perClient,
    baselinePerClientRps: basePerClient,
    perClientRatio,
    medianClientRps: medianRps,
    p90ClientRps: p90Rps,
    heavyShare,
    badShare,
    baselineBadShare: baseline.badShare,
    patternConformance: pattern,
    knownNetworkShare: knownShare,
  };
  return { verdict, evidence, features };
}

interface Second {
  atMs: number;
  /** How long this observation covers by the origin's clock (since the previous one), seconds. */
  seconds: number;
  windows: readonly DefenceWindow[];
  rps: number;
  goodRps: number;
  clients: number;
  badShare: number;
}

export interface ClassifierOptions {
  /** The clock (ms), for observe()/verdict() called without one. */
  now?: () => number;
}

export type ClassifierVerdict = VerdictResult & { sinceMs: number; features: Record<string, number> };

/**
 * Observes all edges' windows once a second and keeps a verdict that changes only after the new
 * label held for HOLD_OBSERVATIONS consecutive observations.
 */
export class Classifier {
  private readonly now: () => number;
  private readonly seconds: Second[] = [];
  private baseline: Baseline | undefined;
  private lastObservedMs: number | undefined;
  private label: Verdict = 'normal';
  private sinceMs: number;
  private pending: Verdict | undefined;
  private pendingSinceMs = 0;
  private pendingCount = 0;
  private last: Evaluation | undefined;

  constructor(options: ClassifierOptions = {}) {
    this.now = options.now ?? Date.now;
    this.sinceMs = this.now();
  }

  /** The baseline learned so far (undefined before the first normal second). */
  get usual(): Baseline | undefined {
    return this.baseline && { ...this.baseline };
  }

  /**
   * All edges' windows that arrived since the previous observation (about a second: an edge may
   * deliver none or two in one tick). Rates are per second of the origin's clock, never of the
   * edges' window stamps (edges' clocks differ). Returns the merged windows (the console's point).
   */
  observe(windows: readonly DefenceWindow[], nowMs = this.now()): Merged {
    const m = mergeWindows(windows);
    let good = 0;
    for (const c of GOOD_CLASSES) good += m.classes[c];
    let bad = 0;
    for (const c of BAD_CLASSES) bad += m.classes[c];
    const span =
      this.lastObservedMs === undefined
        ? 1
        : Math.min(5, Math.max(0.5, (nowMs - this.lastObservedMs) / 1000));
    const second: Second = {
      atMs: nowMs,
      seconds: span,
      windows,
      rps: m.requests / span,
      goodRps: good / span,
      clients: m.windows > 0 ? m.clients : 0,
      badShare: m.requests > 0 ? bad / m.requests : 0,
    };
    this.seconds.push(second);
    this.prune(nowMs);
    // The first second with any report seeds the baseline (an origin restarted mid-surge learns
    // the surge as usual; it re-learns within a few BASELINE_TAU_MS once load settles).
    const seeding = this.baseline === undefined && windows.length > 0;
    if (seeding) this.learn(second, nowMs);
    const evaluation = this.evaluateSpan();
    this.last = evaluation;

    // The hold: a different label must come out of HOLD_OBSERVATIONS observations in a row.
    const candidate = evaluation.verdict;
    if (candidate === this.label) {
      this.pending = undefined;
      this.pendingCount = 0;
    } else if (candidate === this.pending) {
      this.pendingCount++;
    } else {
      this.pending = candidate;
      this.pendingSinceMs = nowMs;
      this.pendingCount = 1;
    }
    if (this.pending !== undefined && this.pendingCount >= HOLD_OBSERVATIONS) {
      this.label = this.pending;
      this.sinceMs = this.pendingSinceMs;
      this.pending = undefined;
      this.pendingCount = 0;
    }

    // The baseline learns only from seconds that are, and are labelled, normal.
    if (!seeding && candidate === 'normal' && this.label === 'normal' && windows.length > 0) {
      this.learn(second, nowMs);
    }
    this.lastObservedMs = nowMs;
    return m;
  }

  /** The current label, since when it holds, and the evidence of the last EVAL_WINDOW_MS. */
  verdict(nowMs = this.now()): ClassifierVerdict {
    const stale = this.lastObservedMs === undefined || nowMs - this.lastObservedMs >= EVAL_WINDOW_MS;
    if (stale) {
      this.prune(nowMs);
      this.last = this.evaluateSpan();
    }
    const e = this.last ?? this.evaluateSpan();
    return { verdict: this.label, sinceMs: this.sinceMs, evidence: e.evidence, features: e.features };
  }

  private prune(nowMs: number): void {
    while (this.seconds.length > 0 && this.seconds[0].atMs <= nowMs - EVAL_WINDOW_MS) this.seconds.shift();
  }

  private evaluateSpan(): Evaluation {
    const all: DefenceWindow[] = [];
    let clients = 0;
    let reporting = 0;
    let seconds = 0;
    for (const s of this.seconds) {
      for (const w of s.windows) all.push(w);
      seconds += s.seconds;
      // Clients per second: over the seconds that had reports (as the baseline learns them).
      if (s.windows.length > 0) {
        clients += s.clients;
        reporting++;
      }
    }
    const baseline = this.baseline ?? { rps: 0, goodRps: 0, clients: 0, badShare: 0 };
    return evaluate(mergeWindows(all), reporting > 0 ? clients / reporting : 0, baseline, seconds);
  }

  private learn(s: Second, nowMs: number): void {
    const b = this.baseline;
    if (!b) {
      this.baseline = { rps: s.rps, goodRps: s.goodRps, clients: s.clients, badShare: s.badShare };
      return;
    }
    const dt = this.lastObservedMs === undefined ? 1000 : Math.max(0, nowMs - this.lastObservedMs);
    const a = 1 - Math.exp(-dt / BASELINE_TAU_MS);
    b.rps += a * (s.rps - b.rps);
    b.goodRps += a * (s.goodRps - b.goodRps);
    b.clients += a * (s.clients - b.clients);
    b.badShare += a * (s.badShare - b.badShare);
  }
}
