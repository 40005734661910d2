/**
 * Several origins sharing PostgreSQL, Redis and a data dir (on when TRIBUNE_SELF_URL is set).
 *
 * Any origin answers the API; a Space's media (its WebRTC stage, mix, LL-HLS packaging, live state)
 * runs on exactly one origin at a time, the holder of its lease (leases.ts, placement.ts):
 *  - `/api/spaces/:id/...` and `/whip/:id/...` about a Space another origin runs are forwarded to it
 *    (forward.ts); `/origin/spaces/:id/...` (edges) is redirected (307 + `x-tribune-owner`), and the
 *    edges remember the owner (src/edge/origin-pool.ts);
 *  - a live Space that nobody runs (its origin died: the lease expired) is adopted by the first
 *    origin that is asked about it, or by the sweep every leaseMs/5: its recording and HLS timeline
 *    continue from the shared data dir (HlsStore.openLive), its speakers' pages reconnect by themselves;
 *  - edges' live reports reach every origin (Redis pub/sub, shared/redis-events.ts), so whichever
 *    origin runs a Space counts the listeners of every edge.
 */
import http from 'node:http';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { isTribuneError, TribuneError } from '../errors.js';
import { OWNER_HEADER, OWNER_UNREACHABLE_HEADER } from '../live/types.js';
import type { SpaceService } from '../spaces/service.js';
import type { SpaceRecord } from '../store/types.js';
import { forward, FORWARDED_BY, forwardKey, trustForwardedClient } from './forward.js';
import { SpaceLeases, type LeaseOwner } from './leases.js';
import { ClusterPlacement } from './placement.js';

const SPACE_PATH = /^\/(api\/spaces|whip|origin\/spaces)\/([A-Za-z0-9_-]{1,64})(?=[/?]|$)/;

export interface ClusterOptions {
  originId: string;
  selfUrl: string;
  leaseMs: number;
  redis: Redis;
  svc: SpaceService;
  tokenSecret: Buffer;
  log: FastifyBaseLogger;
  /**
   * Requests whose path names no Space but that act on one's media (a moderator's action on a
   * case, src/trust): the Space they act on, so they too run where its media does.
   */
  spaceOf?: (method: string, url: string) => Promise<string | undefined>;
}

export class Cluster {
  readonly leases: SpaceLeases;
  private readonly placement: ClusterPlacement;
  private readonly svc: SpaceService;
  private readonly log: FastifyBaseLogger;
  private readonly key: Buffer;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private readonly adopting = new Map<string, Promise<LeaseOwner | null>>();
  /** Live Spaces another origin held a lease for at the last sweep. */
  private ownedElsewhere = new Set<string>();
  private readonly replaysOpening = new Map<string, Promise<unknown>>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private sweeps = 0;
  /** Live Spaces another origin runs, mirrored in this origin's live hub for lists (see sweep). */
  private readonly shadows = new Set<string>();
  private closed = false;

  constructor(private readonly opts: ClusterOptions) {
    this.svc = opts.svc;
    this.log = opts.log;
    this.key = forwardKey(opts.tokenSecret);
    const registry = this.svc.registry;
    this.leases = new SpaceLeases(opts.redis, {
      originId: opts.originId,
      url: opts.selfUrl,
      leaseMs: opts.leaseMs,
      onLost: (id, fence) => {
        this.log.warn({ id, fence }, 'lease lost: another origin runs this Space now');
        void registry.stop(id).finally(() => this.svc.hub.forget(id));
      },
      stillOurs: (id, fence) => this.placement.stillOurs(id, fence),
    });
    this.placement = new ClusterPlacement(this.leases, this.svc.storage, (id) => registry.dir(id));
    registry.placement = this.placement;
  }

  get originId(): string {
    return this.opts.originId;
  }

  start(): void {
    this.leases.start();
    const every = Math.max(250, Math.floor(this.opts.leaseMs / 5));
    this.sweepTimer = setInterval(() => void this.sweep(), every);
    this.sweepTimer.unref();
  }

  /**
   * Fastify onRequest hook (root): the forwarded client's address, then routing of Space paths to the
   * origin that runs the Space.
   */
  readonly onRequest = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> => {
    trustForwardedClient(req, this.key);
    const m = SPACE_PATH.exec(req.url);
    let kind: string;
    let id: string;
    if (m) {
      kind = m[1];
      id = m[2];
    } else {
      const of = this.opts.spaceOf
        ? await this.opts.spaceOf(req.method, req.url).catch(() => undefined)
        : undefined;
      if (!of) return;
      kind = 'api';
      id = of;
    }
    const registry = this.svc.registry;
    if (registry.runs(id) && this.leases.holds(id)) return;
    let owner: LeaseOwner | null;
    try {
      owner = await this.leases.owner(id);
    } catch {
      return; // Redis down: nobody can move anything; answer from what this origin has
    }
    // Only edges name an owner they could not reach (their origin fetches); clients cannot make an
    // origin hold their API requests this way.
    const unreachable = kind === 'origin/spaces' ? req.headers[OWNER_UNREACHABLE_HEADER] : undefined;
    if (owner && owner.originId !== this.originId && owner.url === unreachable)
      owner = await this.waitForNewOwner(id, owner);
    if (!owner || owner.originId === this.originId) {
      const s = await this.svc.storage.spaceById(id).catch(() => undefined);
      if (!s) return; // the route answers (404, or 503 if the store is down)
      if (s.state === 'live' && !registry.runs(id))
        owner = await this.adopt(s).catch((err: unknown) => {
          this.log.warn({ err, id }, 'could not adopt a Space');
          throw new TribuneError('SPACE_MOVING', 'it could not be started here');
        });
      else if (s.state === 'ended' && kind !== 'whip') await this.syncReplay(s);
      if (!owner || owner.originId === this.originId) return;
    }
    if (kind === 'origin/spaces')
      return reply
        .code(307)
        .header('location', owner.url + req.url)
        .header(OWNER_HEADER, owner.url)
        .header('cache-control', 'no-store')
        .send();
    if (req.headers[FORWARDED_BY]) throw new TribuneError('SPACE_MOVING', 'its origin changed meanwhile');
    forward(req, reply, {
      target: owner.url,
      originId: this.originId,
      key: this.key,
      agent: this.agent,
      timeoutMs: 10_000,
    });
    return reply;
  };

