/**
 * The green room: before a scheduled Space starts, its host, co-hosts and speakers can join the
 * stage over WHIP and hear each other (each gets their mix-minus) to check their audio, while
 * listeners wait in the lobby and get nothing. The media engine mixes the room but neither encodes
 * nor packages a program, no HLS store exists, and the state document stays `scheduled` with no
 * speakers: nobody outside the stage learns who is in it (hosts and co-hosts see it in their
 * participants view, as `connected`).
 *
 * Starting the Space turns the same engine room live (SpaceRegistry.openLive): the WebRTC sessions
 * carry on without a reconnect, and the HLS timeline begins at the start. Ending a scheduled Space
 * closes its green room and its sessions; an empty green room closes by itself after a while.
 */
import { TribuneError } from '../errors.js';
import type { MemberRecord } from '../store/types.js';
import type { SpaceService } from './service.js';

export class GreenRoom {
  /** Space id → the users connected in its green room (sorted, joined), to notice changes. */
  private readonly rosters = new Map<string, string>();

  constructor(private readonly svc: SpaceService) {
    svc.registry.on('stage', (id) => this.onStage(id));
  }

  /**
   * WHIP's check at offer time for a Space that is not live yet; `m` is on stage. Opens the green
   * room (alone for this Space, so it cannot race the start or the end), with the member's mute.
   */
  async admit(spaceId: string, m: MemberRecord): Promise<void> {
    await this.svc.exclusive(spaceId, async () => {
      const s = await this.svc.space(spaceId);
      if (s.state === 'live') return; // started meanwhile: a live publish
      if (s.state !== 'scheduled') throw new TribuneError('SPACE_NOT_LIVE');
      await this.svc.registry.openGreenRoom(spaceId);
      await this.svc.registry.setMuted(spaceId, m.userId, m.hostMuted || m.selfMuted);
    });
  }

  /** Someone joined or left a green room: the hosts' participants view follows (levels do not count). */
  private onStage(id: string): void {
    const open = this.svc.registry.isGreenRoom(id);
    const roster = open
      ? [...new Set(this.svc.registry.sessions(id).map((s) => s.userId))].sort().join(',')
      : undefined;
    const before = this.rosters.get(id);
    if (roster === before) return;
    if (roster === undefined) this.rosters.delete(id);
    else this.rosters.set(id, roster);
    this.svc.emit('participants', id);
  }
}
