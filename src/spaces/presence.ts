/**
 * ListenerPresence (origin): which signed-in users have a Space's page open right now, for the
 * public listener list (listeners.ts).
 *
 * The source is the page's real-time channel (`GET /api/spaces/:id/events`): every signed-in
 * user's Space page holds that one server-sent-events stream to the origin (through the edges,
 * which pass /api through), so opening it joins and closing it leaves: no extra request, no TTL to
 * refresh, and a closed tab leaves at once (a dead connection is found by the stream's 15 s ping).
 * Who is on stage or blocked is decided at read time from the members (see listeners.ts). The
 * edges' per-Space samples could not serve here: they hold at most 20 users per edge.
 *
 * Memory is bounded: at most `maxEntries` (Space, user) pairs in all; beyond that a new user is not
 * listed (they still count, as anonymous, in the edges' listener count). Two pages of one user are
 * one entry (counted connections).
 *
 * Paging is by join order with a stable cursor: each join takes the next sequence number; a page
 * is a binary search for the cursor and a walk of `limit` entries, whatever the Space's size.
 * Leaving leaves a stale slot behind, compacted once stale slots outnumber live ones (amortised
 * O(1) per leave).
 */

export interface PresencePage {
  /** User ids, in join order. */
  users: string[];
  /** Sequence number of the last user returned when more follow (the next page's cursor), else null. */
  next: number | null;
}

interface Entry {
  seq: number;
  conns: number;
}

interface SpacePresence {
  byUser: Map<string, Entry>;
  /** Join order: ascending sequence numbers, with the user of each slot alongside. */
  seqs: number[];
  users: string[];
}

export class ListenerPresence {
  readonly maxEntries: number;
  /** Joins refused because of maxEntries. */
  refused = 0;
  private readonly spaces = new Map<string, SpacePresence>();
  private total = 0;
  private seq = 0;

  constructor(opts: { maxEntries?: number } = {}) {
    this.maxEntries = opts.maxEntries ?? 1_000_000;
  }

  /** (Space, user) pairs held, all Spaces together. */
  get size(): number {
    return this.total;
  }

  /**
   * A page of `userId` opened on `spaceId`. False when refused by the bound: then do not call
   * leave() for it.
   */
  join(spaceId: string, userId: string): boolean {
    let sp = this.spaces.get(spaceId);
    const e = sp?.byUser.get(userId);
    if (e) {
      e.conns++;
      return true;
    }
    if (this.total >= this.maxEntries) {
      this.refused++;
      return false;
    }
    if (!sp) this.spaces.set(spaceId, (sp = { byUser: new Map(), seqs: [], users: [] }));
    const seq = ++this.seq;
    sp.byUser.set(userId, { seq, conns: 1 });
    sp.seqs.push(seq);
    sp.users.push(userId);
    this.total++;
    return true;
  }

  /** One page of `userId` closed (after a join that returned true). */
  leave(spaceId: string, userId: string): void {
    const sp = this.spaces.get(spaceId);
    const e = sp?.byUser.get(userId);
    if (!sp || !e) return;
    if (--e.conns > 0) return;
    sp.byUser.delete(userId);
    this.total--;
    if (sp.byUser.size === 0) this.spaces.delete(spaceId);
    else if (sp.seqs.length > 2 * sp.byUser.size + 64) compact(sp);
  }

  has(spaceId: string, userId: string): boolean {
    return this.spaces.get(spaceId)?.byUser.has(userId) ?? false;
  }

  /** Distinct users with the Space's page open. */
  count(spaceId: string): number {
    return this.spaces.get(spaceId)?.byUser.size ?? 0;
  }

  /**
   * Up to `limit` users who joined after sequence number `after` (0: from the start), in join
   * order, leaving out those `skip` names.
   */
  page(spaceId: string, after: number, limit: number, skip: (userId: string) => boolean): PresencePage {
    const sp = this.spaces.get(spaceId);
    if (!sp || limit <= 0) return { users: [], next: null };
    const out: string[] = [];
    let lastSeq = 0;
    for (let i = firstAfter(sp.seqs, after); i < sp.seqs.length; i++) {
      const uid = sp.users[i]!;
      const seq = sp.seqs[i]!;
      if (sp.byUser.get(uid)?.seq !== seq || skip(uid)) continue; // left, or rejoined later
      if (out.length === limit) return { users: out, next: lastSeq };
      out.push(uid);
      lastSeq = seq;
    }
    return { users: out, next: null };
  }
}

/** Index of the first element of ascending `xs` greater than `x`. */
function firstAfter(xs: number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function compact(sp: SpacePresence): void {
  const seqs: number[] = [];
  const users: string[] = [];
  for (let i = 0; i < sp.seqs.length; i++) {
    const uid = sp.users[i]!;
    if (sp.byUser.get(uid)?.seq !== sp.seqs[i]) continue;
    seqs.push(sp.seqs[i]!);
    users.push(uid);
  }
  sp.seqs = seqs;
  sp.users = users;
}
