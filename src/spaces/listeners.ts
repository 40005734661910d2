/**
 * The listener list every listener sees: `GET /api/spaces/:id/listeners?cursor=&limit=`.
 *
 * - Signed-in listeners come from ListenerPresence (presence.ts: users with the Space's page open),
 *   less whoever is on stage or blocked, in the order they arrived, `limit` (1–100, default 50) at
 *   a time with an opaque cursor: a page costs a binary search, a walk of `limit` entries and one
 *   storage read of those users, whatever the Space's size. Nothing ever returns the whole list.
 * - Anonymous listeners are a count: the edges' listener count less the signed-in listeners.
 * - Access: a Space that requires sign-in lists to signed-in users only (401 SIGN_IN_REQUIRED); a
 *   blocked user gets 403 BLOCKED and is never listed. Bad cursor or limit: 400 BAD_REQUEST;
 *   unknown Space: 404 SPACE_NOT_FOUND. An ended Space has no listeners.
 * - The first page of a Space (what every page asks first) is kept for 1 s, so a crowd opening the
 *   list at once costs the origin one computation per second (dropped when members change).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorBody, IdParams, ListenerList, ListenersQuery } from '../api/schemas.js';
import { TribuneError } from '../errors.js';
import type { UserRecord } from '../store/types.js';
import { isOnStage } from './policy.js';
import { toUserRef, type SpaceService } from './service.js';

export const LISTENERS_DEFAULT_LIMIT = 50;
const FIRST_PAGE_TTL_MS = 1000;
const MAX_MEMO = 10_000;

/** The cursor is the join sequence number of the last listener of the previous page, in base 36. */
export function parseCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const n = /^[0-9a-z]{1,11}$/.test(cursor) ? parseInt(cursor, 36) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new TribuneError('BAD_REQUEST', 'cursor is not valid');
  return n;
}

export class ListenerDirectory {
  /** Space -> limit -> the first page and when it was computed. */
  private readonly firstPages = new Map<string, Map<number, { at: number; list: ListenerList }>>();

  constructor(private readonly svc: SpaceService) {
    svc.on('participants', (id) => this.forget(id));
  }

  forget(spaceId: string): void {
    this.firstPages.delete(spaceId);
  }

  async list(
    spaceId: string,
    viewer: UserRecord | null,
    cursor: string | undefined,
    limit = LISTENERS_DEFAULT_LIMIT,
  ): Promise<ListenerList> {
    const after = parseCursor(cursor);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 100)
      throw new TribuneError('BAD_REQUEST', 'limit must be 1 to 100');
    const s = await this.svc.space(spaceId);
    if (s.requireSignIn && !viewer) throw new TribuneError('SIGN_IN_REQUIRED');
    if (viewer && (await this.svc.storage.member(spaceId, viewer.id))?.blocked)
      throw new TribuneError('BLOCKED');
    if (s.state === 'ended') return { total: 0, anonymous: 0, signedIn: 0, listeners: [], nextCursor: null };

    const now = this.svc.now();
    if (after > 0) return this.compute(spaceId, after, limit);
    const hit = this.firstPages.get(spaceId)?.get(limit);
    if (hit && now - hit.at < FIRST_PAGE_TTL_MS) return hit.list;
    const list = await this.compute(spaceId, after, limit);
    if (this.firstPages.size >= MAX_MEMO) this.firstPages.clear();
    let bySpace = this.firstPages.get(spaceId);
    if (!bySpace) this.firstPages.set(spaceId, (bySpace = new Map()));
    bySpace.set(limit, { at: now, list });
    return list;
  }

  private async compute(spaceId: string, after: number, limit: number): Promise<ListenerList> {
    const { presence, hub, storage } = this.svc;
    // Members are few (the stage, and whoever was ever moved or removed): read them whole.
    const off = new Set(
      (await storage.members(spaceId)).filter((m) => m.blocked || isOnStage(m.role)).map((m) => m.userId),
    );
    let signedIn = presence.count(spaceId);
    for (const uid of off) if (presence.has(spaceId, uid)) signedIn--;
    const page = presence.page(spaceId, after, limit, (uid) => off.has(uid));
    const users = new Map((await storage.usersByIds(page.users)).map((u) => [u.id, u]));
    const counted = hub.has(spaceId) ? hub.listeners(spaceId) : 0;
    const anonymous = Math.max(0, counted - signedIn);
    return {
      total: signedIn + anonymous,
      anonymous,
      signedIn,
      listeners: page.users.flatMap((uid) => {
        const u = users.get(uid);
        return u ? [toUserRef(u)] : [];
      }),
      nextCursor: page.next === null ? null : page.next.toString(36),
    };
  }
}

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

export const listenerRoutes =
  (opts: { svc: SpaceService }): FastifyPluginAsyncTypebox =>
  async (app) => {
    const directory = new ListenerDirectory(opts.svc);
    app.get(
      '/spaces/:id/listeners',
      {
        schema: {
          tags: ['spaces'],
          summary:
            'Who is listening: a page of the signed-in listeners (not on stage) and the count of anonymous ones',
          params: IdParams,
          querystring: ListenersQuery,
          response: { 200: ListenerList, ...errors },
        },
      },
      async (req, reply) => {
        void reply.header('cache-control', 'no-store');
        return directory.list(req.params.id, req.user ?? null, req.query.cursor, req.query.limit);
      },
    );
  };
