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

/** A green room with nobody in it closes after this long (a reconnect or a late joiner reopens it). */
const GREEN_ROOM_IDLE_MS = 30_000;

interface Room {
  /** The LL-HLS store (live or replay); none in a green room, so nothing reaches listeners. */
  store: HlsStore | undefined;
  live: boolean;
  /** A scheduled Space's stage rehearsing: mixed with mix-minus, no program, until openLive(). */
  greenRoom: boolean;
  /** The engine room being opened (a green room: publish and openLive wait for it). */
  opening?: Promise<void>;
  /** Closes an empty green room (see GREEN_ROOM_IDLE_MS). */
  idleTimer?: NodeJS.Timeout;
  /** by speakerId */
  sessions: Map<string, StageSession>;
  /** Users muted on the media path (applied again when they reconnect). */
  muted: Set<string>;
}

/**
 * Where a Space's media may run (several origins: src/cluster/placement.ts). One origin alone runs
 * everything: `SINGLE_ORIGIN`.
 */
export interface Placement {
  /** Before a Space's media opens here: takes its lease (SPACE_MOVING when another origin runs it). */
  acquire(spaceId: string): Promise<void>;
  /** The Space's media stopped here for good (ended, green room closed): others may take it. */
  release(spaceId: string): Promise<void>;
  /** Whether this origin may still write the Space's media (its lease is fresh). Called per part. */
  mayWrite(spaceId: string): boolean;
  /** The fencing token of the lease the Space's media runs under here (undefined: one origin). */
  fence(spaceId: string): number | undefined;
}

export const SINGLE_ORIGIN: Placement = {
  acquire: async () => undefined,
  release: async () => undefined,
  mayWrite: () => true,
  fence: () => undefined,
};

export interface RegistryEvents {
  /** Someone joined or left the stage, or levels changed. */
  stage: [spaceId: string];
}

/**
 * The media side of the Spaces this origin runs: each Space's LL-HLS store (live or replay) and
 * its stage sessions in a media engine. Who may speak is decided by the control plane
 * (src/spaces); this class only does what it is told, and reports who is connected.
 *
 * Before a Space starts, its stage can meet in a green room (openGreenRoom): the engine room runs
 * without a program, and there is no store, so listeners get nothing. openLive() then turns the
 * same engine room live: the speakers' WebRTC sessions carry on, and the HLS timeline starts there.
 */
export class SpaceRegistry extends EventEmitter<RegistryEvents> {
  private readonly rooms = new Map<string, Room>();
  readonly root: string;
  /** Several origins: set by src/cluster before any Space opens. */
  placement: Placement = SINGLE_ORIGIN;

