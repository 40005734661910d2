/**
 * Origin side of live state, mounted at `/origin`:
 * - `GET /spaces/:id/state.json[?v=N]`: the Space's LiveDoc with blocking reload (LiveHub.wait).
 *   Edges collapse identical polls into one request, so the origin sees about one request per
 *   edge per version.
 * - `POST /live/report`: edges' signed listener/reaction reports (HMAC over the raw body).
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { TribuneError } from '../errors.js';
import { clientGone, toTribuneError } from './http.js';
import type { LiveHub } from './hub.js';
import { verifyReportSignature } from './signature.js';
import { HLL_P, RATE_BUCKETS, REQUEST_CLASSES } from '../edge/defence/types.js';
import { GEO_BLOCK_HEADER } from '../edge/geo.js';
import {
  ACCESS_HEADER,
  EDGE_SAMPLE_MAX,
  EDGE_SIGNATURE_HEADER,
  type EdgeReport,
  type LiveDoc,
} from './types.js';

export interface LiveOriginRoutesOptions {
  hub: LiveHub;
  /** Key edges sign reports with: `deriveEdgeSecret(tokenSecret)` (what createEdgeLive uses). */
  edgeSecret: Buffer;
  /** Spaces whose listeners need a listen token (the edges enforce it). Default: all public. */
  accessFor?: (spaceId: string) => 'public' | 'signed-in';
  /** Countries whose listeners a Space is closed to (x-tribune-geo-block; the edges enforce it). */
  geoBlockFor?: (spaceId: string) => string[];
  /** Default 256 KiB. */
  reportBodyLimit?: number;
  /** Told of every report accepted (several origins share them: shared/redis-events.ts). */
  onReport?: (signature: string, raw: Buffer) => void;
  /**
   * The answer to an accepted report (200 JSON: the edge's defence orders, src/ops/defence);
   * without it: 204.
   */
  answer?: (report: EdgeReport) => unknown;
}

export const STATE_CONTENT_TYPE = 'application/json; charset=utf-8';
/** A live doc may be shared for a second: it is keyed by the `v` it answers. */
export const CACHE_LIVE_STATE = 'public, max-age=1';
export const CACHE_ENDED_STATE = 'public, max-age=60';
/**
 * A held poll that timed out carries no newer version: stored under its own key, it would be
 * served back to the players re-asking for that same `v` (a spin), so shared caches must not keep it.
 */
export const CACHE_HELD_STATE = 'no-cache';

const SPACE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const VERSION_RE = /^\d{1,15}$/;

/** `v` from a raw query string: undefined when absent; STATE_BAD_VERSION when malformed. */
export function parseStateVersion(rawQuery: string): number | undefined {
  const all = new URLSearchParams(rawQuery).getAll('v');
  if (all.length === 0) return undefined;
  if (all.length > 1 || !VERSION_RE.test(all[0]))
    throw new TribuneError('STATE_BAD_VERSION', 'v must be one non-negative integer');
  return Number(all[0]);
}

/** Cache-Control for a state answer to a poll at version `v`. */
export function stateCacheControl(doc: LiveDoc, v: number | undefined): string {
  if (doc.state === 'ended') return CACHE_ENDED_STATE;
  return v === undefined || doc.v > v ? CACHE_LIVE_STATE : CACHE_HELD_STATE;
}

const count = { type: 'integer', minimum: 0, maximum: 1_000_000_000 } as const;
/** An edge's defence telemetry window (src/edge/defence/types.ts), bounded everywhere. */
const defenceWindowSchema = {
  type: 'object',
  required: [
    'fromMs',
    'toMs',
    'classes',
    'clientsHll',
    'rateHistogram',
    'networks',
    'knownNetworks',
    'patternOk',
    'patternTotal',
    'cpu',
    'tier',
    'underAttack',
    'admission',
    'joinsBySpace',
    'pow',
  ],
  additionalProperties: false,
  properties: {
    fromMs: { type: 'integer', minimum: 0 },
    toMs: { type: 'integer', minimum: 0 },
    classes: {
      type: 'object',
      additionalProperties: false,
      required: REQUEST_CLASSES as unknown as string[],
      properties: Object.fromEntries(REQUEST_CLASSES.map((c) => [c, count])),
    },
    // The base64 of exactly 2^HLL_P register bytes.
    clientsHll: {
      type: 'string',
      minLength: 4 * Math.ceil(2 ** HLL_P / 3),
      maxLength: 4 * Math.ceil(2 ** HLL_P / 3),
      pattern: '^[A-Za-z0-9+/]+={0,2}$',
    },
    rateHistogram: { type: 'array', minItems: RATE_BUCKETS, maxItems: RATE_BUCKETS, items: count },
    networks: count,
    knownNetworks: count,
    patternOk: count,
    patternTotal: count,
    cpu: { type: 'number', minimum: 0, maximum: 1 },
    tier: { type: 'integer', enum: [0, 1, 2, 3] },
    underAttack: { type: 'boolean' },
    admission: {
      type: 'object',
      additionalProperties: false,
      required: ['maxListeners', 'joinsPerSec', 'admitted', 'queue', 'joins', 'admittedInWindow'],
      properties: {
        maxListeners: count,
        joinsPerSec: count,
        admitted: count,
        queue: count,
        joins: count,
        admittedInWindow: count,
      },
    },
    joinsBySpace: {
      type: 'object',
      maxProperties: 100,
      propertyNames: { pattern: '^[A-Za-z0-9_-]{1,64}$' },
      additionalProperties: count,
    },
    pow: {
      type: 'object',
      additionalProperties: false,
      required: ['issued', 'solved', 'failed'],
      properties: { issued: count, solved: count, failed: count },
    },
  },
} as const;

