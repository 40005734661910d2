/**
 * Who is on stage: requests to speak, invites, role changes, mutes, removal and the host hand-over.
 * Every change is checked by the pure policy (policy.ts), runs alone for its Space (so seat limits
 * hold under concurrent calls), is written to storage, then applied to the media path at once:
 * a demoted or removed speaker's WebRTC session is closed, so their audio leaves the mix within
 * one 20 ms tick of the engine receiving the request.
 */
import type { Participants } from '../api/schemas.js';
import { TribuneError } from '../errors.js';
import type { MemberRecord, Role, SpaceRecord, UserRecord } from '../store/types.js';
import { can, isModerator, isOnStage } from './policy.js';
import { toUserRef, type SpaceService } from './service.js';

export class StageService {
  constructor(private readonly svc: SpaceService) {}

  private get storage() {
    return this.svc.storage;
  }

  private async liveSpace(id: string): Promise<SpaceRecord> {
    const s = await this.svc.space(id);
    if (s.state !== 'live') throw new TribuneError('SPACE_NOT_LIVE');
    return s;
  }

  /** A Space whose stage is in use: live, or scheduled (its green room). */
  private async stageSpace(id: string): Promise<SpaceRecord> {
    const s = await this.svc.space(id);
    if (s.state === 'ended') throw new TribuneError('SPACE_NOT_LIVE');
    return s;
  }

  private async target(spaceId: string, userId: string): Promise<MemberRecord> {
    await this.svc.user(userId);
    return (await this.storage.member(spaceId, userId)) ?? this.svc.newMember(spaceId, userId, 'listener');
  }

  private async put(m: MemberRecord): Promise<void> {
    // Muted by the platform's moderators (src/trust): stays muted and locked whatever else changes.
    const held = isOnStage(m.role) && this.platformMuted(m.spaceId, m.userId);
    const next = held ? { ...m, hostMuted: true, unmuteLocked: true } : m;
    await this.storage.putMember({ ...next, updatedAt: new Date(this.svc.now()).toISOString() });
  }

  private platformMuted(spaceId: string, userId: string): boolean {
    return this.svc.moderation.isPlatformMuted(spaceId, userId);
  }

  private changed(spaceId: string, ...userIds: string[]): void {
    for (const u of userIds) this.svc.emit('me', spaceId, u);
    this.svc.emit('participants', spaceId);
    void this.svc.publishLive(spaceId).catch(() => undefined);
  }

  /** Seats: up to maxCohosts co-hosts and maxSpeakers speakers besides the host. */
  private async checkSeat(spaceId: string, role: Role): Promise<void> {
    if (role !== 'cohost' && role !== 'speaker') return;
    const n = (await this.storage.members(spaceId, [role])).filter((m) => !m.blocked).length;
    const max = role === 'cohost' ? this.svc.config.spaces.maxCohosts : this.svc.config.spaces.maxSpeakers;
    if (n >= max) throw new TribuneError(role === 'cohost' ? 'COHOSTS_FULL' : 'SPEAKERS_FULL');
  }

  /** Applies a role on storage and media: leaving the stage closes the media session and clears mutes. */
  private async applyRole(m: MemberRecord, role: Role): Promise<void> {
    const leaving = isOnStage(m.role) && !isOnStage(role);
    const next: MemberRecord = leaving
      ? { ...m, role, hostMuted: false, unmuteLocked: false, selfMuted: false }
      : { ...m, role };
    await this.put(next);
    if (leaving) {
      await this.svc.registry.unpublishUser(m.spaceId, m.userId);
      if (!this.platformMuted(m.spaceId, m.userId))
        await this.svc.registry.setMuted(m.spaceId, m.userId, false);
    }
    if (role !== 'listener') await this.storage.removeRequest(m.spaceId, m.userId);
  }

  // ---------------------------------------------------------------- requests to speak

