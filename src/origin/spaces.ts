import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyBaseLogger as Logger } from 'fastify';
import type { TribuneConfig } from '../config.js';
import { TribuneError } from '../errors.js';
import { HlsStore } from '../hls/store.js';
import type { EnginePool } from '../media/pool.js';
import type { SpaceMediaConfig } from '../media/protocol.js';
import type { SpaceRecord, SpaceView, SpeakerRole, SpeakerView } from './api-types.js';

export type { SpaceRecord, SpaceState, SpaceView, SpeakerRole, SpeakerView } from './api-types.js';

interface Space {
  record: SpaceRecord;
  store: HlsStore;
  speakers: Map<string, SpeakerView>;
}

const LIST_LIMIT = 100;

export const newId = (bytes: number): string => randomBytes(bytes).toString('base64url');

/**
 * The Spaces this origin runs: their records (persisted as JSON next to their recordings),
 * their LL-HLS stores, and who is speaking. Media work is delegated to the MediaEngine.
 */
export class SpaceRegistry {
  private readonly spaces = new Map<string, Space>();
  private readonly root: string;

  constructor(
    private readonly config: Readonly<TribuneConfig>,
    private readonly engine: EnginePool,
    private readonly log: Logger,
  ) {
    this.root = path.join(config.dataDir, 'spaces');
    engine.on('init', (e) => this.spaces.get(e.spaceId)?.store.setInit(e.bytes));
    engine.on('part', (e) =>
      this.spaces.get(e.spaceId)?.store.addPart({
        bytes: e.bytes,
        durationSec: e.durationSec,
        programDateTimeMs: e.programDateTimeMs,
      }),
    );
    engine.on('levels', (e) => {
      const space = this.spaces.get(e.spaceId);
      if (!space) return;
      for (const l of e.levels) {
        const s = space.speakers.get(l.speakerId);
        if (s) {
          s.level = Math.round(l.level * 1000) / 1000;
          s.speaking = l.speaking;
        }
      }
    });
    engine.on('speaker-gone', (e) => {
      this.log.info({ space: e.spaceId, speaker: e.speakerId, reason: e.reason }, 'speaker gone');
      this.spaces.get(e.spaceId)?.speakers.delete(e.speakerId);
    });
    engine.on('engine-exit', (spaceIds, code, signal) => {
      this.log.error(
        { code, signal, spaces: spaceIds },
        'a media engine exited; its Spaces lose their speakers',
      );
      for (const id of spaceIds) {
        const space = this.spaces.get(id);
        if (!space) continue;
        space.speakers.clear();
        // The Space goes on in a fresh engine, its media timeline continuing where it stopped.
        if (space.record.state === 'live') void this.openMedia(id).catch(() => undefined);
      }
    });
  }

