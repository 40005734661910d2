/**
 * Edge HTTP routes: `GET /spaces/:id/*` under the caller's prefix (mounted at `/hls`), 1:1 with the
 * origin's `/origin/spaces/:id/*`. Requests are validated strictly before the origin is touched,
 * canonicalised into one cache key, and answered from EdgeCache (HIT / MISS / COLLAPSED).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Gauge, register as defaultRegistry, type Registry } from 'prom-client';
import { isTribuneError, TribuneError, type ErrorCode } from '../errors.js';
import type { CacheEntry, EdgeCache } from './cache.js';
import { counterIn } from './origin-loader.js';
import type { OriginLoader } from './origin-loader.js';

export interface EdgeRoutesOptions {
  loader: OriginLoader;
  cache: EdgeCache;
  /** Path prefix on the origin. Default `/origin/spaces`. */
  originPrefix?: string;
  registry?: Registry;
  /** Clock for the Age header; use the cache's clock. Default Date.now. */
  now?: () => number;
  /** Add `Access-Control-Allow-Origin: *` (listeners' pages may live on another host). Default true. */
  cors?: boolean;
}

export const SPACE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const FILE_RE = /^(?:master\.m3u8|audio\.m3u8|init\.mp4|seg\/\d{1,15}\.m4s|part\/\d{1,15}\.\d{1,6}\.m4s)$/;
const HLS_NUMBER_RE = /^\d{1,15}$/;

export type EdgePath =
  { ok: true; id: string; file: string; query: string } | { ok: false; error: TribuneError };

/**
 * Validates one edge request and returns its canonical origin form. `rawQuery` is the part after
 * `?` (may be empty). Only `_HLS_msn` / `_HLS_part` on `audio.m3u8` survive, digits only, leading
 * zeros stripped, always in the order msn, part; every other parameter is dropped.
 */
export function parseEdgePath(id: string, file: string, rawQuery: string): EdgePath {
  const bad = (code: ErrorCode, detail: string): EdgePath => ({
    ok: false,
    error: new TribuneError(code, detail),
  });
  if (!SPACE_ID_RE.test(id)) return bad('BAD_REQUEST', 'invalid Space id');
  if (!FILE_RE.test(file)) return bad('NOT_FOUND', 'no such HLS file');
  const params = new URLSearchParams(rawQuery);
  const msn = params.getAll('_HLS_msn');
  const part = params.getAll('_HLS_part');
  if (msn.length === 0 && part.length === 0) return { ok: true, id, file, query: '' };
  if (file !== 'audio.m3u8') return bad('BAD_REQUEST', '_HLS_ parameters are only valid on audio.m3u8');
  if (msn.length !== 1 || part.length > 1) return bad('HLS_BAD_BLOCKING_REQUEST', 'need one _HLS_msn');
  if (!HLS_NUMBER_RE.test(msn[0]) || (part.length === 1 && !HLS_NUMBER_RE.test(part[0])))
    return bad('HLS_BAD_BLOCKING_REQUEST', '_HLS_msn/_HLS_part must be decimal digits');
  let query = `?_HLS_msn=${Number(msn[0])}`;
  if (part.length === 1) query += `&_HLS_part=${Number(part[0])}`;
  return { ok: true, id, file, query };
}