  async request(user: UserRecord, id: string): Promise<void> {
    await this.svc.exclusive(id, async () => {
      await this.liveSpace(id);
      const m = await this.storage.member(id, user.id);
      if (m?.blocked) throw new TribuneError('BLOCKED');
      if (isOnStage(m?.role)) throw new TribuneError('BAD_REQUEST', 'already on stage');
      await this.storage.addRequest({
        spaceId: id,
        userId: user.id,
        createdAt: new Date(this.svc.now()).toISOString(),
      });
    });
    this.changed(id, user.id);
  }

  async withdraw(user: UserRecord, id: string): Promise<void> {
    await this.svc.space(id);
    if (!(await this.storage.removeRequest(id, user.id))) throw new TribuneError('REQUEST_NOT_FOUND');
    this.changed(id, user.id);
  }

  async review(actor: UserRecord, id: string, userId: string, approve: boolean): Promise<void> {
    await this.svc.exclusive(id, async () => {
      const s = await this.liveSpace(id);
      const me = await this.svc.requireModerator(s, actor);
      if (!can(me.role, 'review-requests')) throw new TribuneError('FORBIDDEN');
      const pending = (await this.storage.requests(id)).some((r) => r.userId === userId);
      if (!pending) throw new TribuneError('REQUEST_NOT_FOUND');
      if (approve) {
        const m = await this.target(id, userId);
        if (m.blocked) throw new TribuneError('BLOCKED');
        await this.checkSeat(id, 'speaker');
        await this.applyRole(m, 'speaker');
      } else {
        await this.storage.removeRequest(id, userId);
      }
    });
    this.changed(id, userId);
  }

  // ---------------------------------------------------------------- invites

  async invite(actor: UserRecord, id: string): Promise<{ token: string; url: string; expiresAt: string }> {
    const s = await this.svc.space(id);
    if (s.state === 'ended') throw new TribuneError('SPACE_ENDED');
    const me = await this.svc.requireModerator(s, actor);
    if (!can(me.role, 'invite')) throw new TribuneError('FORBIDDEN');
    const { token, expiresAt } = this.svc.inviteToken(id);
    return { token, expiresAt, url: `/join/${id}?invite=${encodeURIComponent(token)}` };
  }

  async acceptInvite(user: UserRecord, id: string, token: string): Promise<void> {
    const claims = this.svc.tokens.verify(token);
    if (!claims || claims.r !== 'invite' || claims.s !== id)
      throw new TribuneError('FORBIDDEN', 'invalid or expired invite');
    await this.svc.exclusive(id, async () => {
      const s = await this.svc.space(id);
      if (s.state === 'ended') throw new TribuneError('SPACE_ENDED');
      const m = await this.target(id, user.id);
      if (m.blocked) throw new TribuneError('BLOCKED');
      if (isOnStage(m.role)) return;
      await this.checkSeat(id, 'speaker');
      await this.applyRole(m, 'speaker');
    });
    this.changed(id, user.id);
  }

  // ---------------------------------------------------------------- roles

  async setRole(
    actor: UserRecord,
    id: string,
    userId: string,
    to: 'cohost' | 'speaker' | 'listener',
  ): Promise<void> {
    await this.svc.exclusive(id, async () => {
      const s = await this.svc.space(id);
      if (s.state === 'ended') throw new TribuneError('SPACE_ENDED');
      const me = (await this.storage.member(id, actor.id)) ?? this.svc.newMember(id, actor.id, 'listener');
      if (me.blocked) throw new TribuneError('BLOCKED');
      if (!isModerator(me.role)) throw new TribuneError('FORBIDDEN');
      const m = await this.target(id, userId);
      if (!can(me.role, 'set-role', { role: m.role, self: userId === actor.id, to }))
        throw new TribuneError('FORBIDDEN');
      if (m.blocked) throw new TribuneError('BLOCKED');
      if (m.role === to) return;
      await this.checkSeat(id, to);
      await this.applyRole(m, to);
    });
    this.changed(id, userId);
  }

