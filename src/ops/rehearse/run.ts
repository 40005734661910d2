/**
 * `runRehearsal(opts)`: a synthetic crowd against a deployment that issued a rehearsal token (the
 * engine of `tribune rehearse` and of `npm run bench:crowd`).
 *
 *  1. `GET /hls/rehearsal` with the token: refused -> RehearsalRefusedError, nothing else is sent.
 *  2. The crowd is split over engines (this process, or worker processes each with its own event
 *     loop and core); every listener runs the listener protocol (listener.ts).
 *  3. Once a second: the engines' counters, the edges' /metrics (CPU, memory, admission gauges) and
 *     GET /hls/admission make one timeline point; a progress line goes to stderr.
 *  4. When every arrival has had its answer, `onReady(ctl)` runs (a bench raises the cap, a lobby
 *     rehearsal starts the Space); a lobby waits for the start; then the hold; then the report.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  checkRehearsal,
  getAdmission,
  sampleMetrics,
  type AdmissionStats,
  type MetricsSample,
} from './edge-api.js';
import { parseTarget, sourceAddresses } from './http-wire.js';
import {
  arrivalTimes,
  checkProfile,
  MAX_SECONDS,
  RehearsalBoundsError,
  shareOf,
  type ProfileName,
} from './profiles.js';
import { buildReport, sumCounters } from './report.js';
import { reportHtml } from './report-html.js';
import type { Counters, EngineSummary, PlaybackMode, Report, TimelinePoint } from './types.js';
import { inProcessEngine, spawnEngine, type EngineHandle } from './workers.js';

export { RehearsalRefusedError } from './edge-api.js';
export { RehearsalBoundsError } from './profiles.js';

export interface RehearsalControl {
  readonly t0: number;
  /** the engines' counters (as of their last tick, at most 1 s old) */
  counters(): Counters;
  waitFor(pred: (c: Counters) => boolean, timeoutMs: number): Promise<boolean>;
  /** a labelled vertical line in the report's plots */
  mark(label: string): void;
  /** the Space's start (wall ms, default now): the lobby's first audio is measured from it */
  setStartAt(atMs?: number): void;
  /** the report as of now, the crowd still running */
  snapshot(): Promise<Report>;
  admission(): Promise<AdmissionStats | null>;
  log(msg: string): void;
}

export interface RehearsalOptions {
  /** the edge (or one-process server), e.g. http://127.0.0.1:8081 */
  target: string;
  space: string;
  /** rehearsal token (`tribune rehearsal-token`) */
  token: string;
  profile?: ProfileName;
  listeners?: number;
  overSeconds?: number;
  mode?: PlaybackMode;
  /** how long the crowd is held after it is served (and, for a lobby, started). Default 10. */
  holdSeconds?: number;
  /** engine processes (0: in this process). Default 0 up to 2,000 listeners, else 1. */
  workers?: number;
  /** command prefix for worker processes, e.g. ['taskset', '-c', '1'] */
  workerPrefix?: string[];
  /** source addresses on a loopback target (127.0.0.2...). Default 19. */
  sources?: number;
  /** keep-alive connections per source address per engine. Default 8. */
  poolPerSource?: number;
  /** listeners playing at once, over all engines (each holds a socket). Default: what open files allow. */
  maxPlaying?: number;
  pageData?: boolean;
  play?: boolean;
  renew?: boolean;
  /** /metrics to sample (edges). Default [target]. */
  metricsUrls?: string[];
  gapMs?: number;
  /** how long arrivals may wait for their first answer before onReady runs anyway. Default 60 s. */
  answerTimeoutSeconds?: number;
  /** how long a lobby waits for the start without onReady. Default 3600 s. */
  lobbyTimeoutSeconds?: number;
  onReady?: (ctl: RehearsalControl) => Promise<void>;
  /** progress lines once a second: true = stderr (default), false = none, or a function */
  progress?: boolean | ((line: string) => void);
  /** write rehearsal-<time>.json and .html here */
  reportDir?: string;
  signal?: AbortSignal;
  /** lid prefix. Default `rh<pid>`. */
  tag?: string;
}

export interface RehearsalResult extends Report {
  files?: { json: string; html: string };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Open files a process may use (hard: what a worker raises itself to). */
function openFilesLimit(kind: 'soft' | 'hard'): number {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    const v = m ? m[kind === 'soft' ? 1 : 2] : '';
    return v === 'unlimited' ? 1_048_576 : Number(v) || 1024;
  } catch {
    return 1024;
  }
}

