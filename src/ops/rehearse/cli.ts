/**
 * tribune rehearsal-token [--ttl 3600] [--note text] [--data-dir DIR] [--config FILE]
 *   prints a rehearsal token signed with this deployment's secret (TRIBUNE_TOKEN_SECRET, or
 *   <dataDir>/secret as the server keeps it). Run it where the secret is; hand the token to whoever
 *   rehearses.
 *
 * tribune rehearse --target URL --space ID --token T [--profile ramp|step|lobby] [--listeners N]
 *   [--over-seconds T] [--mode stream|llhls] [--hold-seconds S] [--workers K] [--max-playing N]
 *   [--metrics URL]... [--on-ready CMD] [--json] [--report-dir DIR]
 *   a synthetic crowd (see run.ts); refuses to run (exit 2) unless the target accepts the token.
 *   --on-ready CMD runs a shell command once every arrival has its answer (e.g. start the Space);
 *   the environment has REHEARSAL_TARGET and REHEARSAL_SPACE.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { configFromEnv, loadConfig, type ConfigInput } from '../../config.js';
import { issueRehearsalToken } from '../../edge/admission/tokens.js';
import { flashLine } from './report.js';
import { PROFILES, type ProfileName } from './profiles.js';
import { RehearsalBoundsError, RehearsalRefusedError, runRehearsal } from './run.js';

const USAGE_TOKEN =
  'usage: tribune rehearsal-token [--ttl SECONDS] [--note TEXT] [--data-dir DIR] [--config FILE]';
const USAGE_REHEARSE =
  'usage: tribune rehearse --target URL --space ID --token T [--profile ramp|step|lobby] [--listeners N] ' +
  '[--over-seconds T] [--mode stream|llhls] [--hold-seconds S] [--workers K] [--max-playing N] ' +
  '[--metrics URL]... [--on-ready CMD] [--json] [--report-dir DIR]';

/** The deployment's token secret without creating one: env/config, else <dataDir>/secret. */
export function deploymentSecret(configured: string, dataDir: string): Buffer {
  if (configured) return Buffer.from(configured, 'utf8');
  const file = path.join(dataDir, 'secret');
  let hex: string;
  try {
    hex = readFileSync(file, 'utf8').trim();
  } catch {
    throw new Error(
      `no token secret: set TRIBUNE_TOKEN_SECRET (as on the edges) or point --data-dir at the server's data dir (${file} not found)`,
    );
  }
  const secret = Buffer.from(hex, 'hex');
  if (secret.length === 0) throw new Error(`${file} holds no secret`);
  return secret;
}

export async function rehearsalTokenCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ttl: { type: 'string', default: '3600' },
      note: { type: 'string', default: '' },
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE_TOKEN);
    return 0;
  }
  const fromFile: ConfigInput = values.config
    ? (JSON.parse(readFileSync(values.config, 'utf8')) as ConfigInput)
    : {};
  const config = loadConfig(fromFile, configFromEnv(), {
    dataDir: values['data-dir'] ? path.resolve(values['data-dir']) : undefined,
  });
  const ttl = Number(values.ttl);
  let token: string;
  try {
    token = issueRehearsalToken(deploymentSecret(config.tokenSecret, config.dataDir), ttl, values.note);
  } catch (err) {
    console.error(`rehearsal-token: ${(err as Error).message}`);
    return 2;
  }
  console.error(
    `rehearsal token valid for ${ttl} s (until ${new Date(Date.now() + ttl * 1000).toISOString()})`,
  );
  console.log(token);
  return 0;
}

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new RehearsalBoundsError(`--${name} must be a number`);
  return n;
}

function runHook(cmd: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', cmd], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, ...env },
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`--on-ready exited with ${code}`)),
    );
  });
}

