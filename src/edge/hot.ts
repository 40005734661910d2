/**
 * The edge's listener hot path on bare `node:http`: every `GET`/`HEAD` under `/hls/spaces/:id/…`
 * and `/hls/clips/:id/…` (LL-HLS objects, the live state document, the public Space view, and the
 * one-response stream `stream.mp4`). Fastify keeps the control routes (POST leave/reactions,
 * OPTIONS, /metrics); this handler runs first in the server's request callback.
 *
 * Why: a profile of the fastify route under load was flat framework overhead (request/reply
 * objects, hooks, an AbortController per request even for cache hits, header building). Here a
 * cache HIT is answered synchronously with headers prebuilt per cache entry: no Promise, no
 * AbortController, no per-request allocation beyond Node's own. Misses take the slower async path
 * with a per-listener abort signal, sharing one origin load (EdgeCache).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Counter, Gauge, register as defaultRegistry, type Registry } from 'prom-client';
import { isTribuneError, TribuneError } from '../errors.js';
import { isSignedIn, ListenAccess } from '../live/edge-access.js';
import type { EdgeLive } from '../live/edge-live.js';
import { LISTEN_TOKEN_HEADER } from '../live/types.js';
import type { AdmissionGate, GateRefusal } from './admission/gate.js';
import { ADMIT_FILE, admitBody, hasRehearsal, operatorGet, parseAdmitQuery } from './admission/http.js';
import { ADMISSION_HEADER } from './admission/tokens.js';
import type { CacheEntry, CacheInput, EdgeCache } from './cache.js';
import { fetchCacheInput, type OriginLoader } from './origin-loader.js';
import {
  LID_RE,
  parseClipPath,
  parseEdgePath,
  parseStateRequest,
  privateCacheControl,
  LISTENERS_FILE,
  parseListenersQuery,
  SPACE_ID_RE,
  STATE_FILE,
  STREAM_FILE,
} from './paths.js';
import { RawResponse, type RawRequest } from './raw-http.js';
import { capSendBuffer } from './sndbuf.js';
import { StreamFeeds } from './stream-feed.js';
import { StreamHub, type StreamHubOptions, type StreamListener } from './stream-hub.js';
import type { EdgeDefence } from './defence/shield.js';
import { admissionFromCookie } from './defence/nojs.js';
import type { PatternKind, RequestClass } from './defence/types.js';
import { noJs } from './defence/nojs-route.js';

export interface EdgeHandlerOptions {
  loader: OriginLoader;
  cache: EdgeCache;
  /** Path prefix on the origin. Default `/origin/spaces`. */
  originPrefix?: string;
  /** Path prefix of clips on the origin. Default `/origin/clips`. */
  originClipsPrefix?: string;
  registry?: Registry;
  /** Clock for the Age header; use the cache's clock. Default Date.now. */
  now?: () => number;
  /** Add `Access-Control-Allow-Origin: *`. Default true. */
  cors?: boolean;
  /** Live state (listener counting, listen tokens). Without it, sign-in Spaces are refused to all. */
  live?: EdgeLive;
  /** Stream delivery (batch steps, slow-listener cut, per-address cap, kernel send buffer). */
  stream?: StreamHubOptions & { sendBufferBytes?: number };
  /** Take the client address from X-Forwarded-For (only behind a proxy you run). Default false. */
  trustProxy?: boolean;
  /** Admission (capacity, waiting room). Without it every listener is let in. */
  admission?: AdmissionGate;
  /** Flood limits, under-attack mode, brownout, telemetry (src/edge/defence). Without it: none. */
  defence?: EdgeDefence;
  log?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

/** What the hot path reads of a request: Node's IncomingMessage, or the raw front's. */
export type HotRequest = Pick<IncomingMessage, 'url' | 'method' | 'headers' | 'socket'> | RawRequest;

/** A cached 'scheduled' state older than this is read again before a stream is refused. */
const STATE_RECHECK_MS = 100;

/** What the hot path uses of a response: Node's ServerResponse, or the raw front's RawResponse. */
export interface HotResponse {
  writeHead(status: number, headers: string[]): unknown;
  end(body?: Buffer): unknown;
  flushHeaders(): void;
  once(event: 'close', fn: () => void): unknown;
  removeListener(event: 'close', fn: () => void): unknown;
  readonly writableEnded: boolean;
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  destroy(): unknown;
  readonly socket: Socket | null;
}

export interface EdgeHandler {
  /** Answers the request and returns true when it is a listener path; false = not mine. */
  handle(req: HotRequest, res: HotResponse): boolean;
  readonly hub: StreamHub;
  readonly feeds: StreamFeeds;
  readonly admission: AdmissionGate | undefined;
  readonly defence: EdgeDefence | undefined;
  /** Ends every stream (as at a Space's end) and stops the feeds. */
  close(): void;
}

const PREFIX_SPACES = '/hls/spaces/';
const PREFIX_CLIPS = '/hls/clips/';
const VIEW_FILE = 'view.json';
/** The no-JavaScript listening path (src/edge/defence/nojs.ts). */
const NOJS_FILE = 'nojs';
/** Stream listeners are counted as listeners this often (the counter's window is 5 s). */
const STREAM_COUNT_INTERVAL_MS = 2000;
const CONTENT_JSON = 'application/json; charset=utf-8';