const reportSchema = {
  type: 'object',
  required: ['edgeId', 'atMs', 'spaces'],
  additionalProperties: false,
  properties: {
    edgeId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    atMs: { type: 'integer', minimum: 0 },
    defence: defenceWindowSchema,
    spaces: {
      type: 'object',
      maxProperties: 50_000,
      propertyNames: { pattern: '^[A-Za-z0-9_-]{1,64}$' },
      additionalProperties: {
        type: 'object',
        required: ['listeners', 'reactions', 'sample'],
        additionalProperties: false,
        properties: {
          listeners: { type: 'integer', minimum: 0, maximum: 100_000_000 },
          reactions: {
            type: 'object',
            maxProperties: 32,
            additionalProperties: { type: 'integer', minimum: 0, maximum: 100_000_000 },
          },
          sample: {
            type: 'array',
            maxItems: EDGE_SAMPLE_MAX,
            items: { type: 'string', minLength: 1, maxLength: 128 },
          },
        },
      },
    },
  },
} as const;

export function liveOriginRoutes(opts: LiveOriginRoutesOptions): FastifyPluginAsync {
  const { hub, edgeSecret } = opts;
  const bodyLimit = opts.reportBodyLimit ?? 256 * 1024;
  if (edgeSecret.length === 0) throw new Error('liveOriginRoutes needs a non-empty edgeSecret');
  // One serialisation per published doc, shared by every request that gets it.
  const bodies = new WeakMap<LiveDoc, Buffer>();
  const bodyOf = (doc: LiveDoc): Buffer => {
    let b = bodies.get(doc);
    if (!b) bodies.set(doc, (b = Buffer.from(JSON.stringify(doc))));
    return b;
  };
  const sendError = (reply: FastifyReply, err: TribuneError): FastifyReply =>
    reply.code(err.status).header('cache-control', 'no-store').send(err.toJSON());

  return async (app) => {
    app.setErrorHandler((err, request, reply) => {
      const e = toTribuneError(err);
      if (e.status >= 500) request.log.error({ err }, 'live origin route failed');
      return sendError(reply, e);
    });

    app.get('/spaces/:id/state.json', async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!SPACE_ID_RE.test(id)) return sendError(reply, new TribuneError('BAD_REQUEST', 'invalid Space id'));
      const q = request.url.indexOf('?');
      const v = parseStateVersion(q === -1 ? '' : request.url.slice(q + 1));
      const gone = clientGone(request, reply);
      let doc: LiveDoc;
      try {
        doc = await hub.wait(id, v, gone.signal);
      } catch (err) {
        if (gone.signal.aborted) return reply.code(499).send();
        throw err;
      } finally {
        gone.dispose();
      }
      reply
        .code(200)
        .header('content-type', STATE_CONTENT_TYPE)
        .header('cache-control', stateCacheControl(doc, v));
      if (opts.accessFor?.(id) === 'signed-in') reply.header(ACCESS_HEADER, 'signed-in');
      const geo = opts.geoBlockFor?.(id);
      if (geo && geo.length > 0) reply.header(GEO_BLOCK_HEADER, geo.join(','));
      return reply.send(bodyOf(doc));
    });

    await app.register(async (reports) => {
      // Keep the raw bytes: the signature covers exactly what the edge sent.
      reports.removeAllContentTypeParsers();
      reports.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (_req, body, done) =>
        done(null, body),
      );
      reports.post(
        '/live/report',
        {
          bodyLimit,
          schema: { body: reportSchema },
          preValidation: async (request) => {
            const raw = request.body;
            if (!Buffer.isBuffer(raw)) throw new TribuneError('UNAUTHORIZED', 'missing signed body');
            if (!verifyReportSignature(edgeSecret, raw, request.headers[EDGE_SIGNATURE_HEADER]))
              throw new TribuneError('UNAUTHORIZED', 'bad edge report signature');
            (request as unknown as { rawReport: Buffer }).rawReport = raw;
            try {
              request.body = JSON.parse(raw.toString('utf8')) as unknown;
            } catch {
              throw new TribuneError('BAD_REQUEST', 'report is not JSON');
            }
          },
        },
        async (request, reply) => {
          const report = request.body as EdgeReport;
          if (hub.ingest(report))
            opts.onReport?.(
              String(request.headers[EDGE_SIGNATURE_HEADER]),
              (request as unknown as { rawReport: Buffer }).rawReport,
            );
          if (!opts.answer) return reply.code(204).send();
          return reply.code(200).header('cache-control', 'no-store').send(opts.answer(report));
        },
      );
    });
  };
}
