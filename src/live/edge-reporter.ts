/**
 * EdgeReporter: every `intervalMs` the edge tells the origin, in one signed POST, how many players
 * it counts per Space and which reactions it received since the last report. Failures are logged
 * and counted, never thrown; reactions of a failed report are dropped (they are ephemeral and would
 * be stale by the next one). A Space that dropped to zero is reported once with zero, then left out.
 */
import { randomBytes } from 'node:crypto';
import type { ListenerCounter } from './edge-counter.js';
import type { ReactionTally } from './edge-reactions.js';
import { signReport } from './signature.js';
import { EDGE_SAMPLE_MAX, EDGE_SIGNATURE_HEADER, type EdgeReport } from './types.js';

/**
 * Delivers one report; rejects (or throws) on failure. `signal` fires on timeout or stop. Resolves
 * to the origin's answer (its defence control, see src/edge/defence/types.ts), if any.
 */
export type ReportSender = (report: EdgeReport, signal: AbortSignal) => Promise<unknown> | unknown;

export interface ReporterLog {
  warn(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
}

export interface EdgeReporterOptions {
  counter: ListenerCounter;
  tally: ReactionTally;
  send: ReportSender;
  /** Random per process by default. */
  edgeId?: string;
  /** Default 1000. */
  intervalMs?: number;
  /** Deadline of one delivery. Default 5000. */
  timeoutMs?: number;
  now?: () => number;
  log?: ReporterLog;
  onSent?: () => void;
  onFailure?: (err: unknown) => void;
  /** Adds to each report before it is sent (the edge's defence telemetry). */
  extend?: (report: EdgeReport, nowMs: number) => void;
  /** The origin's answer to a delivered report. */
  onAnswer?: (answer: unknown) => void;
  /** False: leave the listener sample out (brownout tier 1). Default: always in. */
  samples?: () => boolean;
}

export function randomEdgeId(): string {
  return randomBytes(9).toString('base64url');
}

/**
 * POSTs reports to `${originUrl}/origin/live/report`, signed with `edgeSecret`. With a list of
 * origins: to the one that took the last report, else to the next ones in turn within the same
 * delivery (until one accepts it or `signal` fires); rejects with the last failure.
 */
export function httpReportSender(
  originUrl: string | readonly string[] | (() => string | undefined),
  edgeSecret: Buffer,
): ReportSender {
  const post = async (base: string, body: string, signal: AbortSignal): Promise<unknown> => {
    const res = await fetch(`${base.replace(/\/+$/, '')}/origin/live/report`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [EDGE_SIGNATURE_HEADER]: signReport(edgeSecret, body) },
      body,
      signal,
    });
    const text = await res.text().catch(() => ''); // drain: keeps the connection reusable
    if (res.status < 200 || res.status >= 300)
      throw new Error(`origin answered ${res.status} to a report: ${text.slice(0, 200)}`);
    if (res.status !== 200 || text === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  };
  if (typeof originUrl !== 'string' && typeof originUrl !== 'function') {
    const bases = [...originUrl];
    if (bases.length === 0) throw new Error('httpReportSender needs at least one origin URL');
    let current = 0; // the origin that took the last report
    return async (report, signal) => {
      const body = JSON.stringify(report);
      let lastErr: unknown;
      for (let i = 0; i < bases.length; i++) {
        const idx = (current + i) % bases.length;
        try {
          const answer = await post(bases[idx]!, body, signal);
          current = idx;
          return answer;
        } catch (err) {
          if (signal.aborted) throw err;
          lastErr = err;
        }
      }
      throw lastErr;
    };
  }
  return async (report, signal) => {
    const base = typeof originUrl === 'function' ? originUrl() : originUrl;
    if (!base) throw new Error('origin URL not known yet');
    return post(base, JSON.stringify(report), signal);
  };
}

export class EdgeReporter {
  readonly edgeId: string;
  readonly intervalMs: number;
  /** Reports delivered / failed. */
  sent = 0;
  failures = 0;
  /** Ticks skipped because the previous report was still in flight. */
  skipped = 0;
  private readonly opts: EdgeReporterOptions;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  /** Spaces whose latest report said listeners > 0 or carried reactions. */
  private readonly nonZero = new Set<string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private inflight: Promise<void> | undefined;
  private stopController = new AbortController();
  private lastAtMs = 0;
  private failing = false;
  private stopped = false;

  constructor(opts: EdgeReporterOptions) {
    this.opts = opts;
    this.edgeId = opts.edgeId ?? randomEdgeId();
    this.intervalMs = opts.intervalMs ?? 1000;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and aborts a report in flight. Final. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.stopController.abort(new Error('reporter stopped'));
  }

  /**
   * The next report: sweeps expired listeners, drains the reaction tally. Spaces with no listeners
   * and no reactions are included once after their last non-zero report, then left out.
   */
  buildReport(nowMs: number = this.now()): EdgeReport {
    const { counter, tally } = this.opts;
    counter.sweep(nowMs);
    const reactions = tally.drain();
    const ids = new Set([...counter.spaceIds(), ...reactions.keys(), ...this.nonZero]);
    const withSamples = this.opts.samples?.() ?? true;
    const spaces: EdgeReport['spaces'] = {};
    for (const id of ids) {
      const listeners = counter.count(id, nowMs);
      const r = reactions.get(id) ?? {};
      const active = listeners > 0 || Object.keys(r).length > 0;
      if (!active && !this.nonZero.has(id)) continue;
      spaces[id] = {
        listeners,
        reactions: r,
        sample: withSamples ? counter.sample(id, EDGE_SAMPLE_MAX) : [],
      };
      if (active) this.nonZero.add(id);
      else this.nonZero.delete(id);
    }
    // Strictly increasing per edge: the origin ignores a report not newer than the last one.
    const atMs = Math.max(Math.floor(nowMs), this.lastAtMs + 1);
    this.lastAtMs = atMs;
    const report: EdgeReport = { edgeId: this.edgeId, atMs, spaces };
    this.opts.extend?.(report, nowMs);
    return report;
  }

  /** Builds and delivers one report (skipped while the previous one is in flight). Never throws. */
  tick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.inflight) {
      this.skipped++;
      return this.inflight;
    }
    const p = this.deliver().finally(() => {
      this.inflight = undefined;
    });
    this.inflight = p;
    return p;
  }

  private async deliver(): Promise<void> {
    const ac = new AbortController();
    const onStop = (): void => ac.abort(this.stopController.signal.reason);
    this.stopController.signal.addEventListener('abort', onStop, { once: true });
    const timer = setTimeout(
      () => ac.abort(new Error(`report timed out after ${this.timeoutMs} ms`)),
      this.timeoutMs,
    );
    try {
      const report = this.buildReport();
      const answer = await this.opts.send(report, ac.signal);
      this.sent++;
      if (answer !== undefined) this.opts.onAnswer?.(answer);
      this.opts.onSent?.();
      if (this.failing) {
        this.failing = false;
        this.opts.log?.info?.({ edgeId: this.edgeId }, 'edge reports reach the origin again');
      }
    } catch (err) {
      if (this.stopped) return;
      this.failures++;
      this.opts.onFailure?.(err);
      // Log the first failure of a run, then every 60th: an unreachable origin must not flood the log.
      if (!this.failing || this.failures % 60 === 0)
        this.opts.log?.warn(
          { err, edgeId: this.edgeId, failures: this.failures },
          'edge report to the origin failed',
        );
      this.failing = true;
    } finally {
      clearTimeout(timer);
      this.stopController.signal.removeEventListener('abort', onStop);
    }
  }
}
