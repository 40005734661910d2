/**
 * EdgeCache: in-memory, byte-bounded LRU with request collapsing. Pure logic (no I/O, injected clock).
 *
 * - Concurrent `get`s of one key share ONE load (in-flight map), also while the load is a blocking
 *   playlist request parked at the origin for seconds; all waiters receive the same entry object,
 *   hence the same Buffer: bodies are never copied per request.
 * - Freshness comes from the origin's Cache-Control: `no-store`/`no-cache`/`private` -> not stored,
 *   `s-maxage`/`max-age` -> that many seconds, `immutable` without max-age -> `immutableTtlMs`.
 *   4xx answers are stored for at most `negativeTtlMs`; 5xx (502/503/504 ...) are never stored,
 *   but are still shared by the waiters of the load that produced them.
 * - A waiter that passes an AbortSignal may leave; the shared load goes on for the others. When
 *   the last waiter leaves, the load's own signal is aborted (origin request cancelled).
 */

export interface CacheInput {
  status: number;
  contentType?: string;
  cacheControl?: string;
  /** The origin's `x-tribune-access` header (`signed-in` = listeners need a listen token). */
  access?: string;
  /** The origin's `x-tribune-space` header (the Space a clip belongs to). */
  space?: string;
  /** The origin's `x-tribune-geo-block` header (countries a Space is closed to). */
  geoBlock?: string;
  body: Buffer;
}

export interface CacheEntry {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly cacheControl: string | undefined;
  /** The origin's `x-tribune-access` header, kept so cache HITs are access-checked too. */
  readonly access: string | undefined;
  /** The origin's `x-tribune-space` header, kept so cached clips of sign-in Spaces are checked. */
  readonly space?: string;
  /** The origin's `x-tribune-geo-block` header, kept so cache HITs are geo-checked too. */
  readonly geoBlock?: string;
  readonly body: Buffer;
  /** Clock time the load finished (used for the Age header). */
  readonly storedAt: number;
  /** Clock time after which the entry is stale; equal to storedAt when not cacheable. */
  readonly expiresAt: number;
}

export type CacheOutcome = 'HIT' | 'MISS' | 'COLLAPSED';

export interface CacheResult {
  entry: CacheEntry;
  outcome: CacheOutcome;
}

export interface EdgeCacheOptions {
  /** Total budget: sum of body bytes + key bytes + ENTRY_OVERHEAD per entry. */
  maxBytes: number;
  /** Entries bigger than this are served but not stored. Default maxBytes / 4. */
  maxEntryBytes?: number;
  /** TTL of cacheable 4xx answers (capped by their own max-age). Default 1000 ms. */
  negativeTtlMs?: number;
  /** TTL for `immutable` without max-age. Default 1 h. */
  immutableTtlMs?: number;
  /** Abort the shared load once every waiter has left. Default true. */
  abortWhenAbandoned?: boolean;
  now?: () => number;
}

export interface CacheStats {
  entries: number;
  bytes: number;
  inflight: number;
  hits: number;
  misses: number;
  collapsed: number;
  evictions: number;
}

/** Bookkeeping bytes charged per entry on top of body and key (Map slot, object, strings). */
export const ENTRY_OVERHEAD = 128;

interface Flight {
  promise: Promise<CacheEntry>;
  waiters: number;
  controller: AbortController;
  /** Waiters that joined with a callback (see join), and the outcome each gets. */
  callbacks?: Map<JoinCallback, CacheOutcome>;
}

/** Called once when a joined load settles (`err` set on failure). */
export type JoinCallback = (err: unknown, result?: CacheResult) => void;

export class EdgeCache {
  private readonly entries = new Map<string, CacheEntry>(); // insertion order = LRU order
  private readonly inflight = new Map<string, Flight>();
  /** When a HIT last moved each entry to the young end (see hit()). */
  private readonly bumped = new WeakMap<CacheEntry, number>();
  private readonly maxBytes: number;
  private readonly maxEntryBytes: number;
  private readonly negativeTtlMs: number;
  private readonly immutableTtlMs: number;
  private readonly abortWhenAbandoned: boolean;
  private readonly now: () => number;
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private collapsed = 0;
  private evictions = 0;

