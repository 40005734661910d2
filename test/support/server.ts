/**
 * Start a real Tribune server (`node --import tsx src/cli.ts start`) as a child process on a free
 * 127.0.0.1 port with a fresh data dir, for integration tests, e2e and the benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TribuneClient, type CreateSpaceBody, type SpaceView } from '../../src/client/index.js';

/** Repository root (test/support/ -> ../..). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface TribuneHandle {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  dataDir: string;
  pid: number;
  child: ChildProcess;
  /** SIGTERM, wait for exit, SIGKILL after 5 s; removes the temp data dir unless keepDataDir */
  stop(): Promise<void>;
  /** stdout + stderr so far */
  logs(): string;
}

export interface StartTribuneOptions {
  /** extra environment (PORT / TRIBUNE_DATA_DIR are set by this helper unless given) */
  env?: Record<string, string | undefined>;
  /** CLI arguments; default ['start'] */
  args?: string[];
  /** readiness bound, default 30 s */
  readyTimeoutMs?: number;
  /** use this data dir instead of a fresh temp dir (it is then never deleted) */
  dataDir?: string;
  keepDataDir?: boolean;
  /** echo the child's output to this process's stderr */
  echo?: boolean;
  /** extra node flags before `--import tsx` */
  nodeArgs?: string[];
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL whatever is left
  process.on('exit', () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        // gone
      }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const c of live) c.kill('SIGKILL');
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    });
  }
}

const MAX_LOG = 2_000_000;

export async function startTribune(opts: StartTribuneOptions = {}): Promise<TribuneHandle> {
  installExitHook();
  const port = await freePort();
  const ownDataDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'tribune-test-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: '127.0.0.1',
    TRIBUNE_LOG_LEVEL: 'warn',
    // tests sign up many users from 127.0.0.1 (the limit itself is tested on its own)
    TRIBUNE_SIGNUP_PER_MINUTE: '100000',
    // tests play hundreds of listeners from 127.0.0.1: the flood limits are tested on their own
    // (defence tests pass their own values)
    TRIBUNE_EDGE_RATE_PER_ADDRESS: '0',
    TRIBUNE_EDGE_CONNECTIONS_PER_ADDRESS: '0',
    PORT: String(port),
    TRIBUNE_DATA_DIR: dataDir,
    ...opts.env,
  };
  // a test's environment must not leak into the server's mode
  if (!opts.env?.TRIBUNE_ORIGIN_URL) delete env.TRIBUNE_ORIGIN_URL;
  const actualPort = Number(env.PORT);
  const child = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), '--import', 'tsx', 'src/cli.ts', ...(opts.args ?? ['start'])],
    { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  live.add(child);
  let log = '';
  const append = (chunk: Buffer) => {
    const s = chunk.toString();
    if (opts.echo) process.stderr.write(s);
    log += s;
    if (log.length > MAX_LOG) log = log.slice(-MAX_LOG / 2);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitP = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(child);
      resolve();
    });
  });

  const url = `http://127.0.0.1:${actualPort}`;
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exitP;
      clearTimeout(killer);
    }
    if (ownDataDir && !opts.keepDataDir) rmSync(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`tribune exited before ready (code ${exited.code}, signal ${exited.signal}):\n${log}`);
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `tribune not ready at ${url}/healthz after ${opts.readyTimeoutMs ?? 30_000} ms:\n${log}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return { url, port: actualPort, dataDir, pid: child.pid!, child, stop, logs: () => log };
}

/**
 * An origin process and a standalone edge process in front of it, sharing a fresh token secret;
 * the origin hands out playback URLs on the edge. `edgeEnv` adds to the edge's environment.
 */
export async function startOriginAndEdge(
  edgeEnv: Record<string, string> = {},
  originEnv: Record<string, string> = {},
): Promise<{ origin: TribuneHandle; edge: TribuneHandle; secret: string }> {
  const edgePort = await freePort();
  const secret = randomBytes(32).toString('hex');
  const origin = await startTribune({
    args: ['origin'],
    env: {
      TRIBUNE_PUBLIC_EDGE_URL: `http://127.0.0.1:${edgePort}`,
      TRIBUNE_TOKEN_SECRET: secret,
      ...originEnv,
    },
  });
  const edge = await startTribune({
    args: ['edge', '--origin', origin.url],
    env: { PORT: String(edgePort), HOST: '0.0.0.0', TRIBUNE_TOKEN_SECRET: secret, ...edgeEnv },
  });
  return { origin, edge, secret };
}

let userSeq = 0;

/** A signed-in API client for a fresh account (`handle` is made unique). */
export async function signedInClient(url: string, name = 'user'): Promise<TribuneClient> {
  const client = new TribuneClient({ baseUrl: url, cookieJar: true });
  const handle = `${
    name
      .toLowerCase()
      .replace(/[^a-z0-9_]/g, '')
      .slice(0, 12) || 'user'
  }_${process.pid % 1000}_${++userSeq}`;
  await client.signUp({ handle, displayName: name, password: 'correct horse battery' });
  return client;
}

/** The user id a publish token is bound to (its `u` claim; the token body is base64url JSON). */
export function tokenUserId(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { u: string }).u;
}

export interface TestSpace extends SpaceView {
  /** The host's signed-in client. */
  hostClient: TribuneClient;
  /** The host's WHIP bearer token. */
  hostToken: string;
  /** Puts `n` new users on stage (co-hosts first, up to 2, then speakers) and returns their WHIP tokens. */
  stageTokens(n: number): Promise<string[]>;
  /** The host ends the Space; resolves to the HTTP status. */
  end(): Promise<number>;
}

/** Signs up a host, creates a live Space, and returns it with the host's WHIP token. */
export async function createSpace(
  url: string,
  title: string,
  body: Partial<CreateSpaceBody> = {},
): Promise<TestSpace> {
  const hostClient = await signedInClient(url, 'host');
  const view = await hostClient.createSpace({ title, ...body });
  const hostToken = view.state === 'live' ? (await hostClient.publishToken(view.id)).token : '';
  let cohosts = 0;
  return {
    ...view,
    hostClient,
    hostToken,
    async stageTokens(n: number) {
      const { token: invite } = await hostClient.inviteLink(view.id);
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const c = await signedInClient(url, 'speaker');
        await c.acceptInvite(view.id, invite);
        if (cohosts < 2) {
          const me = await c.me();
          await hostClient.setRole(view.id, me.user!.id, 'cohost');
          cohosts++;
        }
        out.push((await c.publishToken(view.id)).token);
      }
      return out;
    },
    async end() {
      try {
        await hostClient.end(view.id);
        return 200;
      } catch (err) {
        return (err as { status?: number }).status ?? 0;
      }
    },
  };
}

/** WHIP endpoint URL for a Space with a display name (absolute, on `url`). */
export function whipUrlFor(url: string, spaceId: string, name: string): string {
  return `${url}/whip/${encodeURIComponent(spaceId)}?name=${encodeURIComponent(name)}`;
}

/** Edge master playlist URL listeners use. */
export function edgeMasterUrl(url: string, spaceId: string): string {
  return `${url}/hls/spaces/${encodeURIComponent(spaceId)}/master.m3u8`;
}

/** Parse a Prometheus text exposition into name{labels} -> value (labels kept verbatim). */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

export async function scrapeMetrics(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  if (!res.ok) throw new Error(`GET /metrics -> ${res.status}: ${text.slice(0, 200)}`);
  return parsePrometheus(text);
}
