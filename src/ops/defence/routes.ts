/**
 * The operator console's API and the public status document:
 * - `GET /api/ops/access` (signed in): `{ operator }`, so the page knows without a failed request;
 * - `GET /api/ops/defence` (operators): the console's document (verdict, evidence, edges, series);
 * - `POST /api/ops/defence/mode` `{ mode: off|on|auto }` (operators): under-attack mode;
 * - `POST /api/ops/defence/edges/:edgeId/limits` `{ maxListeners, joinsPerSec }` (operators), and
 *   `DELETE` it: the edge goes back to its own capacity;
 * - `POST /api/ops/defence/edges/:edgeId/tier-floor` `{ tier }` (operators): a brownout drill;
 * - `GET /api/status`, `GET /api/status/key` (public): the signed status document and its key;
 * - `POST /api/status/verify` `{ document, signature }` (public): checks a copy.
 * Operators are the accounts named in the config (`operators`, TRIBUNE_OPERATORS).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { requireUser } from '../../accounts/plugin.js';
import { TribuneError } from '../../errors.js';
import { DEFENCE_MODES, type DefenceCenter, type DefenceMode } from './center.js';

export interface DefenceRoutesOptions {
  center: DefenceCenter;
  /** Account handles of the operators (case-insensitive). */
  operators: readonly string[];
}

/** An edge's id as its reports carry it (src/live/origin-routes.ts). */
const EDGE_ID_RE = '^[A-Za-z0-9_-]{1,64}$';
/** A status document is a few hundred bytes: a copy to check needs no more than this. */
const VERIFY_BODY_LIMIT = 16 * 1024;

export function defenceRoutes(opts: DefenceRoutesOptions): FastifyPluginAsync {
  const { center } = opts;
  const operators = new Set(opts.operators.map((h) => h.toLowerCase()));
  const isOperator = (req: FastifyRequest): boolean => {
    const u = requireUser(req);
    return operators.has(u.handle.toLowerCase());
  };
  const requireOperator = (req: FastifyRequest): void => {
    if (!isOperator(req)) throw new TribuneError('OPERATOR_REQUIRED');
  };
  const edgeParams = {
    type: 'object',
    required: ['edgeId'],
    properties: { edgeId: { type: 'string', pattern: EDGE_ID_RE } },
  } as const;

  return async (app) => {
    app.get('/ops/access', async (req) => ({ operator: isOperator(req) }));

    app.get('/ops/defence', async (req) => {
      requireOperator(req);
      return center.overview();
    });

    app.post(
      '/ops/defence/mode',
      {
        schema: {
          body: {
            type: 'object',
            required: ['mode'],
            additionalProperties: false,
            properties: { mode: { type: 'string', enum: [...DEFENCE_MODES] } },
          },
        },
      },
      async (req) => {
        requireOperator(req);
        center.setMode((req.body as { mode: DefenceMode }).mode);
        req.log.warn({ operator: req.user?.handle, mode: center.mode }, 'under-attack mode changed');
        return center.overview();
      },
    );

    app.post(
      '/ops/defence/edges/:edgeId/limits',
      {
        schema: {
          params: edgeParams,
          body: {
            type: 'object',
            required: ['maxListeners', 'joinsPerSec'],
            additionalProperties: false,
            properties: {
              maxListeners: { type: 'integer', minimum: 0, maximum: 100_000_000 },
              joinsPerSec: { type: 'integer', minimum: 1, maximum: 10_000_000 },
            },
          },
        },
      },
      async (req) => {
        requireOperator(req);
        const { edgeId } = req.params as { edgeId: string };
        if (!center.knowsEdge(edgeId)) throw new TribuneError('NOT_FOUND', 'no edge reports under that id');
        center.setLimits(edgeId, req.body as { maxListeners: number; joinsPerSec: number });
        req.log.warn({ operator: req.user?.handle, edgeId, limits: req.body }, 'edge capacity changed');
        return center.overview();
      },
    );

    app.post(
      '/ops/defence/edges/:edgeId/tier-floor',
      {
        schema: {
          params: edgeParams,
          body: {
            type: 'object',
            required: ['tier'],
            additionalProperties: false,
            properties: { tier: { type: 'integer', enum: [0, 1, 2, 3] } },
          },
        },
      },
      async (req) => {
        requireOperator(req);
        const { edgeId } = req.params as { edgeId: string };
        if (!center.knowsEdge(edgeId)) throw new TribuneError('NOT_FOUND', 'no edge reports under that id');
        const { tier } = req.body as { tier: 0 | 1 | 2 | 3 };
        center.setTierFloor(edgeId, tier);
        req.log.warn({ operator: req.user?.handle, edgeId, tier }, 'edge brownout floor changed');
        return center.overview();
      },
    );

    app.delete('/ops/defence/edges/:edgeId/limits', { schema: { params: edgeParams } }, async (req) => {
      requireOperator(req);
      const { edgeId } = req.params as { edgeId: string };
      if (!center.knowsEdge(edgeId)) throw new TribuneError('NOT_FOUND', 'no edge reports under that id');
      center.clearLimits(edgeId);
      req.log.warn({ operator: req.user?.handle, edgeId }, 'edge capacity back to its own');
      return center.overview();
    });

    app.get('/status', async (_req, reply) => {
      reply.header('cache-control', 'public, max-age=1');
      return center.status();
    });

    app.get('/status/key', async () => ({ alg: 'Ed25519', publicKey: center.publicKey }));

    app.post(
      '/status/verify',
      {
        bodyLimit: VERIFY_BODY_LIMIT,
        schema: {
          body: {
            type: 'object',
            required: ['document', 'signature'],
            properties: { document: { type: 'object' }, signature: { type: 'string', maxLength: 200 } },
          },
        },
      },
      async (req) => {
        const b = req.body as { document: unknown; signature: string };
        if (!center.verifyCopy(b.document, b.signature)) throw new TribuneError('STATUS_SIGNATURE_INVALID');
        return { valid: true };
      },
    );
  };
}
