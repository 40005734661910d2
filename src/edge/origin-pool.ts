/**
 * OriginPool: the edge's OriginLoader when it may talk to several origins (`--origin URL[,URL...]`).
 *
 * A live Space's media runs on exactly one origin (its lease owner). An origin asked for
 * `/origin/spaces/:id/...` of a Space another origin owns answers `307` with
 * `x-tribune-owner: <ownerBase>`; the pool then asks the owner for the same path (at most
 * MAX_REDIRECTS hops) and remembers the owner per Space, so later fetches go straight to it.
 *
 * - Which configured origin: the first healthy one, in the configured order. A stable choice keeps
 *   the per-Space owner memo enough: a Space owned by that origin is answered directly (no memo
 *   needed), others cost one redirect per Space, then go straight to their owner. Round-robin
 *   would send every other fetch of an un-memoed Space through a redirect.
 * - A connection error (refused, reset, unreachable) marks that origin down for DOWN_MS, forgets
 *   every owner memo pointing to it, and the same fetch goes on with the next configured origin
 *   (healthy ones first; down marks are hints: when all are down they are still tried). A timeout
 *   is not retried. One deadline (`timeoutMs`) covers the whole fetch, retries included.
 * - Owner origins learned from redirects get their own HttpOriginLoader, created on first use
 *   (http(s) base URLs only, at most MAX_OWNER_LOADERS beyond the configured ones).
 * - After a connection error, the next requests of that fetch name the origin that failed in
 *   `x-tribune-owner-unreachable`: an origin whose lease table still names that (dead) owner then
 *   waits for the lease to expire and the Space to move (src/cluster/cluster.ts) instead of sending
 *   the edge back to it.
 * - A 503 SPACE_MOVING from a remembered owner (it lost the Space to another origin) forgets it
 *   and asks a configured origin again, once.
 * - Anything else (200, 404, 503 SPACE_MOVING from a configured origin...) is returned as sent.
 *
 * With one configured origin and no redirects a fetch costs one Map lookup more than a bare
 * HttpOriginLoader and sends the same requests.
 */
import { register as defaultRegistry, type Counter } from 'prom-client';
import { originUrls } from '../config.js';
import { TribuneError } from '../errors.js';
import {
  counterIn,
  HttpOriginLoader,
  isOriginConnectionError,
  type HttpOriginLoaderOptions,
  type OriginLoader,
  type OriginResponse,
} from './origin-loader.js';

export const MAX_REDIRECTS = 2;
const MAX_OWNER_LOADERS = 64;
const MAX_OWNER_MEMO = 10_000;
export const DOWN_MS = 1000;

