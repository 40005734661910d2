/**
 * Edge HTTP routes under the caller's prefix (mounted at `/hls`):
 * - `GET /spaces/:id/*`: LL-HLS, 1:1 with the origin's `/origin/spaces/:id/*`, and the live state
 *   doc `state.json?v=N&lid=L&token=T` (blocking reload; only `v` reaches the cache key and the
 *   origin, so every player waiting on one version shares one origin request);
 * - `POST /spaces/:id/leave` `{lid}` and `POST /spaces/:id/reactions` `{emoji, lid?}` (with `live`);
 * - `GET /clips/:clipId/(clip.m3u8|init.mp4|seg/N.m4s)`, 1:1 with `/origin/clips/:clipId/*`.
 * Requests are validated strictly before the origin is touched, canonicalised into one cache key,
 * and answered from EdgeCache (HIT / MISS / COLLAPSED). Spaces the origin marks
 * `x-tribune-access: signed-in` need a valid listen token on every request (HITs included).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Gauge, register as defaultRegistry, type Registry } from 'prom-client';
import { isTribuneError, TribuneError, type ErrorCode } from '../errors.js';
import { isSignedIn, ListenAccess } from '../live/edge-access.js';
import type { EdgeLive } from '../live/edge-live.js';
import { toTribuneError } from '../live/http.js';
import { isReactionEmoji, LISTEN_TOKEN_HEADER } from '../live/types.js';
import type { CacheEntry, CacheResult, EdgeCache } from './cache.js';
import { counterIn } from './origin-loader.js';
import type { OriginLoader } from './origin-loader.js';

export interface EdgeRoutesOptions {
  loader: OriginLoader;
  cache: EdgeCache;
  /** Path prefix on the origin. Default `/origin/spaces`. */
  originPrefix?: string;
  /** Path prefix of clips on the origin. Default `/origin/clips`. */
  originClipsPrefix?: string;
  registry?: Registry;
  /** Clock for the Age header; use the cache's clock. Default Date.now. */
  now?: () => number;
  /** Add `Access-Control-Allow-Origin: *` (listeners' pages may live on another host). Default true. */
  cors?: boolean;
  /**
   * Live state (createEdgeLive): listener counting, reactions, reports to the origin, and the
   * token secret for Spaces that require sign-in. Without it state.json is still proxied,
   * leave/reactions answer 404, and a Space that requires sign-in is refused to everyone.
   */
  live?: EdgeLive;
}

export const SPACE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** A listener id: random per player page. */
export const LID_RE = /^[A-Za-z0-9_-]{8,64}$/;
const FILE_RE = /^(?:master\.m3u8|audio\.m3u8|init\.mp4|seg\/\d{1,15}\.m4s|part\/\d{1,15}\.\d{1,6}\.m4s)$/;
const CLIP_FILE_RE = /^(?:clip\.m3u8|init\.mp4|seg\/\d{1,15}\.m4s)$/;
const HLS_NUMBER_RE = /^\d{1,15}$/;
const STATE_VERSION_RE = /^\d{1,15}$/;
/** Bodies of leave and reactions. */
export const LIVE_POST_BODY_LIMIT = 1024;
const STATE_FILE = 'state.json';

export type EdgePath =
  { ok: true; id: string; file: string; query: string } | { ok: false; error: TribuneError };

const bad = (code: ErrorCode, detail: string): { ok: false; error: TribuneError } => ({
  ok: false,
  error: new TribuneError(code, detail),
});

/**
 * Validates one edge request and returns its canonical origin form. `rawQuery` is the part after
 * `?` (may be empty). Only `_HLS_msn` / `_HLS_part` on `audio.m3u8` survive, digits only, leading
 * zeros stripped, always in the order msn, part; every other parameter is dropped.
 */
