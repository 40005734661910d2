/**
 * Attack-defence benchmark (issue 9): `npm run bench:attack -- [--json]`
 *
 *  Setup: an origin process and ONE standalone edge process (`tsx src/cli.ts origin|edge`: the
 *  current sources, not a possibly stale dist/), the same TRIBUNE_TOKEN_SECRET on both, the origin
 *  with TRIBUNE_PUBLIC_EDGE_URL and TRIBUNE_OPERATORS; the edge pinned to core 0 with its default
 *  flood limits (100 req/s, burst 200 per address; 30/60 per admission; 256 connections per address).
 *  Only the admission's per-address JOIN limit is raised (TRIBUNE_EDGE_JOINS_PER_ADDRESS_PER_MINUTE),
 *  so that many simulated listeners may share one source address. A live Space with a WHIP tone
 *  speaker; an operator account signed up on the origin. Clients run in child processes pinned to
 *  core 1 (bench/attack-clients.ts, wrk).
 *
 *  1. Flood from one address: N admitted LL-HLS listeners (default 1,000, from 40 addresses
 *     127.0.0.2-41) play; then wrk paced with a Lua delay() sends ~10,000 req/s for 15 s from ONE
 *     address (127.0.0.1: wrk cannot pick its source address, and on loopback the kernel picks
 *     127.0.0.1; nothing else of the bench talks to the edge from it during the flood) at the Space's
 *     state.json and audio.m3u8. Achieved rps, first 429 (ms from the first flood request), 429
 *     share, edge CPU; the listeners over the flood window: gaps over 1 s between part arrivals,
 *     part latency (request to last byte), blocking reloads measured BEYOND the part's availability
 *     (the first listener's answer for that part in the client process: the hold is the protocol).
 *  2. Tokenless flood vs cache hits: edge CPU µs per request (/proc utime+stime, net of the idle
 *     edge's CPU over the same time) at the same offered load, interleaved a, b, a, b:
 *     (a) cache HITs (parts + the non-blocking playlist) with valid admission tokens (4 admissions
 *     per address, 64 addresses 127.0.2.1-64, ~16 req/s per admission); (b) tokenless parts,
 *     playlists and stream.mp4 from 64 addresses 127.0.1.1-64 with under-attack mode on (429
 *     ADMISSION_REQUIRED). `tokenless_cost_vs_hit` = cost(b) / cost(a).
 *  3. Classifier: with the operator's mode 'off' (the verdict is observed, not acted on), after a
 *     settle to `normal` and a quiet spell, (a) a crowd of new admitted LL-HLS players from distinct
 *     addresses in distinct /24s arriving over 10 s; (b) few clients (4 addresses) at ~750 req/s
 *     each; (c) many clients (400 addresses, 400 /24s) at 5 req/s each on odd paths and tokenless
 *     media. `GET /api/ops/defence` polled every second: seconds to the first correct label, and
 *     the share of seconds from 10 s after the start to the end carrying it.
 *  4. Proof of work in headless Chromium: under-attack mode on; the Space page `/s/<id>` on the
 *     edge in a fresh context, which asks /admit, gets a challenge sized from its measured hash
 *     rate and solves it in the worker; `window.__tribune.powSolveMs` read; median of --pow-runs.
 *
 * Options: --json, --only flood,cost,classifier,pow, --listeners 1000, --flood-rps 10000,
 * --flood-seconds 15, --cost-rps 4000, --cost-seconds 6, --crowd 600, --pow-runs 11, --verbose,
 * --timeout-seconds 420. Everything on 127.0.0.0/8; bounded; every child is killed on exit.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { loadavg, setPriority, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { TribuneClient } from '../src/client/index.js';
import { HttpPool, jsonOf } from '../src/ops/rehearse/http-pool.js';
import { parseTarget } from '../src/ops/rehearse/http-wire.js';
import { parsePlaylist } from '../src/ops/rehearse/playback.js';
import { REPO_ROOT, createSpace, freePort, whipUrlFor, type TestSpace } from '../test/support/server.js';
import { ToneGenerator } from '../test/support/tone.js';
import { NodeWhipClient } from '../test/support/whip-client.js';
import type { ClientConfig, LoadConfig } from './attack-clients.js';
import {
  cpuSeconds,
  installCleanup,
  killAll,
  sleep,
  startProc,
  stopProc,
  tempDirs,
  waitHttp,
  type Proc,
} from './crowd-procs.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    only: { type: 'string', default: 'flood,cost,classifier,pow' },
    listeners: { type: 'string', default: '1000' },
    'flood-rps': { type: 'string', default: '10000' },
    'flood-seconds': { type: 'string', default: '15' },
    'cost-rps': { type: 'string', default: '4000' },
    'cost-seconds': { type: 'string', default: '6' },
    crowd: { type: 'string', default: '600' },
    'pow-runs': { type: 'string', default: '11' },
    verbose: { type: 'boolean', default: false },
    'timeout-seconds': { type: 'string', default: '420' },
  },
});
const ONLY = new Set(args.only.split(','));
const LISTENERS = Number(args.listeners);
const FLOOD_RPS = Number(args['flood-rps']);
const FLOOD_S = Number(args['flood-seconds']);
const COST_RPS = Number(args['cost-rps']);
const COST_S = Number(args['cost-seconds']);
const CROWD = Number(args.crowd);
const POW_RUNS = Number(args['pow-runs']);
const SECRET = 'bench-attack-secret-0123456789abcdef';
const OPERATOR = 'benchops';
const EDGE_CORE = '0';
const LOAD_CORE = '1';
const TSX = [process.execPath, '--import', 'tsx'];

const t0 = performance.now();
const log = (...a: unknown[]): void =>
  console.error(`[bench:attack ${((performance.now() - t0) / 1000).toFixed(1)}s]`, ...a);
const r1 = (x: number | null | undefined, d = 1): number | null =>
  x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]): number | null => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

// ------------------------------------------------------------------ client child processes

interface Child {
  proc: Proc;
  next(type: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  cmd(c: object): void;
}

/** startProc with stdin piped (the client children read commands from it). */
function startWithStdin(name: string, argv: string[]): Proc {
  const child = spawn('bash', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'bash', ...argv], {
    cwd: REPO_ROOT,
    env: process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.length > 100_000) out = out.slice(-50_000);
    if (args.verbose) process.stderr.write(`[${name}] ${d.toString()}`);
  });
  const p: Proc = { name, child, pid: child.pid!, exited: false, logs: () => out };
  child.once('exit', () => {
    p.exited = true;
  });
  extraProcs.add(p);
  return p;
}
const extraProcs = new Set<Proc>();
function killExtra(): void {
  for (const p of extraProcs)
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
}

