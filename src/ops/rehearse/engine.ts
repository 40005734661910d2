/**
 * A share of the rehearsal's crowd, in one process: releases its listeners at their arrival times
 * (10 ms ticks), owns the keep-alive pools (one per source address) and the state-document watcher
 * that tells lobby listeners the Space has started, counts everything, and reports counters every
 * second and a summary (per-listener records, tickets) on request. Runs in the coordinator's process
 * or in a worker process (worker.ts) with its own core.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { REHEARSAL_HEADER } from '../../edge/admission/tokens.js';
import { HttpPool, jsonOf, type HttpResult } from './http-pool.js';
import { parseTarget, type Target } from './http-wire.js';
import { Listener, type ListenerContext } from './listener.js';
import { zeroCounters, type Counters, type EngineConfig, type EngineSummary } from './types.js';

const MAX_ERROR_SAMPLES = 20;

export class Engine {
  readonly c: Counters = zeroCounters();
  private readonly target: Target;
  private readonly prefix: string;
  private readonly headers: Record<string, string>;
  private readonly pools: HttpPool[];
  private readonly listeners: Listener[] = [];
  private readonly errorsByCode: Record<string, number> = {};
  private readonly errorSamples: string[] = [];
  private next = 0;
  private slots: number;
  private liveSeenAt = 0;
  private liveWaiters: (() => void)[] = [];
  private watcher: HttpPool | undefined;
  private arrivalTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private stoppedAt = 0;
  /** this process's stalls: [from, to] wall ms, when a 20 ms timer fired 100+ ms late */
  private readonly stallList: [number, number][] = [];
  private stallTimer: NodeJS.Timeout | undefined;
  private readonly loop = monitorEventLoopDelay({ resolution: 10 });
  private readonly cpu0 = process.cpuUsage();

  constructor(
    readonly cfg: EngineConfig,
    private readonly onTick?: (at: number, c: Counters) => void,
  ) {
    this.target = parseTarget(cfg.target);
    this.prefix = `/hls/spaces/${encodeURIComponent(cfg.spaceId)}`;
    this.headers = { [REHEARSAL_HEADER]: cfg.token };
    this.slots = cfg.maxPlaying;
    this.pools = cfg.sources.map(
      (localAddress) =>
        new HttpPool({
          target: this.target,
          localAddress,
          size: cfg.poolPerSource,
          headers: this.headers,
          timeoutMs: 30_000,
        }),
    );
  }

  start(): void {
    this.loop.enable();
    let last = Date.now();
    this.stallTimer = setInterval(() => {
      const now = Date.now();
      if (now - last > 120) {
        this.stallList.push([last + 20, now]);
        if (this.stallList.length > 10_000) this.stallList.splice(0, 5_000);
      }
      last = now;
    }, 20);
    const ctx = this.context();
    this.arrivalTimer = setInterval(() => {
      const due = Date.now() - this.cfg.t0;
      while (this.next < this.cfg.index.length && this.cfg.at[this.next] <= due) {
        const i = this.cfg.index[this.next++];
        const src = i % this.pools.length;
        const l = new Listener(
          ctx,
          `${this.cfg.tag}-${i.toString(36).padStart(7, '0')}`,
          this.cfg.sources[src],
          this.pools[src],
        );
        this.listeners.push(l);
        l.arrive(this.cfg.t0 + this.cfg.at[this.next - 1]);
      }
      if (this.next >= this.cfg.index.length) clearInterval(this.arrivalTimer);
    }, 10);
    this.tickTimer = setInterval(() => this.onTick?.(Date.now(), this.counters()), 1000);
  }

  /** ms of [from, to] during which this process was stalled */
  stallOverlap(from: number, to: number): number {
    let ms = 0;
    for (let i = this.stallList.length - 1; i >= 0; i--) {
      const [a, b] = this.stallList[i];
      if (b <= from) break;
      ms += Math.max(0, Math.min(b, to) - Math.max(a, from));
    }
    return ms;
  }

  counters(): Counters {
    let backlog = 0;
    for (const p of this.pools) backlog += p.waiting;
    return { ...this.c, backlog };
  }

  private context(): ListenerContext {
    return {
      cfg: this.cfg,
      target: this.target,
      prefix: this.prefix,
      headers: this.headers,
      c: this.c,
      request: (pool, path, urgent) => this.request(pool, path, urgent),
      error: (code, detail) => this.error(code, detail),
      liveAt: () => this.liveSeenAt,
      onLive: (fn) => {
        if (this.liveSeenAt) return fn();
        this.liveWaiters.push(fn);
        this.watch();
      },
      stalls: (from, to) => this.stallOverlap(from, to),
      takeSlot: () => (this.slots > 0 ? (this.slots--, true) : false),
      stopped: () => this.stoppedAt > 0,
    };
  }

  private async request(pool: HttpPool, path: string, urgent = false): Promise<HttpResult | undefined> {
    this.c.requests++;
    try {
      const r = await pool.get(path, { urgent });
      if (r.status < 300) this.c.http2xx++;
      else if (r.status >= 500) this.c.http5xx++;
      else if (r.status >= 400) {
        this.c.http4xx++;
        if (r.status === 429) this.c.http429++;
      }
      return r;
    } catch (err) {
      if (!this.stoppedAt) this.error('TRANSPORT', `${path.split('?')[0]}: ${(err as Error).message}`);
      return undefined;
    }
  }

  private error(code: string, detail: string): void {
    if (this.stoppedAt) return;
    this.c.errors++;
    this.errorsByCode[code] = (this.errorsByCode[code] ?? 0) + 1;
    if (this.errorSamples.length < MAX_ERROR_SAMPLES) this.errorSamples.push(`${code}: ${detail}`);
  }

  /** Follows the state document (long poll) until the Space is live; then wakes the lobby. */
  private watch(): void {
    if (this.watcher) return;
    const pool = new HttpPool({
      target: this.target,
      localAddress: this.cfg.sources[0],
      size: 1,
      headers: this.headers,
      timeoutMs: 40_000,
    });
    this.watcher = pool;
    const lid = `${this.cfg.tag}-watch-${this.cfg.worker}`;
    const run = async (): Promise<void> => {
      let v: number | undefined;
      while (!this.stoppedAt && !this.liveSeenAt) {
        const q = v === undefined ? `lid=${lid}` : `v=${v}&lid=${lid}`;
        const r = await pool.get(`${this.prefix}/state.json?${q}`).catch(() => undefined);
        if (this.stoppedAt) return;
        const doc = r && r.status === 200 ? jsonOf<{ v?: number; state?: string }>(r) : undefined;
        if (!doc) {
          if (r) this.error('STATE_DOC', `state.json: HTTP ${r.status}`);
          await new Promise((res) => setTimeout(res, 1000));
          continue;
        }
        if (doc.state === 'live') {
          this.liveSeenAt = r!.doneAt;
          for (const fn of this.liveWaiters.splice(0)) fn();
          return;
        }
        if (doc.state === 'ended') {
          this.error('SPACE_ENDED', 'the Space ended before it started');
          return;
        }
        v = typeof doc.v === 'number' ? doc.v : undefined;
      }
    };
    run().catch((err: unknown) => this.error('STATE_DOC', String(err)));
  }

  summary(): EngineSummary {
    const now = this.stoppedAt || Date.now();
    const cols: EngineSummary['listeners'] = {
      scheduledAt: [],
      arrivedAt: [],
      admittedAt: [],
      lobby: [],
      queued: [],
      playAt: [],
      firstAudioAt: [],
      stallBeforeAudioMs: [],
      maxGapMs: [],
      netGapMs: [],
      missingParts: [],
      dead: [],
      failed: [],
    };
    const tickets = [];
    for (const l of this.listeners) {
      const s = l.playback?.stats;
      cols.scheduledAt.push(l.scheduledAt);
      cols.arrivedAt.push(l.arrivedAt);
      cols.admittedAt.push(l.admittedAt);
      cols.lobby.push(l.lobby ? 1 : 0);
      cols.queued.push(l.queued ? 1 : 0);
      cols.playAt.push(l.playAt);
      cols.firstAudioAt.push(s?.firstAt ?? 0);
      // this process's stalls before the listener's first part (a lobby's designed wait is not one:
      // only the timer's lateness and the stalls after it count)
      const late = l.playDueAt ? Math.max(0, l.playAt - l.playDueAt) : 0;
      const from = l.playDueAt ? l.playAt : l.arrivedAt;
      cols.stallBeforeAudioMs.push(s?.firstAt ? Math.round(late + this.stallOverlap(from, s.firstAt)) : 0);
      // a stream that died counts its silence up to now; a live one its trailing silence
      const gap = s ? s.gapAsOf(now) : { raw: 0, net: 0 };
      cols.maxGapMs.push(Math.round(gap.raw));
      cols.netGapMs.push(Math.round(gap.net));
      cols.missingParts.push(s?.missing ?? 0);
      cols.dead.push(l.playback?.dead ? 1 : 0);
      cols.failed.push(l.failed ? 1 : 0);
      if (l.ticketRec) tickets.push({ ...l.ticketRec });
    }
    const cpu = process.cpuUsage(this.cpu0);
    return {
      worker: this.cfg.worker,
      at: now,
      counters: this.counters(),
      errorsByCode: { ...this.errorsByCode },
      errorSamples: [...this.errorSamples],
      listeners: cols,
      tickets,
      liveSeenAt: this.liveSeenAt,
      loopDelayMaxMs: Math.round(this.loop.max / 1e6),
      stallMs: this.stallList.reduce((a, [x, y]) => a + (y - x), 0),
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
  }

  /** Stops every listener and returns the final summary (gaps measured up to now). */
  stop(): EngineSummary {
    this.stoppedAt = Date.now();
    const s = this.summary(); // before closing: a playback dead now died on its own
    clearInterval(this.arrivalTimer);
    clearInterval(this.tickTimer);
    clearInterval(this.stallTimer);
    for (const l of this.listeners) l.stop();
    for (const p of this.pools) p.close();
    this.watcher?.close();
    this.loop.disable();
    return s;
  }
}
