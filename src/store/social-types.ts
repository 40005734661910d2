/**
 * The social part of the Storage interface (profiles, follows, the notification feed, search).
 * Every list is paged by a keyset (`after`: the last item of the previous page), newest first unless
 * said otherwise, so a page costs the same at the millionth follower as at the first. Cursors in the
 * API are these keysets encoded (src/social/cursor.ts); a store never sees the encoding.
 */
import type { SpaceRecord, SpaceState, UserRecord } from './types.js';

/** Where a page ends: the sort time of its last item and its id (ties broken by id). */
export interface Keyset {
  at: string;
  id: string;
}

/** A search page's end: the state rank (live 0, scheduled 1, ended 2), then time and id. */
export interface RankedKeyset extends Keyset {
  rank: number;
}

export interface FollowCounts {
  followers: number;
  following: number;
}

/** A follower or followed user, with when the follow began (`since`: also the page key). */
export interface FollowEntry {
  user: UserRecord;
  since: string;
}

export type FeedKind = 'space-started' | 'host-scheduled' | 'host-live';

/**
 * One item of a user's notification feed: one of their own notification rows (reminders of Spaces
 * they subscribed to), or an event of a host they follow, derived from the Space at read time.
 */
export interface FeedItemRecord {
  id: string;
  kind: FeedKind;
  /** When it happened (the reminder, the scheduling, the start). */
  at: string;
  readAt: string | null;
  space: SpaceRecord;
}

export interface SpacePage {
  states: SpaceState[];
  after?: Keyset;
  limit: number;
  /** Soonest first (scheduled Spaces); default newest first. */
  ascending?: boolean;
}

export interface SocialStorage {
  /** Starts following (counts move only when it is new); true if it is new. */
  follow(followerId: string, followeeId: string, atIso: string): Promise<boolean>;
  /** Stops following; true if there was a follow. */
  unfollow(followerId: string, followeeId: string): Promise<boolean>;
  isFollowing(followerId: string, followeeId: string): Promise<boolean>;
  followCounts(userId: string): Promise<FollowCounts>;
  /** Who follows `userId`, newest follow first (keyset: since, follower id). */
  followers(userId: string, page: { after?: Keyset; limit: number }): Promise<FollowEntry[]>;
  /** Whom `userId` follows, newest follow first (keyset: since, followee id). */
  following(userId: string, page: { after?: Keyset; limit: number }): Promise<FollowEntry[]>;

  /**
   * A host's Spaces in `states`, keyed by COALESCE(endedAt, startedAt, scheduledFor, createdAt)
   * (the end, the start, or the schedule), newest first or (`ascending`) soonest first.
   */
  spacesByHost(hostId: string, page: SpacePage): Promise<SpaceRecord[]>;
  /** The same, over every host `followerId` follows. */
  followedSpaces(followerId: string, page: SpacePage): Promise<SpaceRecord[]>;

  /**
   * The user's notification feed, newest first: their notification rows, plus — pulled at read
   * time, never stored per follower — "scheduled" (at createdAt) and "live" (at startedAt) events
   * since `sinceIso` of every Space whose host they follow. A pulled item is read when it is not
   * newer than the user's feed watermark (markFeedRead); a "live" item is left out when the user
   * already has a reminder row for that Space.
   */
  notificationFeed(
    userId: string,
    q: { sinceIso: string; after?: Keyset; limit: number },
  ): Promise<FeedItemRecord[]>;
  /** Marks the whole feed read: the user's rows, and the watermark for pulled items. */
  markFeedRead(userId: string, nowIso: string): Promise<void>;

  /**
   * Spaces whose title or host (handle, display name) has every term as a word prefix; live first,
   * then scheduled, then ended, each newest first.
   */
  searchSpaces(q: { terms: string[]; after?: RankedKeyset; limit: number }): Promise<SpaceRecord[]>;
}

/** The key a Space is paged by in spacesByHost, followedSpaces and searchSpaces. */
export function spaceSortAt(s: SpaceRecord): string {
  return s.endedAt ?? s.startedAt ?? s.scheduledFor ?? s.createdAt;
}

export const STATE_RANK: Record<SpaceState, number> = { live: 0, scheduled: 1, ended: 2 };