/**
 * A client child: pinned to the load core, except the LL-HLS listener processes, which float over
 * both cores at nice 0 (the edge runs at nice -10 and preempts them on its core): 1,000 players at
 * ~10 req/s each saturate one core of Node, and a saturated client reports its own lag as the edge's.
 */
function client(name: string, cfg: ClientConfig): Child {
  const pin = cfg.mode === 'listeners' ? [] : ['taskset', '-c', LOAD_CORE];
  const proc = startWithStdin(name, [...pin, ...TSX, 'bench/attack-clients.ts', JSON.stringify(cfg)]);
  const queue: Record<string, unknown>[] = [];
  const waiters: { type: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  let buf = '';
  proc.child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line.startsWith('{')) continue;
      const m = JSON.parse(line) as Record<string, unknown>;
      const w = waiters.findIndex((x) => x.type === m.type || m.type === 'error');
      if (w >= 0) waiters.splice(w, 1)[0]!.resolve(m);
      else queue.push(m);
    }
  });
  return {
    proc,
    cmd: (c) => void proc.child.stdin!.write(JSON.stringify(c) + '\n'),
    next: (type, timeoutMs = 120_000) =>
      new Promise((resolve, reject) => {
        const settle = (m: Record<string, unknown>): void =>
          m.type === 'error' ? reject(new Error(`${name}: ${String(m.message)}`)) : resolve(m);
        const q = queue.findIndex((m) => m.type === type || m.type === 'error');
        if (q >= 0) return settle(queue.splice(q, 1)[0]!);
        const timer = setTimeout(
          () =>
            reject(new Error(`${name}: no '${type}' within ${timeoutMs} ms\n${proc.logs().slice(-2000)}`)),
          timeoutMs,
        );
        proc.child.once('exit', () => {
          clearTimeout(timer);
          reject(new Error(`${name} exited:\n${proc.logs().slice(-2000)}`));
        });
        waiters.push({
          type,
          resolve: (m) => {
            clearTimeout(timer);
            settle(m);
          },
        });
      }),
  };
}

async function stopChild(c: Child): Promise<void> {
  if (!c.proc.exited) {
    const done = new Promise<void>((r) => c.proc.child.once('exit', () => r()));
    c.cmd({ cmd: 'stop' });
    await Promise.race([done, sleep(5000)]);
  }
  try {
    process.kill(c.proc.pid, 'SIGKILL');
  } catch {
    // gone
  }
  extraProcs.delete(c.proc);
}

// ------------------------------------------------------------------ wrk

async function wrkFlood(url: string, paths: string[], rps: number, seconds: number, dir: string) {
  // wrk's per-connection pace is delay + ~2.5 ms (its timer and event loop, measured here); it
  // shares a core with the listeners' client, so aim 10% over the goal (the achieved rate is reported)
  const conns = 200;
  const delayMs = Math.max(1, Math.round((conns * 1000) / (rps * 1.1) - 2.5));
  const lua = path.join(dir, 'flood.lua');
  writeFileSync(
    lua,
    `local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_usec; } timeval_t; int gettimeofday(timeval_t *tv, void *tz); ]]
local tv = ffi.new("timeval_t")
local function now() ffi.C.gettimeofday(tv, nil); return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000 end
local threads = {}
function setup(thread) table.insert(threads, thread) end
local paths = { ${paths.map((p) => JSON.stringify(p)).join(', ')} }
local i = 0
t0 = 0; first429 = 0; n429 = 0; n200 = 0; nother = 0
function request() i = i + 1; if t0 == 0 then t0 = now() end; return wrk.format("GET", paths[(i % #paths) + 1]) end
function delay() return ${delayMs} end
function response(status, headers, body)
  if status == 429 then n429 = n429 + 1; if first429 == 0 then first429 = now() end
  elseif status == 200 then n200 = n200 + 1 else nother = nother + 1 end
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format("ATTACK t0=%.1f first429=%.1f n429=%d n200=%d nother=%d\\n", t:get("t0"), t:get("first429"), t:get("n429"), t:get("n200"), t:get("nother")))
  end
end
`,
  );
  // nice -10: its pace must not suffer from the listener client sharing its core
  const p = startWithStdin('wrk', [
    'taskset',
    '-c',
    LOAD_CORE,
    'nice',
    '-n',
    '-10',
    'wrk',
    '-t1',
    `-c${conns}`,
    `-d${seconds}s`,
    '--latency',
    '-s',
    lua,
    url,
  ]);
  let out = '';
  p.child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((r) => p.child.once('exit', () => r()));
  extraProcs.delete(p);
  const m = /ATTACK t0=(\S+) first429=(\S+) n429=(\d+) n200=(\d+) nother=(\d+)/.exec(out);
  const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const rpsOut = Number(/Requests\/sec:\s+(\S+)/.exec(out)?.[1] ?? NaN);
  if (!m || !Number.isFinite(rpsOut)) throw new Error(`wrk output not understood:\n${out}\n${p.logs()}`);
  const [ft0, f429, n429, n200, nother] = [
    Number(m[1]),
    Number(m[2]),
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
  ];
  const lat = (q: string): number | null => {
    const v = new RegExp(`^\\s+${q}%\\s+(\\S+)`, 'm').exec(out)?.[1];
    if (!v) return null;
    const n = parseFloat(v);
    return v.endsWith('us') ? n / 1000 : v.endsWith('ms') ? n : v.endsWith('s') ? n * 1000 : n;
  };
  return {
    connections: conns,
    delay_ms: delayMs,
    requests: total,
    rps: Math.round(rpsOut),
    first_request_wall_ms: ft0,
    first_429_ms: f429 > 0 ? r1(f429 - ft0) : null,
    n429,
    n200,
    nother,
    share_429: r1(n429 / Math.max(1, n429 + n200 + nother), 4),
    latency_p50_ms: lat('50'),
    latency_p99_ms: lat('99'),
    raw: out,
  };
}

