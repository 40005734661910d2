/**
 * Edge benchmark ("Edges that hold a crowd", item 4): `npm run bench:edge -- [--json] [--rt]`
 *
 *  1. Setup: an origin process (`node dist/cli.js origin`, temp data dir) and a standalone edge
 *     process (`node dist/cli.js edge --origin ...`, pinned to core 0), a live Space with one Node
 *     WHIP speaker publishing a tone, so real 200 ms parts are produced. Builds dist/ if missing.
 *  2. Requests/s per core: `wrk -t1 -c200 -d8s --latency` (pinned to core 1) on a recent part, a
 *     segment and the live playlist, against the edge and against nginx (`worker_processes 1`,
 *     pinned to core 0) serving the same bytes with the same Content-Type / Cache-Control, runs
 *     interleaved (edge, nginx, nginx, edge, ...). Each server's CPU comes from /proc (nginx: master
 *     + worker); req/s per core = req/s / cores used.
 *  3. Stream listeners: a separate client process (bench/edge-stream-client.ts, core 1) opens N
 *     `stream.mp4` connections from 127.0.0.2-20 at a bounded rate, holds them, and checks per
 *     listener that every part arrives (mfhd +1, tfdt +9600) and the largest inter-arrival gap;
 *     the edge's CPU and RSS are read around the hold. A watcher follows the origin's blocking
 *     playlist to time when each part exists there: delivery delay = origin -> listener. Without a
 *     stream endpoint on the edge (`--mode auto` probes it) the listeners play LL-HLS instead.
 *  4. Origin fetches per object during each hold: the edge's `tribune_edge_origin_fetches_total` and
 *     the origin's `tribune_origin_hls_requests_total` (minus the bench's own requests and the
 *     edge's live reports), per part produced.
 *
 * Options: --listeners 2000,19700 (steps; `max` = what the open-files hard limit allows; default
 * 2000 and min(20000, max)), --batch N|listeners:parts,... (TRIBUNE_EDGE_STREAM_BATCH on the edge),
 * --edge-env K=V (repeatable), --phases rps,stream, --mode auto|stream|llhls, --reps 2,
 * --wrk-seconds 8, --wrk-connections 200, --hold-seconds 15, --rate 2000 (connections/s),
 * --gap-ms 1000, --sources 19, --client-impl net|http, --nice -10, --rt, --build, --verbose,
 * --save [FILE] (writes `{capacity, result}` for `tribune capacity`; default bench/results/edge.json).
 *
 * Scheduling: every process of the bench runs at nice -10 (the origin's own default), or with
 * --rt at SCHED_RR priority 1 (chrt; needs CAP_SYS_NICE). On a machine busy with other work, a
 * process pinned to one core at nice -10 still sees event-loop stalls of 250-650 ms (measured with
 * an idle timer), which show up as listener gaps that are not the edge's; --rt removes them (2 ms).
 *
 * Everything on 127.0.0.0/8; every child is killed on exit, on SIGINT/SIGTERM and by a watchdog
 * (--timeout-seconds 420); temp dirs are removed. Default run: about 2.5 minutes. Human output on
 * stdout (progress on stderr); with --json the last stdout line is one JSON object.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, setPriority, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { REPO_ROOT, createSpace, freePort, scrapeMetrics, whipUrlFor } from '../test/support/server.js';
import { ToneGenerator } from '../test/support/tone.js';
import { NodeWhipClient } from '../test/support/whip-client.js';
import { capacitySummary } from '../src/ops/capacity/figures.js';
import type { StreamClientConfig, StreamClientMessage, StreamReport } from './edge-stream-client.js';

/** `--save` alone (or before another option) saves to the default file */
const DEFAULT_SAVE = 'bench/results/edge.json';
const argv = process.argv.slice(2);
const saveAt = argv.indexOf('--save');
if (saveAt >= 0 && (saveAt + 1 >= argv.length || argv[saveAt + 1]!.startsWith('-')))
  argv.splice(saveAt + 1, 0, DEFAULT_SAVE);
const { values: args } = parseArgs({
  args: argv,
  options: {
    json: { type: 'boolean', default: false },
    listeners: { type: 'string' },
    batch: { type: 'string' },
    phases: { type: 'string', default: 'rps,stream' },
    mode: { type: 'string', default: 'auto' },
    // client CPU, raw net vs http.get: 0.10 vs 0.22 cores (2,000 listeners, 1 part/write), 0.31 vs
    // 0.49 (19,700, 3 parts/write); http.get was lighter only at 5,000 x 1 part/write (0.27 vs 0.34)
    'client-impl': { type: 'string', default: 'net' },
    reps: { type: 'string', default: '2' },
    'wrk-seconds': { type: 'string', default: '8' },
    'wrk-connections': { type: 'string', default: '200' },
    'hold-seconds': { type: 'string', default: '15' },
    rate: { type: 'string', default: '2000' },
    'gap-ms': { type: 'string', default: '1000' },
    sources: { type: 'string', default: '19' },
    'edge-env': { type: 'string', multiple: true, default: [] },
    build: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    'timeout-seconds': { type: 'string', default: '420' },
    nice: { type: 'string', default: '-10' },
    rt: { type: 'boolean', default: false },
    save: { type: 'string' },
  },
});

/** the origin raises itself to nice -10 (TRIBUNE_NICE); the bench's other processes get the same */
const NICE = Number(args.nice);
const PHASES = new Set(args.phases.split(','));
const REPS = Math.max(1, Number(args.reps));
const WRK_SECONDS = Math.max(1, Number(args['wrk-seconds']));
const WRK_CONNECTIONS = Math.max(1, Number(args['wrk-connections']));
const HOLD_SECONDS = Math.max(2, Number(args['hold-seconds']));
const RATE = Math.max(10, Number(args.rate));
const GAP_MS = Number(args['gap-ms']);
const SOURCES = Array.from(
  { length: Math.min(100, Math.max(1, Number(args.sources))) },
  (_, i) => `127.0.0.${i + 2}`,
);
const SECRET = 'bench-edge-secret-0123456789abcdef';
/** 48 kHz x 0.2 s */
const PART_TICKS = 9600;
const EDGE_CORE = '0';
const LOAD_CORE = '1';
/** descriptors each process needs besides its listener sockets */
const FD_MARGIN = 300;
const NGINX_SENDFILE = process.env.BENCH_NGINX_SENDFILE ?? 'on';

