import { EventEmitter } from 'node:events';
import { TribuneError } from '../errors.js';
import { MediaEngine } from './engine.js';
import type { EngineEvent, EngineRequest, EngineResults, EngineStats } from './protocol.js';

type Events = {
  [K in EngineEvent['type']]: [Extract<EngineEvent, { type: K }>];
} & {
  /** An engine died: these Spaces lost their speakers and were moved to a fresh engine. */
  'engine-exit': [spaceIds: string[], code: number | null, signal: NodeJS.Signals | null];
};

const EVENTS = ['init', 'part', 'levels', 'speaker-gone'] as const;

/**
 * Several media engine processes, so media uses every core: each Space lives on one engine, picked
 * as the one with the fewest Spaces when it opens. An engine that dies takes only its own Spaces'
 * speakers with it; every other Space keeps playing.
 */
export class EnginePool extends EventEmitter<Events> {
  private readonly engines: MediaEngine[];
  private readonly home = new Map<string, MediaEngine>();

  constructor(size: number, nice = 0) {
    super();
    this.engines = Array.from({ length: Math.max(1, size) }, () => new MediaEngine(nice));
    for (const engine of this.engines) {
      for (const type of EVENTS) engine.on(type, (e: EngineEvent) => this.emit(type, e as never));
      engine.on('exit', (code, signal) => {
        const lost = [...this.home].filter(([, e]) => e === engine).map(([id]) => id);
        if (lost.length) this.emit('engine-exit', lost, code, signal);
      });
    }
  }

  get size(): number {
    return this.engines.length;
  }

  async start(): Promise<void> {
    await Promise.all(this.engines.map((e) => e.start()));
  }

  /** The process id of the engine that runs a Space (for tests and operators). */
  pidOf(spaceId: string): number | undefined {
    return this.home.get(spaceId)?.pid;
  }

  async request<K extends EngineRequest['op']>(
    req: Extract<EngineRequest, { op: K }>,
  ): Promise<EngineResults[K]> {
    if (req.op === 'stats') throw new TribuneError('INTERNAL', 'use stats()');
    const spaceId = (req as { spaceId: string }).spaceId;
    let engine = this.home.get(spaceId);
    if (req.op === 'openSpace' && !engine) {
      engine = this.leastLoaded();
      this.home.set(spaceId, engine);
    }
    if (!engine) throw new TribuneError('SPACE_NOT_FOUND', 'no engine runs this Space');
    try {
      return await engine.request(req);
    } finally {
      if (req.op === 'closeSpace') this.home.delete(spaceId);
    }
  }

  /** Sums over every engine (CPU, ticks, speakers...). */
  async stats(): Promise<EngineStats> {
    const all = await Promise.all(this.engines.map((e) => e.stats()));
    const sum = (k: keyof EngineStats): number => all.reduce((n, s) => n + s[k], 0);
    return {
      cpuUserUs: sum('cpuUserUs'),
      cpuSystemUs: sum('cpuSystemUs'),
      spaces: sum('spaces'),
      speakers: sum('speakers'),
      ticks: sum('ticks'),
      lateTicks: sum('lateTicks'),
      skippedTicks: sum('skippedTicks'),
      underruns: sum('underruns'),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.engines.map((e) => e.close()));
  }

  private leastLoaded(): MediaEngine {
    const load = new Map(this.engines.map((e) => [e, 0]));
    for (const e of this.home.values()) load.set(e, (load.get(e) ?? 0) + 1);
    return this.engines.reduce((best, e) => (load.get(e)! < load.get(best)! ? e : best));
  }
}