// ------------------------------------------------------------------ main

interface Env {
  originUrl: string;
  edgeUrl: string;
  edgePid: number;
  space: TestSpace;
  operator: TribuneClient;
  dir: string;
}

type VerdictSample = {
  t: number;
  verdict: string;
  evidence: { feature: string; value: number; points: string }[];
};

async function getDefence(e: Env): Promise<{
  mode: string;
  underAttack: boolean;
  verdict: { verdict: string; evidence: VerdictSample['evidence'] };
}> {
  return e.operator.request('GET', '/api/ops/defence');
}

async function setMode(e: Env, mode: 'off' | 'on' | 'auto'): Promise<void> {
  await e.operator.request('POST', '/api/ops/defence/mode', { mode });
}

/** Polls the console every second until stopped. */
function verdictPoller(e: Env, startMs: number): { stop(): VerdictSample[] } {
  const out: VerdictSample[] = [];
  let stopped = false;
  void (async () => {
    let next = Date.now();
    while (!stopped) {
      try {
        const d = await getDefence(e);
        out.push({
          t: (Date.now() - startMs) / 1000,
          verdict: d.verdict.verdict,
          evidence: d.verdict.evidence,
        });
      } catch {
        // a missed poll
      }
      next += 1000;
      await sleep(Math.max(0, next - Date.now()));
    }
  })();
  return {
    stop: () => {
      stopped = true;
      return out;
    },
  };
}

/** Waits for `normal` held for `quietS` seconds (at most maxS). */
async function settle(e: Env, quietS: number, maxS = 60): Promise<{ waited_s: number; normal: boolean }> {
  const start = Date.now();
  let normalSince = 0;
  while (Date.now() - start < maxS * 1000) {
    const v = (await getDefence(e)).verdict.verdict;
    if (v === 'normal') {
      normalSince ||= Date.now();
      if (Date.now() - normalSince >= quietS * 1000)
        return { waited_s: r1((Date.now() - start) / 1000)!, normal: true };
    } else normalSince = 0;
    await sleep(1000);
  }
  return { waited_s: r1((Date.now() - start) / 1000)!, normal: false };
}

function judge(samples: VerdictSample[], correct: string[], endS: number) {
  const firstOk = samples.find((s) => correct.includes(s.verdict));
  const late = samples.filter((s) => s.t >= 10 && s.t <= endS);
  const ok = late.filter((s) => correct.includes(s.verdict)).length;
  const labels: Record<string, number> = {};
  for (const s of late) labels[s.verdict] = (labels[s.verdict] ?? 0) + 1;
  // the evidence at the middle of the judged span, compactly
  const mid = late[Math.floor(late.length / 2)];
  const evidence = Object.fromEntries(
    (mid?.evidence ?? []).map((x) => [x.feature, `${r1(x.value, 2)}:${x.points}`]),
  );
  return {
    verdict_s: firstOk ? r1(firstOk.t) : null,
    correct_share: late.length ? r1(ok / late.length, 3) : null,
    windows: late.length,
    labels,
    timeline: samples.map((s) => s.verdict[0]).join(''),
    evidence_mid: evidence,
  };
}

async function livePaths(e: Env): Promise<{ part: string; part2: string; playlist: string }> {
  const prefix = `/hls/spaces/${e.space.id}`;
  const res = await fetch(`${e.originUrl}/origin/spaces/${e.space.id}/audio.m3u8`).catch(() => undefined);
  let text = res && res.ok ? await res.text() : '';
  if (!text) text = await (await fetch(`${e.edgeUrl}${prefix}/audio.m3u8?lid=benchprobe01`)).text();
  const pl = parsePlaylist(text);
  const [m, p] = pl.lastPart;
  const prev = p > 0 ? [m, p - 1] : [m - 1, pl.partsPerSegment - 1];
  return {
    part: `${prefix}/part/${m}.${p}.m4s`,
    part2: `${prefix}/part/${prev[0]}.${prev[1]}.m4s`,
    playlist: `${prefix}/audio.m3u8`,
  };
}

