import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { GEO_BLOCK_HEADER } from '../edge/geo.js';
import { isTribuneError, TribuneError } from '../errors.js';
import { CLIP_PLAYLIST_URI } from './clips.js';
import { INIT_URI, segmentUri } from './playlist.js';
import type { HlsStore } from './store.js';

export type HlsAccess = 'public' | 'signed-in';

export interface HlsOriginRoutesOptions {
  lookup: (spaceId: string) => HlsStore | undefined | Promise<HlsStore | undefined>;
  /** Directory of a clip as `createClip` wrote it; undefined when there is no such clip (404 CLIP_NOT_FOUND). */
  clipDir?: (clipId: string) => string | undefined | Promise<string | undefined>;
  /**
   * Who may listen to a Space. For 'signed-in' every /spaces/:id/* response (success or error) carries
   * `x-tribune-access: signed-in`, so an edge in front knows to require a listen token. Default: public.
   */
  accessFor?: (spaceId: string) => HlsAccess | Promise<HlsAccess>;
  /**
   * Countries whose listeners a Space is closed to: every /spaces/:id/* response carries
   * `x-tribune-geo-block: DE,FR` while the list is not empty (the edges refuse those listeners 451).
   */
  geoBlockFor?: (spaceId: string) => string[];
  /**
   * The Space of a clip and who may listen to it. A clip of a Space that requires sign-in is served
   * with `x-tribune-access: signed-in` and `x-tribune-space: <its Space>`, so edges ask for a listen
   * token of that Space. Default: clips are public.
   */
  clipSpace?: (clipId: string) => Promise<{ spaceId: string; access: HlsAccess } | undefined>;
}

/** Response header naming the Space a clip belongs to (with x-tribune-access: signed-in). */
export const SPACE_HEADER = 'x-tribune-space';

/** Response header naming a Space that needs a signed-in listener (absent for public Spaces). */
export const ACCESS_HEADER = 'x-tribune-access';

export const PLAYLIST_CONTENT_TYPE = 'application/vnd.apple.mpegurl';
export const MEDIA_CONTENT_TYPE = 'video/mp4';

export const CACHE_IMMUTABLE = 'public, max-age=31536000, immutable';
/** Blocking responses are keyed by _HLS_msn/_HLS_part, so a short shared cache is safe. */
export const CACHE_BLOCKING_PLAYLIST = 'public, max-age=2';
export const CACHE_LIVE_PLAYLIST = 'public, max-age=1';
/** A replay's playlist changes when its host trims or deletes it: edges and CDNs recheck it often. */
export const CACHE_VOD_PLAYLIST = 'public, max-age=5';
const CACHE_ERROR = 'no-store';

const SPACE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SEG_FILE = /^(\d{1,12})\.m4s$/;
const PART_FILE = /^(\d{1,12})\.(\d{1,4})\.m4s$/;

interface SpaceParams {
  id: string;
}
interface FileParams extends SpaceParams {
  file: string;
}
interface ClipParams {
  clipId: string;
  file?: string;
}

function sendError(reply: FastifyReply, err: unknown, request: FastifyRequest): FastifyReply {
  const te = isTribuneError(err) ? err : new TribuneError('INTERNAL', undefined, { cause: err });
  // Expected answers (a blocking wait that timed out, a Space moving to another origin) are not errors.
  if (te.status >= 500 && te.code !== 'HLS_NOT_AVAILABLE' && te.code !== 'SPACE_MOVING')
    request.log.error({ err }, 'HLS origin error');
  return reply.code(te.status).header('cache-control', CACHE_ERROR).send(te.toJSON());
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** An AbortSignal that fires when the client goes away before the response is written. */
function clientGone(
  request: FastifyRequest,
  reply: FastifyReply,
): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  // Since Node 16 request.raw 'close' fires once the (empty) GET body has been consumed, not when the client
  // leaves; the response's 'close' before it was written is the reliable "client went away" signal.
  const onClose = (): void => {
    if (!reply.raw.writableEnded) ac.abort();
  };
  reply.raw.on('close', onClose);
  request.raw.socket?.on('close', onClose);
  return {
    signal: ac.signal,
    dispose: () => {
      reply.raw.off('close', onClose);
      request.raw.socket?.off('close', onClose);
    },
  };
}

/**
 * LL-HLS origin for Spaces: master.m3u8, audio.m3u8 (blocking reload), init.mp4, seg/{msn}.m4s and
 * part/{msn}.{part}.m4s under the caller's prefix.
 */
