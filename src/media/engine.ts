import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { ERRORS, TribuneError, type ErrorCode } from '../errors.js';
import type {
  EngineEnvelope,
  EngineEvent,
  EngineMessage,
  EngineRequest,
  EngineResults,
  EngineStats,
} from './protocol.js';

type Events = {
  [K in EngineEvent['type']]: [Extract<EngineEvent, { type: K }>];
} & { exit: [code: number | null, signal: NodeJS.Signals | null] };

const REQUEST_TIMEOUT_MS = 15_000;

/**
 * The main process's handle on the media engine child process: the single owner of that wire.
 * request() is typed by operation; engine events (init, part, levels, speaker-gone) are re-emitted.
 * If the engine dies it is started again and 'exit' is emitted so callers can drop live state.
 */
export class MediaEngine extends EventEmitter<Events> {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  private ready: Promise<void> | null = null;
  private closing = false;

  /** @param nice scheduling priority asked for the engine process (see TribuneConfig.nice) */
  constructor(private readonly nice = 0) {
    super();
  }

  /** The engine process id, while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    if (this.ready) return this.ready;
    // Never respawn after close(): a late request during shutdown would leave an orphan engine.
    if (this.closing) return Promise.reject(new TribuneError('MEDIA_UNAVAILABLE', 'media engine closed'));
    const here = fileURLToPath(import.meta.url);
    const fromSource = here.endsWith('.ts');
    const entry = here.replace(/engine\.(ts|js)$/, `engine-process.${fromSource ? 'ts' : 'js'}`);
    const child = fork(entry, [], {
      serialization: 'advanced',
      execArgv: fromSource ? ['--import', 'tsx'] : [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    if (child.pid) setNice(child.pid, this.nice);
    this.ready = new Promise<void>((resolve, reject) => {
      const onEarlyExit = (code: number | null): void =>
        reject(new Error(`media engine exited early (${code})`));
      child.once('exit', onEarlyExit);
      child.on('message', (msg: EngineMessage) => {
        if (msg.type === 'ready') {
          child.off('exit', onEarlyExit);
          resolve();
        } else if (msg.type === 'reply') {
          const p = this.pending.get(msg.id);
          if (!p) return;
          this.pending.delete(msg.id);
          clearTimeout(p.timer);
          if (msg.ok) p.resolve(msg.result);
          else {
            const code = (msg.error.code in ERRORS ? msg.error.code : 'INTERNAL') as ErrorCode;
            p.reject(new TribuneError(code, msg.error.detail));
          }
        } else {
          this.emit(msg.type, msg as never);
        }
      });
    });
    child.on('exit', (code, signal) => {
      this.child = null;
      this.ready = null;
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new TribuneError('MEDIA_UNAVAILABLE', 'media engine exited'));
      }
      this.pending.clear();
      this.emit('exit', code, signal);
      if (!this.closing) void this.start().catch(() => undefined);
    });
    return this.ready;
  }

  async request<K extends EngineRequest['op']>(
    req: Extract<EngineRequest, { op: K }>,
  ): Promise<EngineResults[K]> {
    await this.start();
    const child = this.child;
    if (!child?.connected) throw new TribuneError('MEDIA_UNAVAILABLE');
    const id = this.nextId++;
    return new Promise<EngineResults[K]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TribuneError('MEDIA_UNAVAILABLE', `engine did not answer ${req.op}`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      const env: EngineEnvelope = { id, req };
      child.send(env);
    });
  }

  stats(): Promise<EngineStats> {
    return this.request({ op: 'stats' });
  }

  /** Stops the engine (closing every peer) and waits for it to exit. Idempotent. */
  async close(): Promise<void> {
    this.closing = true;
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}

/** Asks for a scheduling priority; returns false where the OS refuses (no CAP_SYS_NICE). */
export function setNice(pid: number, nice: number): boolean {
  try {
    if (os.getPriority(pid) !== nice) os.setPriority(pid, nice);
    return true;
  } catch {
    return false;
  }
}
