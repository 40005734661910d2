/**
 * The rehearsal's report from its engines' summaries and the coordinator's timeline (pure):
 * counts, time to first audio, gaps, FIFO order of tickets, position honesty, the edges' CPU and
 * memory, and the `flash` line (`tribune rehearse --json`).
 */
import type { ProfileName } from './profiles.js';
import type { EngineSummary, FlashLine, PlaybackMode, Report, TicketRecord, TimelinePoint } from './types.js';
import { zeroCounters, type Counters } from './types.js';

export interface ReportInput {
  target: string;
  space: string;
  profile: ProfileName;
  mode: PlaybackMode;
  listeners: number;
  overSeconds: number;
  t0: number;
  /** wall ms the run stopped */
  endAt: number;
  workers: number;
  summaries: EngineSummary[];
  timeline: TimelinePoint[];
  marks: { t: number; label: string }[];
  cap: number | null;
  /** wall ms of the Space's start (lobby reference), when known */
  startAt: number | null;
  edges: string[];
  /** a listener has a gap when two parts are further apart than this. Default 1000. */
  gapMs?: number;
}

export function percentile(xs: ArrayLike<number>, p: number): number | null {
  if (xs.length === 0) return null;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const round = (v: number | null): number | null => (v === null || !Number.isFinite(v) ? null : Math.round(v));

export function sumCounters(cs: (Counters | undefined)[]): Counters {
  const out = zeroCounters();
  for (const c of cs) if (c) for (const k of Object.keys(out) as (keyof Counters)[]) out[k] += c[k];
  return out;
}

/**
 * Tickets admitted out of order: a "not yet" answer to a request sent after a higher number of the
 * same queue had been told it was admitted. (Clients poll at jittered times, so the order in which
 * they learn is not the order they were served; this counts only what FIFO rules out.)
 */
export function fifoViolations(tickets: TicketRecord[]): number {
  const byQueue = new Map<string, TicketRecord[]>();
  for (const t of tickets) {
    const list = byQueue.get(t.g);
    if (list) list.push(t);
    else byQueue.set(t.g, [t]);
  }
  let violations = 0;
  for (const list of byQueue.values()) {
    const adm = list.filter((t) => t.admittedAt > 0).sort((a, b) => a.admittedAt - b.admittedAt);
    const times = adm.map((t) => t.admittedAt);
    const prefixMax: number[] = [];
    let m = -Infinity;
    for (const t of adm) prefixMax.push((m = Math.max(m, t.n)));
    for (const t of list) {
      if (t.lastQueuedSentAt <= 0) continue;
      // admissions received strictly before that request was sent
      let lo = 0;
      let hi = times.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (times[mid] < t.lastQueuedSentAt) lo = mid + 1;
        else hi = mid;
      }
      if (lo > 0 && prefixMax[lo - 1] > t.n) violations++;
    }
  }
  return violations;
}

function histogram(xs: number[], bounds: number[]): { le_ms: number | null; count: number }[] {
  const out = bounds.map((le) => ({ le_ms: Number.isFinite(le) ? le : null, count: 0 }));
  for (const x of xs) {
    const i = bounds.findIndex((b) => x <= b);
    out[i < 0 ? out.length - 1 : i].count++;
  }
  return out;
}

