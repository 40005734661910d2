/**
 * Profiles, follows, the notification feed, search, calendar files and embeds, over Storage.
 *
 * Followers are never written to one by one. A host scheduling a Space or going live costs one
 * operator webhook event (`host.scheduled` / `host.live`, carrying the host, their follower count
 * and the Space; the operator pages `GET /api/users/:handle/followers` if it wants the list), and no
 * notification rows: a follower's feed pulls the recent Spaces of the hosts they follow when they
 * read it (Storage.notificationFeed), so the cost is per read and per followed host, never per
 * follower. Each user follows at most `maxFollowing` people, which bounds that read.
 */
import type {
  EmbedInfo,
  FeedItemView,
  FeedPage,
  FollowPage,
  FollowState,
  PageQuery,
  SpacePage,
  UserProfile,
  UserSpacesQuery,
} from '../api/social-schemas.js';
import type { SpaceState } from '../api/schemas.js';
import { TribuneError } from '../errors.js';
import { newId } from '../origin/spaces.js';
import type { SpaceService } from '../spaces/service.js';
import { toUserRef } from '../spaces/service.js';
import { spaceSortAt, STATE_RANK, type FollowEntry } from '../store/social-types.js';
import type { SpaceRecord, UserRecord } from '../store/types.js';
import { decodeCursor, decodeRankedCursor, pageOf } from './cursor.js';
import { embedPath, embedRefusal, embedSnippet } from './embed.js';
import { buildIcs, DEFAULT_EVENT_MS } from './ics.js';
import { searchTerms } from './search.js';

export interface SocialOptions {
  /** People one user may follow (bounds the cost of reading their feed). Default 5,000. */
  maxFollowing?: number;
  /** How far back a feed pulls followed hosts' Spaces. Default 30 days. */
  feedDays?: number;
}

const DEFAULT_LIMIT = 20;
const DAY_MS = 86_400_000;

export const profilePath = (handle: string): string => `/u/${encodeURIComponent(handle)}`;

export class SocialService {
  readonly maxFollowing: number;
  private readonly feedDays: number;

  constructor(
    private readonly svc: SpaceService,
    opts: SocialOptions = {},
  ) {
    this.maxFollowing = opts.maxFollowing ?? 5000;
    this.feedDays = opts.feedDays ?? 30;
  }

  private get storage() {
    return this.svc.storage;
  }

  private nowIso(): string {
    return new Date(this.svc.now()).toISOString();
  }

  /** A user by handle (any case, an optional leading @), or USER_NOT_FOUND. */
  async userByHandle(handle: string): Promise<UserRecord> {
    const u = await this.storage.userByHandle(handle.replace(/^@/, '').toLowerCase());
    if (!u) throw new TribuneError('USER_NOT_FOUND');
    return u;
  }

  async profile(handle: string, viewer: UserRecord | null): Promise<UserProfile> {
    const u = await this.userByHandle(handle);
    const counts = await this.storage.followCounts(u.id);
    return {
      ...toUserRef(u),
      avatarUrl: null,
      followers: counts.followers,
      following: counts.following,
      followedByMe: !!viewer && viewer.id !== u.id && (await this.storage.isFollowing(viewer.id, u.id)),
      isMe: viewer?.id === u.id,
      profileUrl: profilePath(u.handle),
      createdAt: u.createdAt,
    };
  }

  /** Follows (on) or unfollows; idempotent. */
  async follow(viewer: UserRecord, handle: string, on: boolean): Promise<FollowState> {
    const u = await this.userByHandle(handle);
    if (u.id === viewer.id) throw new TribuneError('CANNOT_FOLLOW_SELF');
    if (on) {
      if (
        !(await this.storage.isFollowing(viewer.id, u.id)) &&
        (await this.storage.followCounts(viewer.id)).following >= this.maxFollowing
      )
        throw new TribuneError('FOLLOW_LIMIT_REACHED', `at most ${this.maxFollowing}`);
      await this.storage.follow(viewer.id, u.id, this.nowIso());
    } else {
      await this.storage.unfollow(viewer.id, u.id);
    }
    return { following: on, followers: (await this.storage.followCounts(u.id)).followers };
  }

  async followers(handle: string, q: PageQuery): Promise<FollowPage> {
    const u = await this.userByHandle(handle);
    const limit = q.limit ?? DEFAULT_LIMIT;
    const rows = await this.storage.followers(u.id, { after: decodeCursor(q.cursor), limit: limit + 1 });
    return this.followPage(rows, limit);
  }

  async following(handle: string, q: PageQuery): Promise<FollowPage> {
    const u = await this.userByHandle(handle);
    const limit = q.limit ?? DEFAULT_LIMIT;
    const rows = await this.storage.following(u.id, { after: decodeCursor(q.cursor), limit: limit + 1 });
    return this.followPage(rows, limit);
  }

  private followPage(rows: FollowEntry[], limit: number): FollowPage {
    const { items, nextCursor } = pageOf(rows, limit, (e) => ({ at: e.since, id: e.user.id }));
    return { users: items.map((e) => ({ user: toUserRef(e.user), since: e.since })), nextCursor };
  }

  /** A host's Spaces: live and ended newest first, scheduled soonest first; all states newest first. */
  async hostSpaces(handle: string, q: UserSpacesQuery, viewer: UserRecord | null): Promise<SpacePage> {
    const u = await this.userByHandle(handle);
    const limit = q.limit ?? DEFAULT_LIMIT;
    const states: SpaceState[] = q.state ? [q.state] : ['live', 'scheduled', 'ended'];
    const rows = await this.storage.spacesByHost(u.id, {
      states,
      after: decodeCursor(q.cursor),
      limit: limit + 1,
      ascending: q.state === 'scheduled',
    });
    return this.spacePage(rows, limit, viewer);
  }

