/**
 * Tribune benchmark: `npx tsx bench/run.ts [--json] [--spaces N] [--bursts N] [--quick]`
 *
 *  1. listener latency, glass to glass: a Node WHIP speaker sends a 1 kHz burst every 1.5 s; an
 *     LL-HLS listener on the edge detects each onset; latency = arrival time of the part holding
 *     the onset - burst start (performance.now() when the burst's first frame went to WebRTC).
 *  2. speaker-to-speaker latency: a second WHIP speaker detects the onset in its mix-minus.
 *  3. server CPU per Space with 13 speakers (main + media engine CPU-seconds per wall second).
 *  4. event-loop delay of the HTTP process with N Spaces x 13 speakers (+1 listener per Space).
 *  5. browser: glass-to-glass latency in headless Chromium (Debian's /usr/bin/chromium), the web
 *     player in stream mode vs forced LL-HLS (bench/browser.ts); builds the web app when missing.
 *
 * Everything on 127.0.0.1; load clients run in child processes; the server and all children are
 * stopped at the end, also on error or timeout. Human output on stdout (progress on stderr); with
 * --json the last stdout line is one JSON object.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { LlHlsListener } from '../test/support/llhls-client.js';
import {
  REPO_ROOT,
  createSpace,
  edgeMasterUrl,
  scrapeMetrics,
  startTribune,
  whipUrlFor,
  type TestSpace,
  type TribuneHandle,
} from '../test/support/server.js';
import { OnsetDetector } from '../test/support/spectrum.js';
import { ToneGenerator, type BurstMark } from '../test/support/tone.js';
import { NodeWhipClient, frameClock } from '../test/support/whip-client.js';
import { browserLatencyPhase, type BrowserLatencyResult } from './browser.js';
import type { LoadConfig, LoadMessage, LoadSpace } from './load-client.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    spaces: { type: 'string', default: '10' },
    bursts: { type: 'string', default: '30' },
    'cpu-seconds': { type: 'string', default: '20' },
    'eld-seconds': { type: 'string', default: '15' },
    quick: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    phases: { type: 'string', default: 'latency,browser,cpu,eld' },
  },
});

const QUICK = args.quick;
const PHASES = new Set(args.phases.split(','));
if (PHASES.has('browser') && !existsSync(path.join(REPO_ROOT, 'dist/web/index.html'))) {
  process.stderr.write('bench: building the web app for the browser phase\n');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT, stdio: 'inherit' });
}
const SPACES = Math.max(1, Number(args.spaces));
const BURSTS = QUICK ? 8 : Math.max(3, Number(args.bursts));
const CPU_SECONDS = QUICK ? 8 : Number(args['cpu-seconds']);
const ELD_SECONDS = QUICK ? 8 : Number(args['eld-seconds']);
const BURST_PERIOD_MS = 1500;
const BURST_ON_MS = 300;
const BURST_JITTER_MS = 100;
const TONE_HZ = 1000;
/** onset threshold: tone amplitude 0.05 of full scale (-26 dBFS); the burst is sent at 0.5 */
const ONSET_THRESHOLD = 0.05;
const SPEAKERS_PER_SPACE = 13;
const WATCHDOG_MS = 290_000;
/** how long load children may take to connect their speakers before measuring with what is connected */
const CONNECT_BUDGET_MS = QUICK ? 40_000 : 75_000;

const log = (...a: unknown[]) => console.error(`[bench ${(performance.now() / 1000).toFixed(1)}s]`, ...a);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Percentiles {
  p50: number;
  p95: number;
  n: number;
  min: number;
  max: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

function summarize(values: number[]): Percentiles {
  const s = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    n: s.length,
    min: s[0] ?? NaN,
    max: s.at(-1) ?? NaN,
  };
}

const round = (v: number, d = 1) => (Number.isFinite(v) ? Math.round(v * 10 ** d) / 10 ** d : null);

/**
 * Match detected onset times to bursts: burst i takes the first onset in [start_i, start_i+1)
 * (bursts are >= 1.4 s apart, well above the latencies measured; a slower pipeline shows up as misses).
 */
