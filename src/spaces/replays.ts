/**
 * Replays and clips: the host trims or deletes a replay; anyone (signed in, when the Space requires
 * it) clips up to 30 s of a live Space or of its replay. Clips are copies: they outlive the replay.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ClipBody, ClipView, SpaceView } from '../api/schemas.js';
import { TribuneError } from '../errors.js';
import { createClip, lastSecondsRange } from '../hls/clips.js';
import { deleteRecording } from '../hls/replay.js';
import { newId } from '../origin/spaces.js';
import type { SpaceRecord, UserRecord } from '../store/types.js';
import type { SpaceService } from './service.js';

export class ReplayService {
  constructor(private readonly svc: SpaceService) {}

  async deleteReplay(user: UserRecord, id: string): Promise<void> {
    await this.svc.exclusive(id, async () => {
      const s = await this.svc.space(id);
      await this.svc.requireRole(s, user, 'host');
      if (s.state !== 'ended' || s.replayState !== 'available')
        throw new TribuneError('REPLAY_NOT_AVAILABLE');
      await this.dropReplay(s, 'deleted');
    });
    this.svc.emit('space', id);
  }

  /**
   * Deletes a replay's recording from disk (host's delete, or retention), then records it: once the
   * Space says deleted/expired the files are gone (a failed delete is retried by the next pass).
   * Clips are copies and stay.
   */
  async dropReplay(s: SpaceRecord, state: 'deleted' | 'expired'): Promise<void> {
    this.svc.registry.forget(s.id);
    await deleteRecording(this.svc.registry.root, s.id);
    await this.svc.storage.updateSpace(s.id, { replayState: state, replayExpiresAt: null });
  }

  async trimReplay(user: UserRecord, id: string, startSec: number): Promise<SpaceView> {
    await this.svc.exclusive(id, async () => {
      const s = await this.svc.space(id);
      await this.svc.requireRole(s, user, 'host');
      const store = this.svc.registry.store(id);
      if (s.state !== 'ended' || s.replayState !== 'available' || !store)
        throw new TribuneError('REPLAY_NOT_AVAILABLE');
      store.setTrimStartSec(startSec);
      await this.svc.storage.updateSpace(id, { replayTrimStartSec: startSec });
    });
    this.svc.emit('space', id);
    return this.svc.view(id, user);
  }

  async createClip(user: UserRecord | null, id: string, body: ClipBody): Promise<ClipView> {
    const s = await this.svc.space(id);
    if (s.requireSignIn && !user) throw new TribuneError('SIGN_IN_REQUIRED');
    if (user && (await this.svc.storage.member(id, user.id))?.blocked) throw new TribuneError('BLOCKED');
    const store = this.svc.registry.store(id);
    if (!store || s.state === 'scheduled' || (s.state === 'ended' && s.replayState !== 'available'))
      throw new TribuneError(s.state === 'scheduled' ? 'SPACE_NOT_LIVE' : 'REPLAY_NOT_AVAILABLE');
    const durationSec = body.durationSec ?? 30;
    const range =
      body.startSec === undefined
        ? s.state === 'live'
          ? lastSecondsRange(store, durationSec)
          : { startSec: s.replayTrimStartSec, durationSec }
        : { startSec: body.startSec, durationSec };
    const clipId = newId(9);
    const cut = await createClip({ store, ...range, outDir: this.clipDir(clipId) });
    await this.svc.storage.createClip({
      id: clipId,
      spaceId: id,
      creatorId: user?.id ?? null,
      ...cut,
      createdAt: new Date(this.svc.now()).toISOString(),
    });
    return this.clip(clipId, user);
  }

  /**
   * A clip carries its Space's rule: when the Space requires sign-in, only signed-in listeners who
   * were not removed from it get the clip, with a listen token for the edges (which refuse the
   * clip's media without one).
   */
  async clip(clipId: string, user: UserRecord | null): Promise<ClipView> {
    const c = await this.svc.storage.clipById(clipId);
    if (!c) throw new TribuneError('CLIP_NOT_FOUND');
    const s = await this.svc.storage.spaceById(c.spaceId);
    let token: string | null = null;
    if (s?.requireSignIn) {
      if (!user) throw new TribuneError('SIGN_IN_REQUIRED');
      if ((await this.svc.storage.member(c.spaceId, user.id))?.blocked) throw new TribuneError('BLOCKED');
      token = this.svc.listenToken(c.spaceId, user);
    }
    return {
      id: c.id,
      spaceId: c.spaceId,
      spaceTitle: s?.title ?? '',
      startSec: c.startSec,
      durationSec: c.durationSec,
      createdAt: c.createdAt,
      playbackUrl: `${this.svc.edgeBase}/clips/${c.id}/clip.m3u8`,
      shareUrl: `/clip/${c.id}`,
      token,
    };
  }

  /** A moderator removed a clip (DSA): its files and its record go; evidence copies stay. */
  async removeClip(clipId: string): Promise<void> {
    await rm(this.clipDir(clipId), { recursive: true, force: true });
    await this.svc.storage.deleteClip(clipId);
  }

  clipDir(clipId: string): string {
    return path.join(this.svc.config.dataDir, 'clips', clipId);
  }

  async ensureDirs(): Promise<void> {
    await mkdir(path.join(this.svc.config.dataDir, 'clips'), { recursive: true });
  }
}
