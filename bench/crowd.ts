/**
 * Crowd benchmark (issue 7, item 5): `npm run bench:crowd -- [--json]`, through the same engine as
 * `tribune rehearse` (runRehearsal, src/ops/rehearse).
 *
 *  Setup: an origin process and ONE standalone edge process (pinned to core 0), the same token
 *  secret on both, a live Space with a WHIP tone speaker, a rehearsal token; the synthetic crowd runs
 *  in a worker process pinned to core 1 (its own event loop), from 127.0.0.2-20.
 *  (a) flash: 20,000 arrivals within 2 s at the edge capped at 5,000. After the surge (errors,
 *      5xx, admitted, first audio p99, gaps of the admitted, positions only going down), the cap is
 *      raised to 20,000 and the rest must be admitted in ticket order (`admitted_in_order`).
 *  (b) lobby: 10,000 listeners wait on a scheduled Space (its speaker in the green room); the bench
 *      starts it as the host (POST /api/spaces/:id/start); first audio p99 from the start; requests
 *      the origin saw during the lobby (its /metrics, minus the edge's live reports).
 *  (c) admissions per second per edge core: 50,000 new arrivals asking /admit at once (cap
 *      lifted), admitted / the edge's CPU seconds (from /proc).
 *  Then the capacity model (src/ops/capacity predictFirstAudio) with this machine's measured
 *  parameters, against the measured first audio p99 -> model_vs_measured_error.
 *
 * Options: --json, --flash N (20000), --cap N (5000), --lobby N (10000), --burst N (50000),
 * --only flash,lobby,admissions (the scenarios to run),
 * --report-dir DIR (rehearsal reports, JSON + HTML), --nice -10, --verbose, --timeout-seconds 420.
 * Everything on 127.0.0.0/8; every child killed on exit / SIGINT / the watchdog.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { loadavg, setPriority, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { issueRehearsalToken } from '../src/edge/admission/tokens.js';
import type { RehearsalOptions } from '../src/ops/rehearse/run.js';
import { REPO_ROOT, createSpace, freePort, whipUrlFor } from '../test/support/server.js';
import { ToneGenerator } from '../test/support/tone.js';
import { NodeWhipClient } from '../test/support/whip-client.js';
import { modelError } from './crowd-model.js';
import { installCleanup, killAll, sleep, startProc, stopProc, tempDirs, waitHttp } from './crowd-procs.js';
import { admissionsScenario, flashScenario, lobbyScenario, type CrowdEnv } from './crowd-scenarios.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    flash: { type: 'string', default: '20000' },
    cap: { type: 'string', default: '5000' },
    lobby: { type: 'string', default: '10000' },
    burst: { type: 'string', default: '50000' },
    only: { type: 'string', default: 'flash,lobby,admissions' },
    'report-dir': { type: 'string' },
    nice: { type: 'string', default: '-10' },
    verbose: { type: 'boolean', default: false },
    'timeout-seconds': { type: 'string', default: '420' },
  },
});
const FLASH = Number(args.flash);
const CAP = Number(args.cap);
const LOBBY = Number(args.lobby);
const BURST = Number(args.burst);
const NICE = Number(args.nice);
const ONLY = new Set(args.only.split(','));
const SECRET = 'bench-crowd-secret-0123456789abcdef';
const EDGE_CORE = '0';
const LOAD_CORE = '1';
const JOINS_PER_SEC = 5000;

const t0 = performance.now();
const log = (...a: unknown[]): void =>
  console.error(`[bench:crowd ${((performance.now() - t0) / 1000).toFixed(1)}s]`, ...a);

async function main(): Promise<void> {
  installCleanup('bench:crowd');
  // a shared machine: other work shows up as client lag and gaps that are not the edge's
  const loadStart = Math.round(loadavg()[0] * 100) / 100;
  const watchdog = setTimeout(
    () => {
      console.error(`[bench:crowd] watchdog: over ${args['timeout-seconds']} s, stopping`);
      killAll();
      process.exit(3);
    },
    Number(args['timeout-seconds']) * 1000,
  );
  watchdog.unref();
  if (NICE !== 0)
    try {
      setPriority(NICE); // this process hosts the WebRTC speakers
    } catch {
      log(`could not set nice ${NICE}; figures may suffer from other load`);
    }
  if (!existsSync(path.join(REPO_ROOT, 'dist', 'cli.js'))) {
    log('building (npm run build)');
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT, stdio: 'inherit' });
  }

  // ---- setup: origin, one edge, a live Space with a speaker, a rehearsal token
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tribune-bench-crowd-'));
  tempDirs.add(dataDir);
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
  const origin = startProc('origin', [process.execPath, 'dist/cli.js', 'origin'], {
    env: { ...env, PORT: String(originPort), TRIBUNE_DATA_DIR: dataDir, TRIBUNE_PUBLIC_EDGE_URL: edgeUrl },
    verbose: args.verbose,
  });
  const edgeEnv = {
    ...env,
    PORT: String(edgePort),
    TRIBUNE_DATA_DIR: path.join(dataDir, 'edge'),
    TRIBUNE_EDGE_MAX_LISTENERS: String(CAP),
    TRIBUNE_EDGE_JOINS_PER_SEC: String(JOINS_PER_SEC),
    // the crowd comes from 19 addresses (a rehearsal token lifts per-address limits too)
    TRIBUNE_EDGE_STREAMS_PER_ADDRESS: '10000000',
    // thousands of connections per address: no per-address connection cap
    TRIBUNE_EDGE_CONNECTIONS_PER_ADDRESS: '0',
  };
  const edge = startProc(
    'edge',
    ['taskset', '-c', EDGE_CORE, process.execPath, 'dist/cli.js', 'edge', '--origin', originUrl],
    { env: edgeEnv, nice: NICE, verbose: args.verbose },
  );
  const speakers: NodeWhipClient[] = [];
  try {
    await waitHttp(`${originUrl}/healthz`, origin);
    await waitHttp(`${edgeUrl}/healthz`, edge);
    log(`origin pid ${origin.pid} ${originUrl}; edge pid ${edge.pid} ${edgeUrl} (core ${EDGE_CORE})`);
    const token = issueRehearsalToken(Buffer.from(SECRET, 'utf8'), 3600, 'bench:crowd');
    const publish = async (spaceId: string, hostToken: string): Promise<void> => {
      const s = new NodeWhipClient({ record: false, receive: false });
      speakers.push(s);
      await s.publish({
        whipUrl: whipUrlFor(originUrl, spaceId, 'tone'),
        token: hostToken,
        source: new ToneGenerator({ freqHz: 440, amplitude: 0.3 }),
        timeoutMs: 30_000,
      });
    };
    const live = await createSpace(originUrl, 'bench crowd: flash');
    await publish(live.id, live.hostToken);
    await sleep(3000); // a few segments, so the edge has parts to start from
    const common: Omit<RehearsalOptions, 'space' | 'listeners' | 'profile'> = {
      target: edgeUrl,
      token,
      workers: 1,
      workerPrefix: ['taskset', '-c', LOAD_CORE],
      metricsUrls: [edgeUrl],
      reportDir: args['report-dir'],
      progress: (line) => log(line),
    };

    const env: CrowdEnv = {
      originUrl,
      edgeUrl,
      edgePid: edge.pid,
      token,
      live,
      publish,
      common,
      joinsPerSec: JOINS_PER_SEC,
      log: (m) => log(m),
    };
    const flashOut = ONLY.has('flash') ? await flashScenario(env, FLASH, CAP) : null;
    const lobbyOut = ONLY.has('lobby') ? await lobbyScenario(env, LOBBY) : null;
    const admissionsOut = ONLY.has('admissions') ? await admissionsScenario(env, BURST) : null;
    const admissionsPerCore = admissionsOut?.admissions_per_s_per_core ?? null;

    // ---- the capacity model against the measurements
    const model = await modelError({
      flash: {
        listeners: FLASH,
        arrivalS: 2,
        cap: CAP,
        joinsPerSec: JOINS_PER_SEC,
        measuredP99: flashOut?.first_audio_p99_ms ?? null,
      },
      lobby: {
        listeners: LOBBY,
        joinsPerSec: JOINS_PER_SEC,
        measuredP99: lobbyOut?.first_audio_p99_ms ?? null,
      },
      admissionsPerCore: admissionsPerCore ?? 0,
    });
    log(`model: ${JSON.stringify(model)}`);

    const result = {
      flash: flashOut,
      lobby: lobbyOut,
      admissions_per_s_per_core: admissionsPerCore,
      model_vs_measured_error: model.error,
      load_avg_1m: { start: loadStart, end: Math.round(loadavg()[0] * 100) / 100 },
      admissions: admissionsOut,
      model,
      seconds: Math.round((performance.now() - t0) / 1000),
    };
    if (flashOut)
      console.log(
        `flash: ${flashOut.arrivals} arrivals, cap ${flashOut.cap}: ${flashOut.admitted} admitted, errors ${flashOut.errors}, ` +
          `5xx ${flashOut.http_5xx}, first audio p50 ${flashOut.first_audio_p50_ms} / p99 ${flashOut.first_audio_p99_ms} ms, ` +
          `gaps > 1 s ${flashOut.admitted_gaps_over_1s}, positions monotonic ${flashOut.positions_monotonic}; ` +
          `cap raised: ${flashOut.admitted_after_raise} admitted in ${flashOut.queue_drained_s} s, in order ${flashOut.admitted_in_order}`,
      );
    if (lobbyOut)
      console.log(
        `lobby: ${lobbyOut.waiting} waiting, first audio from the start p50 ${lobbyOut.first_audio_p50_ms} / p99 ${lobbyOut.first_audio_p99_ms} ms, ` +
          `gaps > 1 s ${lobbyOut.gaps_over_1s}, origin requests ${lobbyOut.origin_requests} in ${lobbyOut.seconds} s`,
      );
    if (admissionsOut)
      console.log(
        `admissions: ${admissionsOut.admitted} in ${admissionsOut.window_s} s, edge CPU ${admissionsOut.edge_cpu_s} s -> ` +
          `${admissionsPerCore} per core-second`,
      );
    console.log(`model vs measured first audio p99: ${JSON.stringify(model)}`);
    if (args.json) console.log(JSON.stringify(result));
  } finally {
    for (const s of speakers) s.abruptClose();
    await stopProc(edge);
    await stopProc(origin);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('[bench:crowd] failed:', err instanceof Error ? (err.stack ?? err.message) : err);
    killAll();
    process.exit(1);
  },
);
