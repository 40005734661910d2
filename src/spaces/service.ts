/**
 * The control plane of Spaces: lifecycle (scheduled → live → ended), views, listening and publishing
 * grants, replays and clips. Role changes live in stage.ts. Every acknowledged change is written to
 * Storage before the call returns; the media side (SpaceRegistry) and the live state (LiveHub)
 * follow from it, and are rebuilt from it at start (`init`).
 */
import { EventEmitter } from 'node:events';
import type { FastifyBaseLogger as Logger } from 'fastify';
import type {
  CreateSpaceBody,
  ListenGrant,
  MeInSpace,
  PublishToken,
  SpaceView,
  UserRef,
} from '../api/schemas.js';
import type { TribuneConfig } from '../config.js';
import { TribuneError } from '../errors.js';
import type { LiveHub } from '../live/hub.js';
import type { LiveBase, LiveSpeaker } from '../live/types.js';
import { newId, type SpaceRegistry } from '../origin/spaces.js';
import { SpaceModerationState } from './moderation.js';
import type { TokenSigner } from '../origin/tokens.js';
import type { MemberRecord, SpaceRecord, SpaceState, Storage, UserRecord } from '../store/types.js';
import { liveSummary } from '../social/live-card.js';
import { GreenRoom } from './green-room.js';
import { isModerator, isOnStage, ON_STAGE } from './policy.js';
import { ListenerPresence } from './presence.js';
import { ReplayService } from './replays.js';

export interface ServiceEvents {
  /** A user's own standing in a Space changed (role, mute, block, request). */
  me: [spaceId: string, userId: string];
  /** Members or requests changed (hosts' view). */
  participants: [spaceId: string];
  /** The Space record changed (state, title, replay). */
  space: [spaceId: string];
}

export interface ServiceDeps {
  storage: Storage;
  registry: SpaceRegistry;
  hub: LiveHub;
  tokens: TokenSigner;
  config: Readonly<TribuneConfig>;
  log: Logger;
  now?: () => number;
}

const DAY_MS = 86_400_000;
const PUBLISH_TOKEN_SEC = 10 * 60;
const LISTEN_TOKEN_SEC = 6 * 3600;
const INVITE_TOKEN_SEC = 24 * 3600;
const LIST_LIMIT = 50;

export const toUserRef = (u: UserRecord): UserRef => ({
  id: u.id,
  handle: u.handle,
  displayName: u.displayName,
});

export class SpaceService extends EventEmitter<ServiceEvents> {
  readonly storage: Storage;
  readonly registry: SpaceRegistry;
  readonly hub: LiveHub;
  /** Why an account may not act now (suspended until…, terminated), or null: set by src/trust. */
  accountRestriction: ((userId: string) => Promise<string | null>) | null = null;
  /** Platform moderators' marks on Spaces (src/trust keeps them): hidden, label, restrictions. */
  readonly moderation = new SpaceModerationState();
  readonly tokens: TokenSigner;
  readonly config: Readonly<TribuneConfig>;
  readonly log: Logger;
  readonly now: () => number;
  readonly replays: ReplayService;
  readonly greenRoom: GreenRoom;
  /** Signed-in users with a Space's page open (the public listener list: listeners.ts). */
  readonly presence = new ListenerPresence();
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Spaces whose listeners must be signed in (the edges ask, per request, through response headers). */
  private readonly signedInOnly = new Set<string>();
  /** Countries (ISO alpha-2) whose listeners a Space is closed to (edges read x-tribune-geo-block). */
  private readonly geoBlocked = new Map<string, string[]>();
  /** Users by id, for live-state documents (display names change rarely; refreshed on role changes). */
  private readonly userCache = new Map<string, UserRecord>();
  /** Told once a Space is scheduled or goes live (the followers' webhook event: src/social). */
  announce: ((s: SpaceRecord) => Promise<void>) | null = null;
  /**
   * Told of every control-plane event emitted on this origin, so that other origins hear of it (the
   * Redis fan-out: shared/redis-events.ts). Null without Redis: events stay in this process.
   */
  relay: ((kind: keyof ServiceEvents, spaceId: string, userId?: string) => void) | null = null;