// ---- 1. flood from one address while 1,000 admitted listeners play
async function floodScenario(e: Env) {
  log(
    `(1) flood: ${LISTENERS} admitted LL-HLS listeners, then ~${FLOOD_RPS} req/s from 127.0.0.1 for ${FLOOD_S} s`,
  );
  const addrs = Array.from({ length: LISTENERS }, (_, i) => `127.0.0.${2 + (i % 40)}`);
  // the console's verdict throughout (25 players share each address: a NAT'd audience)
  const st = Date.now();
  const poll = verdictPoller(e, st);
  const lis = client('listeners', {
    mode: 'listeners',
    url: e.edgeUrl,
    spaceId: e.space.id,
    addresses: addrs,
    arrivalMs: 5000,
  });
  const arrived = await lis.next('arrived', 60_000);
  log(`listeners arrived: ${JSON.stringify(arrived)}`);
  await sleep(5000);
  const preFrom = Date.now() - 4000;
  lis.cmd({ cmd: 'report', from: preFrom, to: Date.now() });
  const before = (await lis.next('report')).report as Record<string, unknown>;
  log(`before the flood (4 s): ${JSON.stringify(before)}`);
  const prefix = `/hls/spaces/${e.space.id}`;
  const cpu0 = cpuSeconds(e.edgePid);
  const from = Date.now();
  const flood = await wrkFlood(
    e.edgeUrl,
    [`${prefix}/state.json`, `${prefix}/audio.m3u8`],
    FLOOD_RPS,
    FLOOD_S,
    e.dir,
  );
  const to = Date.now();
  const edgeCpu = (cpuSeconds(e.edgePid) - cpu0) / ((to - from) / 1000);
  await sleep(1500); // the last reloads answer
  const samples = poll.stop();
  const fromS = (from - st) / 1000;
  const toS = (to - st) / 1000;
  const labels = (xs: VerdictSample[]) => {
    const o: Record<string, number> = {};
    for (const x of xs) o[x.verdict] = (o[x.verdict] ?? 0) + 1;
    return o;
  };
  const verdicts = {
    timeline: samples.map((x) => x.verdict[0]).join(''),
    flood_from_s: r1(fromS),
    before_flood: labels(samples.filter((x) => x.t < fromS)),
    during_flood: labels(samples.filter((x) => x.t >= fromS && x.t <= toS)),
    evidence_before_flood: Object.fromEntries(
      (samples.filter((x) => x.t < fromS).at(-1)?.evidence ?? []).map((x) => [
        x.feature,
        `${r1(x.value, 2)}:${x.points}`,
      ]),
    ),
  };
  lis.cmd({ cmd: 'report', from, to });
  const during = (await lis.next('report')).report as Record<string, number | Record<string, unknown>>;
  await stopChild(lis);
  const { raw, ...floodOut } = flood;
  if (args.verbose) log(raw);
  const out = {
    rps: floodOut.rps,
    first_429_ms: floodOut.first_429_ms,
    share_429: floodOut.share_429,
    listener_gaps_over_1s: during.gaps_over_1s as number,
    listener_p99_ms: during.all_p99_ms as number,
    listeners: LISTENERS,
    listener_addresses: 40,
    listeners_with_gap: during.listeners_with_gap,
    listeners_silent: during.silent_listeners,
    listener_max_gap_ms: during.max_gap_ms,
    listener_part_ms: during.part_ms,
    listener_reload_beyond_availability_ms: during.reload_beyond_availability_ms,
    listener_reload_with_hold_ms: during.reload_with_hold_ms,
    listener_statuses: during.statuses,
    listener_codes: during.codes,
    listener_failures: during.failures,
    listener_requests: during.requests,
    listener_client_loop_delay_max_ms: during.client_loop_delay_max_ms,
    listener_p99_before_flood_ms: before.all_p99_ms,
    listener_gaps_before_flood: before.gaps_over_1s,
    edge_cpu_cores: r1(edgeCpu, 2),
    wrk: floodOut,
    flood_address: '127.0.0.1',
    verdicts,
  };
  log(`flood: ${JSON.stringify(out)}`);
  return out;
}

