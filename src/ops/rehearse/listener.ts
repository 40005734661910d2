/**
 * One simulated listener running the real listener protocol:
 *   page data  `GET /hls/spaces/:id/view.json`
 *   admission  `GET /hls/spaces/:id/admit` -> admitted (a token) or queued (a ticket: ask again
 *              after retryInMs with `?ticket=`, checking the position never goes up), renewing the
 *              token with `?admission=` before renewInMs
 *   lobby      admitted while the Space is scheduled: wait for its start (the engine's state
 *              document watcher), then random() x joinWindowMs before playing
 *   playback   stream.mp4 or LL-HLS with the admission token, checking every part (playback.ts)
 * Every request goes through its source address's keep-alive pool, so a queued listener holds no
 * socket; only playback holds one.
 */
import type { HttpPool, HttpResult } from './http-pool.js';
import { jsonOf } from './http-pool.js';
import type { Target } from './http-wire.js';
import { errorCode, startPlayback, type Playback } from './playback.js';
import type { Counters, EngineConfig, TicketRecord } from './types.js';

export interface ListenerContext {
  cfg: EngineConfig;
  target: Target;
  prefix: string;
  headers: Record<string, string>;
  c: Counters;
  /**
   * A request through the pool, counted; undefined after a transport failure (already counted).
   * `urgent`: a listener under way (its next step, a renewal) goes before new arrivals.
   */
  request(pool: HttpPool, path: string, urgent?: boolean): Promise<HttpResult | undefined>;
  error(code: string, detail: string): void;
  /** the Space went live (wall ms), 0 if not seen yet */
  liveAt(): number;
  /** call `fn` when the Space goes live (starts the state watcher if needed) */
  onLive(fn: () => void): void;
  /** how long this process was stalled within [from, to] (ms) */
  stalls(from: number, to: number): number;
  /** take a playback slot (maxPlaying); false when none is left */
  takeSlot(): boolean;
  stopped(): boolean;
}

interface AdmitAnswer {
  admitted: boolean;
  admission?: string;
  renewInMs?: number;
  joinWindowMs?: number;
  state?: string;
  ticket?: string;
  position?: number;
  retryInMs?: number;
}

const MAX_RETRIES = 8;

export function ticketClaims(ticket: string): { g: string; n: number } | undefined {
  try {
    const c = JSON.parse(Buffer.from(ticket.split('.')[0], 'base64url').toString('utf8')) as {
      g?: unknown;
      n?: unknown;
    };
    return typeof c.n === 'number' ? { g: String(c.g ?? ''), n: c.n } : undefined;
  } catch {
    return undefined;
  }
}

/** Seconds of a Retry-After header as ms (default when absent). */
function retryAfterMs(r: HttpResult, dflt: number): number {
  const s = Number(r.headers.get('retry-after'));
  return Number.isFinite(s) && s >= 0 ? Math.max(200, s * 1000) : dflt;
}

export class Listener {
  scheduledAt = 0;
  /** when its first request went out (this machine's backlog before that is not the deployment's) */
  arrivedAt = 0;
  private sentFirst = false;
  admittedAt = 0;
  lobby = false;
  queued = false;
  playAt = 0;
  /** lobby: when its spread start was due (playAt - playDueAt = this process's lateness) */
  playDueAt = 0;
  failed = false;
  ticketRec: TicketRecord | undefined;
  playback: Playback | undefined;
  private settled = false;
  private admission: string | undefined;
  private ticket: string | undefined;
  private lastPosition = Infinity;
  private timers = new Set<NodeJS.Timeout>();
  private retries = 0;

  constructor(
    private readonly ctx: ListenerContext,
    readonly lid: string,
    readonly localAddress: string | undefined,
    private readonly pool: HttpPool,
  ) {}

  /** `scheduledAt`: when the profile said this listener arrives (wall ms). */
  arrive(scheduledAt: number): void {
    this.scheduledAt = scheduledAt;
    this.arrivedAt = Date.now();
    this.ctx.c.arrived++;
    if (this.ctx.cfg.pageData) void this.pageData();
    else void this.admit();
  }

  private noteSent(r: HttpResult | undefined): void {
    if (this.sentFirst || !r) return;
    this.sentFirst = true;
    this.arrivedAt = r.sentAt;
  }

