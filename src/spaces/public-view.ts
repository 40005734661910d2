/**
 * The public view of a Space, for edges: `GET /spaces/:id/view.json` under the origin's `/origin`
 * prefix. It is the SpaceView without the caller's standing (`me` is null) and with relative edge
 * URLs (`/hls/spaces/:id/master.m3u8`, `state.json`, `reactions`, `leave`), so it is the same for
 * every listener and any edge (or CDN) may share it: an anonymous listener's page gets it from
 * the edge at `GET /hls/spaces/:id/view.json` and never asks the origin's API.
 *
 * - live or scheduled: `public, max-age=1` (a start or an end shows within a second or two);
 * - ended: `public, max-age=5` (the replay may still be trimmed or deleted);
 * - unknown Space: 404 SPACE_NOT_FOUND, `public, max-age=1` (edges keep it briefly: a crowd
 *   refreshing a wrong link costs the origin one request a second per edge);
 * - malformed id: 400 BAD_REQUEST, `no-store`.
 * A Space that requires sign-in is still described (title, host, state are not secret; its media
 * and live state need a listen token at the edge), and its answer carries
 * `x-tribune-access: signed-in` like every other origin answer about it.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { SpaceView } from '../api/schemas.js';
import { isTribuneError, TribuneError } from '../errors.js';
import { ACCESS_HEADER } from '../live/types.js';

export interface PublicViewRoutesOptions {
  /** SpaceService.publicView: throws SPACE_NOT_FOUND for an unknown Space. */
  publicView(id: string): Promise<SpaceView>;
  /**
   * The listener list as an anonymous visitor sees it (ListenerDirectory.list with no viewer):
   * served at `listeners.json?limit=&cursor=` for edges to cache (2 s) and share.
   */
  listeners?(id: string, cursor: string | undefined, limit: number): Promise<unknown>;
}

export const VIEW_FILE = 'view.json';
export const VIEW_CONTENT_TYPE = 'application/json; charset=utf-8';
export const CACHE_VIEW_LIVE = 'public, max-age=1';
export const CACHE_VIEW_ENDED = 'public, max-age=5';
export const CACHE_VIEW_NOT_FOUND = 'public, max-age=1';
export const LISTENERS_FILE = 'listeners.json';
export const CACHE_LISTENERS = 'public, max-age=2';
const LISTENERS_QUERY = new Set(['cursor', 'limit']);

const SPACE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Cache-Control of a public view. */
export function viewCacheControl(view: Pick<SpaceView, 'state'>): string {
  return view.state === 'ended' ? CACHE_VIEW_ENDED : CACHE_VIEW_LIVE;
}

export function publicViewRoutes(opts: PublicViewRoutesOptions): FastifyPluginAsync {
  const sendError = (reply: FastifyReply, err: TribuneError): FastifyReply =>
    reply
      .code(err.status)
      .header('content-type', VIEW_CONTENT_TYPE)
      .header('cache-control', err.code === 'SPACE_NOT_FOUND' ? CACHE_VIEW_NOT_FOUND : 'no-store')
      .send(JSON.stringify(err.toJSON()));

  return async (app) => {
    app.get(`/spaces/:id/${VIEW_FILE}`, async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!SPACE_ID_RE.test(id)) return sendError(reply, new TribuneError('BAD_REQUEST', 'invalid Space id'));
      let view: SpaceView;
      try {
        view = await opts.publicView(id);
      } catch (err) {
        if (isTribuneError(err) && err.status < 500) return sendError(reply, err);
        request.log.error({ err, id }, 'public Space view failed');
        return sendError(reply, new TribuneError('INTERNAL'));
      }
      reply
        .code(200)
        .header('content-type', VIEW_CONTENT_TYPE)
        .header('cache-control', viewCacheControl(view));
      if (view.requireSignIn) reply.header(ACCESS_HEADER, 'signed-in');
      return reply.send(JSON.stringify(view));
    });

    const listeners = opts.listeners;
    if (!listeners) return;
    app.get(`/spaces/:id/${LISTENERS_FILE}`, async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!SPACE_ID_RE.test(id)) return sendError(reply, new TribuneError('BAD_REQUEST', 'invalid Space id'));
      const q = request.query as Record<string, string | string[] | undefined>;
      const unknown = Object.keys(q).find((k) => !LISTENERS_QUERY.has(k));
      if (unknown !== undefined || Array.isArray(q.cursor) || Array.isArray(q.limit))
        return sendError(reply, new TribuneError('BAD_REQUEST', 'only one cursor and one limit'));
      const limit = q.limit === undefined ? 50 : /^\d{1,3}$/.test(q.limit) ? Number(q.limit) : NaN;
      let list: unknown;
      try {
        list = await listeners(id, q.cursor, limit);
      } catch (err) {
        if (isTribuneError(err) && err.status < 500) {
          // Members-only Spaces list to signed-in users only (through /api): say so to the edge.
          if (err.code === 'SIGN_IN_REQUIRED') reply.header(ACCESS_HEADER, 'signed-in');
          return sendError(reply, err);
        }
        request.log.error({ err, id }, 'public listener list failed');
        return sendError(reply, new TribuneError('INTERNAL'));
      }
      return reply
        .code(200)
        .header('content-type', VIEW_CONTENT_TYPE)
        .header('cache-control', CACHE_LISTENERS)
        .send(JSON.stringify(list));
    });
  };
}