// ---- 2. tokenless flood vs cache hits: edge CPU per request
async function costScenario(e: Env) {
  log(
    `(2) cost: cache HITs with admission vs tokenless refusals under attack, ${COST_RPS} req/s x ${COST_S} s each, interleaved`,
  );
  await setMode(e, 'off');
  const target = parseTarget(e.edgeUrl);
  const prefix = `/hls/spaces/${e.space.id}`;
  // admissions for (a), taken before under-attack mode (holders renew without a challenge)
  const admissions: { address: string; token: string }[] = [];
  await Promise.all(
    Array.from({ length: 64 }, async (_, i) => {
      const address = `127.0.2.${i + 1}`;
      const pool = new HttpPool({ target, localAddress: address, size: 1 });
      for (let k = 0; k < 4; k++) {
        const r = await pool.get(`${prefix}/admit`);
        const j = jsonOf<{ admitted?: boolean; admission?: string }>(r);
        if (j?.admitted && j.admission) admissions.push({ address, token: j.admission });
      }
      pool.close();
    }),
  );
  log(`(a) admissions: ${admissions.length}`);
  await setMode(e, 'on');
  const probe = new HttpPool({ target, localAddress: '127.0.3.1', size: 1 });
  const t = Date.now();
  for (;;) {
    const r = await probe.get(`${prefix}/part/0.0.m4s`);
    if (r.status === 429 && r.body.toString().includes('ADMISSION_REQUIRED')) break;
    if (Date.now() - t > 15_000)
      throw new Error(
        `under-attack mode not in force at the edge: ${r.status} ${r.body.toString().slice(0, 200)}`,
      );
    await sleep(250);
  }
  probe.close();
  log(`under-attack mode in force at the edge after ${Date.now() - t} ms`);
  // idle edge CPU
  const idle0 = cpuSeconds(e.edgePid);
  const it0 = Date.now();
  await sleep(3000);
  const idleRate = (cpuSeconds(e.edgePid) - idle0) / ((Date.now() - it0) / 1000);

  type Kind = 'hit' | 'tokenless' | 'hit:part' | 'tokenless:part' | 'tokenless:playlist' | 'tokenless:stream';
  const run = async (kind: Kind, seconds = COST_S) => {
    const lp = await livePaths(e);
    const only = kind.split(':')[1];
    const tokenlessPaths = [
      lp.part,
      `${lp.playlist}?lid=benchtkl0001`,
      `${prefix}/stream.mp4?lid=benchtkl0001`,
    ];
    const cfg: LoadConfig = kind.startsWith('hit')
      ? {
          mode: 'load',
          url: e.edgeUrl,
          addresses: [...new Set(admissions.map((a) => a.address))],
          paths: only === 'part' ? [lp.part] : [lp.part, lp.part2, `${lp.playlist}?lid=benchhit0001`],
          rate: COST_RPS,
          durationMs: seconds * 1000,
          connsPerAddress: 4,
        }
      : {
          mode: 'load',
          url: e.edgeUrl,
          addresses: Array.from({ length: 64 }, (_, i) => `127.0.1.${i + 1}`),
          paths:
            only === 'part'
              ? [tokenlessPaths[0]!]
              : only === 'playlist'
                ? [tokenlessPaths[1]!]
                : only === 'stream'
                  ? [tokenlessPaths[2]!]
                  : tokenlessPaths,
          rate: COST_RPS,
          durationMs: seconds * 1000,
          connsPerAddress: 4,
        };
    // (a): one pool per admission, its token on every request
    const c = client(`load-${kind}`, {
      ...cfg,
      ...(kind.startsWith('hit') ? { admissions } : {}),
    } as ClientConfig);
    const c0 = cpuSeconds(e.edgePid);
    const w0 = Date.now();
    const done = (await c.next('done', (seconds + 30) * 1000)).result as Record<string, unknown>;
    const c1 = cpuSeconds(e.edgePid);
    const wall = (Date.now() - w0) / 1000;
    extraProcs.delete(c.proc);
    const answered = done.answered as number;
    const cpu = c1 - c0;
    const net = cpu - idleRate * wall;
    const out = {
      kind,
      answered,
      rps: done.rps,
      dropped: done.dropped,
      errors: done.errors,
      statuses: done.statuses,
      codes: done.codes,
      edge_cpu_s: r1(cpu, 2),
      us_per_request: r1((cpu / answered) * 1e6),
      us_per_request_net_of_idle: r1((net / answered) * 1e6),
      client_latency_p99_ms: done.latency_p99_ms,
      client_loop_delay_max_ms: done.client_loop_delay_max_ms,
    };
    log(`cost ${kind}: ${JSON.stringify(out)}`);
    return out;
  };
  // warm-up (discarded): both code paths JIT-compiled before anything is measured; without it the
  // first runs of whichever kind comes first read high
  const warm = {
    hit: (await run('hit', 2)).us_per_request_net_of_idle,
    tokenless: (await run('tokenless', 2)).us_per_request_net_of_idle,
  };
  const runs: Awaited<ReturnType<typeof run>>[] = [];
  for (const kind of ['hit', 'tokenless', 'hit', 'tokenless'] as const) runs.push(await run(kind));
  // one path at a time (shorter runs): where a refusal's cost goes
  const breakdown: Record<string, number | null> = {};
  for (const kind of ['hit:part', 'tokenless:part', 'tokenless:playlist', 'tokenless:stream'] as const) {
    const r = await run(kind, Math.max(2, Math.round(COST_S * 0.66)));
    breakdown[kind] = r.us_per_request_net_of_idle;
  }
  const hit = runs.filter((r) => r.kind === 'hit');
  const tkl = runs.filter((r) => r.kind === 'tokenless');
  const per = (rs: typeof runs, k: 'us_per_request' | 'us_per_request_net_of_idle') =>
    rs.reduce((s, r) => s + (r[k] ?? 0) * r.answered, 0) / rs.reduce((s, r) => s + r.answered, 0);
  const hitNet = per(hit, 'us_per_request_net_of_idle');
  const tklNet = per(tkl, 'us_per_request_net_of_idle');
  const hitGross = per(hit, 'us_per_request');
  const tklGross = per(tkl, 'us_per_request');
  return {
    tokenless_cost_vs_hit: r1(tklNet / hitNet, 3),
    hit_us_per_request: r1(hitNet),
    tokenless_us_per_request: r1(tklNet),
    gross: {
      hit_us_per_request: r1(hitGross),
      tokenless_us_per_request: r1(tklGross),
      ratio: r1(tklGross / hitGross, 3),
    },
    breakdown_us_per_request: breakdown,
    warmup_discarded_us_per_request: warm,
    idle_edge_cpu_cores: r1(idleRate, 3),
    offered_rps: COST_RPS,
    runs,
  };
}