export async function rehearseCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      space: { type: 'string' },
      token: { type: 'string', default: process.env.TRIBUNE_REHEARSAL_TOKEN },
      profile: { type: 'string', default: 'ramp' },
      listeners: { type: 'string', default: '100' },
      'over-seconds': { type: 'string' },
      mode: { type: 'string', default: 'stream' },
      'hold-seconds': { type: 'string', default: '10' },
      workers: { type: 'string' },
      sources: { type: 'string' },
      'max-playing': { type: 'string' },
      metrics: { type: 'string', multiple: true },
      'on-ready': { type: 'string' },
      'lobby-timeout-seconds': { type: 'string' },
      json: { type: 'boolean', default: false },
      'report-dir': { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE_REHEARSE);
    return 0;
  }
  if (!values.target || !values.space) {
    console.error(`rehearse: --target and --space are required\n${USAGE_REHEARSE}`);
    return 2;
  }
  if (!PROFILES.includes(values.profile as ProfileName)) {
    console.error(`rehearse: --profile must be one of ${PROFILES.join(', ')}`);
    return 2;
  }
  const ac = new AbortController();
  let interrupted = 0;
  const onSig = (): void => {
    if (++interrupted > 1) process.exit(130);
    console.error('rehearse: interrupted, stopping the crowd and writing the report (again to quit)');
    ac.abort();
  };
  process.on('SIGINT', onSig);
  const target = values.target;
  const space = values.space;
  try {
    const onReadyCmd = values['on-ready'];
    const report = await runRehearsal({
      target,
      space,
      token: values.token ?? '',
      profile: values.profile as ProfileName,
      listeners: num(values.listeners, 'listeners'),
      overSeconds: num(values['over-seconds'], 'over-seconds'),
      mode: values.mode as 'stream' | 'llhls',
      holdSeconds: num(values['hold-seconds'], 'hold-seconds'),
      workers: num(values.workers, 'workers'),
      sources: num(values.sources, 'sources'),
      maxPlaying: num(values['max-playing'], 'max-playing'),
      metricsUrls: values.metrics?.length ? values.metrics : undefined,
      lobbyTimeoutSeconds: num(values['lobby-timeout-seconds'], 'lobby-timeout-seconds'),
      onReady: onReadyCmd
        ? async (ctl) => {
            ctl.log(`running --on-ready: ${onReadyCmd}`);
            ctl.setStartAt();
            await runHook(onReadyCmd, { REHEARSAL_TARGET: target, REHEARSAL_SPACE: space });
          }
        : undefined,
      progress: !values.quiet,
      reportDir: values['report-dir'],
      signal: ac.signal,
    });
    const fa = report.first_audio_ms;
    console.log(
      `rehearsal of ${report.target} Space ${report.space}: ${report.arrivals} arrivals (${report.profile}, ${report.mode}), ` +
        `cap ${report.cap ?? '?'}; admitted ${report.admitted}, largest queue ${report.queued_max}, failed ${report.failed}; ` +
        `errors ${report.errors} (5xx ${report.http_5xx}); first audio p50 ${fa.p50 ?? '-'} ms, p99 ${fa.p99 ?? '-'} ms; ` +
        `${report.admitted_gaps_over_1s} of ${report.played} playing listeners had a gap over 1 s; ` +
        `positions only went down: ${report.positions_monotonic}; admitted in order: ${report.admitted_in_order}` +
        (Object.keys(report.errors_by_code).length
          ? `; errors by code ${JSON.stringify(report.errors_by_code)}`
          : ''),
    );
    if (report.files) console.log(`report: ${report.files.html} (${report.files.json})`);
    if (values.json) console.log(JSON.stringify(flashLine(report)));
    return 0;
  } catch (err) {
    if (err instanceof RehearsalRefusedError) {
      console.error(
        `rehearse: refused: ${err.code}${err.status ? ` (HTTP ${err.status})` : ''}: ${err.message}`,
      );
      console.error('rehearse: ask the operator of this deployment for a token: tribune rehearsal-token');
      return 2;
    }
    if (err instanceof RehearsalBoundsError) {
      console.error(`rehearse: ${err.message}`);
      return 2;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSig);
  }
}

/** Entry from src/cli.ts for `rehearse` and `rehearsal-token`. */
export async function opsCommand(argv: string[]): Promise<number> {
  const code = await (argv[0] === 'rehearsal-token'
    ? rehearsalTokenCommand(argv.slice(1))
    : rehearseCommand(argv.slice(1)));
  // idle keep-alive sockets (fetch's pool) must not hold the process open after the report
  setTimeout(() => process.exit(code), 200).unref();
  return code;
}