  constructor(deps: ServiceDeps) {
    super();
    this.storage = deps.storage;
    this.registry = deps.registry;
    this.hub = deps.hub;
    this.tokens = deps.tokens;
    this.config = deps.config;
    this.log = deps.log;
    this.now = deps.now ?? Date.now;
    this.replays = new ReplayService(this);
    this.greenRoom = new GreenRoom(this);
    this.registry.on(
      'stage',
      (id) => void this.publishLive(id).catch((err: unknown) => this.log.warn({ err, id }, 'live state')),
    );
  }

  /** Emits to this origin's listeners (SSE streams) and relays the event to the other origins. */
  override emit<K extends keyof ServiceEvents>(kind: K, ...args: ServiceEvents[K]): boolean {
    this.relay?.(kind, ...(args as [string, string?]));
    return super.emit(kind, ...(args as never));
  }

  /** An event another origin emitted: to this origin's listeners only, never relayed back. */
  emitFromPeer<K extends keyof ServiceEvents>(kind: K, ...args: ServiceEvents[K]): boolean {
    return super.emit(kind, ...(args as never));
  }

  get edgeBase(): string {
    return `${this.config.publicEdgeUrl || ''}/hls`;
  }

  /** Runs `fn` alone for this Space: role and seat limits are checked and written without races. */
  async exclusive<T>(spaceId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(spaceId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(spaceId, tail);
    void tail.then(() => {
      if (this.locks.get(spaceId) === tail) this.locks.delete(spaceId);
    });
    return run;
  }

  accessFor(id: string): 'public' | 'signed-in' {
    return this.signedInOnly.has(id) ? 'signed-in' : 'public';
  }

  /** The countries whose listeners the edges refuse for this Space (empty: none). */
  blockedCountries(id: string): string[] {
    return this.geoBlocked.get(id) ?? [];
  }

  /**
   * Closes a Space to listeners in `countries` (ISO 3166-1 alpha-2; empty lifts it). The trust
   * service calls it (a moderator's restriction, its reversal, and at start-up from storage); the
   * origin's Space answers carry it to the edges, which apply it within a couple of seconds.
   */
  setBlockedCountries(id: string, countries: string[]): void {
    const codes = countries.map((c) => c.trim().toUpperCase());
    const list = [...new Set(codes)].filter((c) => /^[A-Z]{2}$/.test(c));
    if (list.length === 0) this.geoBlocked.delete(id);
    else this.geoBlocked.set(id, list.sort());
  }

  /**
   * Brings back what storage says: live Spaces resume (recording and timeline continue), replays load.
   * With several origins (`resumeLive` false) live Spaces are left to src/cluster, which adopts those
   * nobody runs.
   */
  async init(opts: { resumeLive?: boolean } = {}): Promise<void> {
    // One pass over every Space on record (ended ones without a replay need nothing).
    const all = await this.storage.listSpaces({ states: ['scheduled', 'live', 'ended'], limit: 1_000_000 });
    for (const s of all) {
      if (s.requireSignIn) this.signedInOnly.add(s.id);
      if (s.state === 'scheduled') this.hub.open(s.id, { state: 'scheduled', title: s.title, speakers: [] });
      else if (s.state === 'ended' && s.replayState === 'available')
        await this.registry.openReplay(s.id, s.replayTrimStartSec).catch(() => false);
      else if (s.state === 'live' && opts.resumeLive !== false)
        await this.resume(s).then(
          () => this.log.info({ id: s.id }, 'resumed a live Space'),
          (err: unknown) => this.log.error({ err, id: s.id }, 'could not resume a live Space'),
        );
    }
  }

  /** Runs a live Space's media here again: its recording and timeline continue from the data dir. */
  async resume(s: SpaceRecord): Promise<void> {
    await this.registry.openLive(s.id);
    await this.openLiveState(s);
    for (const m of await this.storage.members(s.id, [...ON_STAGE]))
      if (m.hostMuted || m.selfMuted) await this.registry.setMuted(s.id, m.userId, true);
  }

  // ------------------------------------------------------------------ lookups

  async space(id: string): Promise<SpaceRecord> {
    const s = await this.storage.spaceById(id);
    if (!s) throw new TribuneError('SPACE_NOT_FOUND');
    return s;
  }

  async user(id: string): Promise<UserRecord> {
    const cached = this.userCache.get(id);
    if (cached) return cached;
    const u = await this.storage.userById(id);
    if (!u) throw new TribuneError('USER_NOT_FOUND');
    this.userCache.set(id, u);
    return u;
  }

  // ------------------------------------------------------------------ lifecycle

  async create(user: UserRecord, body: CreateSpaceBody): Promise<SpaceView> {
    const title = body.title.trim();
    if (!title) throw new TribuneError('BAD_REQUEST', 'title is empty');
    let scheduledFor: string | null = null;
    if (body.scheduledFor !== undefined) {
      const at = Date.parse(body.scheduledFor);
      const now = this.now();
      if (!Number.isFinite(at) || at <= now || at > now + this.config.spaces.scheduleMaxDays * DAY_MS)
        throw new TribuneError('SCHEDULE_OUT_OF_RANGE');
      scheduledFor = new Date(at).toISOString();
    }
    const nowIso = new Date(this.now()).toISOString();
    const record = await this.storage.createSpace({
      id: newId(9),
      hostId: user.id,
      title,
      description: (body.description ?? '').trim(),
      state: scheduledFor ? 'scheduled' : 'live',
      requireSignIn: body.requireSignIn ?? false,
      scheduledFor,
      createdAt: nowIso,
      startedAt: scheduledFor ? null : nowIso,
      endedAt: null,
    });
    await this.storage.putMember(this.newMember(record.id, user.id, 'host'));
    if (record.requireSignIn) this.signedInOnly.add(record.id);
    if (record.state === 'live') {
      await this.registry.openLive(record.id);
      await this.openLiveState(record);
    } else {
      this.hub.open(record.id, { state: 'scheduled', title, speakers: [] });
    }
    await this.announceSafely(record);
    return this.view(record.id, user);
  }

  async start(user: UserRecord, id: string): Promise<SpaceView> {
    await this.exclusive(id, async () => {
      const s = await this.space(id);
      await this.requireRole(s, user, 'host');
      if (s.state !== 'scheduled') throw new TribuneError('SPACE_NOT_SCHEDULED');
      const nowIso = new Date(this.now()).toISOString();
      const live = await this.storage.updateSpace(id, { state: 'live', startedAt: nowIso });
      await this.registry.openLive(id);
      await this.openLiveState(live);
      await this.remindSubscribers(live);
      await this.announceSafely(live);
    });
    this.emit('space', id);
    return this.view(id, user);
  }

  /** Ends a live Space (the host, or the system when the host is gone); its recording becomes the replay. */
  async end(user: UserRecord | null, id: string): Promise<SpaceView> {
    await this.exclusive(id, async () => {
      const s = await this.space(id);
      if (user) await this.requireRole(s, user, 'host');
      if (s.state === 'ended') return;
      const now = this.now();
      // Several origins: this write is fenced by the lease the media ran under here (LEASE_LOST if
      // another origin took the Space over meanwhile; the client retries and reaches that one).
      const fence = this.registry.placement.fence(id);
      await this.registry.end(id);
      const recorded = this.registry.store(id)?.mediaDurationSec ?? 0;
      await this.storage.updateSpace(
        id,
        {
          state: 'ended',
          endedAt: new Date(now).toISOString(),
          replayState: recorded > 0 ? 'available' : 'none',
          replayExpiresAt:
            recorded > 0
              ? new Date(now + this.config.spaces.replayRetentionDays * DAY_MS).toISOString()
              : null,
        },
        fence,
      );
      await this.registry.placement.release(id);
      await this.storage.clearRequests(id);
      this.hub.update(id, { state: 'ended', speakers: [] });
      this.hub.close(id);
    });
    this.emit('space', id);
    this.emit('participants', id);
    return this.view(id, user);
  }

  private async remindSubscribers(s: SpaceRecord): Promise<void> {
    const subscribers = await this.storage.subscribers(s.id);
    const at = new Date(this.now()).toISOString();
    await this.storage.addNotifications(
      subscribers.map((userId) => ({
        id: newId(12),
        userId,
        spaceId: s.id,
        kind: 'space-started' as const,
        createdAt: at,
        readAt: null,
      })),
    );
    if (this.config.webhookUrl) {
      await this.storage.enqueueOutbox({
        id: newId(12),
        payload: JSON.stringify({
          type: 'space.started',
          spaceId: s.id,
          title: s.title,
          shareUrl: `/s/${s.id}`,
          subscribers,
          at,
        }),
        attempts: 0,
        nextAttemptAt: at,
        createdAt: at,
      });
    }
  }

  private async announceSafely(s: SpaceRecord): Promise<void> {
    try {
      await this.announce?.(s);
    } catch (err) {
      this.log.error({ err, id: s.id }, 'could not announce a Space to followers');
    }
  }

  async subscribe(user: UserRecord, id: string, on: boolean): Promise<void> {
    const s = await this.space(id);
    if (on && s.state !== 'scheduled') throw new TribuneError('SPACE_NOT_SCHEDULED');
    if (on) await this.storage.subscribe(id, user.id);
    else await this.storage.unsubscribe(id, user.id);
    this.emit('me', id, user.id);
  }

  // ------------------------------------------------------------------ views

  async view(id: string, viewer: UserRecord | null): Promise<SpaceView> {
    const s = await this.space(id);
    const host = await this.user(s.hostId);
    return this.toView(s, host, viewer ? await this.meIn(s, viewer) : null);
  }

  /**
   * The view of a Space that is the same for every caller (`me` is null), with its edge URLs
   * relative (`/hls/spaces/:id/...`): edges cache it and serve it to anonymous listeners, whose
   * page is on the edge's own host (`GET /origin/spaces/:id/view.json`, src/spaces/public-view.ts).
   */
  async publicView(id: string): Promise<SpaceView> {
    const s = await this.space(id);
    return this.toView(s, await this.user(s.hostId), null, '/hls');
  }

  async list(state: SpaceState | undefined, viewer: UserRecord | null): Promise<SpaceView[]> {
    const states: SpaceState[] = state ? [state] : ['live', 'scheduled', 'ended'];
    const out: SpaceView[] = [];
    for (const st of states) {
      const spaces = await this.storage.listSpaces({ states: [st], limit: LIST_LIMIT });
      for (const s of spaces) if (!this.moderation.isHidden(s.id)) out.push(await this.listItem(s, viewer));
    }
    return out;
  }

  /** The view of a record already loaded, for lists: a live Space also carries its count and stage. */
  async listItem(s: SpaceRecord, viewer: UserRecord | null): Promise<SpaceView> {
    const v = this.toView(s, await this.user(s.hostId), viewer ? await this.meIn(s, viewer) : null);
    const live = s.state === 'live' ? liveSummary(this.hub, s.id) : undefined;
    return live ? { ...v, live } : v;
  }

  async meIn(s: SpaceRecord, user: UserRecord): Promise<MeInSpace> {
    const m = await this.storage.member(s.id, user.id);
    const requested = (await this.storage.requests(s.id)).some((r) => r.userId === user.id);
    return {
      role: m && !m.blocked ? m.role : m?.blocked ? null : 'listener',
      hostMuted: m?.hostMuted ?? false,
      unmuteLocked: m?.unmuteLocked ?? false,
      selfMuted: m?.selfMuted ?? false,
      blocked: m?.blocked ?? false,
      requested,
      subscribed: s.state === 'scheduled' ? await this.storage.isSubscribed(s.id, user.id) : false,
      restriction: this.moderation.restrictionOf(s.id, user.id),
    };
  }

  private toView(
    s: SpaceRecord,
    host: UserRecord,
    me: MeInSpace | null,
    edgeBase = this.edgeBase,
  ): SpaceView {
    const base = `${edgeBase}/spaces/${s.id}`;
    const store = this.registry.store(s.id);
    return {
      id: s.id,
      title: s.title,
      description: s.description,
      state: s.state,
      requireSignIn: s.requireSignIn,
      scheduledFor: s.scheduledFor,
      createdAt: s.createdAt,
      startedAt: s.startedAt,
      endedAt: s.endedAt,
      host: toUserRef(host),
      shareUrl: `/s/${s.id}`,
      playbackUrl: `${base}/master.m3u8`,
      stateUrl: `${base}/state.json`,
      reactionsUrl: `${base}/reactions`,
      leaveUrl: `${base}/leave`,
      replay: {
        state: s.replayState,
        playbackUrl: s.replayState === 'available' ? `${base}/master.m3u8` : null,
        trimStartSec: s.replayTrimStartSec,
        durationSec: s.replayState === 'available' && store ? store.replayDurationSec : null,
        expiresAt: s.replayExpiresAt,
      },
      me,
      label: this.moderation.label(s.id),
    };
  }

  // ------------------------------------------------------------------ grants

  /** A 6-hour listen token for the edges (`u`: the signed-in listener, if any). */
  listenToken(spaceId: string, user: UserRecord | null): string {
    const i = Math.floor(this.now() / 1000);
    return this.tokens.sign({ s: spaceId, r: 'listen', u: user?.id, i, e: i + LISTEN_TOKEN_SEC });
  }

  /** A listen grant; a token for the edge when the Space requires sign-in or the listener is signed in. */
  async listen(id: string, user: UserRecord | null): Promise<ListenGrant> {
    const s = await this.space(id);
    if (s.requireSignIn && !user) throw new TribuneError('SIGN_IN_REQUIRED');
    if (user && (await this.storage.member(id, user.id))?.blocked) throw new TribuneError('BLOCKED');
    const base = `${this.edgeBase}/spaces/${s.id}`;
    const i = Math.floor(this.now() / 1000);
    // Signed-in listeners always get one: the edges put its user id in their listener sample.
    const token =
      s.requireSignIn || user
        ? this.tokens.sign({ s: id, r: 'listen', u: user?.id, i, e: i + LISTEN_TOKEN_SEC })
        : null;
    return { token, playbackUrl: `${base}/master.m3u8`, stateUrl: `${base}/state.json` };
  }

  /** A WHIP bearer token for a user on stage, live or (before the start) in the green room. */
  async publishToken(id: string, user: UserRecord): Promise<PublishToken> {
    const s = await this.space(id);
    const m = await this.storage.member(id, user.id);
    if (m?.blocked) throw new TribuneError('BLOCKED');
    if (!isOnStage(m?.role))
      throw new TribuneError('FORBIDDEN', 'only the host, co-hosts and speakers publish');
    if (s.state === 'ended') throw new TribuneError('SPACE_NOT_LIVE');
    const i = Math.floor(this.now() / 1000);
    const e = i + PUBLISH_TOKEN_SEC;
    return {
      whipUrl: `/whip/${id}`,
      token: this.tokens.sign({ s: id, r: 'publish', u: user.id, i, e }),
      expiresAt: new Date(e * 1000).toISOString(),
    };
  }

  /**
   * WHIP's check at offer time: the token's user must be on stage now (roles can change after
   * issue). Before the start, this opens the Space's green room (green-room.ts).
   */
  async authorizePublish(id: string, userId: string | undefined): Promise<void> {
    const s = await this.space(id);
    if (s.state === 'ended') throw new TribuneError('SPACE_NOT_LIVE');
    if (!userId) throw new TribuneError('FORBIDDEN', 'publish tokens name a user');
    // A suspended or terminated account does not speak (src/trust), whatever token it holds.
    const restricted = await this.accountRestriction?.(userId);
    if (restricted) throw new TribuneError('ACCOUNT_SUSPENDED', restricted);
    const m = await this.storage.member(id, userId);
    if (!m || m.blocked || !isOnStage(m.role)) throw new TribuneError('FORBIDDEN', 'not on stage');
    if (s.state === 'scheduled') await this.greenRoom.admit(id, m);
  }

  inviteToken(id: string): { token: string; expiresAt: string } {
    const i = Math.floor(this.now() / 1000);
    const e = i + INVITE_TOKEN_SEC;
    return {
      token: this.tokens.sign({ s: id, r: 'invite', i, e }),
      expiresAt: new Date(e * 1000).toISOString(),
    };
  }

  async requireRole(
    s: SpaceRecord,
    user: UserRecord,
    ...roles: MemberRecord['role'][]
  ): Promise<MemberRecord> {
    const m = await this.storage.member(s.id, user.id);
    if (m?.blocked) throw new TribuneError('BLOCKED');
    if (!m || !roles.includes(m.role))
      throw new TribuneError('FORBIDDEN', `needs role ${roles.join(' or ')}`);
    return m;
  }

  async requireModerator(s: SpaceRecord, user: UserRecord): Promise<MemberRecord> {
    const m = await this.requireRole(s, user, 'host', 'cohost');
    if (!isModerator(m.role)) throw new TribuneError('FORBIDDEN');
    return m;
  }

  newMember(spaceId: string, userId: string, role: MemberRecord['role']): MemberRecord {
    return {
      spaceId,
      userId,
      role,
      hostMuted: false,
      unmuteLocked: false,
      selfMuted: false,
      blocked: false,
      updatedAt: new Date(this.now()).toISOString(),
    };
  }

  // ------------------------------------------------------------------ live state

  /**
   * Opens or refreshes a live Space's state document (state, title, stage). Several origins: the
   * origins that do not run a Space keep one too, for lists (counts from every edge's reports).
   */
  async openLiveState(s: SpaceRecord): Promise<void> {
    // Every origin that has the Space's document knows its access too (several origins: shadows).
    if (s.requireSignIn) this.signedInOnly.add(s.id);
    const base: LiveBase = { state: 'live', title: s.title, speakers: await this.liveSpeakers(s.id) };
    if (this.hub.has(s.id)) this.hub.update(s.id, base);
    else this.hub.open(s.id, base);
  }

  /** Pushes the stage (members on stage, who is connected, levels, mutes) into the live document. */
  async publishLive(id: string): Promise<void> {
    if (!this.hub.has(id) || !this.registry.isLive(id)) return;
    this.hub.update(id, { speakers: await this.liveSpeakers(id) });
  }

  private async liveSpeakers(id: string): Promise<LiveSpeaker[]> {
    const sessions = this.registry.sessions(id);
    const out: LiveSpeaker[] = [];
    for (const m of await this.storage.members(id, [...ON_STAGE])) {
      if (m.blocked) continue;
      const u = await this.user(m.userId);
      const live = sessions.find((x) => x.userId === m.userId);
      out.push({
        userId: m.userId,
        handle: u.handle,
        name: u.displayName,
        role: m.role as LiveSpeaker['role'],
        connected: !!live,
        muted: m.hostMuted || m.selfMuted,
        speaking: !!live && live.speaking && !(m.hostMuted || m.selfMuted),
        level: live && !(m.hostMuted || m.selfMuted) ? live.level : 0,
      });
    }
    return out;
  }
}