export function buildReport(inp: ReportInput): Report {
  const gapMs = inp.gapMs ?? 1000;
  const c = sumCounters(inp.summaries.map((s) => s.counters));
  const errorsByCode: Record<string, number> = {};
  const samples: string[] = [];
  let loopMax = 0;
  let stallMs = 0;
  let cpu = 0;
  for (const s of inp.summaries) {
    for (const [k, v] of Object.entries(s.errorsByCode)) errorsByCode[k] = (errorsByCode[k] ?? 0) + v;
    for (const e of s.errorSamples) if (samples.length < 20) samples.push(e);
    loopMax = Math.max(loopMax, s.loopDelayMaxMs);
    stallMs = Math.max(stallMs, s.stallMs);
    cpu += s.cpuSeconds;
  }
  const seen = inp.summaries.map((s) => s.liveSeenAt).filter((t) => t > 0);
  const startAt = inp.startAt ?? (seen.length ? Math.min(...seen) : null);

  const firstAudio: number[] = [];
  const firstAudioNet: number[] = [];
  const afterQueue: number[] = [];
  const admitWait: number[] = [];
  const gaps: number[] = [];
  const lag: number[] = [];
  let lastSent = 0;
  let played = 0;
  let noAudio = 0;
  let over = 0;
  let overNet = 0;
  let missing = 0;
  let dead = 0;
  for (const s of inp.summaries) {
    const L = s.listeners;
    for (let i = 0; i < L.arrivedAt.length; i++) {
      if (L.scheduledAt[i] > 0) lag.push(Math.max(0, L.arrivedAt[i] - L.scheduledAt[i]));
      if (L.arrivedAt[i] > lastSent) lastSent = L.arrivedAt[i];
      if (L.queued[i] && L.admittedAt[i] > 0) admitWait.push(L.admittedAt[i] - L.arrivedAt[i]);
      if (!L.playAt[i]) continue;
      played++;
      const heard = L.firstAudioAt[i] > 0;
      const at = heard ? L.firstAudioAt[i] : s.at; // never heard: at least until the end
      if (!heard) noAudio++;
      // lobby: from the start (queued in the lobby or not); else from arrival, or from admission
      const stall = L.stallBeforeAudioMs[i] ?? 0;
      if (L.lobby[i]) {
        const ms = at - (startAt ? Math.max(startAt, L.arrivedAt[i]) : L.arrivedAt[i]);
        firstAudio.push(ms);
        firstAudioNet.push(ms - stall);
      } else if (L.queued[i]) afterQueue.push(at - L.admittedAt[i]);
      else {
        firstAudio.push(at - L.arrivedAt[i]);
        firstAudioNet.push(at - L.arrivedAt[i] - stall);
      }
      gaps.push(L.maxGapMs[i]);
      missing += L.missingParts[i];
      dead += L.dead[i];
      if (!heard || L.maxGapMs[i] > gapMs || L.missingParts[i] > 0 || L.dead[i]) over++;
      if (!heard || L.netGapMs[i] > gapMs || L.missingParts[i] > 0 || L.dead[i]) overNet++;
    }
  }
  const tickets = inp.summaries.flatMap((s) => s.tickets);
  const violations = fifoViolations(tickets);
  const timeline = inp.timeline;
  const cpuPts = timeline.map((p) => p.edgeCpuCores).filter((v): v is number => v !== null);
  const rssPts = timeline.map((p) => p.edgeRssBytes).filter((v): v is number => v !== null);
  const edges = {
    urls: inp.edges,
    cpu_cores_max: cpuPts.length ? Math.round(Math.max(...cpuPts) * 1000) / 1000 : null,
    cpu_cores_mean: cpuPts.length
      ? Math.round((cpuPts.reduce((a, b) => a + b, 0) / cpuPts.length) * 1000) / 1000
      : null,
    rss_mb_max: rssPts.length ? Math.round((Math.max(...rssPts) / 2 ** 20) * 10) / 10 : null,
  };
  const flash: FlashLine = {
    arrivals: c.arrived,
    cap: inp.cap,
    admitted: c.admitted,
    errors: c.errors,
    http_5xx: c.http5xx,
    first_audio_p99_ms: round(percentile(firstAudio, 99)),
    admitted_gaps_over_1s: over,
    positions_monotonic: c.positionRises === 0,
  };
  return {
    tool: 'tribune rehearse',
    target: inp.target,
    space: inp.space,
    profile: inp.profile,
    mode: inp.mode,
    listeners: inp.listeners,
    overSeconds: inp.overSeconds,
    startedAt: new Date(inp.t0).toISOString(),
    durationS: Math.round((inp.endAt - inp.t0) / 100) / 10,
    workers: inp.workers,
    ...flash,
    admitted_in_order: violations === 0,
    order_violations: violations,
    position_rises: c.positionRises,
    queued_max: Math.max(0, ...timeline.map((p) => p.queued)),
    failed: c.failed,
    played,
    admitted_not_played: Math.max(0, c.admitted - played),
    http: { '2xx': c.http2xx, '4xx': c.http4xx, '429': c.http429, '5xx': c.http5xx, requests: c.requests },
    errors_by_code: errorsByCode,
    error_samples: samples,
    first_audio_ms: {
      n: firstAudio.length,
      p50: round(percentile(firstAudio, 50)),
      p99: round(percentile(firstAudio, 99)),
      max: round(firstAudio.length ? Math.max(...firstAudio) : null),
    },
    first_audio_net_of_client_stalls_ms: {
      p50: round(percentile(firstAudioNet, 50)),
      p99: round(percentile(firstAudioNet, 99)),
    },
    first_audio_after_queue_ms: {
      n: afterQueue.length,
      p50: round(percentile(afterQueue, 50)),
      p99: round(percentile(afterQueue, 99)),
    },
    no_audio: noAudio,
    start_at_ms: startAt === null ? null : startAt - inp.t0,
    live_seen_after_start_ms: startAt !== null && seen.length ? Math.min(...seen) - startAt : null,
    gaps: {
      threshold_ms: gapMs,
      listeners_over: over,
      listeners_over_net_of_client_stalls: overNet,
      max_gap_ms: {
        p50: round(percentile(gaps, 50)),
        p99: round(percentile(gaps, 99)),
        max: round(gaps.length ? Math.max(...gaps) : null),
      },
      missing_parts: missing,
      dead,
    },
    admit_wait_ms: {
      n: admitWait.length,
      p50: round(percentile(admitWait, 50)),
      p99: round(percentile(admitWait, 99)),
    },
    arrivals_sent_within_s: lastSent ? Math.round((lastSent - inp.t0) / 100) / 10 : null,
    client_lag_ms: {
      p50: round(percentile(lag, 50)),
      p99: round(percentile(lag, 99)),
      max: round(lag.length ? Math.max(...lag) : null),
    },
    edges,
    client: { loop_delay_max_ms: loopMax, stall_ms: stallMs, cpu_seconds: Math.round(cpu * 10) / 10 },
    marks: inp.marks,
    timeline,
    first_audio_hist: histogram(firstAudio, [100, 200, 500, 1000, 2000, 3000, 5000, 10_000, Infinity]),
    gap_hist: histogram(gaps, [250, 500, 750, 1000, 1500, 2000, 5000, Infinity]),
  };
}

/** The `flash` shape, for `--json`'s last line. */
export function flashLine(r: Report): FlashLine {
  return {
    arrivals: r.arrivals,
    cap: r.cap,
    admitted: r.admitted,
    errors: r.errors,
    http_5xx: r.http_5xx,
    first_audio_p99_ms: r.first_audio_p99_ms,
    admitted_gaps_over_1s: r.admitted_gaps_over_1s,
    positions_monotonic: r.positions_monotonic,
  };
}