const t0 = performance.now();
const log = (...a: unknown[]) =>
  console.error(`[bench:edge ${((performance.now() - t0) / 1000).toFixed(1)}s]`, ...a);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (v: number, d = 0) => (Number.isFinite(v) ? Math.round(v * 10 ** d) / 10 ** d : null);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

// ------------------------------------------------------------------ processes

interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  /** extra pids to kill with it (nginx workers) */
  extra: number[];
  exited: boolean;
  logs(): string;
}

const procs = new Set<Proc>();

function killAll(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const p of procs) {
    for (const pid of [p.pid, ...p.extra]) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone
      }
    }
  }
}
/** temp dirs (data dir, nginx root) removed on exit, also after SIGINT */
const tempDirs = new Set<string>();
process.on('exit', () => {
  killAll('SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`[bench:edge] ${sig}: stopping`);
    killAll('SIGKILL');
    process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
  });
}

/** Runs `argv` under bash with the open-files soft limit raised to the hard limit (exec keeps the pid). */
function startProc(
  name: string,
  argv: string[],
  opts: { env?: NodeJS.ProcessEnv; stdin?: boolean; stdout?: 'pipe' | 'log' } = {},
): Proc {
  const niced = args.rt
    ? ['chrt', '-r', '1', ...argv]
    : NICE !== 0
      ? ['nice', '-n', String(NICE), ...argv]
      : argv;
  const child = spawn('bash', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'bash', ...niced], {
    cwd: REPO_ROOT,
    env: opts.env ?? process.env,
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
    if (args.verbose) process.stderr.write(`[${name}] ${d.toString()}`);
  };
  if (opts.stdout !== 'pipe') child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const p: Proc = { name, child, pid: child.pid!, extra: [], exited: false, logs: () => out };
  procs.add(p);
  child.once('exit', () => {
    p.exited = true;
  });
  return p;
}

async function stopProc(p: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!p.exited) {
    const done = new Promise<void>((r) => p.child.once('exit', () => r()));
    try {
      process.kill(p.pid, signal);
    } catch {
      // gone
    }
    await Promise.race([done, sleep(5_000)]);
  }
  for (const pid of [p.pid, ...p.extra]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  procs.delete(p);
}

async function waitHttp(url: string, p: Proc, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (p.exited) throw new Error(`${p.name} exited before ready:\n${p.logs()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status < 500) return;
    } catch {
      // not yet
    }
    if (performance.now() > deadline) throw new Error(`${p.name} not ready at ${url}:\n${p.logs()}`);
    await sleep(100);
  }
}

// ------------------------------------------------------------------ /proc

function statFields(pid: number): string[] {
  const txt = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return txt.slice(txt.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of the pids, in seconds (USER_HZ = 100). */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const f = statFields(pid);
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // exited
    }
  }
  return ticks / 100;
}

/** Busy and total jiffies per CPU from /proc/stat. */
function coreTimes(): { busy: number; total: number }[] {
  const out: { busy: number; total: number }[] = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    out[Number(m[1])] = { busy: total - f[3]! - f[4]!, total };
  }
  return out;
}

/** Share of each CPU busy between two coreTimes() samples (0..1). */
function coreBusy(a: { busy: number; total: number }[], b: { busy: number; total: number }[]): number[] {
  return b.map((x, i) => round((x.busy - (a[i]?.busy ?? 0)) / Math.max(1, x.total - (a[i]?.total ?? 0)), 3)!);
}

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (Number(statFields(Number(d))[1]) === ppid) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

function hardOpenFiles(): number {
  try {
    const out = execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
    return out === 'unlimited' ? 1_048_576 : Number(out);
  } catch {
    return 1024;
  }
}

/** Warns when a source file is newer than dist/cli.js: the bench measures what dist/ holds. */
function warnIfStale(): void {
  try {
    const built = statSync(path.join(REPO_ROOT, 'dist', 'cli.js')).mtimeMs;
    let newest = { file: '', t: 0 };
    for (const f of readdirSync(path.join(REPO_ROOT, 'src'), { recursive: true }) as string[]) {
      if (!/\.tsx?$/.test(f)) continue;
      const t = statSync(path.join(REPO_ROOT, 'src', f)).mtimeMs;
      if (t > newest.t) newest = { file: f, t };
    }
    if (newest.t > built)
      log(
        `note: src/${newest.file} is newer than dist/ (built ${new Date(built).toISOString()}); --build to measure the current source`,
      );
  } catch {
    // no dist yet, or no src: nothing to compare
  }
}

function need(cmd: string, hint: string): void {
  try {
    execFileSync('bash', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${cmd} not found: ${hint}`);
  }
}

// ------------------------------------------------------------------ LL-HLS helpers

interface PlaylistInfo {
  text: string;
  /** last complete part: [msn, part] */
  lastPart: [number, number];
  /** the preload-hinted part (next to come) */
  hint: [number, number];
  lastSegment: number;
  partsPerSegment: number;
}