function metrics(registry: Registry, cache: EdgeCache) {
  const c = (name: string, help: string) => counterIn(registry, `tribune_edge_${name}`, help);
  const gauge = (name: string, help: string, read: () => number): void => {
    if (registry.getSingleMetric(`tribune_edge_${name}`)) return;
    new Gauge({
      name: `tribune_edge_${name}`,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  };
  gauge('cache_bytes', 'Bytes held by the edge cache', () => cache.stats().bytes);
  gauge('cache_entries', 'Objects held by the edge cache', () => cache.stats().entries);
  gauge(
    'inflight_loads',
    'Origin loads in flight (each shared by all its waiters)',
    () => cache.stats().inflight,
  );
  return {
    requests: c('requests_total', 'HLS requests received by the edge'),
    hits: c('cache_hits_total', 'HLS requests answered from the edge cache'),
    misses: c('cache_misses_total', 'HLS requests that started an origin load'),
    collapsed: c('cache_collapsed_total', 'HLS requests that joined an origin load already in flight'),
    rejected: c('rejected_requests_total', 'HLS requests refused by validation (no origin fetch)'),
    failed: c('failed_requests_total', 'HLS requests answered 502 because the origin failed'),
    bytes: c('bytes_served_total', 'HLS body bytes sent to listeners'),
  };
}

export function edgeRoutes(opts: EdgeRoutesOptions): FastifyPluginAsync {
  const { loader, cache } = opts;
  const originPrefix = (opts.originPrefix ?? '/origin/spaces').replace(/\/+$/, '');
  const now = opts.now ?? Date.now;
  const cors = opts.cors ?? true;
  const m = metrics(opts.registry ?? defaultRegistry, cache);

  const sendError = (reply: FastifyReply, err: TribuneError): FastifyReply => {
    if (cors) reply.header('access-control-allow-origin', '*');
    return reply.code(err.status).header('cache-control', 'no-store').send(err.toJSON());
  };

  const sendEntry = (reply: FastifyReply, entry: CacheEntry, outcome: string): FastifyReply => {
    reply.code(entry.status);
    if (entry.contentType) reply.header('content-type', entry.contentType);
    else reply.header('content-type', 'application/octet-stream');
    if (entry.cacheControl) reply.header('cache-control', entry.cacheControl);
    reply.header('age', String(Math.max(0, Math.floor((now() - entry.storedAt) / 1000))));
    reply.header('x-cache', outcome);
    if (cors) reply.header('access-control-allow-origin', '*');
    m.bytes.inc(entry.body.length);
    return reply.send(entry.body); // the one shared Buffer: no per-request copy
  };

  return async (app) => {
    app.setNotFoundHandler((_req, reply) => {
      m.rejected.inc();
      return sendError(reply, new TribuneError('NOT_FOUND'));
    });

    app.get('/spaces/:id/*', async (request: FastifyRequest, reply: FastifyReply) => {
      m.requests.inc();
      const params = request.params as { id: string; '*': string };
      const q = request.url.indexOf('?');
      const parsed = parseEdgePath(params.id, params['*'], q === -1 ? '' : request.url.slice(q + 1));
      if (!parsed.ok) {
        m.rejected.inc();
        return sendError(reply, parsed.error);
      }
      const key = `${parsed.id}/${parsed.file}${parsed.query}`;
      const path = `${originPrefix}/${key}`;

      // This listener's own signal: if it hangs up, it leaves the shared load (others keep it).
      const ac = new AbortController();
      const onClose = (): void => {
        if (!reply.raw.writableEnded) ac.abort(new Error('listener disconnected'));
      };
      reply.raw.once('close', onClose);
      try {
        const { entry, outcome } = await cache.get(
          key,
          (signal) => loadFromOrigin(loader, path, signal),
          ac.signal,
        );
        if (outcome === 'HIT') m.hits.inc();
        else if (outcome === 'MISS') m.misses.inc();
        else m.collapsed.inc();
        return sendEntry(reply, entry, outcome);
      } catch (err) {
        if (ac.signal.aborted) return reply.code(499).send(); // nobody is listening any more
        if (isTribuneError(err)) {
          m.failed.inc();
          return sendError(reply, err);
        }
        request.log.error({ err, path }, 'edge load failed');
        m.failed.inc();
        return sendError(reply, new TribuneError('ORIGIN_UNAVAILABLE'));
      } finally {
        reply.raw.removeListener('close', onClose);
      }
    });
  };
}

async function loadFromOrigin(loader: OriginLoader, path: string, signal: AbortSignal) {
  const res = await loader.fetch(path, signal);
  return {
    status: res.status,
    contentType: res.headers.contentType,
    cacheControl: res.headers.cacheControl,
    body: res.body,
  };
}