function matchLatencies(bursts: readonly BurstMark[], onsets: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < bursts.length; i++) {
    const start = bursts[i].startMs;
    const end = bursts[i + 1]?.startMs ?? start + BURST_PERIOD_MS - BURST_JITTER_MS;
    const hit = onsets.find((t) => t >= start && t < end);
    if (hit !== undefined) out.push(hit - start);
  }
  return out;
}

// ------------------------------------------------------------------ machine CPU

function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of os.cpus()) {
    const t = c.times;
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

function machineBusy(a: { busy: number; total: number }, b: { busy: number; total: number }): number {
  return (b.busy - a.busy) / Math.max(1, b.total - a.total);
}

/**
 * CPU seconds of a process and all its descendants from /proc (Linux; NaN elsewhere): the
 * cross-check for /metrics, whose media-engine gauge goes stale when the engine is starved.
 */
function procTreeCpuSeconds(rootPid: number): number {
  try {
    const stats = new Map<number, { ppid: number; cpu: number }>();
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const txt = readFileSync(`/proc/${d}/stat`, 'utf8');
        // fields after the ")" of comm: state ppid ... utime(14) stime(15)
        const f = txt.slice(txt.lastIndexOf(')') + 2).split(' ');
        stats.set(Number(d), { ppid: Number(f[1]), cpu: Number(f[11]) + Number(f[12]) });
      } catch {
        // exited meanwhile
      }
    }
    let ticks = 0;
    const todo = [rootPid];
    while (todo.length) {
      const pid = todo.pop()!;
      ticks += stats.get(pid)?.cpu ?? 0;
      for (const [child, st] of stats) if (st.ppid === pid) todo.push(child);
    }
    return ticks / 100; // USER_HZ
  } catch {
    return NaN;
  }
}

// ------------------------------------------------------------------ load children

/**
 * What a load child needs to fill a Space's stage: the host's WHIP token and those of
 * SPEAKERS_PER_SPACE - 1 more users put on stage (2 co-hosts, then speakers).
 */
async function loadSpace(space: TestSpace): Promise<LoadSpace> {
  return {
    id: space.id,
    hostToken: space.hostToken,
    speakerTokens: await space.stageTokens(SPEAKERS_PER_SPACE - 1),
  };
}

interface LoadChild {
  child: ChildProcess;
  /** resolves when every speaker is connected, or after budgetMs with those connected by then (halted) */
  whenReady(budgetMs: number): Promise<Extract<LoadMessage, { type: 'ready' }>>;
  stop(): Promise<Extract<LoadMessage, { type: 'stopped' }> | undefined>;
}

const children = new Set<ChildProcess>();

function spawnLoad(cfg: LoadConfig): LoadChild {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/load-client.ts', JSON.stringify(cfg)], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.add(child);
  const messages: LoadMessage[] = [];
  const waiters: (() => void)[] = [];
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      try {
        const msg = JSON.parse(line) as LoadMessage;
        if (msg.type === 'progress') {
          if (args.verbose && (msg.speakers + msg.failed) % 13 === 0) {
            log(`load ${cfg.tag ?? ''}: ${msg.speakers} connected, ${msg.failed} failed`);
          }
          continue;
        }
        messages.push(msg);
        waiters.splice(0).forEach((w) => w());
      } catch {
        if (args.verbose) log('load child:', line);
      }
    }
  });
  let exited = false;
  const exitP = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      children.delete(child);
      waiters.splice(0).forEach((w) => w());
      resolve();
    }),
  );
  const waitFor = async <T extends LoadMessage['type']>(
    type: T,
    timeoutMs: number,
  ): Promise<Extract<LoadMessage, { type: T }> | undefined> => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const m = messages.find((x) => x.type === type || x.type === 'error');
      if (m?.type === 'error') throw new Error(`load child: ${m.message}`);
      if (m) return m as Extract<LoadMessage, { type: T }>;
      if (exited || performance.now() > deadline) return undefined;
      await Promise.race([new Promise<void>((r) => waiters.push(r)), sleep(deadline - performance.now())]);
    }
  };
  const whenReady = async (budgetMs: number) => {
    let m = await waitFor('ready', budgetMs);
    if (!m && !exited) {
      // out of time: stop connecting more speakers and measure with those that made it
      child.stdin!.write('halt\n');
      m = await waitFor('ready', 90_000);
    }
    if (!m) throw new Error('load child not ready (exited or timed out)');
    return m;
  };
  const stop = async () => {
    if (exited)
      return messages.find((m) => m.type === 'stopped') as Extract<LoadMessage, { type: 'stopped' }>;
    child.stdin!.write('stop\n');
    const m = await waitFor('stopped', 15_000).catch(() => undefined);
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exitP;
    clearTimeout(killer);
    return m;
  };
  return { child, whenReady, stop };
}