function parsePlaylist(text: string): PlaylistInfo {
  const parts = [...text.matchAll(/#EXT-X-PART:[^\n]*URI="part\/(\d+)\.(\d+)\.m4s"/g)].map(
    (m) => [Number(m[1]), Number(m[2])] as [number, number],
  );
  const hintM = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part\/(\d+)\.(\d+)\.m4s"/.exec(text);
  const segs = [...text.matchAll(/^seg\/(\d+)\.m4s$/gm)].map((m) => Number(m[1]));
  const perSeg = new Map<number, number>();
  for (const [msn, p] of parts) perSeg.set(msn, Math.max(perSeg.get(msn) ?? 0, p + 1));
  let pps = 0;
  for (const s of segs) pps = Math.max(pps, perSeg.get(s) ?? 0);
  return {
    text,
    lastPart: parts.at(-1) ?? [-1, -1],
    hint: hintM ? [Number(hintM[1]), Number(hintM[2])] : [-1, -1],
    lastSegment: segs.at(-1) ?? -1,
    partsPerSegment: pps || 5,
  };
}

/** baseMediaDecodeTime of the first tfdt box in a CMAF part. */
function firstTfdt(buf: Buffer): number {
  const i = buf.indexOf('tfdt', 0, 'latin1');
  if (i < 4) return NaN;
  return buf[i + 4] === 1 ? Number(buf.readBigUInt64BE(i + 8)) : buf.readUInt32BE(i + 8);
}

/**
 * Follows the origin's blocking playlist reloads part by part and records when each part became
 * available there (Date.now ms, by part index): the reference for the edge's delivery delay.
 */
function watchOrigin(
  originUrl: string,
  spaceId: string,
  from: [number, number],
): { stop(): Promise<void>; ready: Map<number, number>; requests(): number } {
  const ready = new Map<number, number>();
  const ac = new AbortController();
  let requests = 0;
  let next = from;
  const loop = (async () => {
    while (!ac.signal.aborted) {
      try {
        requests++;
        const res = await fetch(
          `${originUrl}/origin/spaces/${spaceId}/audio.m3u8?_HLS_msn=${next[0]}&_HLS_part=${next[1]}`,
          { signal: ac.signal },
        );
        const text = await res.text();
        const t = Date.now();
        const pl = parsePlaylist(text);
        const pps = pl.partsPerSegment;
        for (let i = partIndex(next, pps); i <= partIndex(pl.lastPart, pps); i++)
          if (!ready.has(i)) ready.set(i, t);
        const last = pl.lastPart;
        next = last[1] + 1 >= pps ? [last[0] + 1, 0] : [last[0], last[1] + 1];
        // the last part of a segment is followed by the segment's first part: keep following the hint
        if (pl.hint[0] >= 0) next = pl.hint;
      } catch {
        if (!ac.signal.aborted) await sleep(50);
      }
    }
  })();
  return {
    ready,
    requests: () => requests,
    async stop() {
      ac.abort();
      await loop;
    },
  };
}

/** Seconds the edge spent in garbage collection (all kinds). */
function gcSeconds(m: Map<string, number>): number {
  let s = 0;
  for (const [k, v] of m) if (k.startsWith('tribune_edge_nodejs_gc_duration_seconds_sum')) s += v;
  return s;
}

/** Index of a part counted from the start of the Space. */
const partIndex = ([msn, p]: [number, number], pps: number): number => msn * pps + p;

// ------------------------------------------------------------------ wrk

interface WrkResult {
  rps: number;
  p99Ms: number;
  p50Ms: number;
  requests: number;
  non2xx: number;
  socketErrors: number;
  cpu: number;
  perCore: number;
  /** share of each CPU busy during the run (everything on the machine) */
  coresBusy: number[];
}

function wrkMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

async function runWrk(url: string, serverPids: () => number[]): Promise<WrkResult> {
  const pids = serverPids();
  const c0 = cpuSeconds(pids);
  const k0 = coreTimes();
  const w0 = performance.now();
  const p = startProc('wrk', [
    'taskset',
    '-c',
    LOAD_CORE,
    'wrk',
    '-t1',
    `-c${WRK_CONNECTIONS}`,
    `-d${WRK_SECONDS}s`,
    '--latency',
    url,
  ]);
  await new Promise<void>((r) => (p.exited ? r() : p.child.once('exit', () => r())));
  const wall = (performance.now() - w0) / 1000;
  const cpu = (cpuSeconds(pids) - c0) / wall;
  const coresBusy = coreBusy(k0, coreTimes());
  procs.delete(p);
  const out = p.logs();
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p99 = wrkMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const p50 = wrkMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = se ? se.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  if (!Number.isFinite(rps)) throw new Error(`wrk output not understood:\n${out}`);
  return { rps, p99Ms: p99, p50Ms: p50, requests, non2xx, socketErrors, cpu, perCore: rps / cpu, coresBusy };
}

// ------------------------------------------------------------------ nginx

interface NginxHandle {
  url: string;
  proc: Proc;
  pids(): number[];
  dir: string;
}

interface Fetched {
  /** path on the server, e.g. /hls/spaces/ID/part/3.2.m4s */
  path: string;
  contentType: string;
  cacheControl: string;
  body: Buffer;
}

async function startNginx(objects: Fetched[]): Promise<NginxHandle> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tribune-bench-nginx-'));
  tempDirs.add(dir);
  const www = path.join(dir, 'www');
  for (const o of objects) {
    const file = path.join(www, o.path);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, o.body);
  }
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const port = await freePort();
  const q = (s: string) => `"${s.replace(/["\\]/g, '')}"`;
  const locations = objects
    .map(
      (o) => `    location = ${o.path} {
      default_type ${q(o.contentType)};
      add_header Cache-Control ${q(o.cacheControl)};
      add_header Access-Control-Allow-Origin "*";
    }`,
    )
    .join('\n');
  const conf = `worker_processes 1;
daemon off;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  types {}
  sendfile ${NGINX_SENDFILE};
  tcp_nodelay on;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  open_file_cache max=100 inactive=60s;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    root ${www};
${locations}
  }
}
`;
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const proc = startProc('nginx', [
    'taskset',
    '-c',
    EDGE_CORE,
    'nginx',
    '-p',
    dir,
    '-c',
    path.join(dir, 'nginx.conf'),
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}${objects[0]!.path}`, proc, 10_000);
  proc.extra = childPids(proc.pid);
  if (proc.extra.length !== 1) log(`nginx: ${proc.extra.length} workers (expected 1)`);
  return { url, proc, pids: () => [proc.pid, ...proc.extra], dir };
}

// ------------------------------------------------------------------ stream client

interface StreamClient {
  proc: Proc;
  next<T extends StreamClientMessage['type']>(
    type: T,
    timeoutMs: number,
  ): Promise<Extract<StreamClientMessage, { type: T }>>;
  send(cmd: string): void;
  /** removes and returns the queued messages of this type */
  drain<T extends StreamClientMessage['type']>(type: T): Extract<StreamClientMessage, { type: T }>[];
  pid: number;
}

function startStreamClient(cfg: StreamClientConfig): StreamClient {
  const proc = startProc(
    'stream-client',
    [
      'taskset',
      '-c',
      LOAD_CORE,
      process.execPath,
      '--max-old-space-size=4096',
      '--import',
      'tsx',
      'bench/edge-stream-client.ts',
      JSON.stringify(cfg),
    ],
    { stdin: true, stdout: 'pipe' },
  );
  const queue: StreamClientMessage[] = [];
  const waiters: (() => void)[] = [];
  let buf = '';
  proc.child.stdout!.setEncoding('utf8');
  proc.child.stdout!.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      try {
        queue.push(JSON.parse(line) as StreamClientMessage);
      } catch {
        log('stream client:', line);
      }
      waiters.splice(0).forEach((w) => w());
    }
  });
  proc.child.once('exit', () => waiters.splice(0).forEach((w) => w()));
  return {
    proc,
    pid: proc.pid,
    send: (cmd) => proc.child.stdin!.write(`${cmd}\n`),
    drain(type) {
      const out = queue.filter((m) => m.type === type);
      for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.type === type) queue.splice(i, 1);
      return out as Extract<StreamClientMessage, { type: typeof type }>[];
    },
    async next(type, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const i = queue.findIndex((m) => m.type === type || m.type === 'error');
        if (i >= 0) {
          const m = queue.splice(i, 1)[0]!;
          if (m.type === 'error') throw new Error(`stream client: ${m.message}`);
          return m as Extract<StreamClientMessage, { type: typeof type }>;
        }
        if (proc.exited) throw new Error(`stream client exited:\n${proc.logs()}`);
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`stream client: no '${type}' within ${timeoutMs} ms`);
        await Promise.race([new Promise<void>((r) => waiters.push(r)), sleep(left)]);
      }
    },
  };
}

// ------------------------------------------------------------------ main

interface ServerRun extends WrkResult {
  server: 'edge' | 'nginx';
}

interface StepResult {
  listeners: number;
  mode: 'stream' | 'llhls';
  batch: string | null;
  connected: number;
  failed: number;
  ramp_s: number;
  /** the edge's CPU seconds while the listeners were opened (until each had its first part) */
  ramp_edge_cpu_s: number;
  /** the ramp's CPU minus delivery to the listeners connected so far at the hold's rate (estimate) */
  connect_cpu_s: number | null;
  connects_per_core: number | null;
  first_part_ms: { p50: number; p99: number };
  hold_s: number;
  edge_cpu_cores: number;
  listeners_per_core: number;
  edge_rss_before_mb: number;
  edge_rss_hold_mb: number;
  edge_bytes_per_listener: number;
  gap_share: number;
  with_gap: number;
  /** listeners with a gap > parts/write x 200 ms + (gap-ms - 200 ms), a missing part or a dead connection */
  gap_share_vs_batch: number;
  batch_gap_ms: number;
  dead: number;
  max_gap_ms: { p50: number; p99: number; max: number };
  max_gap_end_s: { p1: number; p50: number; p99: number };
  /** the edge's event-loop delay over the hold (prom-client resets it per scrape) */
  edge_loop_delay_ms: { p99: number | null; max: number | null };
  /** the edge's garbage collection in the hold, seconds per second */
  edge_gc_s_per_s: number | null;
  client_loop_delay_ms: { p99: number; max: number };
  /** part available at the origin (blocking playlist reload) -> first / last listener has it */
  delivery_ms: { first_p50: number; last_p50: number; last_p99: number; last_max: number; parts: number };
  /** largest interval between two parts becoming available at the origin */
  origin_max_part_gap_ms: number;
  /** share of each CPU busy in the hold (everything on the machine) */
  cores_busy: number[];
  jitter_ms: { p50: number; p99: number; max: number };
  parts_per_listener: { min: number; p50: number; max: number };
  missing_parts: number;
  tfdt_breaks: number;
  parts_per_read: number;
  client_cpu_cores: number;
  parts_produced: number;
  segments_produced: number;
  edge_origin_fetches: number;
  origin_hls_requests: number;
  origin_fetches_per_part: number;
  origin_fetches_per_object: number;
  origin_requests_per_part: number;
  /** bytes all listeners received in the hold, per second */
  listener_mbit_s: number;
  /** HTTP payload bytes per connected listener per second in the hold */
  wire_bytes_per_listener_s: number | null;
  /** the edge's own view at the end of the hold */
  edge_stream_listeners: number | null;
  edge_parts_per_write: number | null;
  edge_stream_writes_per_s: number | null;
  edge_stream_cut: number | null;
  errors: string[];
}

async function main(): Promise<void> {
  const watchdog = setTimeout(
    () => {
      console.error(`[bench:edge] watchdog: over ${args['timeout-seconds']} s, stopping`);
      killAll('SIGKILL');
      process.exit(3);
    },
    Number(args['timeout-seconds']) * 1000,
  );
  watchdog.unref();

  need('taskset', 'apt-get install util-linux');
  if (args.rt) {
    need('chrt', 'apt-get install util-linux');
    try {
      execFileSync('chrt', ['-a', '-r', '-p', '1', String(process.pid)], { stdio: 'ignore' });
    } catch {
      throw new Error('--rt: chrt -r failed (needs CAP_SYS_NICE)');
    }
  } else if (NICE !== 0) {
    try {
      setPriority(NICE); // this process hosts the WebRTC speaker
    } catch {
      log(`could not set nice ${NICE} (needs CAP_SYS_NICE); figures may suffer from other load`);
    }
  }
  if (PHASES.has('rps')) {
    need('wrk', 'apt-get install wrk');
    need('nginx', 'apt-get install nginx');
  }
  if (args.build || !existsSync(path.join(REPO_ROOT, 'dist', 'cli.js'))) {
    log('building (npm run build)');
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT, stdio: 'inherit' });
  }

  warnIfStale();
  const hardFiles = hardOpenFiles();
  const maxListeners = hardFiles - FD_MARGIN;

  // ---- 1. origin, edge, a live Space with one speaker
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tribune-bench-edge-'));
  tempDirs.add(dataDir);
  const originPort = await freePort();
  const edgePort = await freePort();
  const originUrl = `http://127.0.0.1:${originPort}`;
  const edgeUrl = `http://127.0.0.1:${edgePort}`;
  const baseEnv: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    TRIBUNE_LOG_LEVEL: 'warn',
    TRIBUNE_TOKEN_SECRET: SECRET,
    TRIBUNE_SIGNUP_PER_MINUTE: '100000',
  };
  delete baseEnv.TRIBUNE_ORIGIN_URL;
  const origin = startProc('origin', [process.execPath, 'dist/cli.js', 'origin'], {
    env: {
      ...baseEnv,
      PORT: String(originPort),
      TRIBUNE_DATA_DIR: dataDir,
      TRIBUNE_PUBLIC_EDGE_URL: edgeUrl,
    },
  });
  const edgeEnv: NodeJS.ProcessEnv = {
    ...baseEnv,
    PORT: String(edgePort),
    TRIBUNE_DATA_DIR: path.join(dataDir, 'edge'),
    // the bench's listeners come from 19 addresses: lift the per-address stream cap (default 64)
    TRIBUNE_EDGE_STREAMS_PER_ADDRESS: '10000000',
    // ...and wrk from one: lift the flood limits (bench:attack measures them); telemetry stays on
    TRIBUNE_EDGE_RATE_PER_ADDRESS: '0',
    // wrk saturates the edge on purpose: automatic brownout would (rightly) treat its token-less
    // part requests as new joins at tier 3 and refuse them; this bench measures the serving path
    TRIBUNE_EDGE_BROWNOUT: 'off',
    TRIBUNE_EDGE_RATE_PER_ADMISSION: '0',
    TRIBUNE_EDGE_CONNECTIONS_PER_ADDRESS: '0',
  };
  if (args.batch !== undefined) edgeEnv.TRIBUNE_EDGE_STREAM_BATCH = args.batch;
  for (const kv of args['edge-env']) {
    const eq = kv.indexOf('=');
    if (eq > 0) edgeEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const edge = startProc(
    'edge',
    ['taskset', '-c', EDGE_CORE, process.execPath, 'dist/cli.js', 'edge', '--origin', originUrl],
    { env: edgeEnv },
  );
  let speaker: NodeWhipClient | undefined;
  let nginx: NginxHandle | undefined;
  let client: StreamClient | undefined;
  try {
    await waitHttp(`${originUrl}/healthz`, origin);
    await waitHttp(`${edgeUrl}/healthz`, edge);
    const edgeFiles = readFileSync(`/proc/${edge.pid}/limits`, 'utf8').match(/^Max open files\s+(\d+)/m)?.[1];
    log(
      `origin pid ${origin.pid} ${originUrl}; edge pid ${edge.pid} ${edgeUrl} (core ${EDGE_CORE}, open files ${edgeFiles})`,
    );

    const space = await createSpace(originUrl, 'bench edge');
    speaker = new NodeWhipClient({ record: false, receive: false });
    await speaker.publish({
      whipUrl: whipUrlFor(originUrl, space.id, 'tone'),
      token: space.hostToken,
      source: new ToneGenerator({ freqHz: 440, amplitude: 0.3 }),
      timeoutMs: 30_000,
    });
    const prefix = `/hls/spaces/${space.id}`;
    const playlistAt = async (base: string, p: string): Promise<PlaylistInfo> => {
      const res = await fetch(`${base}${p}/audio.m3u8`);
      const text = await res.text();
      if (!res.ok) throw new Error(`${base}${p}/audio.m3u8 -> ${res.status}: ${text.slice(0, 200)}`);
      return parsePlaylist(text);
    };
    const originPlaylist = () => playlistAt(originUrl, `/origin/spaces/${space.id}`);
    // three complete segments, so a segment and recent parts exist
    const ready = performance.now();
    for (;;) {
      const pl = await originPlaylist().catch(() => undefined);
      if (pl && pl.lastSegment >= 2) break;
      if (performance.now() - ready > 30_000) throw new Error('no segments from the origin within 30 s');
      await sleep(200);
    }
    log(`Space ${space.id} live, speaker publishing`);

    // ---- 2. requests/s per core, edge vs nginx
    const objects: Record<string, { edge: ServerRun[]; nginx: ServerRun[]; bytes: number; path: string }> =
      {};
    if (PHASES.has('rps')) {
      const pl = await playlistAt(edgeUrl, prefix);
      const paths: Record<string, string> = {
        part: `${prefix}/part/${pl.lastPart[0]}.${pl.lastPart[1]}.m4s`,
        segment: `${prefix}/seg/${pl.lastSegment}.m4s`,
        playlist: `${prefix}/audio.m3u8`,
      };
      const fetched: Fetched[] = [];
      for (const [name, p] of Object.entries(paths)) {
        const res = await fetch(`${edgeUrl}${p}`);
        const body = Buffer.from(await res.arrayBuffer());
        if (res.status !== 200) throw new Error(`${p} -> ${res.status}`);
        fetched.push({
          path: p,
          contentType: res.headers.get('content-type') ?? 'application/octet-stream',
          cacheControl: res.headers.get('cache-control') ?? '',
          body,
        });
        objects[name] = { edge: [], nginx: [], bytes: body.length, path: p };
      }
      nginx = await startNginx(fetched);
      log(
        `nginx pids ${nginx.pids().join(',')} ${nginx.url} (core ${EDGE_CORE}); wrk -t1 -c${WRK_CONNECTIONS} -d${WRK_SECONDS}s on core ${LOAD_CORE}`,
      );
      for (let rep = 0; rep < REPS; rep++) {
        for (const [name, o] of Object.entries(objects)) {
          const order: ('edge' | 'nginx')[] = rep % 2 === 0 ? ['edge', 'nginx'] : ['nginx', 'edge'];
          for (const server of order) {
            const base = server === 'edge' ? edgeUrl : nginx.url;
            const pids = server === 'edge' ? () => [edge.pid] : nginx.pids;
            const r = await runWrk(`${base}${o.path}`, pids);
            o[server].push({ server, ...r });
            log(
              `${name.padEnd(8)} ${server.padEnd(5)} ${Math.round(r.rps)} req/s, p99 ${r.p99Ms} ms, CPU ${r.cpu.toFixed(2)} -> ${Math.round(r.perCore)} req/s/core; cores busy ${r.coresBusy.join('/')}` +
                (r.non2xx || r.socketErrors ? ` (non-2xx ${r.non2xx}, socket errors ${r.socketErrors})` : ''),
            );
          }
        }
      }
      await stopProc(nginx.proc, 'SIGQUIT');
      rmSync(nginx.dir, { recursive: true, force: true });
      nginx = undefined;
    }

    // ---- 3 + 4. stream listeners, origin fetches per object
    const steps: StepResult[] = [];
    let mode: 'stream' | 'llhls' | undefined;
    if (PHASES.has('stream')) {
      if (args.mode === 'stream' || args.mode === 'llhls') mode = args.mode;
      else {
        const ac = new AbortController();
        const res = await fetch(`${edgeUrl}${prefix}/stream.mp4?lid=bench-probe-0000`, {
          signal: ac.signal,
        }).catch(() => undefined);
        const ok = res?.status === 200 && (res.headers.get('content-type') ?? '').startsWith('audio/mp4');
        ac.abort();
        mode = ok ? 'stream' : 'llhls';
        log(
          `GET stream.mp4 -> ${res?.status ?? 'error'}: ${mode === 'stream' ? 'stream listeners' : 'no stream endpoint, LL-HLS listeners instead'}`,
        );
      }
      const defaultSteps = mode === 'stream' ? [2000, Math.min(20_000, maxListeners)] : [1000, 2000];
      const counts = args.listeners
        ? args.listeners.split(',').map((s) => (s === 'max' ? maxListeners : Number(s)))
        : defaultSteps;
      for (const n of counts) {
        if (!(n > 0)) throw new Error(`bad --listeners value ${n}`);
        if (n > maxListeners)
          throw new Error(
            `${n} listeners need ${n + FD_MARGIN} open files in the edge and the client, but the hard limit ` +
              `(ulimit -Hn) is ${hardFiles}: raise it (e.g. LimitNOFILE= / docker --ulimit nofile=) or ask for at most ${maxListeners}`,
          );
      }

      // part index <-> tfdt, from one part of the origin
      const plRef = await originPlaylist();
      const refRes = await fetch(
        `${originUrl}/origin/spaces/${space.id}/part/${plRef.lastPart[0]}.${plRef.lastPart[1]}.m4s`,
      );
      const refTfdt = firstTfdt(Buffer.from(await refRes.arrayBuffer()));
      const tfdtBase = refTfdt - partIndex(plRef.lastPart, plRef.partsPerSegment) * PART_TICKS;

      for (const [stepNo, n] of counts.entries()) {
        const rssBefore = rssBytes(edge.pid);
        const pl = await originPlaylist();
        const cfg: StreamClientConfig = {
          host: '127.0.0.1',
          port: edgePort,
          prefix,
          mode,
          impl: args['client-impl'] === 'http' ? 'http' : 'net',
          listeners: n,
          rate: RATE,
          sources: SOURCES,
          gapMs: GAP_MS,
          partTicks: PART_TICKS,
          startMsn: pl.hint[0],
          startPart: pl.hint[1],
          partsPerSegment: pl.partsPerSegment,
          tag: `bench-s${stepNo}`,
          rampTimeoutMs: 15_000,
        };
        log(
          `step ${stepNo + 1}: ${n} ${mode} listeners, ramp ${RATE}/s from ${SOURCES.length} source addresses`,
        );
        const rampCpu0 = cpuSeconds([edge.pid]);
        client = startStreamClient(cfg);
        const ramped = await client.next('ramped', (n / RATE) * 1000 + 60_000);
        const rampCpu = cpuSeconds([edge.pid]) - rampCpu0;
        for (const p of client.drain('progress'))
          if (args.verbose)
            log(
              `  ${(p.ms / 1000).toFixed(0)} s: opened ${p.opened}, connected ${p.connected}, playing ${p.playing}, failed ${p.failed}`,
            );
        log(
          `  ramped in ${(ramped.rampMs / 1000).toFixed(1)} s: ${ramped.connected} connected, ${ramped.failed} failed, ` +
            `${ramped.playing} playing; first part p50 ${ramped.firstPartMs.p50} ms, p99 ${ramped.firstPartMs.p99} ms; ` +
            `client CPU ${ramped.clientCpu}, client loop max ${ramped.clientLoopMaxMs} ms` +
            (ramped.errors.length ? `; errors: ${ramped.errors.slice(0, 3).join(' | ')}` : ''),
        );
        await sleep(1000); // settle after the ramp
        const o0 = await scrapeMetrics(originUrl);
        const e0 = await scrapeMetrics(edgeUrl);
        const pl0 = await originPlaylist();
        const watcher = watchOrigin(originUrl, space.id, pl0.hint);
        client.send('mark');
        await client.next('marked', 5_000);
        const c0 = cpuSeconds([edge.pid]);
        const k0 = coreTimes();
        const w0 = performance.now();
        await sleep(HOLD_SECONDS * 1000);
        const coresBusy = coreBusy(k0, coreTimes());
        const rssHold = rssBytes(edge.pid);
        const cpu = (cpuSeconds([edge.pid]) - c0) / ((performance.now() - w0) / 1000);
        const eh = await scrapeMetrics(edgeUrl);
        // a second gap threshold scaled to the edge's write interval: parts/write x 200 ms + 800 ms
        const ppw = eh.get('tribune_edge_stream_parts_per_write') ?? 1;
        const batchGapMs = ppw * 200 + (GAP_MS - 200);
        client.send(`report ${batchGapMs}`);
        const rep: StreamReport = await client.next('report', 30_000);
        await watcher.stop();
        const pl1 = await originPlaylist();
        const e1 = await scrapeMetrics(edgeUrl);
        const o1 = await scrapeMetrics(originUrl);
        client.send('close');
        await client.next('closed', 30_000).catch(() => undefined);
        await stopProc(client.proc);
        client = undefined;

        const pps = pl1.partsPerSegment;
        const parts = partIndex(pl1.lastPart, pps) - partIndex(pl0.lastPart, pps);
        const segments = pl1.lastSegment - pl0.lastSegment;
        const fetches =
          (e1.get('tribune_edge_origin_fetches_total') ?? 0) -
          (e0.get('tribune_edge_origin_fetches_total') ?? 0);
        // the origin counts every request under /origin: minus this bench's own playlist requests
        // and the edge's live-state reports (POST /origin/live/report, about 1/s)
        const d = (a: Map<string, number>, b: Map<string, number>, k: string) =>
          (b.get(k) ?? 0) - (a.get(k) ?? 0);
        const reports = d(e0, e1, 'tribune_edge_reports_sent_total');
        const originReqs = d(o0, o1, 'tribune_origin_hls_requests_total') - 2 - watcher.requests() - reports;
        // delivery delay: part available at the origin -> at the first / the last listener
        const delayFirst: number[] = [];
        const delayLast: number[] = [];
        for (const a of rep.parts) {
          const t = watcher.ready.get(Math.round((a.tfdt - tfdtBase) / PART_TICKS));
          if (t === undefined) continue;
          delayFirst.push(a.first - t);
          delayLast.push(a.last - t);
        }
        const readyTimes = [...watcher.ready.values()].sort((a, b) => a - b);
        let originGap = 0;
        for (let i = 1; i < readyTimes.length; i++)
          originGap = Math.max(originGap, readyTimes[i]! - readyTimes[i - 1]!);
        const pctl = (xs: number[], p: number) => {
          const so = [...xs].sort((a, b) => a - b);
          return so.length
            ? so[Math.min(so.length - 1, Math.max(0, Math.ceil((p / 100) * so.length) - 1))]!
            : NaN;
        };
        // connect cost: the ramp's edge CPU minus delivery at the hold's rate to the listeners
        // connected so far (opened linearly over n / RATE s, then all until the ramp ends)
        const openS = n / RATE;
        const rampS = ramped.rampMs / 1000;
        const connectCpu = rampCpu - cpu * (Math.min(openS, rampS) / 2 + Math.max(0, rampS - openS));
        const step: StepResult = {
          listeners: n,
          mode,
          batch: args.batch ?? null,
          connected: ramped.connected,
          failed: ramped.failed,
          ramp_s: round(ramped.rampMs / 1000, 1)!,
          ramp_edge_cpu_s: round(rampCpu, 2)!,
          connect_cpu_s: connectCpu > 0 ? round(connectCpu, 2) : null,
          connects_per_core: connectCpu > 0 ? round(ramped.connected / connectCpu) : null,
          first_part_ms: ramped.firstPartMs,
          hold_s: rep.windowS,
          edge_cpu_cores: round(cpu, 3)!,
          listeners_per_core: round(n / cpu)!,
          edge_rss_before_mb: round(rssBefore / 2 ** 20, 1)!,
          edge_rss_hold_mb: round(rssHold / 2 ** 20, 1)!,
          edge_bytes_per_listener: round((rssHold - rssBefore) / n)!,
          gap_share: rep.gapShare,
          gap_share_vs_batch: rep.batchGapShare,
          batch_gap_ms: rep.batchGapMs,
          with_gap: rep.withGap,
          dead: rep.dead,
          max_gap_ms: rep.maxGapMs,
          max_gap_end_s: rep.maxGapEndS,
          edge_loop_delay_ms: {
            p99: round((eh.get('tribune_edge_nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000),
            max: round((eh.get('tribune_edge_nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000),
          },
          edge_gc_s_per_s: round((gcSeconds(e1) - gcSeconds(e0)) / rep.windowS, 3),
          client_loop_delay_ms: rep.clientLoopDelayMs,
          cores_busy: coresBusy,
          delivery_ms: {
            first_p50: round(pctl(delayFirst, 50))!,
            last_p50: round(pctl(delayLast, 50))!,
            last_p99: round(pctl(delayLast, 99))!,
            last_max: round(Math.max(...delayLast))!,
            parts: delayLast.length,
          },
          origin_max_part_gap_ms: originGap,
          jitter_ms: rep.jitterMs,
          parts_per_listener: rep.partsPerListener,
          missing_parts: rep.missingParts,
          tfdt_breaks: rep.tfdtBreaks,
          parts_per_read: rep.partsPerRead,
          client_cpu_cores: rep.clientCpu,
          parts_produced: parts,
          segments_produced: segments,
          edge_origin_fetches: fetches,
          origin_hls_requests: originReqs,
          origin_fetches_per_part: round(fetches / parts, 2)!,
          // objects a player could ask for: each part, the playlist version it makes, each segment
          origin_fetches_per_object: round(fetches / (2 * parts + segments), 2)!,
          origin_requests_per_part: round(originReqs / parts, 2)!,
          listener_mbit_s: round((rep.windowBytes * 8) / 1e6 / rep.windowS, 1)!,
          wire_bytes_per_listener_s: round(rep.windowBytes / rep.windowS / Math.max(1, rep.connected), 1),
          edge_stream_listeners: eh.get('tribune_edge_stream_listeners') ?? null,
          edge_parts_per_write: eh.get('tribune_edge_stream_parts_per_write') ?? null,
          edge_stream_writes_per_s: e1.has('tribune_edge_stream_writes_total')
            ? round(
                ((e1.get('tribune_edge_stream_writes_total') ?? 0) -
                  (e0.get('tribune_edge_stream_writes_total') ?? 0)) /
                  rep.windowS,
              )
            : null,
          edge_stream_cut: e1.has('tribune_edge_stream_cut_total')
            ? (e1.get('tribune_edge_stream_cut_total') ?? 0) - (e0.get('tribune_edge_stream_cut_total') ?? 0)
            : null,
          errors: rep.errors.slice(0, 5),
        };
        steps.push(step);
        log(
          `  hold ${step.hold_s} s: edge CPU ${step.edge_cpu_cores} cores -> ${step.listeners_per_core} listeners/core; ` +
            `RSS ${step.edge_rss_before_mb} -> ${step.edge_rss_hold_mb} MB (${step.edge_bytes_per_listener} B/listener); ` +
            `gap share ${step.gap_share} (${step.with_gap}, dead ${step.dead}, missing parts ${step.missing_parts}; ` +
            `${step.gap_share_vs_batch} with gaps > ${step.batch_gap_ms} ms); ` +
            `max gap p50 ${step.max_gap_ms.p50} / p99 ${step.max_gap_ms.p99} / max ${step.max_gap_ms.max} ms; ` +
            `delivery origin->last listener p50 ${step.delivery_ms.last_p50} / p99 ${step.delivery_ms.last_p99} / max ${step.delivery_ms.last_max} ms ` +
            `(first listener p50 ${step.delivery_ms.first_p50}), origin max part gap ${originGap} ms; ` +
            `largest gaps ended at ${step.max_gap_end_s.p1}-${step.max_gap_end_s.p99} s; parts/write ${step.edge_parts_per_write}, ` +
            `edge loop delay p99 ${step.edge_loop_delay_ms.p99} / max ${step.edge_loop_delay_ms.max} ms, GC ${step.edge_gc_s_per_s} s/s; ` +
            `client CPU ${step.client_cpu_cores}, loop max ${step.client_loop_delay_ms.max} ms; cores busy ${coresBusy.join('/')}; ` +
            `origin: ${fetches} edge fetches, ${originReqs} origin HLS requests for ${parts} parts`,
        );
        if (step.errors.length) log(`  errors: ${step.errors.join(' | ')}`);
        await sleep(2000); // the edge forgets closed sockets before the next step
      }
    }

    // ---- summary
    const perObject = Object.fromEntries(
      Object.entries(objects).map(([name, o]) => {
        const agg = (runs: ServerRun[]) => ({
          rps: round(median(runs.map((r) => r.rps)))!,
          p99_ms: round(median(runs.map((r) => r.p99Ms)), 2)!,
          cpu_cores: round(median(runs.map((r) => r.cpu)), 3)!,
          req_per_core: round(median(runs.map((r) => r.perCore)))!,
          non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
          socket_errors: runs.reduce((a, r) => a + r.socketErrors, 0),
          cores_busy: runs[0]!.coresBusy.map((_, i) =>
            round(median(runs.map((r) => r.coresBusy[i] ?? NaN)), 3)!,
          ),
        });
        const e = agg(o.edge);
        const g = agg(o.nginx);
        return [
          name,
          { bytes: o.bytes, edge: e, nginx: g, ratio: round(e.req_per_core / g.req_per_core, 3) },
        ];
      }),
    );
    const objs = Object.values(perObject);
    const edgePerCore = median(objs.map((o) => o.edge.req_per_core));
    const nginxPerCore = median(objs.map((o) => o.nginx.req_per_core));
    const last = steps.at(-1);

    console.log('');
    if (objs.length) {
      console.log(
        `Requests/s per core (wrk -t1 -c${WRK_CONNECTIONS} -d${WRK_SECONDS}s --latency on core ${LOAD_CORE}; servers on core ${EDGE_CORE}; median of ${REPS})`,
      );
      console.log('object    bytes  server   req/s    p99 ms  CPU cores  req/s/core  edge/nginx');
      for (const [name, o] of Object.entries(perObject)) {
        for (const server of ['edge', 'nginx'] as const) {
          const r = o[server];
          console.log(
            `${(server === 'edge' ? name : '').padEnd(8)} ${String(server === 'edge' ? o.bytes : '').padStart(6)}  ${server.padEnd(6)} ${String(r.rps).padStart(7)}  ${String(r.p99_ms).padStart(7)}  ${String(r.cpu_cores).padStart(9)}  ${String(r.req_per_core).padStart(10)}  ${server === 'edge' ? String(o.ratio).padStart(10) : ''}`,
          );
        }
      }
      console.log(
        `median over objects: edge ${round(edgePerCore)} req/s/core, nginx ${round(nginxPerCore)} req/s/core, ratio ${round(edgePerCore / nginxPerCore, 3)}`,
      );
      console.log('');
    }
    if (steps.length) {
      console.log(
        `${mode === 'stream' ? 'stream.mp4' : 'LL-HLS (blocking playlist + part)'} listeners on one edge core, hold ${HOLD_SECONDS} s each` +
          (args.batch ? `, batch ${args.batch}` : ''),
      );
      console.log(
        'listeners  connected  parts/write  edge CPU  listeners/core  B/listener  gap share (vs batch)  max gap p50/p99/max ms  delivery p50/p99 ms  edge loop p99 ms  client CPU  origin fetches/part  origin req/part',
      );
      for (const s of steps) {
        console.log(
          `${String(s.listeners).padStart(9)}  ${String(s.connected).padStart(9)}  ${String(s.edge_parts_per_write ?? '-').padStart(11)}  ${String(s.edge_cpu_cores).padStart(8)}  ${String(s.listeners_per_core).padStart(14)}  ${String(s.edge_bytes_per_listener).padStart(10)}  ${`${s.gap_share} (${s.gap_share_vs_batch})`.padStart(20)}  ${`${s.max_gap_ms.p50}/${s.max_gap_ms.p99}/${s.max_gap_ms.max}`.padStart(22)}  ${`${s.delivery_ms.last_p50}/${s.delivery_ms.last_p99}`.padStart(19)}  ${String(s.edge_loop_delay_ms.p99).padStart(16)}  ${String(s.client_cpu_cores).padStart(10)}  ${String(s.origin_fetches_per_part).padStart(19)}  ${String(s.origin_requests_per_part).padStart(15)}`,
        );
      }
      console.log(
        `  gap share: listeners with > ${GAP_MS} ms between two parts, a missing part or a dead connection; ` +
          `(vs batch): the same with > parts/write x 200 ms + ${GAP_MS - 200} ms`,
      );
      console.log(
        '  delivery: part available at the origin -> the last listener has it; B/listener: edge RSS growth / listeners',
      );
      console.log(
        `  origin fetches per object (each part, its playlist version, each segment): ${steps.map((s) => s.origin_fetches_per_object).join(', ')}; ` +
          `ramp: ${steps.map((s) => `${s.listeners} in ${s.ramp_s} s, first part p99 ${s.first_part_ms.p99} ms`).join('; ')}`,
      );
      console.log('');
    }
    console.log(
      `scheduling: ${args.rt ? 'SCHED_RR 1 (--rt)' : `nice ${NICE}`}; edge, nginx on core ${EDGE_CORE}; wrk, listener client on core ${LOAD_CORE}; ` +
        `open files (hard) ${hardFiles}`,
    );

    const result = {
      edge_req_per_core: round(edgePerCore),
      nginx_req_per_core: round(nginxPerCore),
      llhls_vs_nginx_ratio: round(edgePerCore / nginxPerCore, 3),
      stream_mode: mode ?? null,
      stream_listeners: last?.listeners ?? null,
      stream_listeners_per_core: last?.listeners_per_core ?? null,
      stream_gap_share: last?.gap_share ?? null,
      stream_gap_share_vs_batch: last?.gap_share_vs_batch ?? null,
      edge_bytes_per_listener: last?.edge_bytes_per_listener ?? null,
      origin_fetches_per_object: last?.origin_fetches_per_object ?? null,
      origin_fetches_per_part: last?.origin_fetches_per_part ?? null,
      origin_requests_per_part: last?.origin_requests_per_part ?? null,
      objects: perObject,
      steps: steps.map((s) => ({ ...s, errors: undefined })),
      open_files_hard_limit: hardFiles,
      scheduling: args.rt ? 'rr' : `nice ${NICE}`,
      seconds: round((performance.now() - t0) / 1000),
    };
    if (args.save) {
      let git: string | null = null;
      try {
        git = execFileSync('git', ['describe', '--always', '--dirty'], {
          cwd: REPO_ROOT,
          encoding: 'utf8',
        }).trim();
      } catch {
        // not a checkout
      }
      const capacity = capacitySummary(result, {
        machine: {
          cores: cpus().length,
          cpu_model: cpus()[0]?.model ?? 'unknown',
          memory_gb: round(totalmem() / 2 ** 30, 1)!,
          node: process.version,
          platform: `${process.platform} ${process.arch}`,
        },
        date: new Date().toISOString(),
        command: `npm run bench:edge -- ${process.argv.slice(2).join(' ')}`.trim(),
        git,
      });
      const file = path.resolve(REPO_ROOT, args.save);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, `${JSON.stringify({ capacity, result }, null, 2)}\n`);
      console.log(
        `saved to ${path.relative(REPO_ROOT, file)}: ${capacity.stream_listeners_per_core} stream listeners/core, ` +
          `${capacity.llhls_listeners_per_core} LL-HLS listeners/core, ${capacity.memory_kb_per_listener} KB/listener, ` +
          `${capacity.wire_bytes_per_listener_s} B/listener-s, ${capacity.stream_connects_per_s_per_core} connects/s/core`,
      );
    }
    if (args.json) console.log(JSON.stringify(result));
  } finally {
    if (client) await stopProc(client.proc);
    if (nginx) await stopProc(nginx.proc, 'SIGQUIT');
    speaker?.abruptClose();
    await stopProc(edge);
    await stopProc(origin);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('[bench:edge] failed:', err instanceof Error ? err.message : err);
    killAll('SIGKILL');
    process.exit(1);
  },
);
