/**
 * The public HTTP API's shapes, as JSON Schemas (TypeBox). One definition serves three purposes:
 * fastify validates requests and serialises responses with them, @fastify/swagger turns them into
 * the OpenAPI document at /api/openapi.json, and `Static<>` gives the TypeScript types that the
 * typed client (src/client) and the web app use.
 */
import { Type, type Static } from 'typebox';

const Id = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });
const IsoDate = Type.String({ format: 'date-time' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const IdParams = Type.Object({ id: Id });
export const MemberParams = Type.Object({ id: Id, userId: Id });

export const UserRef = Type.Object({ id: Type.String(), handle: Type.String(), displayName: Type.String() });
export type UserRef = Static<typeof UserRef>;

export const RoleSchema = Type.Union([
  Type.Literal('host'),
  Type.Literal('cohost'),
  Type.Literal('speaker'),
  Type.Literal('listener'),
]);
export type Role = Static<typeof RoleSchema>;

export const SpaceStateSchema = Type.Union([
  Type.Literal('scheduled'),
  Type.Literal('live'),
  Type.Literal('ended'),
]);
export type SpaceState = Static<typeof SpaceStateSchema>;

export const ReplayStateSchema = Type.Union([
  Type.Literal('none'),
  Type.Literal('available'),
  Type.Literal('deleted'),
  Type.Literal('expired'),
]);

/** The caller's own standing in a Space (null when anonymous). */
export const MeInSpace = Type.Object({
  role: Nullable(RoleSchema),
  hostMuted: Type.Boolean(),
  unmuteLocked: Type.Boolean(),
  selfMuted: Type.Boolean(),
  blocked: Type.Boolean(),
  requested: Type.Boolean(),
  subscribed: Type.Boolean(),
  /**
   * The latest restriction a moderator applied to this user in this Space (DSA Art. 17: shown the
   * moment it applies; the full statement and the way to complain are at /decisions).
   */
  restriction: Type.Optional(
    Nullable(
      Type.Object({
        statementId: Type.String(),
        caseId: Type.String(),
        restriction: Type.String(),
        summary: Type.String(),
        at: Type.String(),
      }),
    ),
  ),
});
export type MeInSpace = Static<typeof MeInSpace>;

/** A live Space at a glance (lists): the listener count and who is on stage, from the live state. */
export const LiveSummary = Type.Object({
  listeners: Type.Integer(),
  speakers: Type.Array(
    Type.Object({
      userId: Type.String(),
      handle: Type.String(),
      name: Type.String(),
      role: Type.String(),
      speaking: Type.Boolean(),
      muted: Type.Boolean(),
    }),
  ),
});
export type LiveSummary = Static<typeof LiveSummary>;

export const SpaceView = Type.Object({
  id: Type.String(),
  title: Type.String(),
  description: Type.String(),
  state: SpaceStateSchema,
  requireSignIn: Type.Boolean(),
  scheduledFor: Nullable(Type.String()),
  createdAt: Type.String(),
  startedAt: Nullable(Type.String()),
  endedAt: Nullable(Type.String()),
  host: UserRef,
  /** Page to share: /s/:id */
  shareUrl: Type.String(),
  /** LL-HLS master playlist on the edge (add ?token= when requireSignIn). */
  playbackUrl: Type.String(),
  /** Live state document on the edge (long-poll with ?v=&lid=). */
  stateUrl: Type.String(),
  /** POST {emoji} here (edge) to react. */
  reactionsUrl: Type.String(),
  /** POST {lid} here (edge) when a listener leaves. */
  leaveUrl: Type.String(),
  replay: Type.Object({
    state: ReplayStateSchema,
    /** VOD playlist on the edge while the replay is available. */
    playbackUrl: Nullable(Type.String()),
    trimStartSec: Type.Number(),
    durationSec: Nullable(Type.Number()),
    expiresAt: Nullable(Type.String()),
  }),
  me: Nullable(MeInSpace),
  /** A moderators' warning label over the Space (DSA moderation), shown to every listener. */
  label: Type.Optional(Nullable(Type.String())),
  /** Lists only (`GET /api/spaces`, profiles, search, following): a live Space's count and stage. */
  live: Type.Optional(LiveSummary),
});
export type SpaceView = Static<typeof SpaceView>;

export const SpaceList = Type.Object({ spaces: Type.Array(SpaceView) });
export type SpaceList = Static<typeof SpaceList>;

export const ListSpacesQuery = Type.Object({
  state: Type.Optional(SpaceStateSchema),
});

export const CreateSpaceBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 120 }),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    /** Omit to go live at once; otherwise from now up to 14 days ahead. */
    scheduledFor: Type.Optional(IsoDate),
    requireSignIn: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateSpaceBody = Static<typeof CreateSpaceBody>;

