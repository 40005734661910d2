/**
 * Shapes of the social API (profiles, follows, the notification feed, search, calendar and
 * embeds), re-exported by schemas.ts. Every list is a page: `nextCursor` (opaque, null on the last
 * page) goes back as `?cursor=`; `limit` is 1–100.
 */
import { Type, type Static } from 'typebox';
import { SpaceStateSchema, SpaceView, UserRef } from './schemas.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const PAGE_LIMIT_MAX = 100;
const Cursor = Type.String({ minLength: 1, maxLength: 512 });
const Limit = Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX });

/** `/users/:handle`: a handle, case-insensitive, with or without a leading @. */
export const HandleParams = Type.Object({ handle: Type.String({ pattern: '^@?[A-Za-z0-9_]{1,32}$' }) });

export const PageQuery = Type.Object({ cursor: Type.Optional(Cursor), limit: Type.Optional(Limit) });
export type PageQuery = Static<typeof PageQuery>;

export const UserSpacesQuery = Type.Object({
  state: Type.Optional(SpaceStateSchema),
  cursor: Type.Optional(Cursor),
  limit: Type.Optional(Limit),
});
export type UserSpacesQuery = Static<typeof UserSpacesQuery>;

export const UserProfile = Type.Object({
  id: Type.String(),
  handle: Type.String(),
  displayName: Type.String(),
  /** An avatar image, when the user has one (the app shows initials otherwise). */
  avatarUrl: Nullable(Type.String()),
  followers: Type.Integer(),
  following: Type.Integer(),
  /** Whether the caller follows this user (false when not signed in). */
  followedByMe: Type.Boolean(),
  /** The caller is this user. */
  isMe: Type.Boolean(),
  /** Page to share: /u/:handle */
  profileUrl: Type.String(),
  createdAt: Type.String(),
});
export type UserProfile = Static<typeof UserProfile>;

/** A page of Spaces (a host's, the ones of people you follow, search results). */
export const SpacePage = Type.Object({ spaces: Type.Array(SpaceView), nextCursor: Nullable(Type.String()) });
export type SpacePage = Static<typeof SpacePage>;

export const FollowEntryView = Type.Object({ user: UserRef, since: Type.String() });
export const FollowPage = Type.Object({
  users: Type.Array(FollowEntryView),
  nextCursor: Nullable(Type.String()),
});
export type FollowPage = Static<typeof FollowPage>;

/** After PUT / DELETE /users/:handle/follow. */
export const FollowState = Type.Object({ following: Type.Boolean(), followers: Type.Integer() });
export type FollowState = Static<typeof FollowState>;

export const FeedKindSchema = Type.Union([
  /** A Space you subscribed to started (a reminder row of yours). */
  Type.Literal('space-started'),
  /** Someone you follow scheduled a Space. */
  Type.Literal('host-scheduled'),
  /** Someone you follow went live. */
  Type.Literal('host-live'),
]);
export type FeedKind = Static<typeof FeedKindSchema>;

export const FeedItemView = Type.Object({
  id: Type.String(),
  kind: FeedKindSchema,
  spaceId: Type.String(),
  spaceTitle: Type.String(),
  /** The Space's state now (a "live" item may have ended since). */
  spaceState: SpaceStateSchema,
  scheduledFor: Nullable(Type.String()),
  host: UserRef,
  createdAt: Type.String(),
  readAt: Nullable(Type.String()),
});
export type FeedItemView = Static<typeof FeedItemView>;
export const FeedPage = Type.Object({ items: Type.Array(FeedItemView), nextCursor: Nullable(Type.String()) });
export type FeedPage = Static<typeof FeedPage>;

export const SEARCH_QUERY_MAX = 200;
/** `q` is checked by the handler: empty → BAD_REQUEST, over 200 characters → QUERY_TOO_LONG. */
export const SearchQuery = Type.Object({
  q: Type.String(),
  cursor: Type.Optional(Cursor),
  limit: Type.Optional(Limit),
});
export type SearchQuery = Static<typeof SearchQuery>;

/** `GET /spaces/:id/embed`: what a host pastes into another site. */
export const EmbedInfo = Type.Object({
  spaceId: Type.String(),
  /** The player page: /embed/:id (absolute). */
  embedUrl: Type.String(),
  /** An `<iframe>` to paste. */
  snippet: Type.String(),
  space: SpaceView,
});
export type EmbedInfo = Static<typeof EmbedInfo>;
