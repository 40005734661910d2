/**
 * The Space registry's `Placement` when several origins run (src/origin/spaces.ts): a Space's media
 * opens here only under its lease (leases.ts), and three fences keep a holder that lost its lease
 * from doing harm:
 *  1. Redis: the lease itself (claimed atomically, renewed by compare-and-pexpire);
 *  2. the control-plane database: `Storage.fenceSpaceMedia(id, fence)` records the token at each
 *     claim, and the writes an origin makes about the media it runs (the end of a Space, its replay)
 *     carry it (`updateSpace(..., fence)`), refused with LEASE_LOST once a newer one is recorded;
 *  3. the shared data dir: the token is written to `<space dir>/lease`; while Redis is unreachable a
 *     holder keeps its Spaces only while that file still shows its own token (leases.ts `stillOurs`).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TribuneError } from '../errors.js';
import type { Placement } from '../origin/spaces.js';
import type { Storage } from '../store/types.js';
import type { SpaceLeases } from './leases.js';

export const LEASE_FILE = 'lease';

export class ClusterPlacement implements Placement {
  constructor(
    private readonly leases: SpaceLeases,
    private readonly storage: Storage,
    private readonly dirOf: (spaceId: string) => string,
  ) {}

  async acquire(spaceId: string): Promise<void> {
    const claim = await this.leases.claim(spaceId);
    if (!claim.ok) throw new TribuneError('SPACE_MOVING', `it runs on ${claim.owner.originId}`);
    try {
      if (!(await this.storage.fenceSpaceMedia(spaceId, claim.fence))) throw new TribuneError('LEASE_LOST');
      const dir = this.dirOf(spaceId);
      await mkdir(dir, { recursive: true });
      const tmp = path.join(dir, `${LEASE_FILE}.${process.pid}.tmp`);
      await writeFile(tmp, String(claim.fence));
      await rename(tmp, path.join(dir, LEASE_FILE));
    } catch (err) {
      await this.leases.release(spaceId);
      throw err;
    }
  }

  release(spaceId: string): Promise<void> {
    return this.leases.release(spaceId);
  }

  mayWrite(spaceId: string): boolean {
    return this.leases.holds(spaceId);
  }

  fence(spaceId: string): number | undefined {
    return this.leases.fence(spaceId);
  }

  /** The fence file next to the recording still names `fence` (see leases.ts, Redis unreachable). */
  async stillOurs(spaceId: string, fence: number): Promise<boolean> {
    const text = await readFile(path.join(this.dirOf(spaceId), LEASE_FILE), 'utf8');
    return Number(text.trim()) === fence;
  }
}