  /** Loads every Space on disk. Spaces left live by a crash are ended: their recording becomes the replay. */
  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    for (const id of await readdir(this.root)) {
      try {
        const record = JSON.parse(
          await readFile(path.join(this.root, id, 'space.json'), 'utf8'),
        ) as SpaceRecord;
        const store = await HlsStore.openReplay(this.dir(id), { log: this.log });
        if (record.state === 'live') {
          record.state = 'ended';
          record.endedAt = new Date().toISOString();
          await this.persist(record);
        }
        this.spaces.set(id, { record, store, speakers: new Map() });
      } catch (err) {
        this.log.warn({ err, id }, 'skipping unreadable Space on disk');
      }
    }
  }

  async create(title: string): Promise<SpaceRecord> {
    const id = newId(9);
    const record: SpaceRecord = {
      id,
      title,
      state: 'live',
      createdAt: new Date().toISOString(),
      endedAt: null,
    };
    const store = this.newStore(id);
    this.spaces.set(id, { record, store, speakers: new Map() });
    await mkdir(this.dir(id), { recursive: true });
    await this.persist(record);
    await this.openMedia(id);
    return record;
  }

  /** Live Spaces first, then the most recent replays; at most `limit` (the list grows with every Space ever held). */
  list(limit = LIST_LIMIT): SpaceView[] {
    return [...this.spaces.values()]
      .sort((a, b) =>
        a.record.state === b.record.state
          ? b.record.createdAt.localeCompare(a.record.createdAt)
          : a.record.state === 'live'
            ? -1
            : 1,
      )
      .slice(0, limit)
      .map((s) => this.toView(s));
  }

  get liveCount(): number {
    let n = 0;
    for (const s of this.spaces.values()) if (s.record.state === 'live') n++;
    return n;
  }

  view(id: string): SpaceView {
    return this.toView(this.get(id));
  }

  store(id: string): HlsStore | undefined {
    return this.spaces.get(id)?.store;
  }

  async publish(
    id: string,
    role: SpeakerRole,
    name: string,
    offerSdp: string,
  ): Promise<{ speakerId: string; answerSdp: string }> {
    const space = this.get(id);
    if (space.record.state !== 'live') throw new TribuneError('SPACE_ENDED');
    if (space.speakers.size >= this.config.limits.maxSpeakers) throw new TribuneError('SPACE_FULL');
    const speakerId = newId(16);
    // Reserve the seat before the (async) negotiation so concurrent joins cannot exceed the limit.
    const seat: SpeakerView = { id: speakerId, name, role, level: 0, speaking: false };
    space.speakers.set(speakerId, seat);
    try {
      const { answerSdp } = await this.engine.request({ op: 'publish', spaceId: id, speakerId, offerSdp });
      return { speakerId, answerSdp };
    } catch (err) {
      space.speakers.delete(speakerId);
      throw err;
    }
  }

  async unpublish(id: string, speakerId: string): Promise<void> {
    const space = this.get(id);
    if (!space.speakers.delete(speakerId)) throw new TribuneError('SPEAKER_NOT_FOUND');
    await this.engine.request({ op: 'unpublish', spaceId: id, speakerId }).catch((err: unknown) => {
      if (!(err instanceof TribuneError && err.code === 'SPEAKER_NOT_FOUND')) throw err;
    });
  }

  async end(id: string): Promise<SpaceRecord> {
    const space = this.get(id);
    if (space.record.state === 'ended') return space.record;
    space.record.state = 'ended';
    space.record.endedAt = new Date().toISOString();
    space.speakers.clear();
    await this.engine.request({ op: 'closeSpace', spaceId: id }).catch((err: unknown) => {
      this.log.warn({ err, id }, 'engine could not close the Space');
    });
    await space.store.end();
    await this.persist(space.record);
    return space.record;
  }

  /** Ends every live Space (graceful shutdown): their replays are complete on disk. */
  async endAll(): Promise<void> {
    await Promise.all(
      [...this.spaces.values()].filter((s) => s.record.state === 'live').map((s) => this.end(s.record.id)),
    );
  }

  private get(id: string): Space {
    const s = this.spaces.get(id);
    if (!s) throw new TribuneError('SPACE_NOT_FOUND');
    return s;
  }

  private toView(s: Space): SpaceView {
    return {
      ...s.record,
      playbackUrl: `${this.config.publicEdgeUrl || ''}/hls/spaces/${s.record.id}/master.m3u8`,
      speakers: [...s.speakers.values()].map((v) => ({ ...v })),
    };
  }

  private mediaConfig(id: string): SpaceMediaConfig {
    const produced = this.spaces.get(id)?.store.mediaDurationSec ?? 0;
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

  private newStore(id: string): HlsStore {
    return new HlsStore({
      dir: this.dir(id),
      partFrames: this.config.hls.partFrames,
      segmentParts: this.config.hls.segmentParts,
      liveWindowSegments: this.config.hls.liveWindowSegments,
      log: this.log,
    });
  }

  private dir(id: string): string {
    return path.join(this.root, id);
  }

  private async persist(record: SpaceRecord): Promise<void> {
    const file = path.join(this.dir(record.id), 'space.json');
    await writeFile(`${file}.tmp`, JSON.stringify(record, null, 2));
    await rename(`${file}.tmp`, file);
  }
}
