/**
 * Shapes shared by the rehearsal's coordinator (run.ts), its listener engines (engine.ts, in the
 * same process or in worker processes) and the report builders.
 */
import type { ProfileName } from './profiles.js';

export type PlaybackMode = 'stream' | 'llhls';

/** What one engine (a worker's share of the crowd) is told to do. */
export interface EngineConfig {
  worker: number;
  target: string;
  spaceId: string;
  /** the rehearsal token, sent on every request */
  token: string;
  mode: PlaybackMode;
  /** global listener numbers and their arrival offsets (ms from t0) */
  index: number[];
  at: number[];
  /** wall-clock ms of the rehearsal's start */
  t0: number;
  /** source addresses (loopback targets only; [undefined] otherwise) */
  sources: (string | undefined)[];
  /** keep-alive connections per source address for page data, admit polls and renewals */
  poolPerSource: number;
  /** listeners of this engine that may play at once (each holds a socket); the rest only hold admission */
  maxPlaying: number;
  /** GET view.json before asking for admission (the page's data) */
  pageData: boolean;
  /** open playback once admitted (and the Space is live) */
  play: boolean;
  /** renew admission before it lapses */
  renew: boolean;
  partTicks: number;
  /** lid prefix */
  tag: string;
}

/** Counters an engine reports every second (and in its summary). */
export interface Counters {
  arrived: number;
  /** listeners that had their first answer from /admit (admitted, queued or refused) */
  answered: number;
  admitted: number;
  admittedAtOnce: number;
  /** holding a ticket now */
  queued: number;
  /** admitted, waiting for the Space to start */
  lobby: number;
  /** admitted, not playing (beyond maxPlaying, or playback off) */
  idle: number;
  /** receiving parts now */
  playing: number;
  /** gave up (an error they could not get past) */
  failed: number;
  requests: number;
  http2xx: number;
  http4xx: number;
  http429: number;
  http5xx: number;
  /** every answer or event a listener did not expect (4xx/5xx, transport failure, a broken stream) */
  errors: number;
  /** a ticket's position went up between two polls */
  positionRises: number;
  /** requests waiting for a pooled connection (client-side backlog) */
  backlog: number;
}

export const zeroCounters = (): Counters => ({
  arrived: 0,
  answered: 0,
  admitted: 0,
  admittedAtOnce: 0,
  queued: 0,
  lobby: 0,
  idle: 0,
  playing: 0,
  failed: 0,
  requests: 0,
  http2xx: 0,
  http4xx: 0,
  http429: 0,
  http5xx: 0,
  errors: 0,
  positionRises: 0,
  backlog: 0,
});

/** One listener's record (NaN / 0 where it did not get that far). */
export interface ListenerRecord {
  arrivedAt: number;
  admittedAt: number;
  /** admitted while the Space was scheduled and waited for its start */
  lobby: boolean;
  /** held a ticket at some point */
  queued: boolean;
  playAt: number;
  firstAudioAt: number;
  /** largest gap between two parts (trailing silence included), ms */
  maxGapMs: number;
  missingParts: number;
  dead: boolean;
  failed: boolean;
}

/** A ticket seen by a listener: for the FIFO check across workers. */
export interface TicketRecord {
  /** the queue the number belongs to (edge id + epoch) */
  g: string;
  n: number;
  /** when the last "not yet" answer for it was asked (wall ms; 0: never) */
  lastQueuedSentAt: number;
  /** when its admission answer arrived (wall ms; 0: not admitted) */
  admittedAt: number;
}

export interface EngineSummary {
  worker: number;
  at: number;
  counters: Counters;
  errorsByCode: Record<string, number>;
  errorSamples: string[];
  /** columns per listener (arrays of equal length) */
  listeners: {
    /** when the profile said it arrives */
    scheduledAt: number[];
    /** when its first request went out */
    arrivedAt: number[];
    admittedAt: number[];
    lobby: number[];
    queued: number[];
    playAt: number[];
    firstAudioAt: number[];
    /** this process's stalls between the listener's arrival (lobby: the start) and its first part */
    stallBeforeAudioMs: number[];
    maxGapMs: number[];
    /** the same net of this process's own stalls */
    netGapMs: number[];
    missingParts: number[];
    dead: number[];
    failed: number[];
  };
  tickets: TicketRecord[];
  /** when this engine learnt the Space went live (wall ms; 0: not seen) */
  liveSeenAt: number;
  loopDelayMaxMs: number;
  /** total time this process was stalled (100+ ms at a time) */
  stallMs: number;
  cpuSeconds: number;
}

