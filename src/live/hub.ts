/**
 * LiveHub (origin side): aggregates what the edges report (listener counts, reaction tallies) with
 * what the Space registry knows (state, title, speakers) into one versioned state document per
 * Space, and serves it with blocking reload, like an LL-HLS playlist:
 *
 * - `v` grows by one per publish; a publish happens when anything visible changed (base, listener
 *   count, reaction window), at most once per `publishIntervalMs`; changes in between coalesce
 *   into the next publish (leading edge: a change after a quiet period publishes at once).
 * - Reactions are collected in fixed windows of `reactionWindowMs`. When a window closes with counts,
 *   the doc carries them with `seq + 1`; when a window closes empty after a non-empty one, the
 *   counts become `{}`. A client animates each `seq` once.
 * - The listener count is the sum over the edges whose latest report arrived less than `staleMs`
 *   ago (an edge that dies stops counting after `staleMs`).
 * - `wait(id, v)` answers at once when the client is behind, parks it until the next publish (or
 *   `holdMs`) when it is current or one ahead, and refuses anything further ahead.
 *
 * All timing goes through an injectable clock; `close()`/`dispose()` leave no timer behind.
 */
import { TribuneError } from '../errors.js';
import {
  isReactionEmoji,
  type EdgeReport,
  type LiveBase,
  type LiveDoc,
  type LiveSpeaker,
  type ReactionCounts,
} from './types.js';

export interface LiveClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: LiveClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface LiveHubOptions {
  /** An edge's counts stop counting this long after its latest report arrived. Default 3000. */
  staleMs?: number;
  /** Minimum time between two publishes of one Space. Default 250. */
  publishIntervalMs?: number;
  /** Length of a reaction window. Default 1000. */
  reactionWindowMs?: number;
  /** Longest a blocking `wait` is held before it answers with the current doc. Default 2000. */
  holdMs?: number;
  /** Max user ids `sample()` returns. Default 50. */
  sampleMax?: number;
  clock?: LiveClock;
  /** Called when a 'doc' listener throws (the hub carries on). Default: console.error. */
  onListenerError?: (err: unknown) => void;
}

export interface LiveHubEvents {
  doc: [spaceId: string, doc: LiveDoc];
}

/** Upper bound per emoji per report (an edge tallies at most 10 per 5 s per address and Space). */
const MAX_REACTIONS_PER_REPORT = 1_000_000;

interface Waiter {
  resolve(doc: LiveDoc): void;
  reject(err: unknown): void;
  timer: unknown;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface SpaceState {
  id: string;
  base: LiveBase;
  /** The published document. */
  doc: LiveDoc;
  baseDirty: boolean;
  /** The open reaction window. */
  window: ReactionCounts;
  windowHasCounts: boolean;
  /** The reactions of the latest closed window (published with the next publish). */
  reactions: LiveDoc['reactions'];
  lastPublishAt: number;
  publishTimer: unknown;
  waiters: Set<Waiter>;
  closed: boolean;
}

interface EdgeState {
  atMs: number;
  receivedAt: number;
  spaces: EdgeReport['spaces'];
}

type Listener<E extends keyof LiveHubEvents> = (...args: LiveHubEvents[E]) => void;

export class LiveHub {
  private readonly spaces = new Map<string, SpaceState>();
  private readonly edges = new Map<string, EdgeState>();
  private readonly listenersOf: { [E in keyof LiveHubEvents]: Set<Listener<E>> } = { doc: new Set() };
  private readonly staleMs: number;
  private readonly publishIntervalMs: number;
  private readonly reactionWindowMs: number;
  private readonly holdMs: number;
  private readonly sampleMax: number;
  private readonly clock: LiveClock;
  private readonly onListenerError: (err: unknown) => void;
  private ticker: unknown;
  private nextTickAt = 0;
  private disposed = false;

  constructor(opts: LiveHubOptions = {}) {
    this.staleMs = opts.staleMs ?? 3000;
    this.publishIntervalMs = opts.publishIntervalMs ?? 250;
    this.reactionWindowMs = opts.reactionWindowMs ?? 1000;
    this.holdMs = opts.holdMs ?? 2000;
    this.sampleMax = opts.sampleMax ?? 50;
    this.clock = opts.clock ?? systemClock;
    this.onListenerError = opts.onListenerError ?? ((err) => console.error('LiveHub listener failed', err));
    for (const [name, v] of Object.entries({
      staleMs: this.staleMs,
      publishIntervalMs: this.publishIntervalMs,
      reactionWindowMs: this.reactionWindowMs,
      holdMs: this.holdMs,
    }))
      if (!(v > 0)) throw new Error(`LiveHub ${name} must be > 0`);
  }