// ---- 3. classifier: crowd vs flood
async function classifierScenario(e: Env) {
  log(`(3) classifier: crowd of ${CROWD}, a few-client flood, a many-client odd-path flood (mode off)`);
  await setMode(e, 'off');
  const prefix = `/hls/spaces/${e.space.id}`;
  const out: Record<
    string,
    ReturnType<typeof judge> & { settle: unknown; seconds: number; client?: unknown }
  > = {};
  const scenario = async (
    name: string,
    correct: string[],
    seconds: number,
    start: () => Promise<Child>,
    finish: (c: Child) => Promise<unknown>,
  ) => {
    const s = await settle(e, 12, 70);
    log(`${name}: settled ${JSON.stringify(s)}; starting`);
    const st = Date.now();
    const poll = verdictPoller(e, st);
    const c = await start();
    const extra = await finish(c);
    const samples = poll.stop();
    const j = judge(samples, correct, (Date.now() - st) / 1000);
    out[name] = { ...j, settle: s, seconds, client: extra };
    log(`${name}: ${JSON.stringify(out[name])}`);
  };
  // (a) crowd: distinct addresses in distinct /24s, admitted LL-HLS players, arriving over 10 s
  await scenario(
    'crowd',
    ['crowd'],
    35,
    async () =>
      client('crowd', {
        mode: 'listeners',
        url: e.edgeUrl,
        spaceId: e.space.id,
        addresses: Array.from({ length: CROWD }, (_, i) => `127.${40 + Math.floor(i / 250)}.${i % 250}.7`),
        arrivalMs: 10_000,
      }),
    async (c) => {
      await c.next('arrived', 60_000);
      await sleep(35_000 - 10_000);
      c.cmd({ cmd: 'report', from: Date.now() - 15_000, to: Date.now() });
      const r = (await c.next('report')).report as Record<string, unknown>;
      await stopChild(c);
      return {
        admitted: r.admitted,
        playing: r.playing,
        requests_last_15s: r.requests,
        gaps_over_1s: r.gaps_over_1s,
        codes: r.codes,
      };
    },
  );
  const lp = await livePaths(e);
  // (b) few clients at very high rates
  await scenario(
    'flood_few',
    ['attack'],
    30,
    async () =>
      client('flood-few', {
        mode: 'load',
        url: e.edgeUrl,
        addresses: ['127.50.0.1', '127.50.0.2', '127.50.0.3', '127.50.0.4'],
        paths: [`${prefix}/state.json`, `${lp.playlist}?lid=benchflood01`, lp.part],
        rate: 3000,
        durationMs: 30_000,
        connsPerAddress: 8,
      }),
    async (c) => {
      const d = (await c.next('done', 60_000)).result as Record<string, unknown>;
      extraProcs.delete(c.proc);
      return { rps: d.rps, statuses: d.statuses };
    },
  );
  // (c) many clients, odd paths and tokenless media
  await scenario(
    'flood_many_odd',
    ['attack'],
    30,
    async () =>
      client('flood-odd', {
        mode: 'load',
        url: e.edgeUrl,
        addresses: Array.from({ length: 400 }, (_, i) => `127.${60 + Math.floor(i / 250)}.${i % 250}.9`),
        paths: [
          `${prefix}/wp-login.php`,
          `${prefix}/part/999999.0.m4s`,
          `${lp.playlist}?lid=benchodd0001`,
          `/hls/spaces/${'x'.repeat(12)}/audio.m3u8`,
          lp.part,
        ],
        rate: 2000,
        durationMs: 30_000,
        connsPerAddress: 1,
      }),
    async (c) => {
      const d = (await c.next('done', 60_000)).result as Record<string, unknown>;
      extraProcs.delete(c.proc);
      return { rps: d.rps, statuses: d.statuses, codes: d.codes };
    },
  );
  const crowd = out.crowd!;
  const attacks = [out.flood_few!, out.flood_many_odd!];
  const verdicts = [crowd.verdict_s, ...attacks.map((a) => a.verdict_s)];
  return {
    crowd_correct: crowd.correct_share,
    attack_correct: r1(
      attacks.reduce((s, a) => s + (a.correct_share ?? 0) * a.windows, 0) /
        Math.max(
          1,
          attacks.reduce((s, a) => s + a.windows, 0),
        ),
      3,
    ),
    verdict_s: verdicts.some((v) => v === null) ? null : Math.max(...(verdicts as number[])),
    scenarios: out,
  };
}

