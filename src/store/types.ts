/**
 * The control plane's persistent state and the one interface every store implements.
 * SQLite (`sqlite.ts`) is the default; PostgreSQL (`postgres.ts`, `TRIBUNE_DATABASE_URL`) is the
 * store several origins share. Both pass the same suite (test/support/storage-suite.ts). Methods
 * are async so a networked store fits; the SQLite store answers synchronously underneath. Every write is durable when its promise resolves:
 * the API acknowledges only after that.
 */

import type { SocialStorage } from './social-types.js';
import type { TrustStorage } from './trust-types.js';

export type Role = 'host' | 'cohost' | 'speaker' | 'listener';
export type SpaceState = 'scheduled' | 'live' | 'ended';
export type ReplayState = 'none' | 'available' | 'deleted' | 'expired';

export interface UserRecord {
  id: string;
  /** Unique, lowercase, [a-z0-9_]{3,24}. */
  handle: string;
  displayName: string;
  /** `scrypt$N$r$p$salt$hash` (base64url parts). */
  passwordHash: string;
  /** ISO 8601 */
  createdAt: string;
}

export interface SessionRecord {
  /** SHA-256 (hex) of the cookie value; the raw value is never stored. */
  idHash: string;
  userId: string;
  createdAt: string;
  expiresAt: string;
}

export interface SpaceRecord {
  id: string;
  hostId: string;
  title: string;
  description: string;
  state: SpaceState;
  /** Listeners must be signed in (anonymous listening is the default). */
  requireSignIn: boolean;
  /** When a scheduled Space is due to start (ISO 8601), null for Spaces started at once. */
  scheduledFor: string | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  replayState: ReplayState;
  /** Seconds cut from the start of the replay by the host. */
  replayTrimStartSec: number;
  /** When the replay is deleted from disk (ISO 8601); null while live or without replay. */
  replayExpiresAt: string | null;
}

/** A user's standing in one Space. Listeners appear only once they did something (request, block...). */
export interface MemberRecord {
  spaceId: string;
  userId: string;
  role: Role;
  /** Muted by the host or a co-host. */
  hostMuted: boolean;
  /** The host forbids this speaker to unmute themselves. */
  unmuteLocked: boolean;
  /** Muted by themselves. */
  selfMuted: boolean;
  /** Removed and blocked from this Space. */
  blocked: boolean;
  updatedAt: string;
}

export interface SpeakRequestRecord {
  spaceId: string;
  userId: string;
  createdAt: string;
}

export interface NotificationRecord {
  id: string;
  userId: string;
  spaceId: string;
  kind: 'space-started';
  createdAt: string;
  readAt: string | null;
}

export interface ClipRecord {
  id: string;
  spaceId: string;
  /** null when an anonymous listener made it. */
  creatorId: string | null;
  /** Offset into the Space's recording, seconds. */
  startSec: number;
  durationSec: number;
  createdAt: string;
}

/** A webhook delivery waiting to be sent (outbox: survives restarts, retried with backoff). */
export interface OutboxRecord {
  id: string;
  /** JSON body */
  payload: string;
  attempts: number;
  nextAttemptAt: string;
  createdAt: string;
}

export type NewSpace = Omit<SpaceRecord, 'replayTrimStartSec' | 'replayExpiresAt' | 'replayState'>;

/** The record a new Space starts as (no replay yet): what every backend's createSpace stores. */
export function newSpaceRecord(s: NewSpace): SpaceRecord {
  return { ...s, replayState: 'none', replayTrimStartSec: 0, replayExpiresAt: null };
}

/** Social methods (follows, feed, search): social-types.ts; trust and safety: trust-types.ts. */
export interface Storage extends SocialStorage, TrustStorage {
  // users
  createUser(u: UserRecord): Promise<void>; // throws TribuneError('HANDLE_TAKEN') on a duplicate handle
  userById(id: string): Promise<UserRecord | undefined>;
  userByHandle(handle: string): Promise<UserRecord | undefined>;
  usersByIds(ids: string[]): Promise<UserRecord[]>;

  // sessions
  createSession(s: SessionRecord): Promise<void>;
  sessionByHash(idHash: string): Promise<SessionRecord | undefined>;
  deleteSession(idHash: string): Promise<void>;
  deleteExpiredSessions(nowIso: string): Promise<number>;

  // spaces
  createSpace(s: NewSpace): Promise<SpaceRecord>;
  spaceById(id: string): Promise<SpaceRecord | undefined>;
  /** Newest first (by scheduledFor for scheduled, startedAt for live, endedAt for ended). */
  listSpaces(q: { states: SpaceState[]; limit: number }): Promise<SpaceRecord[]>;
  /**
   * Applies `patch`. With `fence` (several origins: the fencing token of the caller's lease on the
   * Space's media) the write is refused with LEASE_LOST when a newer token was recorded since.
   */
  updateSpace(
    id: string,
    patch: Partial<Omit<SpaceRecord, 'id' | 'createdAt'>>,
    fence?: number,
  ): Promise<SpaceRecord>;
  /**
   * Records that the holder of lease token `fence` now runs the Space's media: true, unless a newer
   * token is already recorded (the caller's lease is stale: false, nothing changes).
   */
  fenceSpaceMedia(id: string, fence: number): Promise<boolean>;
  /** Ended Spaces whose replay is available and replayExpiresAt <= now. */
  expiredReplays(nowIso: string): Promise<SpaceRecord[]>;

  // members (the host is a member with role 'host')
  member(spaceId: string, userId: string): Promise<MemberRecord | undefined>;
  members(spaceId: string, roles?: Role[]): Promise<MemberRecord[]>;
  /** Insert or update (the whole record). */
  putMember(m: MemberRecord): Promise<void>;

  // requests to speak (FIFO by createdAt)
  addRequest(r: SpeakRequestRecord): Promise<void>; // idempotent
  removeRequest(spaceId: string, userId: string): Promise<boolean>;
  requests(spaceId: string): Promise<SpeakRequestRecord[]>;
  clearRequests(spaceId: string): Promise<void>;

  // subscriptions to scheduled Spaces, and in-app notifications
  subscribe(spaceId: string, userId: string): Promise<void>; // idempotent
  unsubscribe(spaceId: string, userId: string): Promise<void>;
  subscribers(spaceId: string): Promise<string[]>;
  isSubscribed(spaceId: string, userId: string): Promise<boolean>;
  addNotifications(n: NotificationRecord[]): Promise<void>;
  notifications(userId: string, limit: number): Promise<NotificationRecord[]>;
  markNotificationsRead(userId: string, nowIso: string): Promise<void>;

  // clips
  createClip(c: ClipRecord): Promise<void>;
  clipById(id: string): Promise<ClipRecord | undefined>;
  clipsForSpace(spaceId: string): Promise<ClipRecord[]>;
  deleteClipsForSpace(spaceId: string): Promise<void>;
  /** A moderator removed one clip (DSA). */
  deleteClip(id: string): Promise<void>;

  // webhook outbox
  enqueueOutbox(o: OutboxRecord): Promise<void>;
  dueOutbox(nowIso: string, limit: number): Promise<OutboxRecord[]>;
  rescheduleOutbox(id: string, attempts: number, nextAttemptAt: string): Promise<void>;
  deleteOutbox(id: string): Promise<void>;

  close(): Promise<void>;
}
