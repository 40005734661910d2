/**
 * The Spaces HTTP API under /api (JSON). Schemas (src/api/schemas.ts) validate every input, shape
 * every output and feed the OpenAPI document. Authorization is decided in the services, not here.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { requireUser } from '../accounts/plugin.js';
import {
  AcceptInviteBody,
  ClipBody,
  ClipView,
  CreateSpaceBody,
  ErrorBody,
  IdParams,
  InviteLink,
  ListenGrant,
  ListSpacesQuery,
  MemberParams,
  MuteBody,
  NotificationList,
  Participants,
  PublishToken,
  RoleBody,
  SpaceList,
  SpaceView,
  TransferBody,
  TrimBody,
} from '../api/schemas.js';
import type { UserRecord } from '../store/types.js';
import { eventRoutes } from './events.js';
import { listenerRoutes } from './listeners.js';
import type { Housekeeping } from './housekeeping.js';
import type { SpaceService } from './service.js';
import type { StageService } from './stage.js';

export interface SpaceRoutesOptions {
  svc: SpaceService;
  stage: StageService;
  housekeeping: Housekeeping;
  /** Spaces one client address may create per minute. */
  createPerMinute: number;
}

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const NoContent = Type.Null();
const userOf = (req: FastifyRequest): UserRecord | null => req.user ?? null;