// ---- 4. proof of work in headless Chromium, the real page path
async function powScenario(e: Env) {
  log(`(4) proof of work: ${POW_RUNS} fresh contexts on /s/<id> at the edge, under-attack mode on`);
  const { launchChromium, newContext } = await import('../test/support/browser.js');
  await setMode(e, 'on');
  // the challenge a newcomer without rate= gets (its difficulty), from a Node client
  const target = parseTarget(e.edgeUrl);
  const pool = new HttpPool({ target, localAddress: '127.0.4.1', size: 1 });
  let challenge: unknown;
  for (let i = 0; i < 40 && !challenge; i++) {
    const r = await pool.get(`/hls/spaces/${e.space.id}/admit`);
    challenge = jsonOf<{ challenge?: unknown }>(r)?.challenge;
    if (!challenge) await sleep(250);
  }
  pool.close();
  const browser = await launchChromium();
  const times: number[] = [];
  const walls: number[] = [];
  /** per run: the rate= the page sent with its newcomer /admit (null: none), the challenge's size */
  const asked: { rate: number | null; difficulty?: number; targetMs?: number }[] = [];
  const failures: string[] = [];
  try {
    for (let i = 0; i < POW_RUNS; i++) {
      const ctx = await newContext(browser);
      try {
        const page = await ctx.newPage();
        const a: { rate: number | null; difficulty?: number; targetMs?: number } = { rate: null };
        asked.push(a);
        page.on('response', (res) => {
          const u = new URL(res.url());
          if (
            !u.pathname.endsWith('/admit') ||
            u.searchParams.has('challenge') ||
            u.searchParams.has('admission')
          )
            return;
          a.rate = u.searchParams.has('rate') ? Number(u.searchParams.get('rate')) : null;
          void res
            .json()
            .then((j: { challenge?: { difficulty: number; targetMs: number } }) => {
              if (j.challenge) [a.difficulty, a.targetMs] = [j.challenge.difficulty, j.challenge.targetMs];
            })
            .catch(() => undefined);
        });
        const w0 = Date.now();
        await page.goto(`${e.edgeUrl}/s/${e.space.id}`);
        const ms = await page.waitForFunction(
          () => (window as unknown as { __tribune?: { powSolveMs?: number } }).__tribune?.powSolveMs,
          undefined,
          { timeout: 30_000 },
        );
        times.push(Number(await ms.jsonValue()));
        walls.push(Date.now() - w0);
      } catch (err) {
        failures.push((err as Error).message.split('\n')[0]!);
      } finally {
        await ctx.close();
      }
    }
  } finally {
    await browser.close();
  }
  const out = {
    median_solve_ms: r1(median(times)),
    solve_ms: times.map((x) => r1(x)),
    page_to_solved_median_ms: median(walls),
    runs: POW_RUNS,
    sent_rate_share: r1(asked.filter((x) => x.rate !== null).length / Math.max(1, asked.length), 2),
    page_rate_median: median(asked.filter((x) => x.rate !== null).map((x) => x.rate!)),
    difficulty_median: median(asked.filter((x) => x.difficulty).map((x) => x.difficulty!)),
    target_ms_median: median(asked.filter((x) => x.targetMs).map((x) => x.targetMs!)),
    failures,
    challenge_without_rate: challenge,
    method: 'real page: /s/<id> on the edge, fresh context, window.__tribune.powSolveMs',
  };
  log(`pow: ${JSON.stringify(out)}`);
  return out;
}

function webStale(): boolean {
  const idx = path.join(REPO_ROOT, 'dist', 'web', 'index.html');
  if (!existsSync(idx)) return true;
  const built = statSync(idx).mtimeMs;
  const newest = (dir: string): number => {
    let m = 0;
    for (const f of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, f.name);
      m = Math.max(m, f.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }
    return m;
  };
  return newest(path.join(REPO_ROOT, 'src', 'web')) > built;
}

