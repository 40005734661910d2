/**
 * The real-time channel for signed-in users on a Space page: server-sent events.
 * - `space`: the SpaceView (state, replay) whenever it changes;
 * - `me`: the user's own standing (role, mutes, block, request) whenever it changes;
 * - `participants`: members, requests and a listener sample, to hosts and co-hosts only;
 * - `doc`: the live state document (speakers, levels, count, reactions) at each publish.
 * Listeners who are not signed in get the same `doc` through the edge instead (cacheable).
 * An open stream also tells housekeeping that the host is still around, and puts its user in the
 * Space's listener presence (presence.ts) until it closes.
 *
 * Moderators' `participants` follows the audience too, not only membership changes: the listener
 * count and sample change with every edge report (about once a second), so each moderator stream
 * looks at them every AUDIENCE_CHECK_MS and sends a fresh `participants` when they changed.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requireUser } from '../accounts/plugin.js';
import { IdParams } from '../api/schemas.js';
import { isModerator } from './policy.js';
import type { SpaceRoutesOptions } from './routes.js';

const HEARTBEAT_MS = 15_000;
/** How often a moderator's stream compares the audience (count, sample) with what it last sent. */
const AUDIENCE_CHECK_MS = 500;

export const eventRoutes =
  (opts: SpaceRoutesOptions): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { svc, stage } = opts;
    const t2 = ['stage'];
    // ------------------------------------------------------------ real-time channel (SSE)
    app.get(
      '/spaces/:id/events',
      {
        schema: {
          tags: t2,
          summary: 'Server-sent events for signed-in users: me, participants (moderators), doc, space',
          params: IdParams,
        },
      },
      async (req, reply) => {
        const user = requireUser(req);
        const id = req.params.id;
        const space = await svc.space(id);
        const raw = reply.raw;
        reply.hijack();
        raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        let closed = false;
        const send = (event: string, data: unknown): void => {
          if (!closed) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        };
        const sendMe = async (): Promise<void> => send('me', await svc.meIn(await svc.space(id), user));
        let participantsTimer: NodeJS.Timeout | undefined;
        /** This user moderates the Space (as of the last `participants` check). */
        let moderator = false;
        /** The audience (count and sample) in the last `participants` sent. */
        let audienceSent = '';
        const audience = (): string =>
          svc.hub.has(id) ? `${svc.hub.listeners(id)} ${svc.hub.sample(id).sort().join(',')}` : '';
        const sendParticipants = (): void => {
          // Bursts of changes (a wave of requests) become one message per 100 ms.
          participantsTimer ??= setTimeout(() => {
            participantsTimer = undefined;
            void (async () => {
              const m = await svc.storage.member(id, user.id);
              moderator = isModerator(m?.role) && !m?.blocked && !closed;
              if (moderator) audienceCheck ??= setInterval(checkAudience, AUDIENCE_CHECK_MS);
              else {
                clearInterval(audienceCheck);
                audienceCheck = undefined;
                return;
              }
              const seen = audience();
              send('participants', await stage.participantsView(id));
              audienceSent = seen;
            })().catch(() => undefined);
          }, 100);
        };
        let audienceCheck: NodeJS.Timeout | undefined;
        function checkAudience(): void {
          if (moderator && !closed && audience() !== audienceSent) sendParticipants();
        }
        const onMe = (sid: string, uid: string) =>
          void (sid === id && uid === user.id && sendMe().catch(() => undefined));
        const onParticipants = (sid: string) => void (sid === id && sendParticipants());
        const onSpace = (sid: string) => {
          if (sid !== id) return;
          void svc.view(id, user).then(
            (v) => send('space', v),
            () => undefined,
          );
          void sendMe().catch(() => undefined);
        };
        const onDoc = (sid: string, doc: unknown) => void (sid === id && send('doc', doc));
        svc.on('me', onMe);
        svc.on('participants', onParticipants);
        svc.on('space', onSpace);
        svc.hub.on('doc', onDoc);
        const isHost = space.hostId === user.id;
        if (isHost) opts.housekeeping.hostPage(id, 1);
        const present = svc.presence.join(id, user.id);
        const ping = setInterval(() => !closed && raw.write(': ping\n\n'), HEARTBEAT_MS);
        raw.on('close', () => {
          closed = true;
          clearInterval(ping);
          clearInterval(audienceCheck);
          clearTimeout(participantsTimer);
          if (present) svc.presence.leave(id, user.id);
          svc.off('me', onMe);
          svc.off('participants', onParticipants);
          svc.off('space', onSpace);
          svc.hub.off('doc', onDoc);
          if (isHost) opts.housekeeping.hostPage(id, -1);
        });
        send('space', await svc.view(id, user));
        await sendMe();
        if (svc.hub.has(id)) send('doc', svc.hub.doc(id));
        sendParticipants();
      },
    );
  };