  /** Runs a live Space nobody runs here (resume from the shared data dir); null, or who won the race. */
  adopt(s: SpaceRecord): Promise<LeaseOwner | null> {
    let p = this.adopting.get(s.id);
    if (!p) {
      p = (async (): Promise<LeaseOwner | null> => {
        try {
          await this.svc.resume(s);
          this.log.info({ id: s.id }, 'running a live Space here (adopted)');
          return null;
        } catch (err) {
          if (isTribuneError(err) && err.code === 'SPACE_MOVING') return this.leases.owner(s.id);
          throw err;
        }
      })().finally(() => this.adopting.delete(s.id));
      this.adopting.set(s.id, p);
    }
    return p;
  }

  /**
   * Adopts every live Space whose lease nobody holds (the origin that ran it died or stopped). Keeps
   * a state document for the live Spaces other origins run (their lists show counts and stages:
   * every edge's reports reach every origin), refreshed from the database every ~5 s, dropped once
   * they end.
   */
  async sweep(): Promise<void> {
    if (this.sweeping || this.closed) return;
    this.sweeping = true;
    const refresh = this.sweeps++ % 10 === 0;
    try {
      const live = await this.svc.storage.listSpaces({ states: ['live'], limit: 100_000 });
      const registry = this.svc.registry;
      const hub = this.svc.hub;
      const elsewhere = live.filter((s) => !registry.runs(s.id));
      // One round trip for every owner, not one per Space.
      const owners = await this.leases.owners(elsewhere.map((s) => s.id));
      this.ownedElsewhere = new Set(elsewhere.filter((_, i) => owners[i] !== null).map((s) => s.id));
      for (const [i, s] of elsewhere.entries()) {
        if (this.closed) return;
        if (owners[i] === null)
          await this.adopt(s).catch((err: unknown) =>
            this.log.warn({ err, id: s.id }, 'could not adopt a Space'),
          );
        else if (refresh || !hub.has(s.id)) {
          await this.svc.openLiveState(s);
          this.shadows.add(s.id);
        }
      }
      // A shadow is dropped once its Space runs here (the real document) or is no longer live.
      const stillElsewhere = new Set(elsewhere.map((s) => s.id));
      for (const id of this.shadows) {
        if (stillElsewhere.has(id) && !registry.runs(id)) continue;
        this.shadows.delete(id);
        if (!registry.runs(id)) hub.forget(id);
      }
    } catch (err) {
      if (!(isTribuneError(err) && err.code === 'STORE_UNAVAILABLE'))
        this.log.warn({ err }, 'cluster sweep failed');
    } finally {
      this.sweeping = false;
    }
  }

  /** Whether another origin held Space `id`'s lease at the last sweep (its media runs there). */
  runsElsewhere(id: string): boolean {
    return this.ownedElsewhere.has(id);
  }

  /** Stops sweeping and gives back every lease (call after the media stopped: others take over at once). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweepTimer);
    await this.leases.close();
    this.agent.destroy();
  }

  /**
   * An ended Space's replay as the database says (any origin may have ended, trimmed or deleted it):
   * opened from the shared data dir on first use, its trim applied, forgotten once gone.
   */
  private async syncReplay(s: SpaceRecord): Promise<void> {
    const registry = this.svc.registry;
    const store = registry.store(s.id);
    if (s.replayState !== 'available') {
      if (store) registry.forget(s.id);
      return;
    }
    if (store) {
      if (store.ended && store.trimStartSec !== s.replayTrimStartSec)
        store.setTrimStartSec(s.replayTrimStartSec);
      return;
    }
    let p = this.replaysOpening.get(s.id);
    if (!p) {
      p = registry.openReplay(s.id, s.replayTrimStartSec).finally(() => this.replaysOpening.delete(s.id));
      this.replaysOpening.set(s.id, p);
    }
    await p.catch(() => undefined);
  }

  /** The owner an edge could not reach: wait (at most a lease) for its lease to expire or move. */
  private async waitForNewOwner(id: string, dead: LeaseOwner): Promise<LeaseOwner | null> {
    const deadline = Date.now() + this.opts.leaseMs + 1000;
    while (Date.now() < deadline && !this.closed) {
      await new Promise((r) => setTimeout(r, 100));
      const now = await this.leases.owner(id).catch(() => dead);
      if (!now || now.fence !== dead.fence) return now;
    }
    throw new TribuneError('SPACE_MOVING', 'its origin is unreachable');
  }
}