function killAllChildren(): void {
  for (const c of children) c.kill('SIGKILL');
}

// ------------------------------------------------------------------ phases

interface LatencyResult {
  listener: Percentiles;
  speaker: Percentiles;
  bursts: number;
  listenerMissedParts: number;
}

async function measureLatency(server: TribuneHandle): Promise<LatencyResult> {
  const space = await createSpace(server.url, 'bench latency');
  const [peerToken] = await space.stageTokens(1);
  const tone = new ToneGenerator({ freqHz: TONE_HZ, amplitude: 0.5, continuous: false });
  const talker = new NodeWhipClient({ record: false });
  const speakerOnsets: number[] = [];
  const speakerDet = new OnsetDetector({ freq: TONE_HZ, threshold: ONSET_THRESHOLD });
  const peer = new NodeWhipClient({
    record: false,
    onFrame: (pcm, t) => {
      if (speakerDet.push(pcm, t)) speakerOnsets.push(t);
    },
  });
  const listenerOnsets: number[] = [];
  const listenerDet = new OnsetDetector({ freq: TONE_HZ, threshold: ONSET_THRESHOLD });
  let listener: LlHlsListener | undefined;
  try {
    await talker.publish({
      whipUrl: whipUrlFor(server.url, space.id, 'talker'),
      token: space.hostToken,
      source: tone,
    });
    // the peer speaker sends silence (a 400 Hz generator that never bursts)
    await peer.publish({
      whipUrl: whipUrlFor(server.url, space.id, 'peer'),
      token: peerToken,
      source: new ToneGenerator({ freqHz: 400, continuous: false }),
    });
    log('latency: 2 speakers connected');
    // let the playlist fill a little, then join like a low-latency player at the live edge
    await sleep(1500);
    listener = new LlHlsListener({
      masterUrl: edgeMasterUrl(server.url, space.id),
      onPcm: (pcm, arrivedAt) => {
        if (listenerDet.push(pcm, arrivedAt)) listenerOnsets.push(arrivedAt);
      },
    });
    listener.done.catch((err: unknown) => log('listener stopped on error:', String(err)));
    await Promise.race([listener.started, sleep(10_000)]);
    await sleep(2000);
    log(
      `latency: listener playing (${listener.parts.length} parts); ${BURSTS} bursts every ${BURST_PERIOD_MS} ms`,
    );
    let next = performance.now();
    for (let i = 0; i < BURSTS; i++) {
      tone.startBurst(BURST_ON_MS);
      // ~1.5 s apart with +-100 ms of jitter, so onsets fall at every position inside a 200 ms part
      // (a fixed 1.5 s period would only ever sample two positions)
      next += BURST_PERIOD_MS + (Math.random() * 2 - 1) * BURST_JITTER_MS;
      await sleep(Math.max(0, next - performance.now()));
    }
    await sleep(2500);
    if (listener.errors.length) log(`listener errors: ${listener.errors.slice(0, 3).map(String).join('; ')}`);
    log(`latency: listener got ${listener.parts.length} parts, peer speaker ${peer.framesReceived} frames`);
    if (args.verbose) {
      const m = await scrapeMetrics(server.url);
      const pick = [...m].filter(([k]) => /^tribune_media_(ticks|late_ticks|skipped_ticks)_total/.test(k));
      log(
        `media engine: ${pick.map(([k, v]) => `${k}=${v}`).join(' ')}; talker clock skipped ${frameClock.skipped}`,
      );
    }
    const listenerLat = matchLatencies(tone.bursts, listenerOnsets);
    const speakerLat = matchLatencies(tone.bursts, speakerOnsets);
    if (args.verbose) {
      log('listener latencies', listenerLat.map((v) => v.toFixed(0)).join(' '));
      log('speaker latencies', speakerLat.map((v) => v.toFixed(0)).join(' '));
    }
    return {
      listener: summarize(listenerLat),
      speaker: summarize(speakerLat),
      bursts: tone.bursts.length,
      listenerMissedParts: listener.missedParts,
    };
  } finally {
    await listener?.stop();
    await Promise.all([talker.close().catch(() => undefined), peer.close().catch(() => undefined)]);
  }
}