/** A JSON error answer in Tribune's shape, its headers and body prebuilt. */
interface PreparedError {
  status: number;
  headers: string[];
  body: Buffer;
}

function prepareError(err: TribuneError, cors: boolean, extra: string[] = []): PreparedError {
  const body = Buffer.from(JSON.stringify(err.toJSON()));
  const headers = [
    'content-type',
    CONTENT_JSON,
    'cache-control',
    'no-store',
    'content-length',
    String(body.length),
  ];
  if (cors) headers.push('access-control-allow-origin', '*');
  headers.push(...extra);
  return { status: err.status, headers, body };
}

/** Counters kept as plain numbers on the hot path and read by prom-client at scrape time. */
function scrapeCounter(registry: Registry, name: string, help: string, read: () => number): void {
  const existing = registry.getSingleMetric(name);
  if (existing) registry.removeSingleMetric(name);
  let reported = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const v = read();
      if (v > reported) this.inc(v - reported);
      reported = v;
    },
  });
}

export function createEdgeHandler(opts: EdgeHandlerOptions): EdgeHandler {
  const { loader, cache, live } = opts;
  const originPrefix = (opts.originPrefix ?? '/origin/spaces').replace(/\/+$/, '');
  const clipsPrefix = (opts.originClipsPrefix ?? '/origin/clips').replace(/\/+$/, '');
  const now = opts.now ?? Date.now;
  const cors = opts.cors ?? true;
  const access = live?.access ?? new ListenAccess();
  const liveNow = (): number => (live ? live.now() : Date.now());
  const registry = opts.registry ?? defaultRegistry;
  const gate = opts.admission;
  const defence = opts.defence;
  defence?.attach(gate);

  /**
   * What the request being answered is, for the defence telemetry: set while its synchronous part
   * runs (reject/refuse/unauthorized and the routes write it), read once at the end of handle().
   */
  const cur: {
    req: HotRequest | undefined;
    cls: RequestClass;
    kind: PatternKind;
    blocking: boolean;
    admission: string | undefined;
  } = { req: undefined, cls: 'control', kind: 'other', blocking: false, admission: undefined };
  const BAD_TOKEN_CODES = new Set([
    'ADMISSION_INVALID',
    'ADMISSION_EXPIRED',
    'ADMISSION_REPLAYED',
    'TICKET_INVALID',
    'TICKET_EXPIRED',
    'TICKET_REPLAYED',
    'POW_INVALID',
    'POW_EXPIRED',
    'POW_WRONG_SPACE',
    'POW_INSUFFICIENT',
    'POW_REPLAYED',
  ]);

  const n = {
    requests: 0,
    hits: 0,
    misses: 0,
    collapsed: 0,
    rejected: 0,
    failed: 0,
    bytes: 0,
    unauthorized: 0,
  };
  const counters: [keyof typeof n, string, string][] = [
    ['requests', 'requests_total', 'HLS requests received by the edge'],
    ['hits', 'cache_hits_total', 'HLS requests answered from the edge cache'],
    ['misses', 'cache_misses_total', 'HLS requests that started an origin load'],
    ['collapsed', 'cache_collapsed_total', 'HLS requests that joined an origin load already in flight'],
    ['rejected', 'rejected_requests_total', 'HLS requests refused by validation (no origin fetch)'],
    ['failed', 'failed_requests_total', 'HLS requests answered 502 because the origin failed'],
    ['bytes', 'bytes_served_total', 'HLS body bytes sent to listeners'],
    ['unauthorized', 'unauthorized_requests_total', 'Requests refused for want of a valid listen token'],
  ];
  for (const [k, name, help] of counters) scrapeCounter(registry, `tribune_edge_${name}`, help, () => n[k]);

  const hub = new StreamHub(opts.stream);
  const sendBufferBytes = opts.stream?.sendBufferBytes ?? 4096;
  const loadOrigin = (path: string, signal: AbortSignal): Promise<CacheInput> =>
    fetchCacheInput(loader, path, signal);
  const feeds = new StreamFeeds({
    hub,
    cached: async (key, signal) =>
      (await cache.get(key, (s) => loadOrigin(`${originPrefix}/${key}`, s), signal)).entry,
    direct: async (key, signal) => {
      const input = await loadOrigin(`${originPrefix}/${key}`, signal);
      return { ...input, storedAt: now(), expiresAt: now() } as CacheEntry;
    },
    log: opts.log,
  });
  for (const [name, help, read] of [
    ['stream_listeners', 'Stream-mode listeners connected to this edge', () => hub.listeners],
    [
      'stream_parts_per_write',
      'Parts per write to each stream listener at the current load',
      () => hub.batch,
    ],
    ['stream_feeds', 'Spaces this edge follows for stream listeners', () => feeds.size],
  ] as const) {
    if (registry.getSingleMetric(`tribune_edge_${name}`)) registry.removeSingleMetric(`tribune_edge_${name}`);
    new Gauge({
      name: `tribune_edge_${name}`,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  }
  scrapeCounter(
    registry,
    'tribune_edge_stream_writes_total',
    'Writes to stream listeners',
    () => hub.stats().writes,
  );
  scrapeCounter(
    registry,
    'tribune_edge_stream_cut_total',
    'Stream listeners cut for falling behind',
    () => hub.stats().cut,
  );
  scrapeCounter(
    registry,
    'tribune_edge_stream_skipped_parts_total',
    'Parts a stream feed skipped to stay at the live edge after falling behind (an overloaded edge)',
    () => feeds.skipped,
  );

  // Stream listeners count as listeners like pollers of the state document (same window, by lid).
  const countTimer = live
    ? setInterval(() => {
        const t = live.now();
        for (const id of hub.activeSpaces())
          for (const l of hub.listenersOf(id)) live.listeners.seen(id, l.lid, l.userId, t);
      }, STREAM_COUNT_INTERVAL_MS)
    : undefined;
  countTimer?.unref();

  // Refusals are prebuilt per message (and extra headers), and on the raw front per second as
  // whole answers: a refused request costs no more than a cache HIT (issue 9).
  type Prepared = PreparedError & { wire?: { key: number; bytes: Buffer; headLength: number } };
  const errors = new Map<string, Prepared>();
  const sendPrepared = (res: HotResponse, p: Prepared): true => {
    if (res instanceof RawResponse && res.keepAlive) {
      const sec = res.dateSecond();
      if (!p.wire || p.wire.key !== sec) {
        const head = res.headFor(p.status, p.headers);
        const bytes = Buffer.allocUnsafeSlow(head.length + p.body.length);
        head.copy(bytes, 0);
        p.body.copy(bytes, head.length);
        p.wire = { key: sec, bytes, headLength: head.length };
      }
      res.sendPrebuilt(p.wire.bytes, p.wire.headLength);
      return true;
    }
    res.writeHead(p.status, p.headers);
    res.end(p.body);
    return true;
  };
  const sendError = (res: HotResponse, err: TribuneError, extra?: string[]): true => {
    const key = extra ? `${err.message}\n${extra.join('\n')}` : err.message;
    let p = errors.get(key);
    if (!p) {
      p = prepareError(err, cors, extra);
      if (errors.size < 256) errors.set(key, p);
    }
    return sendPrepared(res, p);
  };
  /** The gate's refusals are shared objects (a full edge): each prepared once. */
  const refusals = new WeakMap<GateRefusal, Prepared>();
  const reject = (res: HotResponse, err: TribuneError): true => {
    n.rejected++;
    cur.cls = BAD_TOKEN_CODES.has(err.code) ? 'bad_token' : err.status === 429 ? 'refused' : 'unknown_path';
    return sendError(res, err);
  };
  const refuse = (res: HotResponse, r: GateRefusal): true => {
    n.rejected++;
    cur.cls = BAD_TOKEN_CODES.has(r.error.code) ? 'bad_token' : 'refused';
    let p = refusals.get(r);
    if (!p) {
      p = prepareError(r.error, cors, r.retryAfterSec ? ['retry-after', String(r.retryAfterSec)] : undefined);
      refusals.set(r, p);
    }
    return sendPrepared(res, p);
  };
  const sendJson = (res: HotResponse, status: number, body: unknown, extra: string[] = []): true => {
    const b = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const h = ['content-type', CONTENT_JSON, 'cache-control', 'no-store', 'content-length', String(b.length)];
    if (cors) h.push('access-control-allow-origin', '*');
    res.writeHead(status, [...h, ...extra]);
    res.end(b);
    return true;
  };
  const unauthorized = (res: HotResponse): true => {
    n.unauthorized++;
    cur.cls = 'bad_token';
    return sendError(res, new TribuneError('LISTEN_TOKEN_REQUIRED'));
  };

  // Headers per cache entry (public and private variants), built once.
  const prebuilt = new WeakMap<CacheEntry, string[]>();
  const prebuiltPrivate = new WeakMap<CacheEntry, string[]>();
  const headersOf = (entry: CacheEntry, signedIn: boolean): string[] => {
    const map = signedIn ? prebuiltPrivate : prebuilt;
    let h = map.get(entry);
    if (!h) {
      h = ['content-type', entry.contentType ?? 'application/octet-stream'];
      const cc = signedIn ? privateCacheControl(entry.cacheControl) : entry.cacheControl;
      if (cc) h.push('cache-control', cc);
      h.push('content-length', String(entry.body.length));
      if (cors) h.push('access-control-allow-origin', '*');
      map.set(entry, h);
    }
    return h;
  };
  // Raw-front HITs: the whole answer (head and body) prebuilt once per object and second.
  const wire = new WeakMap<CacheEntry, { key: string; bytes: Buffer; headLength: number }>();
  const sendEntry = (res: HotResponse, entry: CacheEntry, outcome: string, signedIn: boolean): void => {
    const age = Math.max(0, Math.floor((now() - entry.storedAt) / 1000));
    n.bytes += entry.body.length;
    if (res instanceof RawResponse && res.keepAlive) {
      // Also for MISS and COLLAPSED: 2,000 players woken by one blocking reload share one build.
      const key = `${res.dateSecond()}|${age}|${signedIn ? 1 : 0}|${outcome}`;
      let w = wire.get(entry);
      if (!w || w.key !== key) {
        const head = res.headFor(entry.status, [
          ...headersOf(entry, signedIn),
          'age',
          String(age),
          'x-cache',
          outcome,
        ]);
        const bytes = Buffer.allocUnsafeSlow(head.length + entry.body.length);
        head.copy(bytes, 0);
        entry.body.copy(bytes, head.length);
        w = { key, bytes, headLength: head.length };
        wire.set(entry, w);
      }
      res.sendPrebuilt(w.bytes, w.headLength);
      return;
    }
    res.writeHead(entry.status, [...headersOf(entry, signedIn), 'age', String(age), 'x-cache', outcome]);
    res.end(entry.body); // the one shared Buffer: no per-request copy
  };

  const authorize = (
    spaceId: string,
    entry: CacheEntry | undefined,
    token: string | undefined,
    isStateDoc = false,
  ): { ok: boolean; signedIn: boolean; userId: string | undefined; expiresAtMs?: number } => {
    if (entry) access.note(spaceId, entry.status, entry.access, entry.storedAt, isStateDoc);
    const signedIn = access.requiresToken(spaceId) || isSignedIn(entry?.access);
    if (!signedIn && token === undefined) return { ok: true, signedIn, userId: undefined };
    const check = token !== undefined ? access.check(spaceId, token, liveNow()) : { ok: false as const };
    if (!check.ok) return { ok: !signedIn, signedIn, userId: undefined };
    return {
      ok: true,
      signedIn,
      userId: check.userId,
      expiresAtMs: signedIn ? check.expiresAtMs : undefined,
    };
  };

  const tokenOf = (req: HotRequest, rawQuery: string): string | undefined => {
    if (rawQuery.includes('token=')) {
      const q = new URLSearchParams(rawQuery).get('token');
      if (q) return q;
    }
    const h = req.headers[LISTEN_TOKEN_HEADER];
    return typeof h === 'string' && h ? h : undefined;
  };

  const admissionOf = (req: HotRequest, rawQuery: string): string | undefined => {
    if (cur.req === req) return cur.admission; // read once per request by handle()
    if (rawQuery.includes('admission=')) {
      const q = new URLSearchParams(rawQuery).get('admission');
      if (q) return q;
    }
    const h = req.headers[ADMISSION_HEADER];
    if (typeof h === 'string' && h) return h;
    // The no-JavaScript player's admission travels in a cookie (nojs.ts).
    const c = req.headers.cookie;
    return typeof c === 'string' ? admissionFromCookie(c) : undefined;
  };

  const addressOf = (req: HotRequest): string => {
    if (opts.trustProxy) {
      const xff = req.headers['x-forwarded-for'];
      const first = (Array.isArray(xff) ? xff[0] : xff)?.split(',')[0]?.trim();
      if (first) return first;
    }
    return req.socket.remoteAddress ?? 'unknown';
  };

  type Loaded = { entry: CacheEntry; outcome: string };

  /**
   * The object for `key`: a HIT is answered synchronously; otherwise the request joins the shared
   * origin load (one per key) and leaves it if the listener hangs up. `then` runs once the object
   * is there; an origin failure is answered here (502 / the origin's error). `otherwise` runs
   * instead of `then` when the load failed or the listener hung up.
   */
  const lookup = (
    res: HotResponse,
    key: string,
    path: string,
    then: (loaded: Loaded) => void,
    otherwise?: () => void,
  ): void => {
    const entry = cache.hit(key);
    if (entry) {
      n.hits++;
      then({ entry, outcome: 'HIT' });
      return;
    }
    const onClose = (): void => {
      if (res.writableEnded) return;
      leave(); // this listener is gone; the load goes on for the others
      otherwise?.();
    };
    res.once('close', onClose);
    const leave = cache.join(
      key,
      (signal) => loadOrigin(path, signal),
      (err, result) => {
        res.removeListener('close', onClose);
        if (err || !result) {
          n.failed++;
          if (isTribuneError(err)) sendError(res, err);
          else {
            opts.log?.error({ err, path }, 'edge load failed');
            sendError(res, new TribuneError('ORIGIN_UNAVAILABLE'));
          }
          otherwise?.();
          return;
        }
        if (result.outcome === 'MISS') n.misses++;
        else if (result.outcome === 'COLLAPSED') n.collapsed++;
        else n.hits++;
        try {
          then(result);
        } catch (e) {
          fail(res, e);
        }
      },
    );
  };

  /** lookup as a Promise (stream requests): null when the load failed (answered) or the listener left. */
  const lookupAsync = (res: HotResponse, key: string, path: string): Promise<Loaded | null> =>
    new Promise((resolve) => lookup(res, key, path, resolve, () => resolve(null)));

  /** Answers an object of a Space once loaded: access check, listener counting, the bytes. */
  const finishSpace = (
    res: HotResponse,
    id: string,
    loaded: Loaded,
    token: string | undefined,
    isState: boolean,
    lid: string | undefined,
  ): void => {
    const { entry, outcome } = loaded;
    const auth = authorize(id, entry, token, isState);
    if (!auth.ok) {
      unauthorized(res);
      return;
    }
    // A player counts once the edge has answered it with the doc of a Space that exists.
    if (lid !== undefined && live && entry.status >= 200 && entry.status < 300)
      live.listeners.seen(id, lid, auth.userId, live.now());
    sendEntry(res, entry, outcome, auth.signedIn);
  };

  const spaceObject = (
    req: HotRequest,
    res: HotResponse,
    id: string,
    file: string,
    rawQuery: string,
  ): true => {
    let key: string;
    let lid: string | undefined;
    const isState = file === STATE_FILE;
    cur.kind = isState || file === VIEW_FILE ? 'state' : file.endsWith('.m3u8') ? 'playlist' : 'part';
    if (isState) {
      const st = parseStateRequest(id, rawQuery);
      if (!st.ok) return reject(res, st.error);
      key = `${st.id}/${STATE_FILE}${st.query}`;
      lid = st.lid;
      // Brownout tier 2: a Space's new versions reach this edge's players every 3 s at most.
      if (st.v !== undefined && defence?.brownout.sheds(2) && slowState(res, id, rawQuery, req)) return true;
    } else {
      const parsed = parseEdgePath(id, file, file === VIEW_FILE ? '' : rawQuery);
      if (!parsed.ok) return reject(res, parsed.error);
      key = `${parsed.id}/${parsed.file}${parsed.query}`;
    }
    const token = tokenOf(req, rawQuery);
    const isView = file === VIEW_FILE;
    if (!isState && !isView) {
      const playlist = cur.kind === 'playlist';
      if (playlist) cur.blocking = rawQuery.includes('_HLS_msn=');
      const adm = admissionOf(req, rawQuery);
      if (gate) {
        const check = gate.media(id, adm, addressOf(req), playlist ? 'playlist' : 'object');
        if (!check.ok) return refuse(res, check.refusal);
      }
      cur.cls = adm !== undefined ? 'media_token' : 'tokenless';
    }
    // Known to require sign-in: refuse before the origin is touched. The public view is not secret
    // (title, host, state: what a page needs to ask its visitor to sign in), so it is not refused.
    if (!isView && access.requiresToken(id) && !authorize(id, undefined, token).ok) return unauthorized(res);
    if (isView) {
      lookup(res, key, `${originPrefix}/${key}`, (loaded) => {
        access.note(id, loaded.entry.status, loaded.entry.access, loaded.entry.storedAt, false);
        sendEntry(res, loaded.entry, loaded.outcome, false);
      });
      return true;
    }
    lookup(res, key, `${originPrefix}/${key}`, (loaded) => {
      if (isState) noteStateVersion(id, loaded.outcome);
      finishSpace(res, id, loaded, token, isState, lid);
    });
    return true;
  };

  /**
   * A clip carries its Space's rule: the origin labels clips of Spaces that require sign-in with
   * `x-tribune-access: signed-in` and `x-tribune-space`, and they then need a listen token of that
   * Space on every request (cache HITs included), and are served `private`.
   */
  const clipObject = (
    req: HotRequest,
    res: HotResponse,
    clipId: string,
    file: string,
    rawQuery: string,
  ): true => {
    const parsed = parseClipPath(clipId, file);
    if (!parsed.ok) return reject(res, parsed.error);
    const key = `clip:${parsed.id}/${parsed.file}`;
    lookup(res, key, `${clipsPrefix}/${parsed.id}/${parsed.file}`, (loaded) => {
      const signedIn = isSignedIn(loaded.entry.access);
      if (signedIn) {
        const token = tokenOf(req, rawQuery);
        const space = loaded.entry.space;
        if (!space || token === undefined || !access.check(space, token, liveNow()).ok) {
          unauthorized(res);
          return;
        }
      }
      sendEntry(res, loaded.entry, loaded.outcome, signedIn);
    });
    return true;
  };

  const fail = (res: HotResponse, err: unknown): void => {
    opts.log?.error({ err }, 'edge request failed');
    if (!res.headersSent) sendError(res, new TribuneError('INTERNAL'));
    else res.destroy();
  };

  // ------------------------------------------------------------------ stream.mp4
  const STREAM_HEADERS = [
    'content-type',
    'audio/mp4',
    'cache-control',
    'no-store',
    'x-accel-buffering',
    'no',
    ...(cors ? ['access-control-allow-origin', '*'] : []),
  ];
  const docState = new WeakMap<CacheEntry, string | undefined>();
  const titleOf = (entry: CacheEntry): string | undefined => {
    try {
      const t = (JSON.parse(entry.body.toString('utf8')) as { title?: unknown }).title;
      return typeof t === 'string' ? t : undefined;
    } catch {
      return undefined;
    }
  };
  const stateOf = (entry: CacheEntry): string | undefined => {
    if (!docState.has(entry)) {
      let st: string | undefined;
      try {
        st = (JSON.parse(entry.body.toString('utf8')) as { state?: string }).state;
      } catch {
        st = undefined;
      }
      docState.set(entry, st);
    }
    return docState.get(entry);
  };

  const stream = async (req: HotRequest, res: HotResponse, id: string, rawQuery: string): Promise<void> => {
    const params = new URLSearchParams(rawQuery);
    const lids = params.getAll('lid');
    if (lids.length > 1 || (lids.length === 1 && !LID_RE.test(lids[0]))) {
      reject(res, new TribuneError('BAD_REQUEST', 'lid must be 8-64 characters of [A-Za-z0-9_-]'));
      return;
    }
    const lid = lids[0] ?? randomBytes(12).toString('base64url');
    const address = addressOf(req);
    cur.kind = 'stream';
    const rehearsal = gate !== undefined && hasRehearsal(gate, req.headers);
    let aid: string | undefined;
    if (gate) {
      const adm = admissionOf(req, rawQuery);
      const check = gate.media(id, adm, address, 'stream');
      if (!check.ok) {
        refuse(res, check.refusal);
        return;
      }
      aid = check.aid;
      cur.cls = adm !== undefined ? 'media_token' : 'tokenless';
    } else cur.cls = 'tokenless';
    if (!rehearsal && !hub.reserve(address)) {
      gate?.streamClosed(aid);
      n.rejected++;
      sendError(res, new TribuneError('RATE_LIMITED', `at most ${hub.perAddressMax} streams per address`), [
        'retry-after',
        '10',
      ]);
      return;
    }
    // The place is held from here; every way out before joining gives it back.
    let joined = false;
    try {
      joined = await openStream(req, res, id, rawQuery, lid, address, aid);
    } finally {
      if (!joined) {
        if (!rehearsal) hub.release(address);
        gate?.streamClosed(aid);
      }
    }
  };

  /** The rest of a stream request, its address's place taken; true once it joined the hub. */
  const openStream = async (
    req: HotRequest,
    res: HotResponse,
    id: string,
    rawQuery: string,
    lid: string,
    address: string,
    aid: string | undefined,
  ): Promise<boolean> => {
    const token = tokenOf(req, rawQuery);
    if (access.requiresToken(id) && !authorize(id, undefined, token).ok) {
      unauthorized(res);
      return false;
    }
    const key = `${id}/${STATE_FILE}`;
    let loaded = await lookupAsync(res, key, `${originPrefix}/${key}`);
    if (!loaded || res.destroyed) return false;
    // A copy that still says 'scheduled' may be up to a second behind a start: a player sent here
    // by the page of a Space that just started must not be refused. Read it again once (collapsed
    // with any other reload), unless it was just loaded.
    if (
      loaded.outcome === 'HIT' &&
      stateOf(loaded.entry) === 'scheduled' &&
      now() - loaded.entry.storedAt > STATE_RECHECK_MS
    ) {
      cache.delete(key);
      loaded = await lookupAsync(res, key, `${originPrefix}/${key}`);
      if (!loaded || res.destroyed) return false;
    }
    const { entry, outcome } = loaded;
    if (entry.status < 200 || entry.status >= 300) {
      sendEntry(res, entry, outcome, false); // the origin's own error (SPACE_NOT_FOUND...)
      return false;
    }
    const auth = authorize(id, entry, token, true);
    if (!auth.ok) {
      unauthorized(res);
      return false;
    }
    const state = stateOf(entry);
    if (state === 'ended') {
      // Nothing more to stream, and nothing wrong: a player reconnecting as its Space ends gets
      // this, not an error (browsers log every 4xx as one).
      res.writeHead(204, ['cache-control', 'no-store', 'x-tribune-state', 'ended']);
      res.end();
      return false;
    }
    if (state !== 'live') {
      reject(res, new TribuneError('SPACE_NOT_LIVE', `state ${state ?? 'unknown'}`));
      return false;
    }
    const socket = res.socket;
    if (!socket || req.method === 'HEAD') {
      res.writeHead(200, STREAM_HEADERS);
      res.end();
      return false;
    }
    res.writeHead(200, STREAM_HEADERS);
    res.flushHeaders();
    if (sendBufferBytes > 0) capSendBuffer(socket, sendBufferBytes);
    // From here the hub writes prebuilt HTTP chunks straight to the socket (one write per batch);
    // res.end() writes the last chunk when the Space ends.
    const listener: StreamListener = {
      sink: {
        write: (b) => socket.write(b),
        get writableLength() {
          return socket.writableLength;
        },
        destroy: () => socket.destroy(),
        end: () => res.end(),
      },
      address,
      lid,
      userId: auth.userId,
    };
    hub.join(id, listener);
    gate?.streamOpened(aid);
    live?.listeners.seen(id, lid, auth.userId, live.now());
    // A listen token ends the response when it expires: the player gets a fresh one and reconnects.
    const expiry =
      auth.expiresAtMs !== undefined
        ? setTimeout(() => socket.destroy(), Math.min(2 ** 31 - 1, Math.max(0, auth.expiresAtMs - liveNow())))
        : undefined;
    expiry?.unref();
    res.once('close', () => {
      clearTimeout(expiry);
      hub.leave(id, listener);
      gate?.streamClosed(aid);
      live?.listeners.leave(id, lid);
    });
    feeds.ensure(id);
    return true;
  };

  // ------------------------------------------------------------------ admit
  /**
   * `GET /hls/spaces/:id/admit[?ticket=&admission=]`: the Space's state document (cached, shared)
   * says it exists and is not over, the listen token is checked for sign-in Spaces, then the gate
   * admits, renews or queues. Never a 5xx for a crowd: past capacity the answer is a ticket.
   */
  const admit = (req: HotRequest, res: HotResponse, id: string, rawQuery: string): true => {
    cur.kind = 'admit';
    const q = parseAdmitQuery(rawQuery);
    if (!q.ok) return reject(res, q.error);
    const g = gate!;
    let rate: number | undefined;
    if (defence) {
      try {
        rate = defence.pow.parseRate(q.rate);
      } catch (err) {
        return reject(res, err as TribuneError);
      }
    }
    const token = tokenOf(req, rawQuery);
    const key = `${id}/${STATE_FILE}`;
    lookup(res, key, `${originPrefix}/${key}`, ({ entry, outcome }) => {
      if (entry.status < 200 || entry.status >= 300) return sendEntry(res, entry, outcome, false);
      if (!authorize(id, entry, token, true).ok) return void unauthorized(res);
      const state = stateOf(entry) ?? 'unknown';
      if (state === 'ended') return void reject(res, new TribuneError('SPACE_ENDED'));
      const rehearsal = hasRehearsal(g, req.headers);
      const address = addressOf(req);
      if (defence && q.admission === undefined && q.ticket === undefined) defence.noteJoin(id);
      // Under attack a newcomer proves some work first; holders of a token or ticket never do.
      const holder =
        q.ticket !== undefined || (q.admission !== undefined && g.holds(q.admission, id, address));
      if (defence && !holder) {
        if (defence.underAttack && !rehearsal) {
          if (q.challenge === undefined) {
            // Harder for an address that has been busy (its bucket drained), as Anubis does.
            const risk = defence.addresses.drained(address, now());
            const challenge = defence.pow.challenge(id, { rate, load: defence.brownout.load, risk });
            return void sendJson(res, 200, { admitted: false, challenge, state });
          }
          const proof = defence.pow.verify(id, q.challenge, q.answer ?? '');
          if (!proof.ok) return void reject(res, new TribuneError(proof.code));
        }
      }
      const answer = g.admit({
        spaceId: id,
        state,
        address,
        ticket: q.ticket,
        admission: q.admission,
        rehearsal,
      });
      if (!('admitted' in answer)) return void refuse(res, answer);
      const out = admitBody(answer, state);
      sendJson(res, 200, out.body, out.headers);
    });
    return true;
  };

  // ------------------------------------------------------------------ flood refusals
  /** The 429 of a flood limit: prebuilt like every refusal, as cheap as a cache HIT. */
  const flood: Prepared = prepareError(
    new TribuneError('RATE_LIMITED', 'too many requests from this address'),
    cors,
    ['retry-after', '1'],
  );
  const sendFlood = (res: HotResponse): true => {
    n.rejected++;
    return sendPrepared(res, flood);
  };

  // ------------------------------------------------------------------ brownout tier 2
  /** Per Space: when this edge last got a new state version, and the polls held until 3 s after it. */
  const stateSlow = new Map<string, { at: number; held: (() => void)[]; timer?: NodeJS.Timeout }>();
  const SLOW_STATE_MS = 3000;
  const slowState = (res: HotResponse, id: string, rawQuery: string, req: HotRequest): boolean => {
    const s = stateSlow.get(id);
    const t = now();
    if (!s || t - s.at >= SLOW_STATE_MS) return false;
    s.held.push(() => {
      if (!res.destroyed && !res.writableEnded) spaceObject(req, res, id, STATE_FILE, rawQuery);
    });
    s.timer ??= setTimeout(
      () => {
        const held = s.held;
        s.held = [];
        s.timer = undefined;
        s.at = 0;
        for (const run of held) run();
      },
      SLOW_STATE_MS - (t - s.at),
    );
    return true;
  };
  const noteStateVersion = (id: string, outcome: string): void => {
    if (outcome !== 'MISS' || !defence?.brownout.sheds(2)) return;
    const s = stateSlow.get(id);
    if (s) s.at = now();
    else if (stateSlow.size < 100_000) stateSlow.set(id, { at: now(), held: [] });
  };

  // ------------------------------------------------------------------ nojs
  const noJsContext = {
    gate: gate!,
    defence: defence!,
    state: (res: HotResponse, id: string, then: (state: string, title: string | undefined) => void): void => {
      const key = `${id}/${STATE_FILE}`;
      lookup(res, key, `${originPrefix}/${key}`, ({ entry, outcome }) => {
        if (entry.status < 200 || entry.status >= 300) return sendEntry(res, entry, outcome, false);
        // A Space that requires sign-in needs the page (and its listen token): no plain player.
        if (access.requiresToken(id) || isSignedIn(entry.access)) return void unauthorized(res);
        then(stateOf(entry) ?? 'unknown', titleOf(entry));
      });
    },
    address: addressOf,
    rehearsal: (req: HotRequest) => gate !== undefined && hasRehearsal(gate, req.headers),
    reject: (res: HotResponse, err: TribuneError) => void reject(res, err),
    refuse: (res: HotResponse, r: GateRefusal) => void refuse(res, r),
  };

  const handle = (req: HotRequest, res: HotResponse): boolean => {
    const url = req.url ?? '';
    if (!url.startsWith('/hls/')) return false;
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    n.requests++;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const rawQuery = q === -1 ? '' : url.slice(q + 1);
    if (!defence) return route(req, res, path, rawQuery);
    // The cheap checks first: the request's admission (one cached HMAC check), its bucket.
    const t = now();
    const address = addressOf(req);
    cur.req = undefined;
    cur.admission = admissionOf(req, rawQuery);
    cur.req = req;
    cur.cls = 'control';
    cur.kind = 'other';
    cur.blocking = false;
    const claims = cur.admission !== undefined && gate ? gate.peek(cur.admission) : null;
    // A rehearsal (the operator's own load test, few addresses) is not a flood.
    if (!defence.allow(address, claims?.a, t) && !(gate && hasRehearsal(gate, req.headers))) {
      defence.telemetry.record(address, 'refused', 'other', false, t);
      cur.req = undefined;
      return sendFlood(res);
    }
    try {
      return route(req, res, path, rawQuery);
    } finally {
      defence.telemetry.record(address, cur.cls, cur.kind, cur.blocking, t, claims?.a);
      cur.req = undefined;
    }
  };

  const route = (req: HotRequest, res: HotResponse, path: string, rawQuery: string): boolean => {
    if (path.startsWith(PREFIX_SPACES)) {
      const rest = path.slice(PREFIX_SPACES.length);
      const slash = rest.indexOf('/');
      if (slash <= 0) return reject(res, new TribuneError('NOT_FOUND', 'no such HLS file'));
      const id = rest.slice(0, slash);
      const file = rest.slice(slash + 1);
      if (file === ADMIT_FILE) {
        if (!gate) return reject(res, new TribuneError('NOT_FOUND', 'this edge has no admission'));
        if (!SPACE_ID_RE.test(id)) return reject(res, new TribuneError('BAD_REQUEST', 'invalid Space id'));
        return admit(req, res, id, rawQuery);
      }
      if (file === NOJS_FILE) {
        if (!gate || !defence)
          return reject(res, new TribuneError('NOT_FOUND', 'this edge has no admission'));
        if (!SPACE_ID_RE.test(id)) return reject(res, new TribuneError('BAD_REQUEST', 'invalid Space id'));
        cur.kind = 'admit';
        return noJs(noJsContext, req, res, id, rawQuery);
      }
      if (file === LISTENERS_FILE) {
        cur.kind = 'state';
        if (!SPACE_ID_RE.test(id)) return reject(res, new TribuneError('BAD_REQUEST', 'invalid Space id'));
        const q = parseListenersQuery(rawQuery);
        if (!q.ok) return reject(res, q.error);
        // The public listener list (what an anonymous page shows): cached 2 s, shared by everyone.
        const key = `${id}/${LISTENERS_FILE}${q.query}`;
        lookup(res, key, `${originPrefix}/${key}`, (l) => sendEntry(res, l.entry, l.outcome, false));
        return true;
      }
      if (file === STREAM_FILE) {
        if (!SPACE_ID_RE.test(id)) return reject(res, new TribuneError('BAD_REQUEST', 'invalid Space id'));
        stream(req, res, id, rawQuery).catch((err: unknown) => fail(res, err));
        return true;
      }
      return spaceObject(req, res, id, file, rawQuery);
    }
    if (path.startsWith(PREFIX_CLIPS)) {
      const rest = path.slice(PREFIX_CLIPS.length);
      const slash = rest.indexOf('/');
      if (slash <= 0) return reject(res, new TribuneError('NOT_FOUND', 'no such clip file'));
      cur.kind = 'part';
      return clipObject(req, res, rest.slice(0, slash), rest.slice(slash + 1), rawQuery);
    }
    if (gate) {
      const op = operatorGet(gate, path, req.headers);
      if (op) return sendJson(res, op.status, op.body);
    }
    return reject(res, new TribuneError('NOT_FOUND'));
  };

  return {
    handle,
    hub,
    feeds,
    admission: gate,
    defence,
    close() {
      if (gate) gate.close();
      defence?.close();
      for (const s of stateSlow.values()) clearTimeout(s.timer);
      if (countTimer) clearInterval(countTimer);
      feeds.close();
      for (const id of hub.activeSpaces()) hub.end(id);
    },
  };
}
