/**
 * Edge routes on fastify under the caller's prefix (mounted at `/hls`): the control side of the
 * listener paths. The GETs themselves (LL-HLS objects, state.json, view.json, stream.mp4, clips)
 * are answered by the bare `node:http` hot path (hot.ts), which the server calls before fastify;
 * the GET routes here hand the raw request to it too, so `inject()` and any server wiring work.
 * - `POST /spaces/:id/leave` `{lid}` and `POST /spaces/:id/reactions` `{emoji, lid?}` (with `live`);
 * - `OPTIONS` preflights.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Gauge, register as defaultRegistry, type Registry } from 'prom-client';
import { isTribuneError, TribuneError } from '../errors.js';
import { isSignedIn, ListenAccess } from '../live/edge-access.js';
import type { EdgeLive } from '../live/edge-live.js';
import { toTribuneError } from '../live/http.js';
import { isReactionEmoji, LISTEN_TOKEN_HEADER } from '../live/types.js';
import { operatorSetLimits } from './admission/http.js';
import { ADMISSION_HEADER, REHEARSAL_HEADER } from './admission/tokens.js';
import type { CacheEntry, EdgeCache } from './cache.js';
import type { EdgeHandler } from './hot.js';
import { fetchCacheInput, type OriginLoader } from './origin-loader.js';
import { LID_RE, LIVE_POST_BODY_LIMIT, SPACE_ID_RE, STATE_FILE } from './paths.js';

export interface EdgeRoutesOptions {
  loader: OriginLoader;
  cache: EdgeCache;
  /** The listener hot path (createEdgeHandler) with the same cache, loader and live state. */
  hot: EdgeHandler;
  /** Path prefix on the origin. Default `/origin/spaces`. */
  originPrefix?: string;
  registry?: Registry;
  /** Add `Access-Control-Allow-Origin: *` (listeners' pages may live on another host). Default true. */
  cors?: boolean;
  /** Live state (createEdgeLive); without it leave/reactions answer 404. */
  live?: EdgeLive;
}

export {
  LID_RE,
  LIVE_POST_BODY_LIMIT,
  parseClipPath,
  parseEdgePath,
  parseStateRequest,
  privateCacheControl,
  SPACE_ID_RE,
} from './paths.js';

function cacheGauges(registry: Registry, cache: EdgeCache): void {
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
}