  async leaveStage(user: UserRecord, id: string): Promise<void> {
    await this.svc.exclusive(id, async () => {
      const m = await this.storage.member(id, user.id);
      if (!m || (m.role !== 'speaker' && m.role !== 'cohost'))
        throw new TribuneError('BAD_REQUEST', 'not a speaker or co-host');
      await this.applyRole(m, 'listener');
    });
    this.changed(id, user.id);
  }

  async transfer(actor: UserRecord, id: string, userId: string): Promise<void> {
    await this.svc.exclusive(id, async () => {
      const s = await this.liveSpace(id);
      const me = await this.svc.requireRole(s, actor, 'host');
      const m = await this.storage.member(id, userId);
      if (!m || m.blocked || !isOnStage(m.role))
        throw new TribuneError('NOT_A_MEMBER', 'hand over to a co-host or speaker');
      if (!can(me.role, 'transfer', { role: m.role, self: userId === actor.id }))
        throw new TribuneError('FORBIDDEN');
      // The old host stays on stage as a co-host: the two swap places, so seat counts are unchanged
      // when the new host was a co-host; a speaker's seat becomes the old host's co-host seat if free.
      const oldRole: Role =
        m.role === 'cohost' ||
        (await this.storage.members(id, ['cohost'])).length < this.svc.config.spaces.maxCohosts
          ? 'cohost'
          : 'speaker';
      await this.put({ ...m, role: 'host', hostMuted: false, unmuteLocked: false });
      await this.put({ ...me, role: oldRole });
      await this.storage.updateSpace(id, { hostId: userId });
      await this.svc.registry.setMuted(id, userId, m.selfMuted || this.platformMuted(id, userId));
    });
    this.svc.emit('space', id);
    this.changed(id, userId, actor.id);
  }

  // ---------------------------------------------------------------- mutes and removal

  async mute(actor: UserRecord, id: string, userId: string, muted: boolean, lock = false): Promise<void> {
    await this.svc.exclusive(id, async () => {
      const s = await this.stageSpace(id);
      const me = await this.svc.requireModerator(s, actor);
      const m = await this.storage.member(id, userId);
      if (!m || m.blocked) throw new TribuneError('NOT_A_MEMBER');
      if (!can(me.role, 'mute', { role: m.role, self: userId === actor.id }))
        throw new TribuneError('FORBIDDEN');
      if (!muted && this.platformMuted(id, userId))
        throw new TribuneError('FORBIDDEN', "muted by the platform's moderators: only a complaint lifts it");
      const next = { ...m, hostMuted: muted, unmuteLocked: muted && lock };
      await this.put(next);
      await this.svc.registry.setMuted(id, userId, next.hostMuted || next.selfMuted);
    });
    this.changed(id, userId);
  }

  /** A speaker mutes or unmutes themselves; unmuting fails while the host keeps them muted and locked. */
  async muteSelf(user: UserRecord, id: string, muted: boolean): Promise<void> {
    await this.svc.exclusive(id, async () => {
      await this.stageSpace(id);
      const m = await this.storage.member(id, user.id);
      if (!m || m.blocked || !isOnStage(m.role)) throw new TribuneError('FORBIDDEN', 'not on stage');
      if (!muted && m.unmuteLocked) throw new TribuneError('FORCE_MUTED');
      // Unmuting yourself also lifts an unlocked host mute: the host allowed it by not locking.
      const next = { ...m, selfMuted: muted, hostMuted: muted ? m.hostMuted : false };
      await this.put(next);
      await this.svc.registry.setMuted(id, user.id, next.hostMuted || next.selfMuted);
    });
    this.changed(id, user.id);
  }

  async remove(actor: UserRecord, id: string, userId: string): Promise<void> {
    await this.svc.exclusive(id, async () => {
      const s = await this.svc.space(id);
      if (s.state === 'ended') throw new TribuneError('SPACE_ENDED');
      const me = await this.svc.requireModerator(s, actor);
      const m = await this.target(id, userId);
      if (!can(me.role, 'remove', { role: m.role, self: userId === actor.id }))
        throw new TribuneError('FORBIDDEN');
      await this.applyRole(m, 'listener');
      const current = (await this.storage.member(id, userId)) ?? m;
      await this.put({ ...current, role: 'listener', blocked: true });
      await this.storage.removeRequest(id, userId);
    });
    this.changed(id, userId);
  }