  constructor(opts: EdgeCacheOptions) {
    if (!(opts.maxBytes >= 0)) throw new Error('EdgeCache maxBytes must be >= 0');
    this.maxBytes = opts.maxBytes;
    this.maxEntryBytes = opts.maxEntryBytes ?? Math.floor(opts.maxBytes / 4);
    this.negativeTtlMs = opts.negativeTtlMs ?? 1000;
    this.immutableTtlMs = opts.immutableTtlMs ?? 3_600_000;
    this.abortWhenAbandoned = opts.abortWhenAbandoned ?? true;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Fresh entry from memory (HIT), else joins the in-flight load for `key` (COLLAPSED), else
   * starts `load` (MISS). `signal` is this waiter's own: aborting it rejects only this waiter.
   */
  get(
    key: string,
    load: (signal: AbortSignal) => Promise<CacheInput>,
    signal?: AbortSignal,
  ): Promise<CacheResult> {
    const cached = this.peek(key);
    if (cached) {
      this.hits++;
      this.entries.delete(key); // move to most-recently-used
      this.entries.set(key, cached);
      return Promise.resolve({ entry: cached, outcome: 'HIT' });
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { flight: f, outcome } = this.flightFor(key, load);
    f.waiters++;
    if (!signal) return f.promise.then((entry) => ({ entry, outcome }));
    return new Promise<CacheResult>((resolve, reject) => {
      const onAbort = (): void => {
        reject(signal.reason);
        f.waiters--;
        if (f.waiters === 0 && this.abortWhenAbandoned) {
          if (this.inflight.get(key) === f) this.inflight.delete(key);
          f.controller.abort(signal.reason);
        }
      };
      signal.addEventListener('abort', onAbort, { once: true });
      f.promise.then(
        (entry) => {
          signal.removeEventListener('abort', onAbort);
          resolve({ entry, outcome });
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }

  /**
   * The fresh entry for `key` as a HIT (stats and LRU order updated), synchronously: the hot path
   * answers hits without a Promise or an AbortSignal. Undefined when it must load.
   */
  hit(key: string): CacheEntry | undefined {
    const cached = this.peek(key);
    if (!cached) return undefined;
    this.hits++;
    // Move to most-recently-used, at most once a second per entry: a hot object served 10,000
    // times a second need not churn the Map on every request to stay at the young end.
    const t = this.now();
    if (t - (this.bumped.get(cached) ?? -Infinity) >= 1000) {
      this.bumped.set(cached, t);
      this.entries.delete(key);
      this.entries.set(key, cached);
    }
    return cached;
  }

  /**
   * `get` for the hot path, without a Promise or an AbortSignal per waiter: joins the in-flight
   * load of `key` (or starts it) and calls `cb` once it settles. The returned function leaves: the
   * callback is then never called, and the load is cancelled when nobody waits any more. A fresh
   * entry answers synchronously (the callback runs before join returns).
   */
  join(key: string, load: (signal: AbortSignal) => Promise<CacheInput>, cb: JoinCallback): () => void {
    const cached = this.hit(key);
    if (cached) {
      cb(null, { entry: cached, outcome: 'HIT' });
      return noop;
    }
    const { flight: f, outcome } = this.flightFor(key, load);
    f.waiters++;
    if (!f.callbacks) {
      const callbacks = new Map<JoinCallback, CacheOutcome>();
      f.callbacks = callbacks;
      f.promise.then(
        (entry) => {
          for (const [fn, o] of callbacks) fn(null, { entry, outcome: o });
          callbacks.clear();
        },
        (err: unknown) => {
          for (const fn of callbacks.keys()) fn(err);
          callbacks.clear();
        },
      );
    }
    f.callbacks.set(cb, outcome);
    return () => {
      if (!f.callbacks?.delete(cb)) return;
      f.waiters--;
      if (f.waiters === 0 && this.abortWhenAbandoned) {
        if (this.inflight.get(key) === f) this.inflight.delete(key);
        f.controller.abort(new Error('every waiter left'));
      }
    };
  }

  /** The fresh entry for `key`, without touching LRU order or stats. */
  peek(key: string): CacheEntry | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (this.now() < e.expiresAt) return e;
    this.remove(key, e);
    return undefined;
  }

  delete(key: string): boolean {
    const e = this.entries.get(key);
    if (e) this.remove(key, e);
    return e !== undefined;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  stats(): CacheStats {
    return {
      entries: this.entries.size,
      bytes: this.bytes,
      inflight: this.inflight.size,
      hits: this.hits,
      misses: this.misses,
      collapsed: this.collapsed,
      evictions: this.evictions,
    };
  }

  /** Milliseconds an answer may be stored, from its status and Cache-Control (0 = do not store). */
  ttlFor(status: number, cacheControl: string | undefined): number {
    if (status >= 500 || status < 200) return 0;
    const cc = parseCacheControl(cacheControl);
    if (cc.noStore) return 0;
    const maxAgeMs = cc.maxAge === undefined ? undefined : cc.maxAge * 1000;
    if (status >= 400) return Math.min(this.negativeTtlMs, maxAgeMs ?? this.negativeTtlMs);
    if (maxAgeMs !== undefined) return maxAgeMs;
    return cc.immutable ? this.immutableTtlMs : 0;
  }

  /** The load in flight for `key` (COLLAPSED), or a new one (MISS). */
  private flightFor(
    key: string,
    load: (signal: AbortSignal) => Promise<CacheInput>,
  ): { flight: Flight; outcome: CacheOutcome } {
    const flight = this.inflight.get(key);
    if (flight) {
      this.collapsed++;
      return { flight, outcome: 'COLLAPSED' };
    }
    this.misses++;
    return { flight: this.start(key, load), outcome: 'MISS' };
  }

  private start(key: string, load: (signal: AbortSignal) => Promise<CacheInput>): Flight {
    const controller = new AbortController();
    const flight: Flight = { promise: undefined as unknown as Promise<CacheEntry>, waiters: 0, controller };
    flight.promise = (async () => {
      try {
        const input = await load(controller.signal);
        const storedAt = this.now();
        const entry: CacheEntry = {
          status: input.status,
          contentType: input.contentType,
          cacheControl: input.cacheControl,
          access: input.access,
          space: input.space,
          geoBlock: input.geoBlock,
          body: input.body,
          storedAt,
          expiresAt: storedAt + this.ttlFor(input.status, input.cacheControl),
        };
        // Only the still-current flight may store (an abandoned one was replaced or cancelled).
        if (this.inflight.get(key) === flight && entry.expiresAt > storedAt) this.store(key, entry);
        return entry;
      } finally {
        if (this.inflight.get(key) === flight) this.inflight.delete(key);
      }
    })();
    flight.promise.catch(() => undefined); // waiters may all have left: never an unhandled rejection
    this.inflight.set(key, flight);
    return flight;
  }

  private store(key: string, entry: CacheEntry): void {
    const size = entrySize(key, entry);
    if (size > this.maxEntryBytes || size > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old) this.remove(key, old);
    this.entries.set(key, entry);
    this.bytes += size;
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.remove(k, e);
      this.evictions++;
    }
  }

  private remove(key: string, e: CacheEntry): void {
    this.entries.delete(key);
    this.bytes -= entrySize(key, e);
  }
}

function noop(): void {}

export function entrySize(key: string, e: { body: Buffer }): number {
  return e.body.length + key.length * 2 + ENTRY_OVERHEAD;
}

export function parseCacheControl(v: string | undefined): {
  maxAge?: number;
  noStore: boolean;
  immutable: boolean;
} {
  const out: { maxAge?: number; noStore: boolean; immutable: boolean } = { noStore: false, immutable: false };
  if (!v) return out;
  let sMaxAge: number | undefined;
  for (const raw of v.split(',')) {
    const [name, value] = raw.trim().toLowerCase().split('=', 2) as [string, string | undefined];
    const seconds =
      value !== undefined && /^"?\d+"?$/.test(value) ? Number(value.replace(/"/g, '')) : undefined;
    if (name === 'no-store' || name === 'no-cache' || name === 'private') out.noStore = true;
    else if (name === 'immutable') out.immutable = true;
    else if (name === 'max-age' && seconds !== undefined) out.maxAge = seconds;
    else if (name === 's-maxage' && seconds !== undefined) sMaxAge = seconds;
  }
  if (sMaxAge !== undefined) out.maxAge = sMaxAge; // shared caches prefer s-maxage
  return out;
}