/** Coordinator -> worker and worker -> coordinator messages. */
export type ToWorker = { type: 'snapshot'; id: number } | { type: 'stop'; id: number };
export type FromWorker =
  | { type: 'tick'; worker: number; at: number; counters: Counters }
  | { type: 'summary'; id: number; summary: EngineSummary }
  | { type: 'error'; message: string };

export interface TimelinePoint {
  /** ms from t0 */
  t: number;
  arrived: number;
  admitted: number;
  queued: number;
  failed: number;
  playing: number;
  lobby: number;
  errors: number;
  backlog: number;
  /** summed over sampled edges; null when not exposed */
  edgeCpuCores: number | null;
  edgeRssBytes: number | null;
  /** the edge's own view (GET /hls/admission) */
  edgeActive: number | null;
  edgeWaiting: number | null;
}

export interface FlashLine {
  arrivals: number;
  cap: number | null;
  admitted: number;
  errors: number;
  http_5xx: number;
  first_audio_p99_ms: number | null;
  admitted_gaps_over_1s: number;
  positions_monotonic: boolean;
}

export interface Report extends FlashLine {
  tool: 'tribune rehearse';
  target: string;
  space: string;
  profile: ProfileName;
  mode: PlaybackMode;
  listeners: number;
  overSeconds: number;
  startedAt: string;
  durationS: number;
  workers: number;
  admitted_in_order: boolean;
  order_violations: number;
  position_rises: number;
  queued_max: number;
  failed: number;
  played: number;
  /** admitted but never played (beyond --max-playing, or playback off) */
  admitted_not_played: number;
  http: { '2xx': number; '4xx': number; '429': number; '5xx': number; requests: number };
  errors_by_code: Record<string, number>;
  error_samples: string[];
  /** admitted at once (or waiting in the lobby: from the start), arrival -> first part */
  first_audio_ms: { n: number; p50: number | null; p99: number | null; max: number | null };
  /** the same net of the load generator's own stalls (what the deployment is answerable for) */
  first_audio_net_of_client_stalls_ms: { p50: number | null; p99: number | null };
  /** admitted from the queue: admission -> first part */
  first_audio_after_queue_ms: { n: number; p50: number | null; p99: number | null };
  /** opened playback and never got a part (counted with the time until the end) */
  no_audio: number;
  /** lobby: first audio measured from the Space's start (ms from t0 of the start) */
  start_at_ms: number | null;
  /** lobby: the start -> the first engine saw it in the state document */
  live_seen_after_start_ms: number | null;
  gaps: {
    threshold_ms: number;
    listeners_over: number;
    /** the same with each gap net of the load generator's own stalls (what the edge is answerable for) */
    listeners_over_net_of_client_stalls: number;
    max_gap_ms: { p50: number | null; p99: number | null; max: number | null };
    missing_parts: number;
    dead: number;
  };
  admit_wait_ms: { n: number; p50: number | null; p99: number | null };
  /** the last arrival's first request went out this long after the start (the profile's window, if the machine kept up) */
  arrivals_sent_within_s: number | null;
  /** this machine's lag: scheduled arrival -> first request written (first audio is measured from the latter) */
  client_lag_ms: { p50: number | null; p99: number | null; max: number | null };
  /** the sampled edges' /metrics, summed */
  edges: {
    urls: string[];
    cpu_cores_max: number | null;
    cpu_cores_mean: number | null;
    rss_mb_max: number | null;
  };
  client: { loop_delay_max_ms: number; stall_ms: number; cpu_seconds: number };
  marks: { t: number; label: string }[];
  timeline: TimelinePoint[];
  /** buckets of ms; le_ms null = above the last bound */
  first_audio_hist: { le_ms: number | null; count: number }[];
  gap_hist: { le_ms: number | null; count: number }[];
}