export function parseEdgePath(id: string, file: string, rawQuery: string): EdgePath {
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

export type StateRequest =
  | { ok: true; id: string; v: number | undefined; lid: string | undefined; query: string }
  | { ok: false; error: TribuneError };

/**
 * Validates `state.json?v=N&lid=L`: `v` optional digits (STATE_BAD_VERSION otherwise), `lid`
 * optional `[A-Za-z0-9_-]{8,64}` (BAD_REQUEST otherwise). `query` is the canonical origin query:
 * `?v=N` or nothing; `lid`, `token` and anything else never reach the cache key.
 */
export function parseStateRequest(id: string, rawQuery: string): StateRequest {
  if (!SPACE_ID_RE.test(id)) return bad('BAD_REQUEST', 'invalid Space id');
  const params = new URLSearchParams(rawQuery);
  const vs = params.getAll('v');
  if (vs.length > 1 || (vs.length === 1 && !STATE_VERSION_RE.test(vs[0])))
    return bad('STATE_BAD_VERSION', 'v must be one non-negative integer');
  const lids = params.getAll('lid');
  if (lids.length > 1 || (lids.length === 1 && !LID_RE.test(lids[0])))
    return bad('BAD_REQUEST', 'lid must be 8-64 characters of [A-Za-z0-9_-]');
  const v = vs.length === 1 ? Number(vs[0]) : undefined;
  return { ok: true, id, v, lid: lids[0], query: v === undefined ? '' : `?v=${v}` };
}

/** Validates `/clips/:clipId/<file>` (no query parameters survive). */
export function parseClipPath(clipId: string, file: string): EdgePath {
  if (!SPACE_ID_RE.test(clipId)) return bad('BAD_REQUEST', 'invalid clip id');
  if (!CLIP_FILE_RE.test(file)) return bad('NOT_FOUND', 'no such clip file');
  return { ok: true, id: clipId, file, query: '' };
}

/**
 * Cache-Control for a Space that requires sign-in: shared caches in front of the edge (a CDN,
 * nginx) cannot check tokens, so only the player's own cache may keep the answer.
 */
export function privateCacheControl(cc: string | undefined): string {
  const rest = (cc ?? 'no-cache')
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d && !/^(?:public|private|s-maxage\s*=)/i.test(d));
  return ['private', ...rest].join(', ');
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
    unauthorized: c('unauthorized_requests_total', 'Requests refused for want of a valid listen token'),
  };
}

type Loaded = { ok: true; result: CacheResult } | { ok: false; reply: FastifyReply };