function cpuSum(m: Map<string, number>): { main: number; media: number } {
  return {
    main: m.get('process_cpu_seconds_total') ?? NaN,
    media: m.get('tribune_media_cpu_seconds_total') ?? NaN,
  };
}

interface CpuResult {
  cpuPerAudioSecond: number;
  main: number;
  media: number;
  /** same window from /proc (server + descendants), cross-check */
  procTree: number;
  speakers: number;
  wallS: number;
  machineBusy: number;
}

async function measureCpu(server: TribuneHandle): Promise<CpuResult> {
  const space = await loadSpace(await createSpace(server.url, 'bench cpu'));
  const load = spawnLoad({
    url: server.url,
    spaces: [space],
    speakersPerSpace: SPEAKERS_PER_SPACE,
    listeners: false,
    tag: 'cpu',
  });
  try {
    const ready = await load.whenReady(CONNECT_BUDGET_MS);
    log(`cpu: ${ready.speakers} speakers connected (${ready.failed} failed) ${ready.errors.join('; ')}`);
    await sleep(2000);
    const m0 = cpuSum(await scrapeMetrics(server.url));
    const p0 = procTreeCpuSeconds(server.pid);
    const c0 = cpuTimes();
    const t0 = performance.now();
    await sleep(CPU_SECONDS * 1000);
    const m1 = cpuSum(await scrapeMetrics(server.url));
    const wallS = (performance.now() - t0) / 1000;
    const busy = machineBusy(c0, cpuTimes());
    const procTree = (procTreeCpuSeconds(server.pid) - p0) / wallS;
    const main = (m1.main - m0.main) / wallS;
    const media = (m1.media - m0.media) / wallS;
    return {
      cpuPerAudioSecond: main + media,
      main,
      media,
      procTree,
      speakers: ready.speakers,
      wallS,
      machineBusy: busy,
    };
  } finally {
    await load.stop();
  }
}

interface EldResult {
  p50: number;
  p99: number;
  idleP50: number;
  idleP99: number;
  spaces: number;
  speakers: number;
  failed: number;
  halted: boolean;
  listeners: number;
  machineBusy: number;
  loadavg1: number;
  serverCpu: number;
  mediaCpu: number;
  procTree: number;
  cores: number;
}

