import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyBaseLogger as Logger } from 'fastify';
import type { TribuneConfig } from '../config.js';
import { TribuneError } from '../errors.js';
import { HlsStore, type HlsStoreOptions } from '../hls/store.js';
import type { EnginePool } from '../media/pool.js';
import type { SpaceMediaConfig } from '../media/protocol.js';

export const newId = (bytes: number): string => randomBytes(bytes).toString('base64url');

/** One WebRTC publishing session on stage. */
export interface StageSession {
  speakerId: string;
  userId: string;
  level: number;
  speaking: boolean;
}

interface Room {
  store: HlsStore;
  live: boolean;
  /** by speakerId */
  sessions: Map<string, StageSession>;
  /** Users muted on the media path (applied again when they reconnect). */
  muted: Set<string>;
}

export interface RegistryEvents {
  /** Someone joined or left the stage, or levels changed. */
  stage: [spaceId: string];
}

/**
 * The media side of the Spaces this origin runs: each Space's LL-HLS store (live or replay) and
 * its stage sessions in a media engine. Who may speak is decided by the control plane
 * (src/spaces); this class only does what it is told, and reports who is connected.
 */
export class SpaceRegistry extends EventEmitter<RegistryEvents> {
  private readonly rooms = new Map<string, Room>();
  readonly root: string;

  constructor(
    private readonly config: Readonly<TribuneConfig>,
    private readonly engine: EnginePool,
    private readonly log: Logger,
  ) {
    super();
    this.root = path.join(config.dataDir, 'spaces');
    engine.on('init', (e) => this.rooms.get(e.spaceId)?.store.setInit(e.bytes));
    engine.on('part', (e) =>
      this.rooms.get(e.spaceId)?.store.addPart({
        bytes: e.bytes,
        durationSec: e.durationSec,
        programDateTimeMs: e.programDateTimeMs,
      }),
    );
    engine.on('levels', (e) => {
      const room = this.rooms.get(e.spaceId);
      if (!room) return;
      let changed = false;
      for (const l of e.levels) {
        const s = room.sessions.get(l.speakerId);
        if (!s) continue;
        const level = Math.round(l.level * 100) / 100;
        if (s.speaking !== l.speaking || Math.abs(s.level - level) >= 0.05) changed = true;
        s.level = level;
        s.speaking = l.speaking;
      }
      if (changed) this.emit('stage', e.spaceId);
    });
    engine.on('speaker-gone', (e) => {
      this.log.info({ space: e.spaceId, speaker: e.speakerId, reason: e.reason }, 'speaker gone');
      if (this.rooms.get(e.spaceId)?.sessions.delete(e.speakerId)) this.emit('stage', e.spaceId);
    });
    engine.on('engine-exit', (spaceIds, code, signal) => {
      this.log.error(
        { code, signal, spaces: spaceIds },
        'a media engine exited; its Spaces lose their speakers',
      );
      for (const id of spaceIds) {
        const room = this.rooms.get(id);
        if (!room) continue;
        room.sessions.clear();
        this.emit('stage', id);
        // The Space goes on in a fresh engine, its media timeline continuing where it stopped.
        if (room.live) void this.openMedia(id).catch(() => undefined);
      }
    });
  }

  dir(id: string): string {
    return path.join(this.root, id);
  }

  /** Opens a live Space: new, or resumed after a restart (its recording and timeline continue). */
  async openLive(id: string): Promise<void> {
    if (this.rooms.get(id)?.live) return;
    await mkdir(this.dir(id), { recursive: true });
    const store = await HlsStore.openLive(this.dir(id), this.storeOptions());
    this.rooms.set(id, { store, live: true, sessions: new Map(), muted: new Set() });
    await this.openMedia(id);
  }

  /** Loads an ended Space's replay (VOD), trimmed; false when there is no recording. */
  async openReplay(id: string, trimStartSec: number): Promise<boolean> {
    try {
      const store = await HlsStore.openReplay(this.dir(id), { ...this.storeOptions(), trimStartSec });
      this.rooms.set(id, { store, live: false, sessions: new Map(), muted: new Set() });
      return true;
    } catch (err) {
      if (err instanceof TribuneError && err.code === 'NOT_FOUND') return false;
      throw err;
    }
  }

  /** Ends a live Space: its media closes and its recording becomes the replay. */
  async end(id: string): Promise<void> {
    const room = this.rooms.get(id);
    if (!room?.live) return;
    room.live = false;
    room.sessions.clear();
    await this.engine.request({ op: 'closeSpace', spaceId: id }).catch((err: unknown) => {
      this.log.warn({ err, id }, 'engine could not close the Space');
    });
    await room.store.end();
    this.emit('stage', id);
  }

  /** Forgets a Space's media (after its replay was deleted). */
  forget(id: string): void {
    this.rooms.delete(id);
  }

  store(id: string): HlsStore | undefined {
    return this.rooms.get(id)?.store;
  }

  isLive(id: string): boolean {
    return this.rooms.get(id)?.live ?? false;
  }

  get liveCount(): number {
    let n = 0;
    for (const r of this.rooms.values()) if (r.live) n++;
    return n;
  }