  // ---- events -------------------------------------------------------------------------------

  /** Subscribes; returns the unsubscribe function. A throwing listener never breaks the hub. */
  on<E extends keyof LiveHubEvents>(event: E, fn: Listener<E>): () => void {
    this.listenersOf[event].add(fn);
    return () => this.off(event, fn);
  }

  off<E extends keyof LiveHubEvents>(event: E, fn: Listener<E>): void {
    this.listenersOf[event].delete(fn);
  }

  private emit<E extends keyof LiveHubEvents>(event: E, ...args: LiveHubEvents[E]): void {
    for (const fn of [...this.listenersOf[event]]) {
      try {
        (fn as (...a: LiveHubEvents[E]) => void)(...args);
      } catch (err) {
        try {
          this.onListenerError(err);
        } catch {
          // the error reporter itself failed: nothing left to tell
        }
      }
    }
  }

  // ---- Spaces -------------------------------------------------------------------------------

  /** Starts publishing a Space (v = 1). Opening an open Space updates it; an ended one revives. */
  open(spaceId: string, base: LiveBase): void {
    if (this.disposed) throw new Error('LiveHub is disposed');
    const existing = this.spaces.get(spaceId);
    if (existing) {
      existing.closed = false;
      this.update(spaceId, base);
      this.ensureTicker();
      return;
    }
    const now = this.clock.now();
    const reactions = { seq: 0, counts: {} };
    const s: SpaceState = {
      id: spaceId,
      base: copyBase(base),
      doc: undefined as unknown as LiveDoc,
      baseDirty: false,
      window: {},
      windowHasCounts: false,
      reactions,
      lastPublishAt: now,
      publishTimer: undefined,
      waiters: new Set(),
      closed: false,
    };
    s.doc = this.build(s, 1, now);
    this.spaces.set(spaceId, s);
    this.ensureTicker();
    this.emit('doc', spaceId, s.doc);
  }

  /** Changes state/title/speakers; publishes (throttled) when something visible changed. */
  update(spaceId: string, patch: Partial<LiveBase>): void {
    const s = this.space(spaceId);
    if (s.closed) return; // an ended Space keeps its final doc; open() it again to revive
    const next = copyBase({ ...s.base, ...patch });
    if (sameBase(next, s.base)) return;
    s.base = next;
    s.baseDirty = true;
    this.maybePublish(s);
  }

  /**
   * Ends a Space: publishes its final doc at once (state 'ended', no listeners, speakers
   * disconnected and silent), answers every waiter, and clears its timers. The final doc is served
   * until forget().
   */
  close(spaceId: string): void {
    const s = this.spaces.get(spaceId);
    if (!s || s.closed) return;
    s.closed = true;
    s.base = {
      ...s.base,
      state: 'ended',
      speakers: s.base.speakers.map((sp) => ({ ...sp, connected: false, speaking: false, level: 0 })),
    };
    s.baseDirty = true;
    if (s.reactions.counts && Object.keys(s.reactions.counts).length > 0)
      s.reactions = { seq: s.reactions.seq, counts: {} };
    s.window = {};
    s.windowHasCounts = false;
    this.clearPublishTimer(s);
    if (this.changed(s)) this.publish(s);
    else this.resolveWaiters(s);
    this.stopTickerIfIdle();
  }

  /** Drops a Space entirely (waiters get its last doc). */
  forget(spaceId: string): void {
    const s = this.spaces.get(spaceId);
    if (!s) return;
    this.clearPublishTimer(s);
    this.resolveWaiters(s);
    this.spaces.delete(spaceId);
    this.stopTickerIfIdle();
  }

  has(spaceId: string): boolean {
    return this.spaces.has(spaceId);
  }

  /** The current (published) doc; SPACE_NOT_FOUND for an unknown Space. */
  doc(spaceId: string): LiveDoc {
    return this.space(spaceId).doc;
  }

  spaceIds(): string[] {
    return [...this.spaces.keys()];
  }

  // ---- edge reports -------------------------------------------------------------------------