export function edgeRoutes(opts: EdgeRoutesOptions): FastifyPluginAsync {
  const { loader, cache, live, hot } = opts;
  const originPrefix = (opts.originPrefix ?? '/origin/spaces').replace(/\/+$/, '');
  const cors = opts.cors ?? true;
  cacheGauges(opts.registry ?? defaultRegistry, cache);
  const access = live?.access ?? new ListenAccess();

  const sendError = (reply: FastifyReply, err: TribuneError): FastifyReply => {
    if (cors) reply.header('access-control-allow-origin', '*');
    return reply.code(err.status).header('cache-control', 'no-store').send(err.toJSON());
  };

  const tokenOf = (request: FastifyRequest): string | undefined => {
    const q = request.url.indexOf('?');
    const rawQuery = q === -1 ? '' : request.url.slice(q + 1);
    const t = rawQuery.includes('token=') ? new URLSearchParams(rawQuery).get('token') : null;
    if (t) return t;
    const h = request.headers[LISTEN_TOKEN_HEADER];
    return typeof h === 'string' && h ? h : undefined;
  };

  const allowed = (spaceId: string, entry: CacheEntry | undefined, token: string | undefined): boolean => {
    if (entry) access.note(spaceId, entry.status, entry.access, entry.storedAt, true);
    const signedIn = access.requiresToken(spaceId) || isSignedIn(entry?.access);
    return (
      !signedIn || (token !== undefined && access.check(spaceId, token, live ? live.now() : Date.now()).ok)
    );
  };

  const unauthorized = (reply: FastifyReply): FastifyReply =>
    sendError(reply, new TribuneError('LISTEN_TOKEN_REQUIRED'));

  const preflight = async (_request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    if (cors)
      reply
        .header('access-control-allow-origin', '*')
        .header('access-control-allow-methods', 'GET, POST, OPTIONS')
        .header(
          'access-control-allow-headers',
          `content-type, ${LISTEN_TOKEN_HEADER}, ${ADMISSION_HEADER}, ${REHEARSAL_HEADER}`,
        )
        .header('access-control-max-age', '86400');
    return reply.code(204).header('cache-control', 'no-store').send();
  };

  /** GETs reaching fastify (inject, or a server without the hot path first) go to the hot path. */
  const toHot = (request: FastifyRequest, reply: FastifyReply): void => {
    reply.hijack();
    if (!hot.handle(request.raw, reply.raw)) {
      const err = new TribuneError('NOT_FOUND');
      reply.raw.writeHead(err.status, { 'content-type': 'application/json; charset=utf-8' });
      reply.raw.end(JSON.stringify(err.toJSON()));
    }
  };

  return async (app) => {
    app.setNotFoundHandler((_req, reply) => sendError(reply, new TribuneError('NOT_FOUND')));
    app.setErrorHandler((err, request, reply) => {
      const e = toTribuneError(err);
      if (e.status >= 500) request.log.error({ err }, 'edge request failed');
      return sendError(reply, e);
    });

    app.get('/spaces/:id/*', toHot);
    app.get('/clips/:clipId/*', toHot);
    app.get('/rehearsal', toHot);
    app.get('/admission', toHot);
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
      const bodyOf = (request: FastifyRequest, keys: readonly string[]): Record<string, unknown> => {
        const b = request.body;
        if (typeof b !== 'object' || b === null || Array.isArray(b))
          throw new TribuneError('BAD_REQUEST', 'the body must be a JSON object');
        const extra = Object.keys(b).find((k) => !keys.includes(k));
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
        const id = spaceOf(request);
        const body = bodyOf(request, ['lid', 'admission']);
        const lid = lidOf(body.lid, true)!;
        if (body.admission !== undefined && typeof body.admission !== 'string')
          throw new TribuneError('BAD_REQUEST', 'admission must be a string');
        if (!allowed(id, undefined, tokenOf(request))) return unauthorized(reply);
        live!.listeners.leave(id, lid);
        // The page closed: its place at this edge is free for the next in line.
        if (body.admission) hot.admission?.releaseToken(id, body.admission);
        return done(reply, 204).send();
      });

      posts.post('/admission/limits', { bodyLimit: LIVE_POST_BODY_LIMIT }, async (request, reply) => {
        if (!hot.admission) throw new TribuneError('NOT_FOUND', 'this edge has no admission');
        const out = operatorSetLimits(hot.admission, request.headers, request.body);
        return done(reply, out.status).send(out.body);
      });

      posts.post('/spaces/:id/reactions', { bodyLimit: LIVE_POST_BODY_LIMIT }, async (request, reply) => {
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
        const token = tokenOf(request);
        if (access.requiresToken(id) && !allowed(id, undefined, token)) return unauthorized(reply);
        // The Space's current doc (usually a HIT): it exists, and its access flag is known.
        let entry: CacheEntry;
        try {
          const key = `${id}/${STATE_FILE}`;
          entry = (
            await cache.get(key, (signal) => fetchCacheInput(loader, `${originPrefix}/${key}`, signal))
          ).entry;
        } catch (err) {
          if (isTribuneError(err)) return sendError(reply, err);
          request.log.error({ err }, 'edge load failed');
          return sendError(reply, new TribuneError('ORIGIN_UNAVAILABLE'));
        }
        if (entry.status < 200 || entry.status >= 300) {
          if (cors) reply.header('access-control-allow-origin', '*');
          return reply
            .code(entry.status)
            .header('content-type', entry.contentType ?? 'application/json')
            .header('cache-control', 'no-store')
            .send(entry.body);
        }
        if (!allowed(id, entry, token)) return unauthorized(reply);
        lv.reactions.add(id, body.emoji);
        lv.countReaction();
        return done(reply, 202).send({ accepted: true });
      });
    });
  };
}