  // ---------------------------------------------------------------- platform moderation (src/trust)

  /**
   * A platform moderator mutes someone on stage, the host included (locked: they cannot unmute
   * themselves), or lifts it. Reaches the mixer before it resolves.
   */
  async moderatorMute(id: string, userId: string, muted: boolean): Promise<void> {
    await this.svc.exclusive(id, async () => {
      if (muted) await this.stageSpace(id);
      const m = await this.storage.member(id, userId);
      if (muted && (!m || m.blocked || !isOnStage(m.role)))
        throw new TribuneError('NOT_A_MEMBER', 'not on stage');
      this.svc.moderation.setPlatformMuted(id, userId, muted);
      // Lifted (a reversal): in a Space that ended meanwhile, or off stage, only the flags change.
      if (!m) return;
      const next = { ...m, hostMuted: muted, unmuteLocked: muted };
      await this.put(next);
      await this.svc.registry.setMuted(id, userId, next.hostMuted || next.selfMuted);
    });
    this.changed(id, userId);
  }

  /**
   * A platform moderator removes someone from a live Space (off the stage, blocked: their media
   * session closes before this resolves), or lets them back (a reversal). The host cannot be
   * removed from their own Space: end it instead.
   */
  async moderatorRemove(id: string, userId: string, removed: boolean): Promise<void> {
    await this.svc.exclusive(id, async () => {
      const s = await this.svc.space(id);
      if (removed && s.state === 'ended') throw new TribuneError('SPACE_ENDED');
      if (removed && s.hostId === userId)
        throw new TribuneError('FORBIDDEN', 'the host: end the Space instead');
      const m = await this.target(id, userId);
      if (removed) {
        await this.applyRole(m, 'listener');
        const current = (await this.storage.member(id, userId)) ?? m;
        await this.put({ ...current, role: 'listener', blocked: true });
        await this.storage.removeRequest(id, userId);
      } else if (m.blocked) {
        await this.put({ ...m, blocked: false });
      }
    });
    this.changed(id, userId);
  }

  // ---------------------------------------------------------------- the hosts' view

  async participants(actor: UserRecord, id: string): Promise<Participants> {
    const s = await this.svc.space(id);
    const me = await this.svc.requireModerator(s, actor);
    if (!can(me.role, 'see-participants')) throw new TribuneError('FORBIDDEN');
    return this.participantsView(id);
  }

  async participantsView(id: string): Promise<Participants> {
    const members = await this.storage.members(id);
    const requests = await this.storage.requests(id);
    // The edges' sample lags a role change by a report or two: whoever is on stage (or blocked) now
    // is never shown as a listener.
    const offAudience = new Set(members.filter((m) => m.blocked || isOnStage(m.role)).map((m) => m.userId));
    const sample = (this.svc.hub.has(id) ? this.svc.hub.sample(id) : []).filter((u) => !offAudience.has(u));
    const ids = [...new Set([...members.map((m) => m.userId), ...requests.map((r) => r.userId), ...sample])];
    const users = new Map((await this.storage.usersByIds(ids)).map((u) => [u.id, u]));
    const ref = (uid: string) => {
      const u = users.get(uid);
      return u ? toUserRef(u) : { id: uid, handle: '?', displayName: '?' };
    };
    return {
      members: members.map((m) => ({
        user: ref(m.userId),
        role: m.role,
        hostMuted: m.hostMuted,
        unmuteLocked: m.unmuteLocked,
        selfMuted: m.selfMuted,
        blocked: m.blocked,
        connected: this.svc.registry.isConnected(id, m.userId),
      })),
      requests: requests.map((r) => ({ user: ref(r.userId), createdAt: r.createdAt })),
      listenerSample: sample.filter((uid) => users.has(uid)).map(ref),
      listeners: this.svc.hub.has(id) ? this.svc.hub.listeners(id) : 0,
    };
  }
}