export const spaceRoutes =
  (opts: SpaceRoutesOptions): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { svc, stage } = opts;
    const tags = ['spaces'];

    app.post(
      '/spaces',
      {
        config: { rateLimit: { max: opts.createPerMinute, timeWindow: 60_000 } },
        schema: {
          tags,
          summary: 'Create a Space: live now, or scheduled up to 14 days ahead',
          body: CreateSpaceBody,
          response: { 201: SpaceView, ...errors },
        },
      },
      async (req, reply) => reply.code(201).send(await svc.create(requireUser(req), req.body)),
    );

    app.get(
      '/spaces',
      {
        schema: {
          tags,
          summary: 'Live, upcoming and recently ended Spaces',
          querystring: ListSpacesQuery,
          response: { 200: SpaceList, ...errors },
        },
      },
      async (req, reply) => {
        void reply.header('cache-control', 'no-store');
        return { spaces: await svc.list(req.query.state, userOf(req)) };
      },
    );

    app.get(
      '/spaces/:id',
      {
        schema: {
          tags,
          summary: "A Space, with the caller's own standing in it",
          params: IdParams,
          response: { 200: SpaceView, ...errors },
        },
      },
      async (req, reply) => {
        void reply.header('cache-control', 'no-store');
        return svc.view(req.params.id, userOf(req));
      },
    );

    const hostAction = (
      path: string,
      summary: string,
      run: (u: UserRecord, id: string) => Promise<unknown>,
    ) =>
      app.post(
        path,
        { schema: { tags, summary, params: IdParams, response: { 200: SpaceView, ...errors } } },
        async (req) => {
          const user = requireUser(req);
          await run(user, req.params.id);
          return svc.view(req.params.id, user);
        },
      );
    hostAction('/spaces/:id/start', 'Start a scheduled Space (host)', (u, id) => svc.start(u, id));
    hostAction('/spaces/:id/end', 'End a live Space (host only)', (u, id) => svc.end(u, id));

    const noContent = { 204: NoContent, ...errors };
    app.post(
      '/spaces/:id/subscribe',
      {
        schema: {
          tags,
          summary: 'Get a reminder when a scheduled Space starts',
          params: IdParams,
          response: noContent,
        },
      },
      async (req, reply) => {
        await svc.subscribe(requireUser(req), req.params.id, true);
        return reply.code(204).send(null);
      },
    );
    app.delete(
      '/spaces/:id/subscribe',
      { schema: { tags, summary: 'Cancel the reminder', params: IdParams, response: noContent } },
      async (req, reply) => {
        await svc.subscribe(requireUser(req), req.params.id, false);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/spaces/:id/listen',
      {
        schema: {
          tags,
          summary: 'Listen: playback URLs, and a listen token for the edge when the Space requires sign-in',
          params: IdParams,
          response: { 200: ListenGrant, ...errors },
        },
      },
      async (req) => svc.listen(req.params.id, userOf(req)),
    );
    app.post(
      '/spaces/:id/publish-token',
      {
        schema: {
          tags,
          summary: 'A WHIP bearer token for someone on stage',
          params: IdParams,
          response: { 200: PublishToken, ...errors },
        },
      },
      async (req) => svc.publishToken(req.params.id, requireUser(req)),
    );
    app.get(
      '/spaces/:id/participants',
      {
        schema: {
          tags,
          summary: 'Members, requests to speak and a listener sample (host, co-hosts)',
          params: IdParams,
          response: { 200: Participants, ...errors },
        },
      },
      async (req) => stage.participants(requireUser(req), req.params.id),
    );

    // ------------------------------------------------------------ requests, invites, roles
    const t2 = ['stage'];
    app.post(
      '/spaces/:id/requests',
      { schema: { tags: t2, summary: 'Ask to speak', params: IdParams, response: noContent } },
      async (req, reply) => {
        await stage.request(requireUser(req), req.params.id);
        return reply.code(204).send(null);
      },
    );
    app.delete(
      '/spaces/:id/requests/me',
      {
        schema: {
          tags: t2,
          summary: 'Withdraw your request to speak',
          params: IdParams,
          response: noContent,
        },
      },
      async (req, reply) => {
        await stage.withdraw(requireUser(req), req.params.id);
        return reply.code(204).send(null);
      },
    );
    app.post(
      '/spaces/:id/requests/:userId/approve',
      {
        schema: {
          tags: t2,
          summary: 'Approve a request: the user becomes a speaker',
          params: MemberParams,
          response: noContent,
        },
      },
      async (req, reply) => {
        await stage.review(requireUser(req), req.params.id, req.params.userId, true);
        return reply.code(204).send(null);
      },
    );
    app.post(
      '/spaces/:id/requests/:userId/deny',
      { schema: { tags: t2, summary: 'Deny a request to speak', params: MemberParams, response: noContent } },
      async (req, reply) => {
        await stage.review(requireUser(req), req.params.id, req.params.userId, false);
        return reply.code(204).send(null);
      },
    );
    app.post(
      '/spaces/:id/invites',
      {
        schema: {
          tags: t2,
          summary: 'An invite link to speak (host, co-hosts)',
          params: IdParams,
          response: { 200: InviteLink, ...errors },
        },
      },
      async (req) => stage.invite(requireUser(req), req.params.id),
    );
    app.post(
      '/spaces/:id/invites/accept',
      {
        schema: {
          tags: t2,
          summary: 'Accept an invite link: become a speaker',
          params: IdParams,
          body: AcceptInviteBody,
          response: noContent,
        },
      },
      async (req, reply) => {
        await stage.acceptInvite(requireUser(req), req.params.id, req.body.token);
        return reply.code(204).send(null);
      },
    );
    app.post(
      '/spaces/:id/members/:userId/role',
      {
        schema: {
          tags: t2,
          summary: 'Change a role (co-hosts: speaker/listener; host: also co-host)',
          params: MemberParams,
          body: RoleBody,
          response: noContent,
        },
      },
      async (req, reply) => {
        await stage.setRole(requireUser(req), req.params.id, req.params.userId, req.body.role);
        return reply.code(204).send(null);
      },
    );
    app.post(
      '/spaces/:id/members/:userId/mute',
      {
        schema: {
          tags: t2,
          summary: 'Mute or unmute a speaker; lock forbids self-unmute',
          params: MemberParams,
          body: MuteBody,
          response: noContent,
        },
      },
      async (req, reply) => {
        await stage.mute(requireUser(req), req.params.id, req.params.userId, req.body.muted, req.body.lock);
        return reply.code(204).send(null);
      },
    );
    app.post(
      '/spaces/:id/members/:userId/remove',
      {
        schema: {
          tags: t2,
          summary: 'Remove and block someone from the Space',
          params: MemberParams,
          response: noContent,
        },
      },
      async (req, reply) => {
        await stage.remove(requireUser(req), req.params.id, req.params.userId);
        return reply.code(204).send(null);
      },
    );
    app.post(
      '/spaces/:id/me/mute',
      {
        schema: {
          tags: t2,
          summary: 'Mute or unmute yourself',
          params: IdParams,
          body: Type.Object({ muted: Type.Boolean() }, { additionalProperties: false }),
          response: noContent,
        },
      },
      async (req, reply) => {
        await stage.muteSelf(requireUser(req), req.params.id, req.body.muted);
        return reply.code(204).send(null);
      },
    );
    app.post(
      '/spaces/:id/me/leave-stage',
      { schema: { tags: t2, summary: 'Go back to listening', params: IdParams, response: noContent } },
      async (req, reply) => {
        await stage.leaveStage(requireUser(req), req.params.id);
        return reply.code(204).send(null);
      },
    );
    app.post(
      '/spaces/:id/transfer',
      {
        schema: {
          tags: t2,
          summary: 'Hand the host role to a co-host or speaker',
          params: IdParams,
          body: TransferBody,
          response: noContent,
        },
      },
      async (req, reply) => {
        await stage.transfer(requireUser(req), req.params.id, req.body.userId);
        return reply.code(204).send(null);
      },
    );

    // ------------------------------------------------------------ replays and clips
    const t3 = ['replays'];
    app.delete(
      '/spaces/:id/replay',
      {
        schema: {
          tags: t3,
          summary: "Delete the Space's replay (host)",
          params: IdParams,
          response: noContent,
        },
      },
      async (req, reply) => {
        await svc.replays.deleteReplay(requireUser(req), req.params.id);
        return reply.code(204).send(null);
      },
    );
    app.post(
      '/spaces/:id/replay/trim',
      {
        schema: {
          tags: t3,
          summary: 'Trim the start of the replay (host)',
          params: IdParams,
          body: TrimBody,
          response: { 200: SpaceView, ...errors },
        },
      },
      async (req) => svc.replays.trimReplay(requireUser(req), req.params.id, req.body.startSec),
    );
    app.post(
      '/spaces/:id/clips',
      {
        config: { rateLimit: { max: 10, timeWindow: 60_000 } },
        schema: {
          tags: t3,
          summary: 'Clip up to 30 s: the last seconds of a live Space, or a range of the replay',
          params: IdParams,
          body: ClipBody,
          response: { 201: ClipView, ...errors },
        },
      },
      async (req, reply) =>
        reply.code(201).send(await svc.replays.createClip(userOf(req), req.params.id, req.body ?? {})),
    );
    app.get(
      '/clips/:id',
      { schema: { tags: t3, summary: 'A clip', params: IdParams, response: { 200: ClipView, ...errors } } },
      async (req) => svc.replays.clip(req.params.id, userOf(req)),
    );

    // ------------------------------------------------------------ notifications
    app.get(
      '/me/notifications',
      {
        schema: {
          tags: ['accounts'],
          summary: 'Your reminders (Space started)',
          response: { 200: NotificationList, ...errors },
        },
      },
      async (req) => {
        const user = requireUser(req);
        const list = await svc.storage.notifications(user.id, 50);
        const titles = new Map<string, string>();
        for (const n of list)
          if (!titles.has(n.spaceId))
            titles.set(n.spaceId, (await svc.storage.spaceById(n.spaceId))?.title ?? '');
        return {
          notifications: list.map((n) => ({
            id: n.id,
            kind: n.kind,
            spaceId: n.spaceId,
            spaceTitle: titles.get(n.spaceId) ?? '',
            createdAt: n.createdAt,
            readAt: n.readAt,
          })),
        };
      },
    );
    app.post(
      '/me/notifications/read',
      { schema: { tags: ['accounts'], summary: 'Mark your reminders read', response: noContent } },
      async (req, reply) => {
        await svc.storage.markNotificationsRead(requireUser(req).id, new Date(svc.now()).toISOString());
        return reply.code(204).send(null);
      },
    );

    await app.register(eventRoutes(opts));
    await app.register(listenerRoutes(opts));
  };