export function edgeRoutes(opts: EdgeRoutesOptions): FastifyPluginAsync {
  const { loader, cache, live } = opts;
  const originPrefix = (opts.originPrefix ?? '/origin/spaces').replace(/\/+$/, '');
  const clipsPrefix = (opts.originClipsPrefix ?? '/origin/clips').replace(/\/+$/, '');
  const now = opts.now ?? Date.now;
  const cors = opts.cors ?? true;
  const m = metrics(opts.registry ?? defaultRegistry, cache);
  // Without live state there is no token secret: Spaces that require sign-in are refused to all.
  const access = live?.access ?? new ListenAccess();
  const liveNow = (): number => (live ? live.now() : Date.now());

  const sendError = (reply: FastifyReply, err: TribuneError): FastifyReply => {
    if (cors) reply.header('access-control-allow-origin', '*');
    return reply.code(err.status).header('cache-control', 'no-store').send(err.toJSON());
  };

  const sendEntry = (
    reply: FastifyReply,
    entry: CacheEntry,
    outcome: string,
    signedIn: boolean,
  ): FastifyReply => {
    reply.code(entry.status);
    if (entry.contentType) reply.header('content-type', entry.contentType);
    else reply.header('content-type', 'application/octet-stream');
    if (signedIn) reply.header('cache-control', privateCacheControl(entry.cacheControl));
    else if (entry.cacheControl) reply.header('cache-control', entry.cacheControl);
    reply.header('age', String(Math.max(0, Math.floor((now() - entry.storedAt) / 1000))));
    reply.header('x-cache', outcome);
    if (cors) reply.header('access-control-allow-origin', '*');
    m.bytes.inc(entry.body.length);
    return reply.send(entry.body); // the one shared Buffer: no per-request copy
  };

  /** The listen token of a request: `?token=` first, else the `x-tribune-listen-token` header. */
  const tokenOf = (request: FastifyRequest, rawQuery: string): string | undefined => {
    const q = rawQuery.includes('token=') ? new URLSearchParams(rawQuery).get('token') : null;
    if (q) return q;
    const h = request.headers[LISTEN_TOKEN_HEADER];
    return typeof h === 'string' && h ? h : undefined;
  };

  const unauthorized = (reply: FastifyReply): FastifyReply => {
    m.unauthorized.inc();
    return sendError(reply, new TribuneError('LISTEN_TOKEN_REQUIRED'));
  };

  /**
   * Learns the Space's access flag from `entry` and checks the token when the Space (by its latest
   * origin answer) or the entry itself requires sign-in. `userId`: of a valid listen token, if any.
   */
  const authorize = (
    spaceId: string,
    entry: CacheEntry | undefined,
    token: string | undefined,
    isStateDoc = false,
  ): { ok: boolean; signedIn: boolean; userId: string | undefined } => {
    if (entry) access.note(spaceId, entry.status, entry.access, entry.storedAt, isStateDoc);
    const signedIn = access.requiresToken(spaceId) || isSignedIn(entry?.access);
    const check = token !== undefined ? access.check(spaceId, token, liveNow()) : { ok: false as const };
    const userId = check.ok ? check.userId : undefined;
    return { ok: !signedIn || check.ok, signedIn, userId };
  };

  /** One request's share of the cached/collapsed origin load of `key`. */
  const load = async (
    request: FastifyRequest,
    reply: FastifyReply,
    key: string,
    path: string,
  ): Promise<Loaded> => {
    // This listener's own signal: if it hangs up, it leaves the shared load (others keep it).
    const ac = new AbortController();
    const onClose = (): void => {
      if (!reply.raw.writableEnded) ac.abort(new Error('listener disconnected'));
    };
    reply.raw.once('close', onClose);
    try {
      const result = await cache.get(key, (signal) => loadFromOrigin(loader, path, signal), ac.signal);
      if (result.outcome === 'HIT') m.hits.inc();
      else if (result.outcome === 'MISS') m.misses.inc();
      else m.collapsed.inc();
      return { ok: true, result };
    } catch (err) {
      if (ac.signal.aborted) return { ok: false, reply: reply.code(499).send() }; // nobody is listening any more
      m.failed.inc();
      if (isTribuneError(err)) return { ok: false, reply: sendError(reply, err) };
      request.log.error({ err, path }, 'edge load failed');
      return { ok: false, reply: sendError(reply, new TribuneError('ORIGIN_UNAVAILABLE')) };
    } finally {
      reply.raw.removeListener('close', onClose);
    }
  };

  const rawQueryOf = (request: FastifyRequest): string => {
    const q = request.url.indexOf('?');
    return q === -1 ? '' : request.url.slice(q + 1);
  };

  const preflight = async (_request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    if (cors)
      reply
        .header('access-control-allow-origin', '*')
        .header('access-control-allow-methods', 'GET, POST, OPTIONS')
        .header('access-control-allow-headers', `content-type, ${LISTEN_TOKEN_HEADER}`)
        .header('access-control-max-age', '86400');
    return reply.code(204).header('cache-control', 'no-store').send();
  };

  return async (app) => {
    app.setNotFoundHandler((_req, reply) => {
      m.rejected.inc();
      return sendError(reply, new TribuneError('NOT_FOUND'));
    });
    app.setErrorHandler((err, request, reply) => {
      const e = toTribuneError(err);
      if (e.status >= 500) request.log.error({ err }, 'edge request failed');
      else m.rejected.inc();
      return sendError(reply, e);
    });

    app.get('/spaces/:id/*', async (request: FastifyRequest, reply: FastifyReply) => {
      m.requests.inc();
      const params = request.params as { id: string; '*': string };
      const rawQuery = rawQueryOf(request);
      let key: string;
      let lid: string | undefined;
      if (params['*'] === STATE_FILE) {
        const st = parseStateRequest(params.id, rawQuery);
        if (!st.ok) {
          m.rejected.inc();
          return sendError(reply, st.error);
        }
        key = `${st.id}/${STATE_FILE}${st.query}`;
        lid = st.lid;
      } else {
        const parsed = parseEdgePath(params.id, params['*'], rawQuery);
        if (!parsed.ok) {
          m.rejected.inc();
          return sendError(reply, parsed.error);
        }
        key = `${parsed.id}/${parsed.file}${parsed.query}`;
      }
      const id = params.id;
      const token = tokenOf(request, rawQuery);
      // Known to require sign-in: refuse before the origin is touched.
      if (access.requiresToken(id) && !authorize(id, undefined, token).ok) return unauthorized(reply);

      const loaded = await load(request, reply, key, `${originPrefix}/${key}`);
      if (!loaded.ok) return loaded.reply;
      const { entry, outcome } = loaded.result;
      const auth = authorize(id, entry, token, params['*'] === STATE_FILE);
      if (!auth.ok) return unauthorized(reply);
      // A player counts once the edge has answered it with the doc of a Space that exists.
      if (lid !== undefined && live && entry.status >= 200 && entry.status < 300)
        live.listeners.seen(id, lid, auth.userId, live.now());
      return sendEntry(reply, entry, outcome, auth.signedIn);
    });

    app.get('/clips/:clipId/*', async (request: FastifyRequest, reply: FastifyReply) => {
      m.requests.inc();
      const params = request.params as { clipId: string; '*': string };
      const parsed = parseClipPath(params.clipId, params['*']);
      if (!parsed.ok) {
        m.rejected.inc();
        return sendError(reply, parsed.error);
      }
      // A separate key space from Spaces' `<id>/<file>` keys.
      const key = `clip:${parsed.id}/${parsed.file}`;
      const loaded = await load(request, reply, key, `${clipsPrefix}/${parsed.id}/${parsed.file}`);
      if (!loaded.ok) return loaded.reply;
      return sendEntry(reply, loaded.result.entry, loaded.result.outcome, false);
    });

    app.options('/spaces/:id/*', preflight);
    app.options('/clips/:clipId/*', preflight);

    await app.register(async (posts) => {
      // sendBeacon posts text/plain; fetch may post either. Both carry JSON, 1 KiB at most.
      posts.removeAllContentTypeParsers();
      posts.addContentTypeParser(
        ['application/json', 'text/plain'],
        { parseAs: 'string', bodyLimit: LIVE_POST_BODY_LIMIT },
        (_req, body, done) => {
          const text = typeof body === 'string' ? body : body.toString('utf8');
          if (text.trim() === '') return done(null, undefined);
          try {
            done(null, JSON.parse(text) as unknown);
          } catch {
            done(new TribuneError('BAD_REQUEST', 'the body is not JSON'), undefined);
          }
        },
      );

      const spaceOf = (request: FastifyRequest): string => {
        const { id } = request.params as { id: string };
        if (!SPACE_ID_RE.test(id)) throw new TribuneError('BAD_REQUEST', 'invalid Space id');
        if (!live) throw new TribuneError('NOT_FOUND', 'this edge does not serve live state');
        return id;
      };
      const bodyOf = (request: FastifyRequest, allowed: readonly string[]): Record<string, unknown> => {
        const b = request.body;
        if (typeof b !== 'object' || b === null || Array.isArray(b))
          throw new TribuneError('BAD_REQUEST', 'the body must be a JSON object');
        const extra = Object.keys(b).find((k) => !allowed.includes(k));
        if (extra !== undefined) throw new TribuneError('BAD_REQUEST', `unknown field ${extra}`);
        return b as Record<string, unknown>;
      };
      const lidOf = (v: unknown, required: boolean): string | undefined => {
        if (v === undefined && !required) return undefined;
        if (typeof v !== 'string' || !LID_RE.test(v))
          throw new TribuneError('BAD_REQUEST', 'lid must be 8-64 characters of [A-Za-z0-9_-]');
        return v;
      };
      const done = (reply: FastifyReply, status: number): FastifyReply => {
        if (cors) reply.header('access-control-allow-origin', '*');
        return reply.code(status).header('cache-control', 'no-store');
      };

      posts.post('/spaces/:id/leave', { bodyLimit: LIVE_POST_BODY_LIMIT }, async (request, reply) => {
        m.requests.inc();
        const id = spaceOf(request);
        const lid = lidOf(bodyOf(request, ['lid']).lid, true)!;
        if (!authorize(id, undefined, tokenOf(request, rawQueryOf(request))).ok) return unauthorized(reply);
        live!.listeners.leave(id, lid);
        return done(reply, 204).send();
      });

      posts.post('/spaces/:id/reactions', { bodyLimit: LIVE_POST_BODY_LIMIT }, async (request, reply) => {
        m.requests.inc();
        const id = spaceOf(request);
        const body = bodyOf(request, ['emoji', 'lid']);
        if (typeof body.emoji !== 'string') throw new TribuneError('BAD_REQUEST', 'emoji is required');
        if (!isReactionEmoji(body.emoji)) throw new TribuneError('UNKNOWN_EMOJI');
        lidOf(body.lid, false);
        const lv = live!;
        const decision = lv.reactionLimiter.take(`${request.ip} ${id}`, lv.now());
        if (!decision.ok) {
          const seconds = Math.ceil(decision.retryAfterMs / 1000);
          reply.header('retry-after', String(seconds));
          return sendError(reply, new TribuneError('RATE_LIMITED', `retry in ${seconds} s`));
        }
        const token = tokenOf(request, rawQueryOf(request));
        if (access.requiresToken(id) && !authorize(id, undefined, token).ok) return unauthorized(reply);
        // The Space's current doc (usually a HIT): it exists, and its access flag is known.
        const loaded = await load(
          request,
          reply,
          `${id}/${STATE_FILE}`,
          `${originPrefix}/${id}/${STATE_FILE}`,
        );
        if (!loaded.ok) return loaded.reply;
        const { entry, outcome } = loaded.result;
        if (entry.status < 200 || entry.status >= 300) return sendEntry(reply, entry, outcome, false);
        if (!authorize(id, entry, token, true).ok) return unauthorized(reply);
        lv.reactions.add(id, body.emoji);
        lv.countReaction();
        return done(reply, 202).send({ accepted: true });
      });
    });
  };
}

async function loadFromOrigin(loader: OriginLoader, path: string, signal: AbortSignal) {
  const res = await loader.fetch(path, signal);
  return {
    status: res.status,
    contentType: res.headers.contentType,
    cacheControl: res.headers.cacheControl,
    access: res.headers.access,
    body: res.body,
  };
}
