/**
 * ListenerCounter (edge side): the players seen per Space, by their random listener id (`lid`, one
 * per page). A player counts while it was seen within `windowMs`; a live-doc long-poll returns at
 * least every ~2 s, so an active player is seen well inside the default 5 s.
 *
 * Memory is bounded: at most `maxLids` (lid, Space) pairs in total; beyond that new players are
 * not counted (and `onLimit` is called once). Each Space's map is kept in last-seen order (a
 * re-seen lid moves to the end), so expiring is a walk from the front that stops at the first
 * fresh lid: O(expired), never a scan of everyone. Timestamps must not decrease (use a monotonic clock).
 */

export interface ListenerCounterOptions {
  /** A lid counts this long after it was last seen. Default 5000. */
  windowMs?: number;
  /** Most (Space, lid) pairs held in total. Default 2,000,000. */
  maxLids?: number;
  /** Called once, the first time a lid is refused because of maxLids. */
  onLimit?: (maxLids: number) => void;
}

interface SpaceListeners {
  /** lid -> last seen (ms), in last-seen order. */
  seen: Map<string, number>;
  /** lid -> user id, for the signed-in ones. */
  users: Map<string, string>;
}

export class ListenerCounter {
  readonly windowMs: number;
  readonly maxLids: number;
  /** New lids not counted because the bound was reached. */
  refused = 0;
  private readonly spaces = new Map<string, SpaceListeners>();
  private readonly onLimit: ((maxLids: number) => void) | undefined;
  private total = 0;
  private limitReported = false;

  constructor(opts: ListenerCounterOptions = {}) {
    this.windowMs = opts.windowMs ?? 5000;
    this.maxLids = opts.maxLids ?? 2_000_000;
    this.onLimit = opts.onLimit;
  }

  /** (Space, lid) pairs held, all Spaces together (expired ones until swept). */
  get size(): number {
    return this.total;
  }

  /** Records `lid` as listening to `spaceId` at `nowMs`. False when refused by the bound. */
  seen(spaceId: string, lid: string, userId: string | undefined, nowMs: number): boolean {
    let sp = this.spaces.get(spaceId);
    if (sp?.seen.has(lid)) {
      sp.seen.delete(lid); // move to the end: the map stays in last-seen order
      sp.seen.set(lid, nowMs);
    } else {
      if (this.total >= this.maxLids) {
        this.refused++;
        if (!this.limitReported) {
          this.limitReported = true;
          this.onLimit?.(this.maxLids);
        }
        return false;
      }
      if (!sp) this.spaces.set(spaceId, (sp = { seen: new Map(), users: new Map() }));
      sp.seen.set(lid, nowMs);
      this.total++;
    }
    sp.users.delete(lid);
    if (userId !== undefined) sp.users.set(lid, userId);
    return true;
  }

  /** Forgets `lid` at once (the player left). True when it was counted. */
  leave(spaceId: string, lid: string): boolean {
    const sp = this.spaces.get(spaceId);
    if (!sp || !sp.seen.delete(lid)) return false;
    sp.users.delete(lid);
    this.total--;
    if (sp.seen.size === 0) this.spaces.delete(spaceId);
    return true;
  }

  /** Distinct lids of `spaceId` seen within the window before `nowMs`. */
  count(spaceId: string, nowMs: number): number {
    const sp = this.spaces.get(spaceId);
    if (!sp) return 0;
    this.expire(spaceId, sp, nowMs);
    return sp.seen.size;
  }

  /** Up to `max` distinct user ids of signed-in listeners of `spaceId`. */
  sample(spaceId: string, max: number): string[] {
    const sp = this.spaces.get(spaceId);
    const out = new Set<string>();
    if (!sp) return [];
    for (const u of sp.users.values()) {
      if (out.size >= max) break;
      out.add(u);
    }
    return [...out];
  }

  /** Drops every expired lid (and empty Spaces). */
  sweep(nowMs: number): void {
    for (const [id, sp] of this.spaces) this.expire(id, sp, nowMs);
  }

  /** Spaces with at least one lid held. */
  spaceIds(): string[] {
    return [...this.spaces.keys()];
  }

  clear(): void {
    this.spaces.clear();
    this.total = 0;
  }

  private expire(spaceId: string, sp: SpaceListeners, nowMs: number): void {
    const cutoff = nowMs - this.windowMs;
    for (const [lid, at] of sp.seen) {
      if (at > cutoff) break;
      sp.seen.delete(lid);
      sp.users.delete(lid);
      this.total--;
    }
    if (sp.seen.size === 0) this.spaces.delete(spaceId);
  }
}