  constructor(
    private readonly config: Readonly<TribuneConfig>,
    private readonly engine: EnginePool,
    private readonly log: Logger,
  ) {
    super();
    this.root = path.join(config.dataDir, 'spaces');
    engine.on('init', (e) => {
      if (this.writable(e.spaceId)) this.rooms.get(e.spaceId)?.store?.setInit(e.bytes);
    });
    engine.on('part', (e) => {
      if (!this.writable(e.spaceId)) return;
      this.rooms.get(e.spaceId)?.store?.addPart({
        bytes: e.bytes,
        durationSec: e.durationSec,
        programDateTimeMs: e.programDateTimeMs,
      });
    });
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
      if (this.rooms.get(e.spaceId)?.sessions.delete(e.speakerId)) {
        this.idleCheck(e.spaceId);
        this.emit('stage', e.spaceId);
      }
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
        // A green room is simply gone: the speakers' pages reconnect, which opens a new one.
        if (room.greenRoom) this.dropRoom(id, room);
        this.emit('stage', id);
        // The Space goes on in a fresh engine, its media timeline continuing where it stopped.
        if (room.live) void this.openMedia(id).catch(() => undefined);
      }
    });
  }

  dir(id: string): string {
    return path.join(this.root, id);
  }

  /**
   * Opens a live Space: new, resumed after a restart (its recording and timeline continue), or its
   * green room going live (the same engine room and WebRTC sessions; the program starts now).
   */
  async openLive(id: string): Promise<void> {
    const before = this.rooms.get(id);
    if (before?.live) return;
    await before?.opening?.catch(() => undefined);
    // Several origins: the lease first, so that nobody else writes this Space's files from now on.
    if (!before?.greenRoom) await this.placement.acquire(id);
    await mkdir(this.dir(id), { recursive: true });
    const store = await HlsStore.openLive(this.dir(id), this.storeOptions());
    const room = this.rooms.get(id);
    if (room?.greenRoom) {
      // The store first: the engine's init and first part follow goLive at once.
      clearTimeout(room.idleTimer);
      room.idleTimer = undefined;
      Object.assign(room, { store, live: true, greenRoom: false });
      await this.engine
        .request({
          op: 'goLive',
          spaceId: id,
          timelineStartSamples: this.mediaConfig(id).timelineStartSamples,
        })
        .catch((err: unknown) => {
          // The engine lost the room (it died): open it live; its speakers reconnect.
          this.log.warn({ err, id }, 'green room could not go live in place');
          return this.openMedia(id);
        });
      this.emit('stage', id);
      return;
    }
    this.rooms.set(id, { store, live: true, greenRoom: false, sessions: new Map(), muted: new Set() });
    await this.openMedia(id);
  }

  /**
   * Opens a scheduled Space's green room (if not open yet): its stage can publish and hear each
   * other's mix-minus; nothing is packaged or stored. True when this call opened it.
   */
  async openGreenRoom(id: string): Promise<boolean> {
    const existing = this.rooms.get(id);
    if (existing) {
      await existing.opening;
      return false;
    }
    await this.placement.acquire(id);
    if (this.rooms.get(id)) return this.openGreenRoom(id); // opened by a concurrent call meanwhile
    const room: Room = {
      store: undefined,
      live: false,
      greenRoom: true,
      sessions: new Map(),
      muted: new Set(),
    };
    this.rooms.set(id, room);
    room.opening = this.openMedia(id).catch((err: unknown) => {
      this.dropRoom(id, room);
      throw err;
    });
    await room.opening;
    this.idleCheck(id);
    return true;
  }

  isGreenRoom(id: string): boolean {
    return this.rooms.get(id)?.greenRoom ?? false;
  }

  /** Closes a green room (the Space ended before it started, or nobody is in it): sessions end. */
  async closeGreenRoom(id: string): Promise<void> {
    const room = this.rooms.get(id);
    if (!room?.greenRoom) return;
    await room.opening?.catch(() => undefined);
    if (this.rooms.get(id) !== room) return;
    this.dropRoom(id, room);
    await this.engine.request({ op: 'closeSpace', spaceId: id }).catch((err: unknown) => {
      this.log.warn({ err, id }, 'engine could not close the green room');
    });
    await this.placement.release(id);
    this.emit('stage', id);
  }

  /**
   * Stops running a Space here without ending it (several origins: its lease was lost, another origin
   * continues it). Nothing more is written: the store is dropped as it is, the engine room closed.
   */
  async stop(id: string): Promise<void> {
    const room = this.rooms.get(id);
    if (!room || !(room.live || room.greenRoom)) return;
    this.dropRoom(id, room);
    room.sessions.clear();
    room.store?.abandon();
    await this.engine.request({ op: 'closeSpace', spaceId: id }).catch((err: unknown) => {
      this.log.warn({ err, id }, 'engine could not close a Space that moved');
    });
    this.emit('stage', id);
  }

  /** Media of this Space may be written here (a room, and the lease where there are several origins). */
  private writable(id: string): boolean {
    if (this.placement.mayWrite(id)) return true;
    if (this.rooms.has(id)) {
      this.log.warn({ id }, 'lease lost: this origin stops running the Space');
      void this.stop(id);
    }
    return false;
  }

  /** Loads an ended Space's replay (VOD), trimmed; false when there is no recording. */
  async openReplay(id: string, trimStartSec: number): Promise<boolean> {
    try {
      const store = await HlsStore.openReplay(this.dir(id), { ...this.storeOptions(), trimStartSec });
      this.rooms.set(id, { store, live: false, greenRoom: false, sessions: new Map(), muted: new Set() });
      return true;
    } catch (err) {
      if (err instanceof TribuneError && err.code === 'NOT_FOUND') return false;
      throw err;
    }
  }

  /** Ends a live Space: its media closes and its recording becomes the replay. A green room just closes. */
  async end(id: string): Promise<void> {
    if (this.rooms.get(id)?.greenRoom) return this.closeGreenRoom(id);
    const room = this.rooms.get(id);
    if (!room?.live) return;
    room.live = false;
    room.sessions.clear();
    await this.engine.request({ op: 'closeSpace', spaceId: id }).catch((err: unknown) => {
      this.log.warn({ err, id }, 'engine could not close the Space');
    });
    await room.store?.end();
    this.emit('stage', id);
  }

  /** Forgets a Space's media (after its replay was deleted). */
  forget(id: string): void {
    this.rooms.delete(id);
  }

  store(id: string): HlsStore | undefined {
    return this.rooms.get(id)?.store;
  }

  /** Its media runs here: live, or a green room. */
  runs(id: string): boolean {
    const room = this.rooms.get(id);
    return !!room && (room.live || room.greenRoom);
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
    const room = this.stageRoom(id);
    const previous = [...room.sessions.values()].filter((s) => s.userId === userId);
    if (room.sessions.size - previous.length >= this.config.limits.maxSpeakers)
      throw new TribuneError('SPACE_FULL');
    // A reconnect replaces the user's old session first: on a full stage the engine has no spare seat.
    for (const old of previous) await this.closeSession(id, old.speakerId);
    const speakerId = newId(16);
    // Reserve the seat before the (async) negotiation so concurrent joins cannot exceed the limit.
    room.sessions.set(speakerId, { speakerId, userId, level: 0, speaking: false });
    clearTimeout(room.idleTimer);
    room.idleTimer = undefined;
    try {
      const { answerSdp } = await this.engine.request({ op: 'publish', spaceId: id, speakerId, offerSdp });
      if (room.muted.has(userId))
        await this.engine.request({ op: 'setMuted', spaceId: id, speakerId, muted: true });
      this.emit('stage', id);
      return { speakerId, answerSdp };
    } catch (err) {
      room.sessions.delete(speakerId);
      this.idleCheck(id);
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

  /** Closes a user's media sessions in every room this origin runs (a suspended account, src/trust). */
  async unpublishEverywhere(userId: string): Promise<void> {
    await Promise.all([...this.rooms.keys()].map((id) => this.unpublishUser(id, userId)));
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
    // Green rooms have nothing to keep: their pages reconnect after the restart, and open new ones.
    await Promise.all(
      [...this.rooms.values()].map((r) => (r.live ? r.store?.suspend() : r.store?.flushed())),
    );
  }

  /** A room speakers can publish into: live, or a green room. */
  private stageRoom(id: string): Room {
    const room = this.rooms.get(id);
    // The control plane said yes: no room means the Space stopped running meanwhile.
    if (!room || !(room.live || room.greenRoom)) throw new TribuneError('SPACE_NOT_LIVE');
    return room;
  }

  private dropRoom(id: string, room: Room): void {
    clearTimeout(room.idleTimer);
    room.idleTimer = undefined;
    if (this.rooms.get(id) === room) this.rooms.delete(id);
  }

  /** An empty green room closes after GREEN_ROOM_IDLE_MS unless someone joins first. */
  private idleCheck(id: string): void {
    const room = this.rooms.get(id);
    if (!room?.greenRoom || room.sessions.size > 0 || room.idleTimer) return;
    room.idleTimer = setTimeout(() => {
      room.idleTimer = undefined;
      if (room.sessions.size === 0) void this.closeGreenRoom(id);
    }, GREEN_ROOM_IDLE_MS);
    room.idleTimer.unref();
  }

  private async closeSession(id: string, speakerId: string): Promise<void> {
    this.rooms.get(id)?.sessions.delete(speakerId);
    this.idleCheck(id);
    await this.engine.request({ op: 'unpublish', spaceId: id, speakerId }).catch((err: unknown) => {
      if (!(err instanceof TribuneError && err.code === 'SPEAKER_NOT_FOUND')) throw err;
    });
  }

  private mediaConfig(id: string): SpaceMediaConfig {
    const produced = this.rooms.get(id)?.store?.mediaDurationSec ?? 0;
    return {
      timelineStartSamples: Math.round(produced * 48_000),
      partFrames: this.config.hls.partFrames,
      opusBitrate: this.config.hls.opusBitrate,
      maxBufferedFrames: this.config.media.maxBufferedFrames,
      maxSpeakers: this.config.limits.maxSpeakers,
      greenRoom: this.rooms.get(id)?.greenRoom ?? false,
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
