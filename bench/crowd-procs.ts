/**
 * Child processes and /proc readings for bench/crowd.ts (the same technique as bench/edge.ts):
 * every child runs under bash with its open-files soft limit raised to the hard one, optionally
 * niced, and is SIGKILLed on exit, on SIGINT/SIGTERM and by the caller's watchdog.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { REPO_ROOT } from '../test/support/server.js';

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  exited: boolean;
  logs(): string;
}

const procs = new Set<Proc>();
export const tempDirs = new Set<string>();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function killAll(): void {
  for (const p of procs) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

let hooked = false;
export function installCleanup(tag: string): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    killAll();
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      console.error(`[${tag}] ${sig}: stopping`);
      killAll();
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    });
}

export function startProc(
  name: string,
  argv: string[],
  opts: { env?: NodeJS.ProcessEnv; nice?: number; verbose?: boolean } = {},
): Proc {
  const niced = opts.nice ? ['nice', '-n', String(opts.nice), ...argv] : argv;
  const child = spawn('bash', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'bash', ...niced], {
    cwd: REPO_ROOT,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
    if (opts.verbose) process.stderr.write(`[${name}] ${d.toString()}`);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const p: Proc = { name, child, pid: child.pid!, exited: false, logs: () => out };
  procs.add(p);
  child.once('exit', () => {
    p.exited = true;
  });
  return p;
}

export async function stopProc(p: Proc): Promise<void> {
  if (!p.exited) {
    const done = new Promise<void>((r) => p.child.once('exit', () => r()));
    try {
      process.kill(p.pid, 'SIGTERM');
    } catch {
      // gone
    }
    await Promise.race([done, sleep(5_000)]);
  }
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch {
    // gone
  }
  procs.delete(p);
}

export async function waitHttp(url: string, p: Proc, timeoutMs = 30_000): Promise<void> {
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

/** utime + stime of a process, seconds (USER_HZ = 100). */
export function cpuSeconds(pid: number): number {
  try {
    const txt = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = txt.slice(txt.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Samples a process's CPU seconds every `everyMs` until stopped; `at(wallMs)` interpolates. */
export function cpuSampler(pid: number, everyMs = 100): { stop(): void; at(wallMs: number): number } {
  const pts: [number, number][] = [[Date.now(), cpuSeconds(pid)]];
  const t = setInterval(() => pts.push([Date.now(), cpuSeconds(pid)]), everyMs);
  return {
    stop: () => clearInterval(t),
    at(wall) {
      let best = pts[0];
      for (const p of pts) if (Math.abs(p[0] - wall) < Math.abs(best[0] - wall)) best = p;
      return best[1];
    },
  };
}
