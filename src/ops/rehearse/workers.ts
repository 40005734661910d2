/**
 * The coordinator's handles on its engines: in this process (`workers: 0`, for small runs and
 * tests) or in worker processes (worker.ts; under tsx when this module runs from source). A worker
 * process gets its open-files soft limit raised to the hard one, can be pinned (`prefix`, e.g.
 * `taskset -c 1`), and dies with its coordinator (IPC disconnect; SIGKILL on exit).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from './engine.js';
import type { Counters, EngineConfig, EngineSummary, FromWorker } from './types.js';

export interface EngineHandle {
  /** latest counters (ticks every second) */
  latest: Counters | undefined;
  start(cfg: EngineConfig): void;
  summary(): Promise<EngineSummary>;
  stop(): Promise<EngineSummary>;
  kill(): void;
}

export function inProcessEngine(onTick: () => void): EngineHandle {
  let engine: Engine | undefined;
  let stopped = false;
  const h: EngineHandle = {
    latest: undefined,
    start(cfg) {
      engine = new Engine(cfg, (_at, c) => {
        h.latest = c;
        onTick();
      });
      engine.start();
    },
    summary: async () => engine!.summary(),
    stop: async () => {
      stopped = true;
      return engine!.stop();
    },
    kill: () => {
      if (!stopped && engine) h.stop().catch(() => undefined);
    },
  };
  return h;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');
const live = new Set<ChildProcess>();
let exitHook = false;

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

/** Spawns a worker process and resolves once it is ready for its config. */
export async function spawnEngine(
  prefix: string[],
  onTick: () => void,
  onError: (msg: string) => void,
): Promise<EngineHandle> {
  installExitHook();
  const file = path.join(here, fromSource ? 'worker.ts' : 'worker.js');
  const nodeArgs = ['--max-old-space-size=4096', ...(fromSource ? ['--import', 'tsx'] : []), file];
  const child = spawn(
    '/bin/sh',
    [
      '-c',
      'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"',
      'sh',
      ...prefix,
      process.execPath,
      ...nodeArgs,
    ],
    // the repository root: where `--import tsx` resolves from
    { cwd: path.resolve(here, '..', '..', '..'), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  live.add(child);
  let seq = 0;
  const waiting = new Map<number, (s: EngineSummary) => void>();
  let exited = false;
  const fail = (msg: string): void => {
    onError(msg);
    for (const [, w] of waiting) w(undefined as unknown as EngineSummary);
    waiting.clear();
  };
  const ready = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      exited = true;
      live.delete(child);
      reject(new Error(`rehearsal worker exited (code ${code}, signal ${signal})`));
      fail(`rehearsal worker exited (code ${code}, signal ${signal})`);
    });
    child.once('message', () => resolve()); // its first message says it is listening
  });
  const h: EngineHandle = {
    latest: undefined,
    start(cfg) {
      child.send({ type: 'config', cfg });
    },
    summary: () => ask('snapshot'),
    stop: () => ask('stop'),
    kill() {
      if (!exited) child.kill('SIGKILL');
    },
  };
  const ask = (type: 'snapshot' | 'stop'): Promise<EngineSummary> =>
    new Promise<EngineSummary>((resolve, reject) => {
      if (exited) return reject(new Error('rehearsal worker is gone'));
      const id = ++seq;
      const t = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`rehearsal worker: no ${type} answer within 60 s`));
      }, 60_000);
      waiting.set(id, (s) => {
        clearTimeout(t);
        if (s) resolve(s);
        else reject(new Error('rehearsal worker is gone'));
      });
      child.send({ type, id });
    });
  child.on('message', (m: FromWorker | { type: 'ready' }) => {
    if (m.type === 'tick') {
      h.latest = m.counters;
      onTick();
    } else if (m.type === 'summary') {
      waiting.get(m.id)?.(m.summary);
      waiting.delete(m.id);
    } else if (m.type === 'error') onError(m.message);
  });
  await ready;
  return h;
}
