import type { CreatedSpace } from '../../src/origin/api-types.js';
/**
 * Start a real Tribune server (`node --import tsx src/cli.ts start`) as a child process on a free
 * 127.0.0.1 port with a fresh data dir, for integration tests, e2e and the benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

export type { CreatedSpace };

export async function createSpace(url: string, title: string): Promise<CreatedSpace> {
  const res = await fetch(`${url}/api/spaces`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ title }),
  });
  const text = await res.text();
  if (res.status !== 200 && res.status !== 201) throw new Error(`POST /api/spaces -> ${res.status}: ${text}`);
  return JSON.parse(text) as CreatedSpace;
}

/** POST /api/spaces/:id/end with the host token. */
export async function endSpace(url: string, id: string, hostToken: string): Promise<number> {
  const res = await fetch(`${url}/api/spaces/${id}/end`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${hostToken}` },
  });
  await res.arrayBuffer();
  return res.status;
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