async function measureEventLoop(server: TribuneHandle): Promise<EldResult> {
  // idle baseline: prom-client's monitorEventLoopDelay (10 ms resolution) reads ~10 ms when idle
  await scrapeMetrics(server.url);
  await sleep(3000);
  const idle = await scrapeMetrics(server.url);
  const created: TestSpace[] = [];
  for (let i = 0; i < SPACES; i++) created.push(await createSpace(server.url, `bench load ${i}`));
  // fill the stages in parallel (sign-ups, invites, roles, tokens), before anything is measured
  const spaces = await Promise.all(created.map(loadSpace));
  const halves = [spaces.filter((_, i) => i % 2 === 0), spaces.filter((_, i) => i % 2 === 1)].filter(
    (h) => h.length,
  );
  const loads = halves.map((h, i) =>
    spawnLoad({
      url: server.url,
      spaces: h,
      speakersPerSpace: SPEAKERS_PER_SPACE,
      listeners: true,
      tag: `eld${i}`,
    }),
  );
  try {
    const readies = await Promise.all(loads.map((l) => l.whenReady(CONNECT_BUDGET_MS)));
    const speakers = readies.reduce((a, r) => a + r.speakers, 0);
    const failed = readies.reduce((a, r) => a + r.failed, 0);
    const listeners = readies.reduce((a, r) => a + r.listeners, 0);
    const halted = readies.some((r) => r.halted);
    const errs = readies.flatMap((r) => r.errors);
    log(
      `eld: ${speakers} speakers in ${SPACES} Spaces (${failed} failed), ${listeners} listeners ${errs.join('; ')}`,
    );
    await sleep(2000);
    const m0 = await scrapeMetrics(server.url); // resets the lag percentiles
    const p0 = procTreeCpuSeconds(server.pid);
    const c0 = cpuTimes();
    const t0 = performance.now();
    await sleep(ELD_SECONDS * 1000);
    const m1 = await scrapeMetrics(server.url);
    const wallS = (performance.now() - t0) / 1000;
    const busy = machineBusy(c0, cpuTimes());
    const procTree = (procTreeCpuSeconds(server.pid) - p0) / wallS;
    const a = cpuSum(m0);
    const b = cpuSum(m1);
    return {
      p50: (m1.get('nodejs_eventloop_lag_p50_seconds') ?? NaN) * 1000,
      p99: (m1.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
      idleP50: (idle.get('nodejs_eventloop_lag_p50_seconds') ?? NaN) * 1000,
      idleP99: (idle.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
      spaces: SPACES,
      speakers,
      failed,
      halted,
      listeners,
      machineBusy: busy,
      loadavg1: os.loadavg()[0],
      serverCpu: (b.main - a.main) / wallS,
      mediaCpu: (b.media - a.media) / wallS,
      procTree,
      cores: os.cpus().length,
    };
  } finally {
    await Promise.all(loads.map((l) => l.stop()));
  }
}

// ------------------------------------------------------------------ main

async function main(): Promise<number> {
  let server: TribuneHandle | undefined;
  const watchdog = setTimeout(() => {
    log(`watchdog: bench exceeded ${WATCHDOG_MS / 1000} s, killing everything`);
    killAllChildren();
    if (server) server.child.kill('SIGKILL');
    process.exit(3);
  }, WATCHDOG_MS);
  watchdog.unref();
  process.on('exit', killAllChildren);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAllChildren();
      server?.child.kill('SIGKILL');
      process.exit(130);
    });
  }

  let latency: LatencyResult | undefined;
  let browser: BrowserLatencyResult | undefined;
  let cpu: CpuResult | undefined;
  let eld: EldResult | undefined;
  const failures: string[] = [];
  try {
    log('starting tribune');
    // Every bench client connects from 127.0.0.1: lift the per-address limits meant for real clients.
    server = await startTribune({
      readyTimeoutMs: 30_000,
      env: { TRIBUNE_WHIP_PER_MINUTE: '100000', TRIBUNE_CREATE_SPACE_PER_MINUTE: '1000' },
    });
    log(`tribune at ${server.url} (pid ${server.pid})`);
    try {
      if (PHASES.has('latency')) latency = await measureLatency(server);
    } catch (err) {
      failures.push(`latency: ${String(err)}`);
      log('latency phase failed:', err);
    }
    try {
      if (PHASES.has('browser'))
        browser = await browserLatencyPhase({ url: server.url, bursts: QUICK ? 8 : 20, log });
    } catch (err) {
      failures.push(`browser: ${String(err)}`);
      log('browser phase failed:', err);
    }
    try {
      if (PHASES.has('cpu')) cpu = await measureCpu(server);
    } catch (err) {
      failures.push(`cpu: ${String(err)}`);
      log('cpu phase failed:', err);
    }
    try {
      if (PHASES.has('eld')) eld = await measureEventLoop(server);
    } catch (err) {
      failures.push(`event loop: ${String(err)}`);
      log('event-loop phase failed:', err);
    }
  } catch (err) {
    failures.push(String(err));
    log('bench failed:', err);
  } finally {
    killAllChildren();
    if (server) {
      if (failures.length && args.verbose) log('server logs:\n' + server.logs().slice(-5000));
      await server.stop();
    }
    clearTimeout(watchdog);
  }

  const f = (v: number | undefined | null, d = 1) =>
    v === undefined || v === null || !Number.isFinite(v) ? 'n/a' : v.toFixed(d);
  const rows: [string, string, string][] = [
    [
      'listener latency (edge LL-HLS)',
      latency ? `p50 ${f(latency.listener.p50, 0)} / p95 ${f(latency.listener.p95, 0)} ms` : 'n/a',
      latency
        ? `${latency.listener.n}/${latency.bursts} bursts detected, min ${f(latency.listener.min, 0)} max ${f(latency.listener.max, 0)}, ${latency.listenerMissedParts} parts missed`
        : '',
    ],
    [
      'speaker-to-speaker latency',
      latency ? `p50 ${f(latency.speaker.p50, 0)} / p95 ${f(latency.speaker.p95, 0)} ms` : 'n/a',
      latency
        ? `${latency.speaker.n}/${latency.bursts} bursts detected, min ${f(latency.speaker.min, 0)} max ${f(latency.speaker.max, 0)}`
        : '',
    ],
    [
      'browser: stream delivery (Node)',
      browser ? `p50 ${f(browser.delivery.p50, 0)} / p95 ${f(browser.delivery.p95, 0)} ms` : 'n/a',
      browser
        ? `burst sent -> its fragment at a Node stream client, same bursts; the stream page's own share p50 ${f(browser.streamPlayerShareP50, 0)} ms`
        : '',
    ],
    ...(['stream', 'llhls'] as const).map((mode): [string, string, string] => {
      const b = browser?.[mode];
      return [
        `browser glass to glass (${mode === 'stream' ? 'stream' : 'LL-HLS'})`,
        b ? `p50 ${f(b.p50, 0)} / p95 ${f(b.p95, 0)} ms` : 'n/a',
        b && browser
          ? `${b.n}/${browser.bursts} bursts detected, min ${f(b.min, 0)} max ${f(b.max, 0)} (Chromium, WebAudio tap at the output)`
          : '',
      ];
    }),
    [
      'CPU, 1 Space x 13 speakers',
      cpu ? `${f(cpu.cpuPerAudioSecond, 3)} CPU-s per audio-s` : 'n/a',
      cpu
        ? `main ${f(cpu.main, 3)} + media ${f(cpu.media, 3)} (/proc: ${f(cpu.procTree, 3)}); ${cpu.speakers} speakers; machine ${f(cpu.machineBusy * 100, 0)}% busy of ${os.cpus().length} cores (clients included)`
        : '',
    ],
    [
      `event-loop delay, ${SPACES} Spaces x 13`,
      eld ? `p50 ${f(eld.p50, 1)} / p99 ${f(eld.p99, 1)} ms` : 'n/a',
      eld
        ? `idle p50 ${f(eld.idleP50, 1)} / p99 ${f(eld.idleP99, 1)} ms (10 ms histogram resolution); ${eld.speakers}/${eld.spaces * SPEAKERS_PER_SPACE} speakers (${eld.failed} failed${eld.halted ? ', connecting halted at the time budget' : ''}), ${eld.listeners} listeners; server main ${f(eld.serverCpu, 2)} + media ${f(eld.mediaCpu, 2)} CPU-s/s (/proc: ${f(eld.procTree, 2)}); machine ${f(eld.machineBusy * 100, 0)}% busy of ${eld.cores} cores, loadavg ${f(eld.loadavg1, 2)}${eld.machineBusy > 0.9 ? ' -- SATURATED: figures include CPU starvation' : ''}`
        : '',
    ],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  console.log(
    `Tribune bench (${os.cpus().length} cores, ${os.cpus()[0]?.model ?? '?'}, node ${process.version})`,
  );
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
  if (failures.length) console.log(`failures: ${failures.join(' | ')}`);

  if (args.json) {
    console.log(
      JSON.stringify({
        listener_latency_ms: {
          p50: round(latency?.listener.p50 ?? NaN),
          p95: round(latency?.listener.p95 ?? NaN),
        },
        speaker_latency_ms: {
          p50: round(latency?.speaker.p50 ?? NaN),
          p95: round(latency?.speaker.p95 ?? NaN),
        },
        browser_latency_ms: {
          stream: { p50: round(browser?.stream.p50 ?? NaN), p95: round(browser?.stream.p95 ?? NaN) },
          llhls: { p50: round(browser?.llhls.p50 ?? NaN), p95: round(browser?.llhls.p95 ?? NaN) },
        },
        cpu_s_per_audio_s_13_speakers: round(cpu?.cpuPerAudioSecond ?? NaN, 3),
        event_loop_delay_ms: { p50: round(eld?.p50 ?? NaN, 2), p99: round(eld?.p99 ?? NaN, 2) },
      }),
    );
  }
  return failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    killAllChildren();
    process.exit(1);
  },
);
