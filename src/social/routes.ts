/**
 * The social HTTP API under /api: profiles, follows, the notification feed, search, calendar files
 * and embeds. Every list is paged (`?cursor=&limit=`, limit 1–100, `nextCursor` in the answer).
 * Follows are rate-limited per user (per address when signed out): `429 RATE_LIMITED` + Retry-After.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { requireUser } from '../accounts/plugin.js';
import { ErrorBody, IdParams } from '../api/schemas.js';
import {
  EmbedInfo,
  FeedPage,
  FollowPage,
  FollowState,
  HandleParams,
  PageQuery,
  SearchQuery,
  SpacePage,
  UserProfile,
  UserSpacesQuery,
} from '../api/social-schemas.js';
import type { UserRecord } from '../store/types.js';
import type { SocialService } from './service.js';

export interface SocialRoutesOptions {
  social: SocialService;
  /** Follows and unfollows one user (or address) may make per minute. */
  followsPerMinute?: number;
  /** Searches per client address per minute. */
  searchesPerMinute?: number;
}

const errors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  429: ErrorBody,
};
const userOf = (req: FastifyRequest): UserRecord | null => req.user ?? null;
/** The origin people reach this server at (for absolute links in calendar files and snippets). */
const originOf = (req: FastifyRequest): string => `${req.protocol}://${req.host}`;

export const socialRoutes =
  (opts: SocialRoutesOptions): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { social } = opts;
    const tags = ['social'];
    const noStore = { 'cache-control': 'no-store' };

    app.get(
      '/users/:handle',
      {
        schema: {
          tags,
          summary: 'A profile: names, follower and following counts, whether you follow them',
          params: HandleParams,
          response: { 200: UserProfile, ...errors },
        },
      },
      async (req, reply) => {
        void reply.headers(noStore);
        return social.profile(req.params.handle, userOf(req));
      },
    );

    app.get(
      '/users/:handle/spaces',
      {
        schema: {
          tags,
          summary: "A host's Spaces (live and ended newest first, scheduled soonest first), paged",
          params: HandleParams,
          querystring: UserSpacesQuery,
          response: { 200: SpacePage, ...errors },
        },
      },
      async (req, reply) => {
        void reply.headers(noStore);
        return social.hostSpaces(req.params.handle, req.query, userOf(req));
      },
    );

    // One route for both methods: they share one flood limit.
    app.route({
      method: ['PUT', 'DELETE'],
      url: '/users/:handle/follow',
      config: {
        rateLimit: {
          max: opts.followsPerMinute ?? 30,
          timeWindow: 60_000,
          keyGenerator: (req: FastifyRequest) => (req.user ? `user:${req.user.id}` : `ip:${req.ip}`),
        },
      },
      schema: {
        tags,
        summary: 'Follow (PUT) or unfollow (DELETE) someone; idempotent',
        params: HandleParams,
        response: { 200: FollowState, ...errors },
      },
      handler: async (req) => social.follow(requireUser(req), req.params.handle, req.method === 'PUT'),
    });

    app.get(
      '/users/:handle/followers',
      {
        schema: {
          tags,
          summary: 'Who follows this user, newest first, paged',
          params: HandleParams,
          querystring: PageQuery,
          response: { 200: FollowPage, ...errors },
        },
      },
      async (req, reply) => {
        void reply.headers(noStore);
        return social.followers(req.params.handle, req.query);
      },
    );
    app.get(
      '/users/:handle/following',
      {
        schema: {
          tags,
          summary: 'Whom this user follows, newest first, paged',
          params: HandleParams,
          querystring: PageQuery,
          response: { 200: FollowPage, ...errors },
        },
      },
      async (req, reply) => {
        void reply.headers(noStore);
        return social.following(req.params.handle, req.query);
      },
    );

    app.get(
      '/me/following/spaces',
      {
        schema: {
          tags,
          summary: 'Live (newest first) or scheduled (soonest first) Spaces of the people you follow',
          querystring: Type.Object({
            state: Type.Union([Type.Literal('live'), Type.Literal('scheduled')]),
            cursor: PageQuery.properties.cursor,
            limit: PageQuery.properties.limit,
          }),
          response: { 200: SpacePage, ...errors },
        },
      },
      async (req, reply) => {
        void reply.headers(noStore);
        const { state, ...page } = req.query;
        return social.followedSpaces(requireUser(req), state, page);
      },
    );

    app.get(
      '/me/feed',
      {
        schema: {
          tags,
          summary:
            'Your notifications: reminders of Spaces you subscribed to, and Spaces the people you follow scheduled or started',
          querystring: PageQuery,
          response: { 200: FeedPage, ...errors },
        },
      },
      async (req, reply) => {
        void reply.headers(noStore);
        return social.feed(requireUser(req), req.query);
      },
    );
    app.post(
      '/me/feed/read',
      {
        schema: {
          tags,
          summary: 'Mark your whole feed read',
          response: { 204: Type.Null(), ...errors },
        },
      },
      async (req, reply) => {
        await social.markFeedRead(requireUser(req));
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/search',
      {
        config: { rateLimit: { max: opts.searchesPerMinute ?? 120, timeWindow: 60_000 } },
        schema: {
          tags,
          summary: 'Spaces by title and host (handle or name): live, then scheduled, then ended; paged',
          querystring: SearchQuery,
          response: { 200: SpacePage, ...errors },
        },
      },
      async (req, reply) => {
        void reply.headers(noStore);
        const { q, ...page } = req.query;
        return social.search(q, page, userOf(req));
      },
    );

    app.get(
      '/spaces/:id/calendar.ics',
      {
        schema: {
          tags,
          summary: 'A scheduled Space as an iCalendar (RFC 5545) event, 1 h long',
          params: IdParams,
          response: { 200: Type.String({ description: 'text/calendar' }), ...errors },
        },
      },
      async (req, reply) => {
        const ics = await social.calendar(req.params.id, originOf(req));
        return reply
          .type('text/calendar; charset=utf-8')
          .header('content-disposition', `attachment; filename="tribune-${req.params.id}.ics"`)
          .header('cache-control', 'no-store')
          .send(ics);
      },
    );

    app.get(
      '/spaces/:id/embed',
      {
        schema: {
          tags,
          summary:
            'The embeddable player of a Space and its <iframe> snippet (403 EMBED_NOT_AVAILABLE when listeners must sign in, 404 REPLAY_NOT_AVAILABLE when ended without a replay)',
          params: IdParams,
          response: { 200: EmbedInfo, ...errors },
        },
      },
      async (req, reply) => {
        void reply.headers(noStore);
        return social.embed(req.params.id, originOf(req));
      },
    );
  };
