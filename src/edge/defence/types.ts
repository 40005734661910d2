/**
 * Shapes shared by the edge's defences (src/edge/defence) and the origin's view of them
 * (src/ops/defence): the telemetry window an edge puts in each live report, the control the origin
 * answers with, and the crowd-or-attack verdict.
 */

/**
 * Every request the edge's listener path answers falls in exactly one class:
 * - `media_token`: a media request (playlist, part, segment, init, stream) with a valid admission token;
 * - `tokenless`: a media request without an admission token that was served;
 * - `bad_token`: an admission or listen token that is forged, expired or for another Space;
 * - `unknown_path`: refused by the request-shape checks (no such file, bad query, bad id);
 * - `refused`: refused for load (429: a flood limit, a full edge, under-attack mode without a token);
 * - `control`: what a player asks besides media (state document, admit, view, listener list).
 */
export const REQUEST_CLASSES = [
  'media_token',
  'tokenless',
  'bad_token',
  'unknown_path',
  'refused',
  'control',
] as const;
export type RequestClass = (typeof REQUEST_CLASSES)[number];
export type ClassCounts = Record<RequestClass, number>;

/** What a request was, for the player-pattern check (pattern.ts). */
export type PatternKind =
  | 'playlist' // a media playlist; `blocking` when it carries _HLS_msn
  | 'part' // a part, segment or init
  | 'stream' // stream.mp4
  | 'state' // state.json, view.json, listeners
  | 'admit'
  | 'other'; // anything else (unknown path, bad query)

/** Per-client request-rate histogram: bucket 0 = 1 request in the window, bucket i = [2^i, 2^(i+1)) requests. */
export const RATE_BUCKETS = 16;
/** HyperLogLog precision of the distinct-clients sketch: 2^10 registers, ~3% standard error. */
export const HLL_P = 10;

export type BrownoutTier = 0 | 1 | 2 | 3;

/** One edge's defence telemetry over one report interval (about a second). */
export interface DefenceWindow {
  fromMs: number;
  toMs: number;
  classes: ClassCounts;
  /** base64 of the 2^HLL_P register bytes of the client addresses seen in the window (mergeable). */
  clientsHll: string;
  /** Clients by their request count in the window (RATE_BUCKETS entries). */
  rateHistogram: number[];
  /** Distinct client networks (/24 IPv4, /48 IPv6) in the window, and how many of them were seen in the past day before it. */
  networks: number;
  knownNetworks: number;
  /** Requests that followed the player's normal pattern, of all requests checked. */
  patternOk: number;
  patternTotal: number;
  /** Event-loop utilisation of the edge over the window, 0..1 (its CPU: the edge is one thread). */
  cpu: number;
  tier: BrownoutTier;
  underAttack: boolean;
  admission: {
    maxListeners: number;
    joinsPerSec: number;
    /** Admitted listeners holding a place now; people waiting in the queue now. */
    admitted: number;
    queue: number;
    /** New joins asked and admissions granted during the window. */
    joins: number;
    admittedInWindow: number;
  };
  /** New joins per Space during the window (at most 100 Spaces, the busiest). */
  joinsBySpace: Record<string, number>;
  pow: { issued: number; solved: number; failed: number };
}

/** What the origin answers an edge's report with: the operator's and the classifier's orders. */
export interface DefenceControl {
  underAttack: boolean;
  /** The edge sheds at least this tier (an operator's drill); 0: by load only. */
  tierFloor: BrownoutTier;
  /** The operator's capacity for this edge; absent: keep the edge's own. */
  limits?: { maxListeners: number; joinsPerSec: number };
}

export type Verdict = 'normal' | 'crowd' | 'attack' | 'mixed';
/** A verdict as a number (the console's series, a step line): normal 0, crowd 1, mixed 2, attack 3. */
export const VERDICT_CODE: Record<Verdict, number> = { normal: 0, crowd: 1, mixed: 2, attack: 3 };

/** One piece of evidence behind a verdict: a feature, its value, the threshold it is compared with. */
export interface Evidence {
  feature: string;
  value: number;
  threshold: number;
  /** Which way this piece points. */
  points: 'crowd' | 'attack' | 'normal';
  /** One sentence for people ("84% of requests came from 3 clients over 64 req/s"). */
  text: string;
}

export interface VerdictResult {
  verdict: Verdict;
  evidence: Evidence[];
}
