import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { TribuneError } from '../errors.js';
import type { SpaceRegistry } from '../origin/spaces.js';
import { bearer, type TokenClaims, type TokenSigner } from '../origin/tokens.js';
import { validateOffer } from './sdp.js';

export interface WhipRoutesOptions {
  registry: SpaceRegistry;
  tokens: TokenSigner;
  /**
   * The control plane's check at offer time: is this user on stage in this live Space now?
   * Throws SPACE_NOT_FOUND, SPACE_NOT_LIVE or FORBIDDEN.
   */
  authorizePublish(spaceId: string, userId: string | undefined): Promise<void>;
  bodyLimit: number;
  /** WHIP offers one client address may post per minute. */
  perMinute: number;
}

const ID = '^[A-Za-z0-9_-]{1,64}$';

/**
 * WHIP (RFC 9725) signalling: POST an SDP offer, get the answer and a session URL; DELETE it to leave.
 * No trickle ICE: the answer carries every candidate, so PATCH gets 405 as the RFC allows.
 */
export const whipRoutes =
  (opts: WhipRoutesOptions): FastifyPluginAsync =>
  async (app) => {
    app.addContentTypeParser(
      'application/sdp',
      { parseAs: 'string', bodyLimit: opts.bodyLimit },
      (_req, body, done) => done(null, body),
    );

    const authorize = (req: FastifyRequest, spaceId: string): TokenClaims => {
      const token = bearer(req.headers.authorization);
      if (!token) throw new TribuneError('UNAUTHORIZED');
      const claims = opts.tokens.verify(token);
      if (!claims) throw new TribuneError('UNAUTHORIZED', 'invalid token');
      if (claims.s !== spaceId) throw new TribuneError('FORBIDDEN', 'token is for another Space');
      if (claims.r !== 'publish' || !claims.u)
        throw new TribuneError('FORBIDDEN', 'this token does not allow publishing');
      return claims;
    };

    app.post<{ Params: { spaceId: string } }>(
      '/:spaceId',
      {
        bodyLimit: opts.bodyLimit,
        // A speaker reconnecting to a live Space must get back on stage while Redis (the shared
        // counters) is down: the limit is skipped then; offers still need a signed publish token.
        config: { rateLimit: { max: opts.perMinute, timeWindow: 60_000, skipOnError: true } },
        schema: {
          params: {
            type: 'object',
            properties: { spaceId: { type: 'string', pattern: ID } },
            required: ['spaceId'],
          },
        },
      },
      async (req, reply) => {
        if (!/^application\/sdp\b/i.test(req.headers['content-type'] ?? ''))
          throw new TribuneError('UNSUPPORTED_MEDIA_TYPE', 'WHIP offers are application/sdp');
        const { spaceId } = req.params;
        const claims = authorize(req, spaceId);
        await opts.authorizePublish(spaceId, claims.u);
        const offer = typeof req.body === 'string' ? req.body : '';
        validateOffer(offer, {
          maxBytes: opts.bodyLimit,
          maxLines: 2000,
          maxLineLength: 4096,
          maxMediaSections: 8,
        });
        const { speakerId, answerSdp } = await opts.registry.publish(spaceId, claims.u ?? '', offer);
        return reply
          .code(201)
          .header('Content-Type', 'application/sdp')
          .header('Location', `/whip/${spaceId}/${speakerId}`)
          .header('ETag', `"${speakerId}"`)
          .header('X-Tribune-Speaker-Id', speakerId)
          .send(answerSdp);
      },
    );

    const session = {
      params: {
        type: 'object',
        properties: { spaceId: { type: 'string', pattern: ID }, speakerId: { type: 'string', pattern: ID } },
        required: ['spaceId', 'speakerId'],
      },
    };

    app.delete<{ Params: { spaceId: string; speakerId: string } }>(
      '/:spaceId/:speakerId',
      { schema: session },
      async (req, reply) => {
        const claims = authorize(req, req.params.spaceId);
        await opts.registry.unpublish(req.params.spaceId, req.params.speakerId, claims.u);
        return reply.code(200).send();
      },
    );

    const notAllowed = async (_req: FastifyRequest, reply: FastifyReply): Promise<never> => {
      void reply.header('Allow', 'DELETE');
      throw new TribuneError('METHOD_NOT_ALLOWED', 'trickle ICE and ICE restarts are not supported');
    };
    app.patch('/:spaceId/:speakerId', { schema: session }, notAllowed);

    app.options('/:spaceId', async (_req, reply) =>
      reply.code(204).header('Accept-Post', 'application/sdp').header('Allow', 'OPTIONS, POST').send(),
    );
  };
