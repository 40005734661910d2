/** Rows as PostgreSQL returns them (snake_case, real booleans) and their records (types.ts). */
import type {
  ClipRecord,
  MemberRecord,
  NotificationRecord,
  OutboxRecord,
  ReplayState,
  Role,
  SessionRecord,
  SpaceRecord,
  SpaceState,
  SpeakRequestRecord,
  UserRecord,
} from './types.js';

export interface UserRow {
  id: string;
  handle: string;
  display_name: string;
  password_hash: string;
  created_at: string;
}
export interface SessionRow {
  id_hash: string;
  user_id: string;
  created_at: string;
  expires_at: string;
}
export interface SpaceRow {
  id: string;
  host_id: string;
  title: string;
  description: string;
  state: SpaceState;
  require_sign_in: boolean;
  scheduled_for: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  replay_state: ReplayState;
  replay_trim_start_sec: number;
  replay_expires_at: string | null;
}
export interface MemberRow {
  space_id: string;
  user_id: string;
  role: Role;
  host_muted: boolean;
  unmute_locked: boolean;
  self_muted: boolean;
  blocked: boolean;
  updated_at: string;
}
export interface RequestRow {
  space_id: string;
  user_id: string;
  created_at: string;
}
export interface NotificationRow {
  id: string;
  user_id: string;
  space_id: string;
  kind: NotificationRecord['kind'];
  created_at: string;
  read_at: string | null;
}
export interface ClipRow {
  id: string;
  space_id: string;
  creator_id: string | null;
  start_sec: number;
  duration_sec: number;
  created_at: string;
}
export interface OutboxRow {
  id: string;
  payload: string;
  attempts: number;
  next_attempt_at: string;
  created_at: string;
}

/** Column lists (never `*`: tables carry `seq` and the search document beside the record). */
export const USER_COLS = 'id, handle, display_name, password_hash, created_at';
export const SPACE_COLS =
  'id, host_id, title, description, state, require_sign_in, scheduled_for, created_at, started_at, ' +
  'ended_at, replay_state, replay_trim_start_sec, replay_expires_at';
/** A Space's values in SPACE_COLS order (for an INSERT). */
export const spaceParams = (s: SpaceRecord): unknown[] => [
  s.id,
  s.hostId,
  s.title,
  s.description,
  s.state,
  s.requireSignIn,
  s.scheduledFor,
  s.createdAt,
  s.startedAt,
  s.endedAt,
  s.replayState,
  s.replayTrimStartSec,
  s.replayExpiresAt,
];
/** SPACE_COLS of the table aliased `s`. */
export const S_SPACE_COLS = SPACE_COLS.split(', ')
  .map((c) => `s.${c}`)
  .join(', ');

export const toUser = (r: UserRow): UserRecord => ({
  id: r.id,
  handle: r.handle,
  displayName: r.display_name,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
});
export const toSession = (r: SessionRow): SessionRecord => ({
  idHash: r.id_hash,
  userId: r.user_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});
export const toSpace = (r: SpaceRow): SpaceRecord => ({
  id: r.id,
  hostId: r.host_id,
  title: r.title,
  description: r.description,
  state: r.state,
  requireSignIn: r.require_sign_in,
  scheduledFor: r.scheduled_for,
  createdAt: r.created_at,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  replayState: r.replay_state,
  replayTrimStartSec: r.replay_trim_start_sec,
  replayExpiresAt: r.replay_expires_at,
});
export const toMember = (r: MemberRow): MemberRecord => ({
  spaceId: r.space_id,
  userId: r.user_id,
  role: r.role,
  hostMuted: r.host_muted,
  unmuteLocked: r.unmute_locked,
  selfMuted: r.self_muted,
  blocked: r.blocked,
  updatedAt: r.updated_at,
});
export const toRequest = (r: RequestRow): SpeakRequestRecord => ({
  spaceId: r.space_id,
  userId: r.user_id,
  createdAt: r.created_at,
});
export const toNotification = (r: NotificationRow): NotificationRecord => ({
  id: r.id,
  userId: r.user_id,
  spaceId: r.space_id,
  kind: r.kind,
  createdAt: r.created_at,
  readAt: r.read_at,
});
export const toClip = (r: ClipRow): ClipRecord => ({
  id: r.id,
  spaceId: r.space_id,
  creatorId: r.creator_id,
  startSec: r.start_sec,
  durationSec: r.duration_sec,
  createdAt: r.created_at,
});
export const toOutbox = (r: OutboxRow): OutboxRecord => ({
  id: r.id,
  payload: r.payload,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  createdAt: r.created_at,
});

/** The columns updateSpace() may change, by record field (anything else in a patch is ignored). */
export const SPACE_PATCH_COLUMNS = {
  hostId: 'host_id',
  title: 'title',
  description: 'description',
  state: 'state',
  requireSignIn: 'require_sign_in',
  scheduledFor: 'scheduled_for',
  startedAt: 'started_at',
  endedAt: 'ended_at',
  replayState: 'replay_state',
  replayTrimStartSec: 'replay_trim_start_sec',
  replayExpiresAt: 'replay_expires_at',
} as const satisfies Partial<Record<keyof SpaceRecord, string>>;

/** LIMIT must be a non-negative integer (SQLite treats negatives as "no limit": clamp as it does). */
export const lim = (n: number): number => (Number.isFinite(n) ? Math.max(0, Math.floor(n)) : 0);