  private later(ms: number, fn: () => void): void {
    if (this.ctx.stopped()) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.ctx.stopped()) fn();
    }, ms);
    this.timers.add(t);
  }

  private async pageData(): Promise<void> {
    const r = await this.ctx.request(this.pool, `${this.ctx.prefix}/view.json`);
    if (this.ctx.stopped()) return;
    this.noteSent(r);
    if (r && r.status === 200) {
      this.retries = 0;
      return this.admit();
    }
    this.retryOrFail(r, 'view.json', () => void this.pageData());
  }

  /** A refused or failed answer: wait and ask again (429, 5xx, transport), or give up (other 4xx). */
  private retryOrFail(r: HttpResult | undefined, what: string, again: () => void): void {
    const code = r ? errorCode(r.status, r.body.toString('utf8')) : 'TRANSPORT';
    if (r) this.ctx.error(code, `${what}: HTTP ${r.status} ${r.body.toString('utf8').slice(0, 160)}`);
    const retryable = !r || r.status === 429 || r.status >= 500;
    if (retryable && ++this.retries <= MAX_RETRIES) {
      this.later(r ? retryAfterMs(r, 1000) : 1000, again);
      return;
    }
    this.fail();
  }

  private fail(): void {
    if (this.failed) return;
    this.failed = true;
    this.ctx.c.failed++;
    if (this.queued && this.ticket) this.ctx.c.queued--;
    this.settle();
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.ctx.c.answered++;
  }

  private async admit(): Promise<void> {
    const q = this.ticket ? `?ticket=${encodeURIComponent(this.ticket)}` : '';
    // the step after the page data is urgent; a ticket's poll waits its turn like an arrival
    const urgent = !this.ticket && this.sentFirst;
    const r = await this.ctx.request(this.pool, `${this.ctx.prefix}/admit${q}`, urgent);
    if (this.ctx.stopped()) return;
    this.noteSent(r);
    const j = r && r.status === 200 ? jsonOf<AdmitAnswer>(r) : undefined;
    if (!r || !j) return this.retryOrFail(r, 'admit', () => void this.admit());
    this.retries = 0;
    if (j.admitted && j.admission) return this.admitted(j, r);
    if (!j.admitted && j.ticket) return this.waiting(j, r);
    this.ctx.error('BAD_ADMIT_ANSWER', `admit: ${r.body.toString('utf8').slice(0, 160)}`);
    this.fail();
  }

  private waiting(j: AdmitAnswer, r: HttpResult): void {
    if (!this.ticket) {
      this.queued = true;
      this.ctx.c.queued++;
      this.settle();
    }
    if (this.ticket !== j.ticket) {
      this.ticket = j.ticket!;
      const claims = ticketClaims(this.ticket);
      if (claims) this.ticketRec = { g: claims.g, n: claims.n, lastQueuedSentAt: 0, admittedAt: 0 };
    }
    if (this.ticketRec) this.ticketRec.lastQueuedSentAt = r.sentAt;
    const pos = Number(j.position);
    if (pos > this.lastPosition) {
      this.ctx.c.positionRises++;
      this.ctx.error('POSITION_ROSE', `${this.lid}: position ${this.lastPosition} -> ${pos}`);
    }
    if (Number.isFinite(pos)) this.lastPosition = pos;
    const retry = Number(j.retryInMs);
    this.later(Number.isFinite(retry) && retry >= 0 ? retry : retryAfterMs(r, 2000), () => void this.admit());
  }

  private admitted(j: AdmitAnswer, r: HttpResult): void {
    const c = this.ctx.c;
    this.admission = j.admission;
    this.admittedAt = r.doneAt;
    c.admitted++;
    if (this.ticket) {
      c.queued--;
      if (this.ticketRec) this.ticketRec.admittedAt = r.doneAt;
    } else c.admittedAtOnce++;
    this.settle();
    this.scheduleRenewal(j.renewInMs);
    if (j.state === 'scheduled' && !this.ctx.liveAt()) {
      this.lobby = true;
      c.lobby++;
      const windowMs = Math.max(0, Number(j.joinWindowMs) || 0);
      this.ctx.onLive(() => {
        c.lobby--;
        const delay = Math.random() * windowMs;
        this.playDueAt = Date.now() + delay;
        this.later(delay, () => this.play());
      });
    } else this.play();
  }

  private scheduleRenewal(renewInMs: number | undefined): void {
    if (!this.ctx.cfg.renew) return;
    const ms = Number(renewInMs);
    if (!Number.isFinite(ms) || ms <= 0) return;
    this.later(ms * (0.85 + 0.1 * Math.random()), () => void this.renew());
  }

  private async renew(): Promise<void> {
    if (this.playback?.dead) return;
    const q = `?admission=${encodeURIComponent(this.admission ?? '')}`;
    const r = await this.ctx.request(this.pool, `${this.ctx.prefix}/admit${q}`, true);
    if (this.ctx.stopped()) return;
    const j = r && r.status === 200 ? jsonOf<AdmitAnswer>(r) : undefined;
    if (j?.admitted && j.admission) {
      this.admission = j.admission;
      this.scheduleRenewal(j.renewInMs);
      return;
    }
    if (r) {
      const code = r.status === 200 ? 'RENEWAL_QUEUED' : errorCode(r.status, r.body.toString('utf8'));
      this.ctx.error(code, `renewal: HTTP ${r.status} ${r.body.toString('utf8').slice(0, 160)}`);
    }
    if (!r || r.status === 429 || r.status >= 500) this.later(1000, () => void this.renew());
  }

  private play(): void {
    const ctx = this.ctx;
    if (!ctx.cfg.play || !ctx.takeSlot()) {
      ctx.c.idle++;
      return;
    }
    this.playAt = Date.now();
    let playing = false;
    this.playback = startPlayback(ctx.cfg.mode, {
      target: ctx.target,
      localAddress: this.localAddress,
      prefix: ctx.prefix,
      lid: this.lid,
      admission: () => this.admission,
      headers: ctx.headers,
      partTicks: ctx.cfg.partTicks,
      stalls: ctx.stalls,
      onFirstPart: () => {
        playing = true;
        ctx.c.playing++;
      },
      onFail: (code, detail) => {
        if (playing) ctx.c.playing--;
        playing = false;
        ctx.error(code, `${this.lid} playback: ${detail}`);
      },
    });
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.playback?.close();
  }
}