  /** Live or scheduled Spaces of the people `viewer` follows (home: "From people you follow"). */
  async followedSpaces(viewer: UserRecord, state: 'live' | 'scheduled', q: PageQuery): Promise<SpacePage> {
    const limit = q.limit ?? DEFAULT_LIMIT;
    const rows = await this.storage.followedSpaces(viewer.id, {
      states: [state],
      after: decodeCursor(q.cursor),
      limit: limit + 1,
      ascending: state === 'scheduled',
    });
    return this.spacePage(rows, limit, viewer);
  }

  private async spacePage(rows: SpaceRecord[], limit: number, viewer: UserRecord | null): Promise<SpacePage> {
    const { items, nextCursor } = pageOf(rows, limit, (s) => ({ at: spaceSortAt(s), id: s.id }));
    const spaces = [];
    for (const s of items)
      if (!this.svc.moderation.isHidden(s.id)) spaces.push(await this.svc.listItem(s, viewer));
    return { spaces, nextCursor };
  }

  /** Title and host search: live first, then scheduled, then ended, newest first within each. */
  async search(q: string, page: PageQuery, viewer: UserRecord | null): Promise<SpacePage> {
    const terms = searchTerms(q);
    const limit = page.limit ?? DEFAULT_LIMIT;
    const rows = await this.storage.searchSpaces({
      terms,
      after: decodeRankedCursor(page.cursor),
      limit: limit + 1,
    });
    const { items, nextCursor } = pageOf(rows, limit, (s) => ({
      at: spaceSortAt(s),
      id: s.id,
      rank: STATE_RANK[s.state],
    }));
    const spaces = [];
    for (const s of items)
      if (!this.svc.moderation.isHidden(s.id)) spaces.push(await this.svc.listItem(s, viewer));
    return { spaces, nextCursor };
  }

  /** Your reminders and what the people you follow scheduled or started, newest first. */
  async feed(viewer: UserRecord, q: PageQuery): Promise<FeedPage> {
    const limit = q.limit ?? DEFAULT_LIMIT;
    const rows = await this.storage.notificationFeed(viewer.id, {
      sinceIso: new Date(this.svc.now() - this.feedDays * DAY_MS).toISOString(),
      after: decodeCursor(q.cursor),
      limit: limit + 1,
    });
    const { items, nextCursor } = pageOf(rows, limit, (i) => ({ at: i.at, id: i.id }));
    const out: FeedItemView[] = [];
    for (const i of items)
      out.push({
        id: i.id,
        kind: i.kind,
        spaceId: i.space.id,
        spaceTitle: i.space.title,
        spaceState: i.space.state,
        scheduledFor: i.space.scheduledFor,
        host: toUserRef(await this.svc.user(i.space.hostId)),
        createdAt: i.at,
        readAt: i.readAt,
      });
    return { items: out, nextCursor };
  }

  async markFeedRead(viewer: UserRecord): Promise<void> {
    await this.storage.markFeedRead(viewer.id, this.nowIso());
  }

  /** A scheduled Space as an iCalendar event (1 h long); SPACE_NOT_SCHEDULED once it started. */
  async calendar(id: string, origin: string): Promise<string> {
    const s = await this.svc.space(id);
    if (s.state !== 'scheduled' || !s.scheduledFor) throw new TribuneError('SPACE_NOT_SCHEDULED');
    const host = await this.svc.user(s.hostId);
    const start = new Date(s.scheduledFor);
    const url = `${origin}/s/${encodeURIComponent(s.id)}`;
    const about = s.description ? `${s.description}\n\n` : '';
    return buildIcs({
      uid: `space-${s.id}@${new URL(origin).hostname}`,
      stamp: new Date(this.svc.now()),
      start,
      end: new Date(start.getTime() + DEFAULT_EVENT_MS),
      summary: s.title,
      description: `${about}A live Space on Tribune hosted by ${host.displayName} (@${host.handle}).\nListen: ${url}`,
      url,
    });
  }

  /** The embed of a Space (its player page and snippet), or why it cannot be embedded. */
  async embed(id: string, origin: string): Promise<EmbedInfo> {
    const space = await this.svc.publicView(id);
    const refusal = embedRefusal(space);
    if (refusal) throw new TribuneError(refusal);
    return {
      spaceId: space.id,
      embedUrl: `${origin}${embedPath(space.id)}`,
      snippet: embedSnippet(origin, space),
      space,
    };
  }

  /**
   * A Space was scheduled or went live: one webhook event for the host's followers (none without
   * followers, or without a webhook). The outbox delivers it, signed and retried.
   */
  async announce(s: SpaceRecord): Promise<void> {
    if (!this.svc.config.webhookUrl || s.state === 'ended') return;
    const { followers } = await this.storage.followCounts(s.hostId);
    if (followers === 0) return;
    const host = await this.svc.user(s.hostId);
    const at = this.nowIso();
    await this.storage.enqueueOutbox({
      id: newId(12),
      payload: JSON.stringify({
        type: s.state === 'live' ? 'host.live' : 'host.scheduled',
        at,
        host: {
          ...toUserRef(host),
          followers,
          profileUrl: profilePath(host.handle),
          followersUrl: `/api/users/${encodeURIComponent(host.handle)}/followers`,
        },
        space: {
          id: s.id,
          title: s.title,
          description: s.description,
          state: s.state,
          requireSignIn: s.requireSignIn,
          scheduledFor: s.scheduledFor,
          startedAt: s.startedAt,
          shareUrl: `/s/${s.id}`,
        },
      }),
      attempts: 0,
      nextAttemptAt: at,
      createdAt: at,
    });
  }
}