  /**
   * Takes one edge's report: it replaces that edge's previous one (a Space it leaves out counts 0
   * for that edge); its reactions join each Space's open window. Reports older than the edge's
   * latest (reordered or replayed) are ignored: returns false. Unknown Spaces are ignored.
   */
  ingest(report: EdgeReport, nowMs: number = this.clock.now()): boolean {
    if (this.disposed) return false;
    const prev = this.edges.get(report.edgeId);
    if (prev && !(report.atMs > prev.atMs)) return false;
    this.edges.set(report.edgeId, { atMs: report.atMs, receivedAt: nowMs, spaces: report.spaces });
    const affected = new Set(Object.keys(report.spaces));
    if (prev) for (const id of Object.keys(prev.spaces)) affected.add(id);
    for (const [id, r] of Object.entries(report.spaces)) {
      const s = this.spaces.get(id);
      if (!s || s.closed) continue;
      for (const [emoji, n] of Object.entries(r.reactions ?? {})) {
        if (!isReactionEmoji(emoji) || !Number.isSafeInteger(n) || n <= 0) continue;
        s.window[emoji] = (s.window[emoji] ?? 0) + Math.min(n, MAX_REACTIONS_PER_REPORT);
        s.windowHasCounts = true;
      }
    }
    for (const id of affected) {
      const s = this.spaces.get(id);
      if (s && !s.closed) this.maybePublish(s);
    }
    return true;
  }

  /** Listeners of a Space: the sum over edges whose latest report is younger than staleMs. */
  listeners(spaceId: string, nowMs: number = this.clock.now()): number {
    let n = 0;
    for (const e of this.edges.values()) {
      if (nowMs - e.receivedAt >= this.staleMs) continue;
      const c = e.spaces[spaceId]?.listeners;
      if (typeof c === 'number' && Number.isFinite(c) && c > 0) n += Math.floor(c);
    }
    return n;
  }

  /** Signed-in user ids seen by fresh edges (union, at most `sampleMax`). */
  sample(spaceId: string, nowMs: number = this.clock.now()): string[] {
    const out = new Set<string>();
    for (const e of this.edges.values()) {
      if (nowMs - e.receivedAt >= this.staleMs) continue;
      for (const u of e.spaces[spaceId]?.sample ?? []) {
        if (out.size >= this.sampleMax) return [...out];
        out.add(u);
      }
    }
    return [...out];
  }

  /** Edges whose latest report is fresh. */
  edgeCount(nowMs: number = this.clock.now()): number {
    let n = 0;
    for (const e of this.edges.values()) if (nowMs - e.receivedAt < this.staleMs) n++;
    return n;
  }

  // ---- blocking reload ----------------------------------------------------------------------

