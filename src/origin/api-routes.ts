import type { FastifyPluginAsync } from 'fastify';
import { TribuneError } from '../errors.js';
import type { CreatedSpace } from './api-types.js';
import type { SpaceRegistry } from './spaces.js';
import { bearer, type TokenSigner } from './tokens.js';

export interface ApiRoutesOptions {
  registry: SpaceRegistry;
  tokens: TokenSigner;
  /** Spaces one client address may create per minute. */
  createPerMinute: number;
}

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
  required: ['id'],
} as const;

/** The Spaces control API (JSON). */
export const apiRoutes =
  (opts: ApiRoutesOptions): FastifyPluginAsync =>
  async (app) => {
    const { registry, tokens } = opts;

    app.post<{ Body: { title: string } }>(
      '/spaces',
      {
        config: { rateLimit: { max: opts.createPerMinute, timeWindow: 60_000 } },
        schema: {
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['title'],
            properties: { title: { type: 'string', minLength: 1, maxLength: 120 } },
          },
        },
      },
      async (req, reply) => {
        const title = req.body.title.trim();
        if (!title) throw new TribuneError('BAD_REQUEST', 'title is empty');
        const record = await registry.create(title);
        const i = Math.floor(Date.now() / 1000);
        const hostToken = tokens.sign({ s: record.id, r: 'host', i });
        const inviteToken = tokens.sign({ s: record.id, r: 'speaker', i });
        const created: CreatedSpace = {
          ...registry.view(record.id),
          hostToken,
          inviteToken,
          hostUrl: `/host/${record.id}`,
          inviteUrl: `/join/${record.id}?invite=${inviteToken}`,
          listenUrl: `/listen/${record.id}`,
          whipUrl: `/whip/${record.id}`,
        };
        return reply.code(201).send(created);
      },
    );

    app.get('/spaces', async () => ({ spaces: registry.list() }));

    app.get<{ Params: { id: string } }>(
      '/spaces/:id',
      { schema: { params: idParams } },
      async (req, reply) => {
        void reply.header('Cache-Control', 'no-store');
        return registry.view(req.params.id);
      },
    );

    app.post<{ Params: { id: string } }>('/spaces/:id/end', { schema: { params: idParams } }, async (req) => {
      registry.view(req.params.id);
      const claims = tokens.verify(bearer(req.headers.authorization));
      if (!claims) throw new TribuneError('UNAUTHORIZED');
      if (claims.s !== req.params.id || claims.r !== 'host')
        throw new TribuneError('FORBIDDEN', 'only the host ends a Space');
      await registry.end(req.params.id);
      return registry.view(req.params.id);
    });
  };