/** `http://host:port[/prefix]` without trailing slashes; undefined unless an http(s) URL. */
function normalizeBase(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

/** `/origin/spaces/<id>/...` -> `<id>`; undefined for other paths. */
export function spaceIdOf(path: string): string | undefined {
  const prefix = '/origin/spaces/';
  if (!path.startsWith(prefix)) return undefined;
  const end = path.indexOf('/', prefix.length);
  const id = end === -1 ? path.slice(prefix.length).split('?')[0] : path.slice(prefix.length, end);
  return id ? id : undefined;
}

export interface OriginPoolOptions extends HttpOriginLoaderOptions {
  /** Clock for down marks (tests). Default Date.now. */
  now?: () => number;
}

export class OriginPool implements OriginLoader {
  /** Configured bases, normalized, in order. */
  readonly bases: readonly string[];
  private readonly loaders = new Map<string, HttpOriginLoader>();
  /** Space id -> owner base (insertion order: the oldest is dropped when full). */
  private readonly owners = new Map<string, string>();
  private readonly downUntil = new Map<string, number>();
  private readonly opts: OriginPoolOptions;
  private readonly now: () => number;
  private readonly redirectCounter: Counter;
  private readonly failoverCounter: Counter;
  private closed = false;
  /** Counts of the owner loaders dropped (see retire). */
  private readonly retired = { fetches: 0, errors: 0 };

  /** Origins with a connection pool now: the configured ones and the owners in use (tests). */
  get poolCount(): number {
    return this.loaders.size;
  }

  constructor(originUrl: string | readonly string[], opts: OriginPoolOptions) {
    const list = typeof originUrl === 'string' ? originUrls(originUrl) : originUrl;
    const bases: string[] = [];
    for (const url of list) {
      const base = normalizeBase(url);
      if (!base) throw new Error(`origin URL must be http(s), got ${url}`);
      if (!bases.includes(base)) bases.push(base);
    }
    if (bases.length === 0) throw new Error('OriginPool needs at least one origin URL');
    this.bases = bases;
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    for (const base of bases) this.loaders.set(base, new HttpOriginLoader(base, opts));
    const registry = opts.registry ?? defaultRegistry;
    this.redirectCounter = counterIn(
      registry,
      'tribune_edge_origin_redirects_total',
      'Origin redirects to the origin owning a Space followed by the edge',
    );
    this.failoverCounter = counterIn(
      registry,
      'tribune_edge_origin_failovers_total',
      'Origin fetches retried on another origin after a connection error',
    );
  }

  /** Origin requests started / failed, all origins together. */
  get fetches(): number {
    let n = this.retired.fetches;
    for (const l of this.loaders.values()) n += l.fetches;
    return n;
  }

  get errors(): number {
    let n = this.retired.errors;
    for (const l of this.loaders.values()) n += l.errors;
    return n;
  }

  /** The owner remembered for a Space (tests, diagnostics). */
  ownerOf(spaceId: string): string | undefined {
    return this.owners.get(spaceId);
  }

  async fetch(path: string, signal?: AbortSignal): Promise<OriginResponse> {
    const deadline = Date.now() + this.opts.timeoutMs;
    const id = spaceIdOf(path);
    let base = (id !== undefined && this.owners.get(id)) || this.pick(undefined)!;
    let tried: Set<string> | undefined;
    let redirects = 0;
    let unreachable: string | undefined;
    let movedRetry = false;
    for (;;) {
      let res: OriginResponse;
      try {
        res = await this.loaderFor(base).fetchUntil(path, deadline, signal, unreachable);
      } catch (err) {
        if (!isOriginConnectionError(err) || this.closed || Date.now() >= deadline) throw err;
        this.markDown(base);
        unreachable = base;
        (tried ??= new Set()).add(base);
        const next = this.pick(tried);
        if (next === undefined) throw err;
        this.failoverCounter.inc();
        base = next;
        continue;
      }
      if (
        res.status === 503 &&
        !movedRetry &&
        id !== undefined &&
        this.owners.get(id) === base &&
        res.body.includes('SPACE_MOVING')
      ) {
        movedRetry = true;
        this.owners.delete(id);
        base = this.pick(undefined)!;
        continue;
      }
      if (res.status !== 307 && res.status !== 308) return res;
      const { owner, location } = res.headers;
      const ownerBase =
        location !== undefined && ownerBaseOf(location) === undefined
          ? undefined // a Location the edge will not follow (ftp:, javascript:, garbage)
          : ownerBaseOf(owner ?? location ?? '');
      if (ownerBase === undefined || redirects >= MAX_REDIRECTS) {
        if (id !== undefined) this.owners.delete(id);
        throw new TribuneError(
          'ORIGIN_UNAVAILABLE',
          ownerBase === undefined ? 'origin redirect without a usable owner' : 'too many origin redirects',
        );
      }
      redirects++;
      this.redirectCounter.inc();
      if (id !== undefined) this.remember(id, ownerBase);
      base = ownerBase;
    }
  }

  /** Closes every origin connection pool; fetches in flight fail with ORIGIN_UNAVAILABLE. */
  close(): void {
    this.closed = true;
    for (const l of this.loaders.values()) l.close();
  }

  /** The first configured base not in `exclude` that is not marked down, else the first not excluded. */
  private pick(exclude: Set<string> | undefined): string | undefined {
    const bases = this.bases;
    if (bases.length === 1 && exclude === undefined) return bases[0];
    let fallback: string | undefined;
    const now = this.now();
    for (const b of bases) {
      if (exclude?.has(b)) continue;
      const until = this.downUntil.get(b);
      if (until === undefined || until <= now) return b;
      fallback ??= b;
    }
    return fallback;
  }

  private markDown(base: string): void {
    if (!this.retire(base)) {
      this.downUntil.set(base, this.now() + DOWN_MS);
      for (const [id, owner] of this.owners) if (owner === base) this.owners.delete(id);
    }
  }

  /**
   * Drops an owner origin learned from a redirect (not a configured one): its loader, its down
   * mark, the Spaces remembered on it. An owner that failed, or the oldest when MAX_OWNER_LOADERS
   * are in use, so that a long-lived edge keeps following owners as origins come and go.
   */
  private retire(base: string): boolean {
    const loader = this.loaders.get(base);
    if (!loader || this.bases.includes(base)) return false;
    this.retired.fetches += loader.fetches;
    this.retired.errors += loader.errors;
    loader.close();
    this.loaders.delete(base);
    this.downUntil.delete(base);
    for (const [id, owner] of this.owners) if (owner === base) this.owners.delete(id);
    return true;
  }

  private remember(id: string, owner: string): void {
    this.owners.delete(id);
    if (this.owners.size >= MAX_OWNER_MEMO) this.owners.delete(this.owners.keys().next().value!);
    this.owners.set(id, owner);
  }

  private loaderFor(base: string): HttpOriginLoader {
    let loader = this.loaders.get(base);
    if (loader) return loader;
    if (this.closed) throw new TribuneError('ORIGIN_UNAVAILABLE', 'edge is shutting down');
    if (this.loaders.size >= this.bases.length + MAX_OWNER_LOADERS)
      for (const oldest of this.loaders.keys()) if (this.retire(oldest)) break;
    loader = new HttpOriginLoader(base, this.opts);
    this.loaders.set(base, loader);
    return loader;
  }
}

/** An owner as the origin names it (`x-tribune-owner`, or a Location URL): its `scheme://host:port`. */
function ownerBaseOf(value: string): string | undefined {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  if (u.username || u.password) return undefined;
  return `${u.protocol}//${u.host}`;
}