  /**
   * The doc a client at version `v` should get: at once when `v` is undefined or behind; at the
   * next publish (or after holdMs, with the current doc) when `v` is current or one ahead.
   * STATE_BAD_VERSION for anything else, SPACE_NOT_FOUND for an unknown Space. Aborting `signal`
   * rejects with its reason and removes the waiter.
   */
  wait(spaceId: string, v: number | undefined, signal?: AbortSignal): Promise<LiveDoc> {
    const s = this.spaces.get(spaceId);
    if (!s) return Promise.reject(new TribuneError('SPACE_NOT_FOUND'));
    if (v === undefined) return Promise.resolve(s.doc);
    if (!Number.isSafeInteger(v) || v < 0)
      return Promise.reject(new TribuneError('STATE_BAD_VERSION', 'v must be a non-negative integer'));
    if (v < s.doc.v) return Promise.resolve(s.doc);
    if (v > s.doc.v + 1)
      return Promise.reject(new TribuneError('STATE_BAD_VERSION', `the current version is ${s.doc.v}`));
    if (s.closed || this.disposed) return Promise.resolve(s.doc); // nothing will change any more
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<LiveDoc>((resolve, reject) => {
      const w: Waiter = { resolve, reject, timer: undefined, signal, onAbort: undefined };
      w.timer = this.clock.setTimeout(() => {
        this.removeWaiter(s, w);
        resolve(s.doc);
      }, this.holdMs);
      if (signal) {
        w.onAbort = () => {
          this.removeWaiter(s, w);
          reject(signal.reason);
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      s.waiters.add(w);
    });
  }

  /** Parked `wait`s: of one Space, or of all. */
  waiterCount(spaceId?: string): number {
    if (spaceId !== undefined) return this.spaces.get(spaceId)?.waiters.size ?? 0;
    let n = 0;
    for (const s of this.spaces.values()) n += s.waiters.size;
    return n;
  }

  /** Stops everything: clears every timer, answers every waiter with its current doc. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.ticker !== undefined) this.clock.clearTimeout(this.ticker);
    this.ticker = undefined;
    for (const s of this.spaces.values()) {
      this.clearPublishTimer(s);
      this.resolveWaiters(s);
    }
    for (const set of Object.values(this.listenersOf)) set.clear();
  }

  // ---- internals ----------------------------------------------------------------------------

  private space(spaceId: string): SpaceState {
    const s = this.spaces.get(spaceId);
    if (!s) throw new TribuneError('SPACE_NOT_FOUND');
    return s;
  }

  private build(s: SpaceState, v: number, now: number): LiveDoc {
    return {
      v,
      spaceId: s.id,
      state: s.base.state,
      title: s.base.title,
      listeners: s.closed ? 0 : this.listeners(s.id, now),
      speakers: s.base.speakers,
      reactions: s.reactions,
      updatedAtMs: now,
    };
  }

  private changed(s: SpaceState, now = this.clock.now()): boolean {
    return (
      s.baseDirty ||
      s.reactions !== s.doc.reactions ||
      (s.closed ? 0 : this.listeners(s.id, now)) !== s.doc.listeners
    );
  }

  private maybePublish(s: SpaceState): void {
    if (this.disposed) return;
    const now = this.clock.now();
    if (!this.changed(s, now)) return;
    const due = s.lastPublishAt + this.publishIntervalMs;
    if (now >= due) {
      this.publish(s);
      return;
    }
    if (s.publishTimer !== undefined) return; // the pending publish will carry this change
    s.publishTimer = this.clock.setTimeout(() => {
      s.publishTimer = undefined;
      if (this.spaces.get(s.id) === s && this.changed(s)) this.publish(s);
    }, due - now);
  }

  private publish(s: SpaceState): void {
    this.clearPublishTimer(s);
    const now = this.clock.now();
    s.doc = this.build(s, s.doc.v + 1, now);
    s.baseDirty = false;
    s.lastPublishAt = now;
    this.resolveWaiters(s);
    this.emit('doc', s.id, s.doc);
  }

  private resolveWaiters(s: SpaceState): void {
    if (s.waiters.size === 0) return;
    const waiters = [...s.waiters];
    s.waiters.clear();
    for (const w of waiters) {
      this.detach(w);
      w.resolve(s.doc);
    }
  }

  private removeWaiter(s: SpaceState, w: Waiter): void {
    s.waiters.delete(w);
    this.detach(w);
  }

  private detach(w: Waiter): void {
    this.clock.clearTimeout(w.timer);
    if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
  }

  private clearPublishTimer(s: SpaceState): void {
    if (s.publishTimer !== undefined) this.clock.clearTimeout(s.publishTimer);
    s.publishTimer = undefined;
  }

  private hasOpenSpaces(): boolean {
    for (const s of this.spaces.values()) if (!s.closed) return true;
    return false;
  }

  private ensureTicker(): void {
    if (this.ticker !== undefined || this.disposed) return;
    this.nextTickAt = this.clock.now() + this.reactionWindowMs;
    this.scheduleTick();
  }

  private stopTickerIfIdle(): void {
    if (this.ticker === undefined || this.hasOpenSpaces()) return;
    this.clock.clearTimeout(this.ticker);
    this.ticker = undefined;
  }

  private scheduleTick(): void {
    const h = this.clock.setTimeout(() => this.tick(), Math.max(0, this.nextTickAt - this.clock.now()));
    (h as { unref?: () => void } | undefined)?.unref?.();
    this.ticker = h;
  }

  /** Every reactionWindowMs: close each Space's reaction window, re-check staleness, publish. */
  private tick(): void {
    this.ticker = undefined;
    if (this.disposed) return;
    const now = this.clock.now();
    for (const [id, e] of this.edges) if (now - e.receivedAt >= this.staleMs) this.edges.delete(id);
    for (const s of this.spaces.values()) {
      if (s.closed) continue;
      if (s.windowHasCounts) {
        s.reactions = { seq: s.reactions.seq + 1, counts: s.window };
      } else if (Object.keys(s.reactions.counts).length > 0) {
        s.reactions = { seq: s.reactions.seq, counts: {} };
      }
      s.window = {};
      s.windowHasCounts = false;
      this.maybePublish(s);
    }
    if (!this.hasOpenSpaces()) return;
    // Drift-free cadence; after a long stall (suspended process) restart from now.
    this.nextTickAt += this.reactionWindowMs;
    if (this.nextTickAt <= now) this.nextTickAt = now + this.reactionWindowMs;
    this.scheduleTick();
  }
}

function copyBase(b: LiveBase): LiveBase {
  return {
    state: b.state,
    title: b.title,
    speakers: b.speakers.map((sp): LiveSpeaker => ({ ...sp })),
  };
}

function sameBase(a: LiveBase, b: LiveBase): boolean {
  if (a.state !== b.state || a.title !== b.title || a.speakers.length !== b.speakers.length) return false;
  return JSON.stringify(a.speakers) === JSON.stringify(b.speakers);
}
