/**
 * The hot path's prepared answers: JSON errors and refusals with their headers and bodies built
 * once (and on the raw front whole answers, once per second), so that a refused request costs no
 * more than a cache HIT (issue 9); and the counters prom-client reads at scrape time.
 */
import type { Registry } from 'prom-client';
import { scrapeCounter } from '../shared/prom.js';
import { TribuneError } from '../errors.js';
import type { GateRefusal } from './admission/gate.js';
import type { CacheEntry } from './cache.js';
import { privateCacheControl } from './paths.js';
import { RawResponse } from './raw-http.js';
import type { HotAnswers, HotCounters, HotCurrent, HotLog, HotResponse } from './hot-types.js';
import type { RequestClass } from './defence/types.js';

export const CONTENT_JSON = 'application/json; charset=utf-8';

/** A JSON error answer in Tribune's shape, its headers and body prebuilt. */
export interface PreparedError {
  status: number;
  headers: string[];
  body: Buffer;
}

type Prepared = PreparedError & { wire?: { key: number; bytes: Buffer; headLength: number } };

export function prepareError(err: TribuneError, cors: boolean, extra: string[] = []): PreparedError {
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

/** The request counters of a handler, registered as `tribune_edge_*` counters. */
export function hotCounters(registry: Registry): HotCounters {
  const n: HotCounters = {
    requests: 0,
    hits: 0,
    misses: 0,
    collapsed: 0,
    rejected: 0,
    failed: 0,
    bytes: 0,
    unauthorized: 0,
    geoRestricted: 0,
  };
  const counters: [keyof HotCounters, string, string][] = [
    ['requests', 'requests_total', 'HLS requests received by the edge'],
    ['hits', 'cache_hits_total', 'HLS requests answered from the edge cache'],
    ['misses', 'cache_misses_total', 'HLS requests that started an origin load'],
    ['collapsed', 'cache_collapsed_total', 'HLS requests that joined an origin load already in flight'],
    ['rejected', 'rejected_requests_total', 'HLS requests refused by validation (no origin fetch)'],
    ['failed', 'failed_requests_total', 'HLS requests answered 502 because the origin failed'],
    ['bytes', 'bytes_served_total', 'HLS body bytes sent to listeners'],
    ['unauthorized', 'unauthorized_requests_total', 'Requests refused for want of a valid listen token'],
    ['geoRestricted', 'geo_restricted_requests_total', 'Requests refused 451 for their country'],
  ];
  for (const [k, name, help] of counters) scrapeCounter(registry, `tribune_edge_${name}`, help, () => n[k]);
  return n;
}

/**
 * The class of a request answered `status`, when the status says more than the route knew (an
 * origin's 404 for a made-up Space, a listen token refused after a load): 401/403 a bad token,
 * 429/503 refused for load, another 4xx an unknown path; otherwise `cls` as the route set it.
 */
export function classOfStatus(status: number, cls: RequestClass): RequestClass {
  // A refusal the route classed itself (a bad proof, a full edge) keeps its class.
  if (cls !== 'media_token' && cls !== 'tokenless' && cls !== 'control') return cls;
  if (status < 400 || status >= 500) return status === 503 ? 'refused' : cls;
  if (status === 401 || status === 403) return 'bad_token';
  return status === 429 ? 'refused' : 'unknown_path';
}

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

/** A handler's answers; `n` and `cur` are its counters and its current request (hot.ts). */
export function createAnswers(
  cors: boolean,
  n: HotCounters,
  cur: HotCurrent,
  log: HotLog | undefined,
  /** Retry-After of the flood limit's 429 (the address bucket's refill time). */
  floodRetryAfterSec = 1,
): HotAnswers {
  // Refusals are prebuilt per message (and extra headers), and on the raw front per second as
  // whole answers: a refused request costs no more than a cache HIT (issue 9).
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
    cur.cls = BAD_TOKEN_CODES.has(err.code)
      ? 'bad_token'
      : err.status === 429 || err.status === 503
        ? 'refused'
        : 'unknown_path';
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
  /** 451 GEO_RESTRICTED: prebuilt once, not a flood nor a bad token for the defence telemetry. */
  const geo = prepareError(new TribuneError('GEO_RESTRICTED'), cors);
  const geoRestricted = (res: HotResponse): true => {
    n.geoRestricted++;
    cur.cls = 'refused';
    return sendPrepared(res, geo);
  };
  /** The 429 of a flood limit: prebuilt like every refusal, as cheap as a cache HIT. */
  const flood: Prepared = prepareError(
    new TribuneError('RATE_LIMITED', 'too many requests from this address'),
    cors,
    ['retry-after', String(floodRetryAfterSec)],
  );
  const sendFlood = (res: HotResponse): true => {
    n.rejected++;
    return sendPrepared(res, flood);
  };
  const fail = (res: HotResponse, err: unknown): void => {
    log?.error({ err }, 'edge request failed');
    if (!res.headersSent) sendError(res, new TribuneError('INTERNAL'));
    else res.destroy();
  };
  return { sendError, reject, refuse, sendJson, unauthorized, geoRestricted, sendFlood, fail };
}

/**
 * Sends a cached object: its headers prebuilt once per entry (public and private variants), and
 * on the raw front the whole answer once per entry and second. No per-request copy of the body.
 */
export function createEntrySender(
  cors: boolean,
  n: HotCounters,
  now: () => number,
): (res: HotResponse, entry: CacheEntry, outcome: string, signedIn: boolean) => void {
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
  return sendEntry;
}