export const PublishToken = Type.Object({
  /** WHIP endpoint (RFC 9725): POST an SDP offer with `Authorization: Bearer <token>`. */
  whipUrl: Type.String(),
  token: Type.String(),
  expiresAt: Type.String(),
});
export type PublishToken = Static<typeof PublishToken>;

export const ListenGrant = Type.Object({
  /** Listen token for the edge (null for anonymous listeners of a public Space). */
  token: Nullable(Type.String()),
  playbackUrl: Type.String(),
  stateUrl: Type.String(),
});
export type ListenGrant = Static<typeof ListenGrant>;

export const InviteLink = Type.Object({ token: Type.String(), url: Type.String(), expiresAt: Type.String() });
export type InviteLink = Static<typeof InviteLink>;
export const AcceptInviteBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 512 }) },
  { additionalProperties: false },
);

export const RoleBody = Type.Object(
  { role: Type.Union([Type.Literal('cohost'), Type.Literal('speaker'), Type.Literal('listener')]) },
  { additionalProperties: false },
);
export type RoleBody = Static<typeof RoleBody>;

export const MuteBody = Type.Object(
  {
    muted: Type.Boolean(),
    /** Host/co-host only: forbid the speaker to unmute themselves (default false). */
    lock: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type MuteBody = Static<typeof MuteBody>;

export const TransferBody = Type.Object({ userId: Id }, { additionalProperties: false });

export const MemberView = Type.Object({
  user: UserRef,
  role: RoleSchema,
  hostMuted: Type.Boolean(),
  unmuteLocked: Type.Boolean(),
  selfMuted: Type.Boolean(),
  blocked: Type.Boolean(),
  /** On stage right now (a live WebRTC connection). */
  connected: Type.Boolean(),
});
export type MemberView = Static<typeof MemberView>;

export const RequestView = Type.Object({ user: UserRef, createdAt: Type.String() });
export type RequestView = Static<typeof RequestView>;

/** What hosts and co-hosts see (GET /participants and the SSE stream). */
export const Participants = Type.Object({
  members: Type.Array(MemberView),
  requests: Type.Array(RequestView),
  /** A sample of signed-in listeners, from the edges' reports (never anyone on stage or blocked). */
  listenerSample: Type.Array(UserRef),
  listeners: Type.Number(),
});
export type Participants = Static<typeof Participants>;

/** `GET /spaces/:id/listeners`: a page of the signed-in listeners (`cursor` from the previous page). */
export const ListenersQuery = Type.Object(
  {
    cursor: Type.Optional(Type.String({ pattern: '^[0-9a-z]{1,11}$' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  },
  { additionalProperties: false },
);
export type ListenersQuery = Static<typeof ListenersQuery>;

/** Who is listening: a page of the signed-in listeners (not on stage), and the anonymous rest. */
export const ListenerList = Type.Object({
  /** Everyone listening: signedIn + anonymous. */
  total: Type.Integer(),
  /** Listeners who are not signed in (the edges' count less the signed-in listeners). */
  anonymous: Type.Integer(),
  /** Signed-in listeners (with the Space's page open), all pages together. */
  signedIn: Type.Integer(),
  /** This page, in the order they arrived. */
  listeners: Type.Array(UserRef),
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: Nullable(Type.String()),
});
export type ListenerList = Static<typeof ListenerList>;

export const TrimBody = Type.Object(
  { startSec: Type.Number({ minimum: 0, maximum: 86_400 }) },
  { additionalProperties: false },
);

export const ClipBody = Type.Object(
  {
    /** Offset into the recording; omit on a live Space for "the last durationSec seconds". */
    startSec: Type.Optional(Type.Number({ minimum: 0, maximum: 86_400 })),
    durationSec: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 30 })),
  },
  { additionalProperties: false },
);
export type ClipBody = Static<typeof ClipBody>;

export const ClipView = Type.Object({
  id: Type.String(),
  spaceId: Type.String(),
  spaceTitle: Type.String(),
  startSec: Type.Number(),
  durationSec: Type.Number(),
  createdAt: Type.String(),
  /** VOD playlist on the edge; plays on its own. */
  playbackUrl: Type.String(),
  /** Page to share: /clip/:id */
  shareUrl: Type.String(),
  /** A listen token for the edges when the clip's Space requires sign-in (else null). */
  token: Nullable(Type.String()),
});
export type ClipView = Static<typeof ClipView>;

export const NotificationView = Type.Object({
  id: Type.String(),
  kind: Type.Literal('space-started'),
  spaceId: Type.String(),
  spaceTitle: Type.String(),
  createdAt: Type.String(),
  readAt: Nullable(Type.String()),
});
export const NotificationList = Type.Object({ notifications: Type.Array(NotificationView) });
export type NotificationView = Static<typeof NotificationView>;
export type NotificationList = Static<typeof NotificationList>;

export const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});

export const Ok = Type.Object({ ok: Type.Literal(true) });