export function hlsOriginRoutes(opts: HlsOriginRoutesOptions): FastifyPluginAsync {
  return async (app) => {
    const storeFor = async (id: string): Promise<HlsStore> => {
      if (!SPACE_ID.test(id)) throw new TribuneError('BAD_REQUEST', 'invalid Space id');
      const store = await opts.lookup(id);
      if (!store) throw new TribuneError('SPACE_NOT_FOUND');
      return store;
    };

    /** Runs a handler with the client-disconnect signal; maps errors to the JSON error shape. */
    const handle =
      (
        fn: (
          store: HlsStore,
          req: FastifyRequest,
          reply: FastifyReply,
          signal: AbortSignal,
        ) => Promise<unknown>,
      ) =>
      async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
        const gone = clientGone(req, reply);
        try {
          const { id } = req.params as SpaceParams;
          if (opts.accessFor && SPACE_ID.test(id) && (await opts.accessFor(id)) === 'signed-in')
            reply.header(ACCESS_HEADER, 'signed-in');
          const geo = opts.geoBlockFor && SPACE_ID.test(id) ? opts.geoBlockFor(id) : undefined;
          if (geo && geo.length > 0) reply.header(GEO_BLOCK_HEADER, geo.join(','));
          return await fn(await storeFor(id), req, reply, gone.signal);
        } catch (err) {
          if (gone.signal.aborted) return reply; // client left: nothing to answer
          return sendError(reply, err, req);
        } finally {
          gone.dispose();
        }
      };

    app.get(
      '/spaces/:id/master.m3u8',
      handle(async (store, _req, reply) => {
        const cache = store.ended ? CACHE_VOD_PLAYLIST : CACHE_LIVE_PLAYLIST;
        return reply.type(PLAYLIST_CONTENT_TYPE).header('cache-control', cache).send(store.masterPlaylist());
      }),
    );

    app.get(
      '/spaces/:id/audio.m3u8',
      handle(async (store, req, reply, signal) => {
        const q = req.query as Record<string, unknown>;
        const res = await store.playlist({ msn: q._HLS_msn, part: q._HLS_part }, signal);
        const cache = res.ended
          ? CACHE_VOD_PLAYLIST
          : res.blocking
            ? CACHE_BLOCKING_PLAYLIST
            : CACHE_LIVE_PLAYLIST;
        return reply.type(PLAYLIST_CONTENT_TYPE).header('cache-control', cache).send(res.body);
      }),
    );

    app.get(
      '/spaces/:id/init.mp4',
      handle(async (store, _req, reply, signal) => {
        const bytes = await store.init(signal);
        return reply.type(MEDIA_CONTENT_TYPE).header('cache-control', CACHE_IMMUTABLE).send(asBuffer(bytes));
      }),
    );

    app.get(
      '/spaces/:id/seg/:file',
      handle(async (store, req, reply, signal) => {
        const m = SEG_FILE.exec((req.params as FileParams).file);
        if (!m) throw new TribuneError('BAD_REQUEST', 'segment names are {msn}.m4s');
        const bytes = await store.segment(Number(m[1]), signal);
        return reply.type(MEDIA_CONTENT_TYPE).header('cache-control', CACHE_IMMUTABLE).send(asBuffer(bytes));
      }),
    );

    app.get(
      '/spaces/:id/part/:file',
      handle(async (store, req, reply, signal) => {
        const m = PART_FILE.exec((req.params as FileParams).file);
        if (!m) throw new TribuneError('BAD_REQUEST', 'part names are {msn}.{part}.m4s');
        const bytes = await store.part(Number(m[1]), Number(m[2]), signal);
        return reply.type(MEDIA_CONTENT_TYPE).header('cache-control', CACHE_IMMUTABLE).send(asBuffer(bytes));
      }),
    );

    // ------------------------------------------------------------ clips: files written once, never changed

    /** Reads one file of a clip: CLIP_NOT_FOUND without the clip (or its playlist), NOT_FOUND without the file. */
    const clipFile = async (clipId: string, rel: string): Promise<Buffer> => {
      if (!SPACE_ID.test(clipId)) throw new TribuneError('BAD_REQUEST', 'invalid clip id');
      const dir = await opts.clipDir?.(clipId);
      if (!dir) throw new TribuneError('CLIP_NOT_FOUND');
      try {
        return await readFile(path.join(dir, rel));
      } catch (err) {
        if (rel === CLIP_PLAYLIST_URI) throw new TribuneError('CLIP_NOT_FOUND', undefined, { cause: err });
        const clipThere = await stat(path.join(dir, CLIP_PLAYLIST_URI)).then(
          () => true,
          () => false,
        );
        if (!clipThere) throw new TribuneError('CLIP_NOT_FOUND', undefined, { cause: err });
        throw new TribuneError('NOT_FOUND', `${rel} of clip ${clipId}`, { cause: err });
      }
    };
    const clipRoute =
      (type: string, rel: (p: ClipParams) => string) =>
      async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
        try {
          const params = req.params as ClipParams;
          if (opts.clipSpace && SPACE_ID.test(params.clipId)) {
            const info = await opts.clipSpace(params.clipId);
            if (info?.access === 'signed-in')
              reply.header(ACCESS_HEADER, 'signed-in').header(SPACE_HEADER, info.spaceId);
          }
          const body = await clipFile(params.clipId, rel(params));
          return await reply.type(type).header('cache-control', CACHE_IMMUTABLE).send(body);
        } catch (err) {
          return sendError(reply, err, req);
        }
      };

    app.get(
      '/clips/:clipId/clip.m3u8',
      clipRoute(PLAYLIST_CONTENT_TYPE, () => CLIP_PLAYLIST_URI),
    );
    app.get(
      '/clips/:clipId/init.mp4',
      clipRoute(MEDIA_CONTENT_TYPE, () => INIT_URI),
    );
    app.get(
      '/clips/:clipId/seg/:file',
      clipRoute(MEDIA_CONTENT_TYPE, (p) => {
        const m = SEG_FILE.exec(p.file ?? '');
        if (!m) throw new TribuneError('BAD_REQUEST', 'segment names are {n}.m4s');
        return segmentUri(Number(m[1]));
      }),
    );
  };
}
