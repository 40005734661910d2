/**
 * Everything an edge needs for live state, in one object handed to `edgeRoutes({ live })`:
 * the listener counter, the reaction tally and its rate limit, listen-token access control, and the
 * reporter that tells the origin (over HTTP, signed; or in-process through `sink`) once per second.
 * With several origins (`originUrl` a list) a report accepted by any one of them is enough.
 */
import { Counter, Gauge, register as defaultRegistry, type Registry } from 'prom-client';
import { ListenAccess } from './edge-access.js';
import { ListenerCounter } from './edge-counter.js';
import { ReactionTally, WindowRateLimiter } from './edge-reactions.js';
import {
  EdgeReporter,
  httpReportSender,
  type EdgeReporterOptions,
  type ReporterLog,
  type ReportSender,
} from './edge-reporter.js';
import { deriveEdgeSecret } from './signature.js';
import type { EdgeReport } from './types.js';

export interface EdgeLiveOptions {
  /**
   * The Space-token secret (TRIBUNE_TOKEN_SECRET), the same on the origin and every edge: listen
   * tokens are verified with it, and the report signing key is derived from it.
   */
  tokenSecret: Buffer;
  /** Report signing key; default deriveEdgeSecret(tokenSecret) (what the origin must check with). */
  edgeSecret?: Buffer;
  /**
   * Where reports go: `${originUrl}/origin/live/report`. A function is asked at every report (an
   * embedded edge learns its origin's port only once it listens; undefined = not yet, counted as
   * a failure). A list: several origins, any of which takes a report (see httpReportSender).
   */
  originUrl?: string | readonly string[] | (() => string | undefined);
  /**
   * Instead of HTTP: hand each report to this (e.g. `(r) => hub.ingest(r)` in one process); what it
   * returns is the origin's answer (as an HTTP report's JSON answer).
   */
  sink?: (report: EdgeReport) => Promise<unknown> | unknown;
  /** Defence telemetry added to each report, the origin's answer handed back, samples left out. */
  reports?: Pick<EdgeReporterOptions, 'extend' | 'onAnswer' | 'samples'>;
  edgeId?: string;
  /** Default 1000. */
  reportIntervalMs?: number;
  /** Default 5000. */
  reportTimeoutMs?: number;
  /** A player counts this long after it was last seen. Default 5000. */
  listenerWindowMs?: number;
  /** Most (Space, lid) pairs counted by this edge. Default 2,000,000. */
  maxLids?: number;
  /** Reactions per client address and Space per window. Default 10 per 5000 ms. */
  reactionLimit?: { max: number; windowMs: number };
  /** Start reporting at once. Default true. */
  autoStart?: boolean;
  registry?: Registry;
  log?: ReporterLog & { error?(obj: object, msg: string): void };
  /** Milliseconds, never decreasing. Default: performance.timeOrigin + performance.now(). */
  now?: () => number;
}

export interface EdgeLive {
  readonly edgeId: string;
  readonly listeners: ListenerCounter;
  readonly reactions: ReactionTally;
  readonly reactionLimiter: WindowRateLimiter;
  readonly access: ListenAccess;
  readonly reporter: EdgeReporter;
  /** The clock used for listener windows and rate limits. */
  now(): number;
  /** Counts one accepted reaction in the edge's metrics. */
  countReaction(): void;
  /** Stops the reporter (a report in flight is aborted). Idempotent. */
  close(): void;
}

const LISTENERS_GAUGE = 'tribune_edge_listeners';

export function createEdgeLive(opts: EdgeLiveOptions): EdgeLive {
  if (!opts.tokenSecret || opts.tokenSecret.length === 0)
    throw new Error(
      'the edge needs the token secret: TRIBUNE_TOKEN_SECRET must be the same on the origin and every edge',
    );
  const hasUrl = Array.isArray(opts.originUrl) ? opts.originUrl.length > 0 : !!opts.originUrl;
  if (!opts.sink === !hasUrl) throw new Error('createEdgeLive needs exactly one of originUrl and sink');
  // Wall-clock time that never steps back (the listener maps rely on non-decreasing timestamps).
  const now = opts.now ?? (() => performance.timeOrigin + performance.now());
  const registry = opts.registry ?? defaultRegistry;
  const edgeSecret = opts.edgeSecret ?? deriveEdgeSecret(opts.tokenSecret);

  const listeners = new ListenerCounter({
    windowMs: opts.listenerWindowMs,
    maxLids: opts.maxLids,
    onLimit: (max) =>
      opts.log?.warn({ maxLids: max }, 'edge listener bound reached: further listeners are not counted'),
  });
  const reactions = new ReactionTally();
  const limit = opts.reactionLimit ?? { max: 10, windowMs: 5000 };
  const reactionLimiter = new WindowRateLimiter(limit.max, limit.windowMs);
  const access = new ListenAccess({ tokenSecret: opts.tokenSecret });

  const counter = (name: string, help: string): Counter => {
    const existing = registry.getSingleMetric(name);
    if (existing) return existing as Counter;
    return new Counter({ name, help, registers: [registry] });
  };
  const reactionsTotal = counter('tribune_edge_reactions_total', 'Reactions accepted by the edge');
  const reportsSent = counter('tribune_edge_reports_sent_total', 'Live reports delivered to the origin');
  const reportFailures = counter(
    'tribune_edge_report_failures_total',
    'Live reports that could not be delivered to the origin',
  );
  // The latest EdgeLive on a registry owns the gauge (tests create several on one registry).
  if (registry.getSingleMetric(LISTENERS_GAUGE)) registry.removeSingleMetric(LISTENERS_GAUGE);
  new Gauge({
    name: LISTENERS_GAUGE,
    help: 'Listeners (distinct players) counted by this edge, all Spaces together',
    registers: [registry],
    collect() {
      listeners.sweep(now());
      this.set(listeners.size);
    },
  });

  const sink = opts.sink;
  const send: ReportSender = sink
    ? async (report) => sink(report)
    : httpReportSender(opts.originUrl!, edgeSecret);
  const reporter = new EdgeReporter({
    counter: listeners,
    tally: reactions,
    send,
    edgeId: opts.edgeId,
    intervalMs: opts.reportIntervalMs,
    timeoutMs: opts.reportTimeoutMs,
    now,
    log: opts.log,
    ...opts.reports,
    onSent: () => reportsSent.inc(),
    onFailure: () => reportFailures.inc(),
  });
  if (opts.autoStart ?? true) reporter.start();

  return {
    edgeId: reporter.edgeId,
    listeners,
    reactions,
    reactionLimiter,
    access,
    reporter,
    now,
    countReaction: () => reactionsTotal.inc(),
    close: () => reporter.stop(),
  };
}