  sessions(id: string): StageSession[] {
    return [...(this.rooms.get(id)?.sessions.values() ?? [])];
  }

  isConnected(id: string, userId: string): boolean {
    return this.sessions(id).some((s) => s.userId === userId);
  }

  /**
   * Puts a user on stage from a WHIP offer. A user has one session: a new offer (a reconnect)
   * replaces the old one.
   */
  async publish(
    id: string,
    userId: string,
    offerSdp: string,
  ): Promise<{ speakerId: string; answerSdp: string }> {
    const room = this.liveRoom(id);
    const previous = [...room.sessions.values()].filter((s) => s.userId === userId);
    if (room.sessions.size - previous.length >= this.config.limits.maxSpeakers)
      throw new TribuneError('SPACE_FULL');
    // A reconnect replaces the user's old session first: on a full stage the engine has no spare seat.
    for (const old of previous) await this.closeSession(id, old.speakerId);
    const speakerId = newId(16);
    // Reserve the seat before the (async) negotiation so concurrent joins cannot exceed the limit.
    room.sessions.set(speakerId, { speakerId, userId, level: 0, speaking: false });
    try {
      const { answerSdp } = await this.engine.request({ op: 'publish', spaceId: id, speakerId, offerSdp });
      if (room.muted.has(userId))
        await this.engine.request({ op: 'setMuted', spaceId: id, speakerId, muted: true });
      this.emit('stage', id);
      return { speakerId, answerSdp };
    } catch (err) {
      room.sessions.delete(speakerId);
      if (previous.length) this.emit('stage', id);
      throw err;
    }
  }

  /** Ends one session (WHIP DELETE); it must belong to `userId` when given. */
  async unpublish(id: string, speakerId: string, userId?: string): Promise<void> {
    const s = this.rooms.get(id)?.sessions.get(speakerId);
    if (!s || (userId !== undefined && s.userId !== userId)) throw new TribuneError('SPEAKER_NOT_FOUND');
    await this.closeSession(id, speakerId);
    this.emit('stage', id);
  }

  /** Takes a user off the stage at once (demoted, removed): their audio leaves the mix now. */
  async unpublishUser(id: string, userId: string): Promise<void> {
    const room = this.rooms.get(id);
    if (!room) return;
    const own = [...room.sessions.values()].filter((s) => s.userId === userId);
    await Promise.all(own.map((s) => this.closeSession(id, s.speakerId)));
    if (own.length) this.emit('stage', id);
  }

  /** Mutes or unmutes a user on the media path (their audio is replaced by silence in every mix). */
  async setMuted(id: string, userId: string, muted: boolean): Promise<void> {
    const room = this.rooms.get(id);
    if (!room) return;
    if (muted) room.muted.add(userId);
    else room.muted.delete(userId);
    for (const s of room.sessions.values()) {
      if (s.userId !== userId) continue;
      await this.engine
        .request({ op: 'setMuted', spaceId: id, speakerId: s.speakerId, muted })
        .catch((err: unknown) => {
          if (!(err instanceof TribuneError && err.code === 'SPEAKER_NOT_FOUND')) throw err;
        });
    }
  }

  /**
   * Stops without ending anything: live Spaces stay live in storage and resume at the next start
   * (their recording continues). Call after the engines stopped, so no part arrives afterwards.
   */
  async suspendAll(): Promise<void> {
    await Promise.all([...this.rooms.values()].map((r) => (r.live ? r.store.suspend() : r.store.flushed())));
  }

  private liveRoom(id: string): Room {
    const room = this.rooms.get(id);
    if (!room) throw new TribuneError('SPACE_NOT_FOUND');
    if (!room.live) throw new TribuneError('SPACE_NOT_LIVE');
    return room;
  }

  private async closeSession(id: string, speakerId: string): Promise<void> {
    this.rooms.get(id)?.sessions.delete(speakerId);
    await this.engine.request({ op: 'unpublish', spaceId: id, speakerId }).catch((err: unknown) => {
      if (!(err instanceof TribuneError && err.code === 'SPEAKER_NOT_FOUND')) throw err;
    });
  }

  private mediaConfig(id: string): SpaceMediaConfig {
    const produced = this.rooms.get(id)?.store.mediaDurationSec ?? 0;
    return {
      timelineStartSamples: Math.round(produced * 48_000),
      partFrames: this.config.hls.partFrames,
      opusBitrate: this.config.hls.opusBitrate,
      maxBufferedFrames: this.config.media.maxBufferedFrames,
      maxSpeakers: this.config.limits.maxSpeakers,
    };
  }

  private async openMedia(id: string): Promise<void> {
    await this.engine.request({ op: 'openSpace', spaceId: id, config: this.mediaConfig(id) });
  }

  private storeOptions(): Omit<HlsStoreOptions, 'dir'> {
    return {
      partFrames: this.config.hls.partFrames,
      segmentParts: this.config.hls.segmentParts,
      liveWindowSegments: this.config.hls.liveWindowSegments,
      log: this.log,
    };
  }
}