async function main(): Promise<void> {
  installCleanup('bench:attack');
  process.on('exit', killExtra);
  const loadStart = r1(loadavg()[0], 2);
  const watchdog = setTimeout(
    () => {
      console.error(`[bench:attack] watchdog: over ${args['timeout-seconds']} s, stopping`);
      killExtra();
      killAll();
      process.exit(3);
    },
    Number(args['timeout-seconds']) * 1000,
  );
  watchdog.unref();
  try {
    setPriority(-10); // this process hosts the WebRTC speaker
  } catch {
    log('could not set nice -10');
  }
  if (ONLY.has('pow') && webStale()) {
    log('building the web app (vite build)');
    execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: REPO_ROOT, stdio: 'inherit' });
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'tribune-bench-attack-'));
  tempDirs.add(dir);
  const [originPort, edgePort] = [await freePort(), await freePort()];
  const originUrl = `http://127.0.0.1:${originPort}`;
  const edgeUrl = `http://127.0.0.1:${edgePort}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    TRIBUNE_LOG_LEVEL: 'warn',
    TRIBUNE_TOKEN_SECRET: SECRET,
    TRIBUNE_SIGNUP_PER_MINUTE: '100000',
  };
  delete env.TRIBUNE_ORIGIN_URL;
  for (const k of Object.keys(env))
    if (/^TRIBUNE_(EDGE_(RATE|BURST|CONNECTIONS)|POW_)/.test(k)) delete env[k];
  const origin = startProc('origin', [...TSX, 'src/cli.ts', 'origin'], {
    env: {
      ...env,
      PORT: String(originPort),
      TRIBUNE_DATA_DIR: dir,
      TRIBUNE_PUBLIC_EDGE_URL: edgeUrl,
      TRIBUNE_OPERATORS: OPERATOR,
    },
    verbose: args.verbose,
  });
  const edge = startProc(
    'edge',
    ['taskset', '-c', EDGE_CORE, ...TSX, 'src/cli.ts', 'edge', '--origin', originUrl],
    {
      env: {
        ...env,
        PORT: String(edgePort),
        TRIBUNE_DATA_DIR: path.join(dir, 'edge'),
        // admission's join limit per address (not a flood limit): 25 simulated listeners share an address
        TRIBUNE_EDGE_JOINS_PER_ADDRESS_PER_MINUTE: '100000',
      },
      nice: -10,
      verbose: args.verbose,
    },
  );
  const speaker = new NodeWhipClient({ record: false, receive: false });
  try {
    await waitHttp(`${originUrl}/healthz`, origin, 60_000);
    await waitHttp(`${edgeUrl}/healthz`, edge, 60_000);
    log(
      `origin pid ${origin.pid} ${originUrl}; edge pid ${edge.pid} ${edgeUrl} (core ${EDGE_CORE}); clients on core ${LOAD_CORE}`,
    );
    const operator = new TribuneClient({ baseUrl: originUrl, cookieJar: true });
    await operator.signUp({
      handle: OPERATOR,
      displayName: 'Bench operator',
      password: 'correct horse battery',
    });
    const space = await createSpace(originUrl, 'bench attack');
    await speaker.publish({
      whipUrl: whipUrlFor(originUrl, space.id, 'tone'),
      token: space.hostToken,
      source: new ToneGenerator({ freqHz: 440, amplitude: 0.3 }),
      timeoutMs: 30_000,
    });
    await sleep(3000);
    const e: Env = { originUrl, edgeUrl, edgePid: edge.pid, space, operator, dir };
    const flood = ONLY.has('flood') ? await floodScenario(e) : null;
    const classifier = ONLY.has('classifier') ? await classifierScenario(e) : null;
    const cost = ONLY.has('cost') ? await costScenario(e) : null;
    const pow = ONLY.has('pow') ? await powScenario(e) : null;

    const result = {
      flood,
      tokenless_cost_vs_hit: cost?.tokenless_cost_vs_hit ?? null,
      classifier: classifier && {
        crowd_correct: classifier.crowd_correct,
        attack_correct: classifier.attack_correct,
        verdict_s: classifier.verdict_s,
        scenarios: classifier.scenarios,
      },
      pow_median_solve_ms: pow?.median_solve_ms ?? null,
      cost,
      pow,
      load_avg_1m: { start: loadStart, end: r1(loadavg()[0], 2) },
      seconds: Math.round((performance.now() - t0) / 1000),
    };
    if (flood)
      console.log(
        `1. flood from 127.0.0.1: ${flood.rps} req/s achieved (wrk -c${flood.wrk.connections}, delay ${flood.wrk.delay_ms} ms), ` +
          `first 429 after ${flood.first_429_ms} ms, 429 share ${flood.share_429}, edge CPU ${flood.edge_cpu_cores} cores\n` +
          `   ${LISTENERS} admitted LL-HLS listeners during the flood: gaps > 1 s ${flood.listener_gaps_over_1s} ` +
          `(${String(flood.listeners_with_gap)} listeners, max gap ${String(flood.listener_max_gap_ms)} ms, silent ${String(flood.listeners_silent)}), ` +
          `p99 ${flood.listener_p99_ms} ms (parts request->last byte p99 ${JSON.stringify(flood.listener_part_ms)}; ` +
          `blocking reloads beyond availability ${JSON.stringify(flood.listener_reload_beyond_availability_ms)}); ` +
          `statuses ${JSON.stringify(flood.listener_statuses)}; before the flood p99 ${String(flood.listener_p99_before_flood_ms)} ms\n` +
          `   console verdicts (flood from ${flood.verdicts.flood_from_s} s): ${flood.verdicts.timeline}; before ${JSON.stringify(flood.verdicts.before_flood)}, ` +
          `during ${JSON.stringify(flood.verdicts.during_flood)}; evidence before the flood ${JSON.stringify(flood.verdicts.evidence_before_flood)}`,
      );
    if (cost)
      console.log(
        `2. edge CPU per request at ${COST_RPS} req/s offered (net of idle ${cost.idle_edge_cpu_cores} cores): cache HIT with admission ` +
          `${cost.hit_us_per_request} µs, tokenless refused under attack ${cost.tokenless_us_per_request} µs -> ratio ${cost.tokenless_cost_vs_hit} ` +
          `(gross ${cost.gross.hit_us_per_request} / ${cost.gross.tokenless_us_per_request} µs, ratio ${cost.gross.ratio}); ` +
          `one path at a time (µs): ${JSON.stringify(cost.breakdown_us_per_request)}`,
      );
    if (classifier) {
      console.log(
        `3. classifier: crowd correct ${classifier.crowd_correct}, attack correct ${classifier.attack_correct}, ` +
          `first correct label within ${classifier.verdict_s} s (max over scenarios)`,
      );
      for (const [k, v] of Object.entries(classifier.scenarios))
        console.log(
          `   ${k}: first correct at ${v.verdict_s} s, correct share ${v.correct_share} of ${v.windows} s, labels ${JSON.stringify(v.labels)}\n` +
            `     timeline ${v.timeline}\n     evidence ${JSON.stringify(v.evidence_mid)}`,
        );
    }
    if (pow)
      console.log(
        `4. proof of work in headless Chromium (real page): median solve ${pow.median_solve_ms} ms over ${pow.solve_ms.length} runs ` +
          `${JSON.stringify(pow.solve_ms)}; page->solved median ${pow.page_to_solved_median_ms} ms; failures ${pow.failures.length}; ` +
          `rate= sent by ${pow.sent_rate_share} of pages (median ${pow.page_rate_median} H/s); challenge difficulty median ` +
          `${pow.difficulty_median}, targetMs median ${pow.target_ms_median}`,
      );
    console.log(`wall ${result.seconds} s; load average ${JSON.stringify(result.load_avg_1m)}`);
    if (args.json) console.log(JSON.stringify(result));
  } finally {
    speaker.abruptClose();
    killExtra();
    await stopProc(edge);
    await stopProc(origin);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('[bench:attack] failed:', err instanceof Error ? (err.stack ?? err.message) : err);
    killExtra();
    killAll();
    process.exit(1);
  },
);