export async function runRehearsal(opts: RehearsalOptions): Promise<RehearsalResult> {
  const profile = opts.profile ?? 'ramp';
  const listeners = opts.listeners ?? 100;
  const overSeconds = opts.overSeconds ?? (profile === 'ramp' ? 10 : 0);
  const holdSeconds = opts.holdSeconds ?? 10;
  const mode = opts.mode ?? 'stream';
  checkProfile({ profile, listeners, overSeconds });
  for (const [k, v] of [
    ['hold-seconds', holdSeconds],
    ['lobby-timeout-seconds', opts.lobbyTimeoutSeconds ?? 0],
  ] as const)
    if (!(v >= 0 && v <= MAX_SECONDS)) throw new RehearsalBoundsError(`${k}: between 0 and ${MAX_SECONDS} s`);
  if (mode !== 'stream' && mode !== 'llhls') throw new RehearsalBoundsError('mode must be stream or llhls');
  const target = parseTarget(opts.target);
  const say =
    opts.progress === false
      ? () => undefined
      : typeof opts.progress === 'function'
        ? opts.progress
        : (line: string) => process.stderr.write(`${line}\n`);

  // 1. the deployment must have issued this token
  // (asked even without a token: the deployment's own answer names the refusal)
  const check = await checkRehearsal(opts.target, opts.token);
  say(
    `[rehearse] token accepted by edge ${check.edge || '?'} (valid until ${new Date(check.expiresAtMs).toISOString()})`,
  );
  const adm0 = await getAdmission(opts.target, opts.token);
  let cap = adm0?.limits.maxListeners ?? null;

  // 2. engines
  const workers = Math.max(0, Math.floor(opts.workers ?? (listeners > 2000 ? 1 : 0)));
  const n = Math.max(1, workers);
  const sources = sourceAddresses(target, opts.sources ?? 19);
  const poolPerSource = Math.max(1, opts.poolPerSource ?? 8);
  const fdFree = openFilesLimit(workers ? 'hard' : 'soft') - sources.length * poolPerSource - 300;
  const maxPlaying = Math.max(0, Math.min(opts.maxPlaying ?? Infinity, fdFree * n, listeners));
  const times = arrivalTimes({ profile, listeners, overSeconds });
  let onTick = (): void => undefined;
  const handles: EngineHandle[] = [];
  let workerError: string | undefined;
  try {
    for (let w = 0; w < n; w++)
      handles.push(
        workers
          ? await spawnEngine(
              opts.workerPrefix ?? [],
              () => onTick(),
              (m) => (workerError ??= m),
            )
          : inProcessEngine(() => onTick()),
      );
  } catch (err) {
    for (const h of handles) h.kill();
    throw err;
  }
  const t0 = Date.now() + 200;
  const tag = opts.tag ?? `rh${process.pid.toString(36)}`;
  handles.forEach((h, w) => {
    const share = shareOf(times, w, n);
    h.start({
      worker: w,
      target: opts.target,
      spaceId: opts.space,
      token: opts.token,
      mode,
      index: share.index,
      at: share.at,
      t0,
      sources,
      poolPerSource,
      maxPlaying: Math.floor(maxPlaying / n),
      pageData: opts.pageData ?? true,
      play: opts.play ?? true,
      renew: opts.renew ?? true,
      partTicks: 9600,
      tag,
    });
  });

  // 3. timeline, metrics, progress
  const edges = opts.metricsUrls ?? [opts.target];
  const timeline: TimelinePoint[] = [];
  const marks: { t: number; label: string }[] = [];
  let startAt: number | null = null;
  const counters = (): Counters => sumCounters(handles.map((h) => h.latest));
  let prev: (MetricsSample | null)[] = edges.map(() => null);
  let lastAdm: AdmissionStats | null = adm0;
  const sampler = setInterval(() => {
    void (async () => {
      const t = Date.now() - t0;
      const [samples, adm] = await Promise.all([
        Promise.all(edges.map((u) => sampleMetrics(u))),
        getAdmission(opts.target, opts.token),
      ]);
      if (adm) {
        lastAdm = adm;
        cap = adm.limits.maxListeners;
      }
      let cores: number | null = null;
      let rss: number | null = null;
      samples.forEach((s, k) => {
        const p = prev[k];
        if (s?.cpuSeconds != null && p?.cpuSeconds != null && s.at > p.at)
          cores = (cores ?? 0) + (s.cpuSeconds - p.cpuSeconds) / ((s.at - p.at) / 1000);
        if (s?.rssBytes != null) rss = (rss ?? 0) + s.rssBytes;
      });
      prev = samples.map((s, k) => s ?? prev[k]);
      const c = counters();
      timeline.push({
        t,
        arrived: c.arrived,
        admitted: c.admitted,
        queued: c.queued,
        failed: c.failed,
        playing: c.playing,
        lobby: c.lobby,
        errors: c.errors,
        backlog: c.backlog,
        edgeCpuCores: cores === null ? null : Math.round((cores as number) * 1000) / 1000,
        edgeRssBytes: rss,
        edgeActive: adm?.active ?? null,
        edgeWaiting: adm?.waiting ?? null,
      });
      say(
        `[rehearse ${(t / 1000).toFixed(0)}s] arrived ${c.arrived}/${listeners} admitted ${c.admitted} queued ${c.queued} ` +
          `failed ${c.failed} playing ${c.playing}${c.lobby ? ` lobby ${c.lobby}` : ''} errors ${c.errors}` +
          (cores !== null ? ` edge CPU ${(cores as number).toFixed(2)}` : '') +
          (c.backlog ? ` client backlog ${c.backlog}` : ''),
      );
    })();
  }, 1000);

  const aborted = (): boolean => opts.signal?.aborted === true || workerError !== undefined;
  const waitFor = async (pred: (c: Counters) => boolean, timeoutMs: number): Promise<boolean> => {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end && !aborted()) {
      if (handles.every((h) => h.latest) && pred(counters())) return true;
      await new Promise<void>((r) => {
        onTick = r;
        setTimeout(r, 250);
      });
    }
    return false;
  };
  const build = (summaries: EngineSummary[], endAt: number): Report =>
    buildReport({
      target: opts.target,
      space: opts.space,
      profile,
      mode,
      listeners,
      overSeconds,
      t0,
      endAt,
      workers,
      summaries,
      timeline: [...timeline],
      marks: [...marks],
      cap,
      startAt,
      edges,
      gapMs: opts.gapMs,
    });
  const ctl: RehearsalControl = {
    t0,
    counters,
    waitFor,
    mark: (label) => void marks.push({ t: Date.now() - t0, label }),
    setStartAt: (at = Date.now()) => {
      startAt = at;
      marks.push({ t: at - t0, label: 'start' });
    },
    snapshot: async () => build(await Promise.all(handles.map((h) => h.summary())), Date.now()),
    admission: () => getAdmission(opts.target, opts.token),
    log: (m) => say(`[rehearse] ${m}`),
  };

  let summaries: EngineSummary[];
  try {
    // 4. served, ready hook, lobby start, hold
    const lastArrival = times[times.length - 1];
    await sleep(Math.max(0, t0 + lastArrival - Date.now()));
    const answered = await waitFor((c) => c.answered >= listeners, (opts.answerTimeoutSeconds ?? 60) * 1000);
    if (!answered && !aborted()) say('[rehearse] not every arrival had an answer in time; going on');
    marks.push({ t: Date.now() - t0, label: 'served' });
    if (opts.onReady && !aborted()) await opts.onReady(ctl);
    if (counters().lobby > 0 && !aborted()) {
      say(`[rehearse] ${counters().lobby} listeners wait in the lobby for the Space to start`);
      const timeout = opts.onReady ? 120 : (opts.lobbyTimeoutSeconds ?? MAX_SECONDS);
      await waitFor((c) => c.lobby === 0, timeout * 1000);
    }
    const holdEnd = Date.now() + holdSeconds * 1000;
    while (Date.now() < holdEnd && !aborted()) await sleep(Math.min(250, holdEnd - Date.now()));
    if (workerError) throw new Error(`rehearsal worker failed: ${workerError}`);
  } finally {
    clearInterval(sampler);
    summaries = await Promise.all(handles.map((h) => h.stop().catch(() => undefined))).then((s) =>
      s.filter((x): x is EngineSummary => x !== undefined),
    );
    for (const h of handles) h.kill();
  }
  if (lastAdm) cap = lastAdm.limits.maxListeners;
  const report: RehearsalResult = build(summaries, Date.now());
  if (opts.reportDir) {
    mkdirSync(opts.reportDir, { recursive: true });
    const stem = path.join(opts.reportDir, `rehearsal-${report.startedAt.replace(/[:.]/g, '-')}`);
    writeFileSync(`${stem}.json`, JSON.stringify(report, null, 2));
    writeFileSync(`${stem}.html`, reportHtml(report));
    report.files = { json: `${stem}.json`, html: `${stem}.html` };
  }
  return report;
}
