/**
 * StreamHub: one-response stream delivery on an edge (pure fan-out logic; no HTTP, no origin).
 *
 * Each listener of a Space holds one long-lived HTTP/1.1 chunked response. The edge's feed (see
 * stream-feed.ts) pushes each new CMAF part once; the hub appends it to the Space's current batch
 * and, when the batch is full, frames the batch ONCE as one HTTP chunk (`<hex>\r\n…\r\n`) and writes
 * that same Buffer to every listener's socket: one write per listener per batch, no per-listener
 * copy. The cost of an edge is per write, not per byte, so under load the hub puts more parts in a
 * batch (steps by listener count), trading delay for capacity; each step is reported.
 *
 * - A joiner gets the init segment and the newest part(s) at once (every Opus part is independent),
 *   so it hears audio immediately; later batches carry only what it has not had.
 * - A listener whose socket backlog holds more than about `maxBehindMs` of audio (or that stays
 *   backed up that long) is cut; its player reconnects at the live edge.
 * - Per-address cap: `reserve(address)` takes one of the address's places before the request does
 *   anything slow (so a burst of concurrent connects cannot all pass the check); `join` fills it,
 *   `release` gives it back when the request fails before joining, and leaving frees it.
 */

/** The part of a socket the hub needs (net.Socket fits). */
export interface StreamSink {
  write(chunk: Buffer): boolean;
  readonly writableLength: number;
  destroy(): void;
  /** Ends the response normally (writes HTTP's last chunk). */
  end(): void;
}

export interface StreamListener {
  readonly sink: StreamSink;
  readonly address: string;
  readonly lid: string;
  readonly userId: string | undefined;
  /** Called once when the hub lets go of the listener (ended, cut or closed). */
  onDone?: (reason: 'ended' | 'cut' | 'closed') => void;
}

export interface BatchStep {
  /** From this many stream listeners on the edge (all Spaces)... */
  listeners: number;
  /** ...write this many parts per write. */
  parts: number;
}

/** Default steps: 200 ms writes while the edge is light, up to 1 s writes past 20,000 listeners. */
export const DEFAULT_BATCH_STEPS: readonly BatchStep[] = [
  { listeners: 0, parts: 1 },
  { listeners: 5_000, parts: 2 },
  { listeners: 10_000, parts: 3 },
  { listeners: 20_000, parts: 5 },
];

export interface StreamHubOptions {
  batchSteps?: readonly BatchStep[];
  /** A listener this far behind (by its socket backlog) is cut. Default 1000. */
  maxBehindMs?: number;
  /** Nominal part duration, to turn a byte backlog into time. Default 200. */
  partMs?: number;
  /** Concurrent streams per client address. Default 64. */
  perAddressMax?: number;
  /** Sockets written per event-loop turn while fanning a frame out. Default 1024. */
  sliceSize?: number;
  now?: () => number;
}

interface Member {
  listener: StreamListener;
  /** Sequence number of the next part this listener needs. */
  next: number;
  /** Clock time its backlog was first seen non-empty (0 = drained). */
  backedUpSince: number;
}

interface SpaceStream {
  init: Buffer | null;
  /** Parts of the current batch, with their sequence numbers (first = batchSeq). */
  pending: Buffer[];
  batchSeq: number;
  /** Sequence number the next pushed part gets. */
  seq: number;
  newest: Buffer | null;
  /** Listeners in step with the batch (next === batchSeq). */
  members: Set<Member>;
  /** Listeners that joined mid-batch (next > batchSeq): they get a frame of their own once. */
  joiners: Set<Member>;
  /** Listeners waiting for the first part (no init or part yet). */
  waiting: Set<Member>;
  /** Sizes of the latest parts (for the backlog limit). */
  recent: number[];
  /** Frames on their way to the members, oldest first (see pump). */
  passes: { frame: Buffer; targets: Member[]; next: number; limit: number; now: number }[];
  pumping: boolean;
}

const CRLF = Buffer.from('\r\n');

/** One HTTP/1.1 chunk holding `parts` back to back: a single Buffer, written as is to every socket. */
export function chunkFrame(parts: readonly Buffer[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  const head = Buffer.from(`${len.toString(16)}\r\n`, 'latin1');
  const out = Buffer.allocUnsafeSlow(head.length + len + 2);
  let off = head.copy(out, 0);
  for (const p of parts) off += p.copy(out, off);
  CRLF.copy(out, off);
  return out;
}

/** Parts per write for `listeners` stream listeners on the edge. */
export function partsPerWrite(steps: readonly BatchStep[], listeners: number): number {
  let parts = 1;
  for (const s of steps) if (listeners >= s.listeners) parts = s.parts;
  return Math.max(1, Math.floor(parts));
}

export interface StreamHubStats {
  listeners: number;
  spaces: number;
  partsPerWrite: number;
  writes: number;
  bytes: number;
  cut: number;
  joined: number;
}

export class StreamHub {
  private readonly spaces = new Map<string, SpaceStream>();
  private readonly perAddress = new Map<string, number>();
  private readonly steps: readonly BatchStep[];
  private readonly maxBehindMs: number;
  private readonly partMs: number;
  readonly perAddressMax: number;
  private readonly sliceSize: number;
  private readonly now: () => number;
  private total = 0;
  private writes = 0;
  private bytes = 0;
  private cut = 0;
  private joined = 0;

  constructor(opts: StreamHubOptions = {}) {
    this.steps = opts.batchSteps ?? DEFAULT_BATCH_STEPS;
    this.maxBehindMs = opts.maxBehindMs ?? 1000;
    this.partMs = opts.partMs ?? 200;
    this.perAddressMax = opts.perAddressMax ?? 64;
    this.sliceSize = Math.max(1, opts.sliceSize ?? 1024);
    this.now = opts.now ?? Date.now;
  }

  get listeners(): number {
    return this.total;
  }

  /** Stream listeners of one Space. */
  count(spaceId: string): number {
    const s = this.spaces.get(spaceId);
    return s ? s.members.size + s.joiners.size + s.waiting.size : 0;
  }

  /** Parts per write at the current load. */
  get batch(): number {
    return partsPerWrite(this.steps, this.total);
  }

  stats(): StreamHubStats {
    return {
      listeners: this.total,
      spaces: this.spaces.size,
      partsPerWrite: this.batch,
      writes: this.writes,
      bytes: this.bytes,
      cut: this.cut,
      joined: this.joined,
    };
  }

  /** Whether another stream from `address` is allowed (per-address cap). */
  admit(address: string): boolean {
    return (this.perAddress.get(address) ?? 0) < this.perAddressMax;
  }

  /** Takes a place for a stream from `address` now; false when the address is at its cap. */
  reserve(address: string): boolean {
    if (!this.admit(address)) return false;
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    return true;
  }

  /** Gives back a reserved place whose request never joined (refused, failed, hung up). */
  release(address: string): void {
    const n = (this.perAddress.get(address) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(address);
    else this.perAddress.set(address, n);
  }

  /** Spaces with at least one listener (the feeds to keep running). */
  activeSpaces(): string[] {
    return [...this.spaces.keys()];
  }

  /** Every listener of a Space (for counting them as listeners). */
  *listenersOf(spaceId: string): Iterable<StreamListener> {
    const s = this.spaces.get(spaceId);
    if (!s) return;
    for (const set of [s.members, s.joiners, s.waiting]) for (const m of set) yield m.listener;
  }

  /**
   * Adds a listener whose response headers were sent, into the place `reserve` took for its
   * address. It gets init + the newest part(s) at once when the Space's stream has started, else as
   * soon as its first part arrives.
   */
  join(spaceId: string, listener: StreamListener): void {
    let s = this.spaces.get(spaceId);
    if (!s) {
      s = {
        init: null,
        pending: [],
        batchSeq: 0,
        seq: 0,
        newest: null,
        members: new Set(),
        joiners: new Set(),
        waiting: new Set(),
        recent: [],
        passes: [],
        pumping: false,
      };
      this.spaces.set(spaceId, s);
    }
    this.total++;
    this.joined++;
    const m: Member = { listener, next: 0, backedUpSince: 0 };
    if (!s.init || !s.newest) {
      s.waiting.add(m);
      return;
    }
    this.welcome(s, m);
  }

  /** The listener's connection closed (or the edge drops it): forget it. */
  leave(spaceId: string, listener: StreamListener): void {
    const s = this.spaces.get(spaceId);
    if (!s) return;
    for (const set of [s.members, s.joiners, s.waiting])
      for (const m of set)
        if (m.listener === listener) {
          this.drop(spaceId, s, set, m, 'closed');
          return;
        }
  }

  /** The Space's init segment (before its first part, or when it changed after a restart). */
  setInit(spaceId: string, init: Buffer): void {
    const s = this.spaces.get(spaceId);
    if (s) s.init = init;
  }

  /** One new CMAF part (moof+mdat) of the Space, in order. */
  push(spaceId: string, part: Buffer): void {
    const s = this.spaces.get(spaceId);
    if (!s) return;
    const seq = s.seq++;
    if (s.pending.length === 0) s.batchSeq = seq;
    s.pending.push(part);
    s.newest = part;
    s.recent.push(part.length);
    if (s.recent.length > Math.max(1, Math.round(1000 / this.partMs))) s.recent.shift();
    if (s.waiting.size > 0 && s.init) {
      for (const m of s.waiting) {
        s.waiting.delete(m);
        this.welcome(s, m);
      }
    }
    if (s.pending.length >= this.batch) this.flush(spaceId, s);
  }

  /** The Space ended: flush what is pending, end every response with the last chunk. */
  end(spaceId: string): void {
    const s = this.spaces.get(spaceId);
    if (!s) return;
    if (s.pending.length > 0) this.flush(spaceId, s);
    while (s.passes.length > 0) {
      const pass = s.passes.shift()!;
      for (let i = pass.next; i < pass.targets.length; i++)
        if (s.members.has(pass.targets[i]!)) this.send(pass.targets[i]!, pass.frame);
    }
    for (const set of [s.members, s.joiners, s.waiting])
      for (const m of [...set]) this.drop(spaceId, s, set, m, 'ended');
    this.spaces.delete(spaceId);
  }

  /** Writes what is pending now, whatever the batch size (e.g. the feed is about to wait). */
  flushNow(spaceId: string): void {
    const s = this.spaces.get(spaceId);
    if (s && s.pending.length > 0) this.flush(spaceId, s);
  }

  private welcome(s: SpaceStream, m: Member): void {
    // Init, then the pending batch so far (or the newest part when the batch was just written).
    const parts = s.pending.length > 0 ? s.pending : [s.newest!];
    this.send(m, chunkFrame([s.init!, ...parts]));
    m.next = s.seq;
    if (s.pending.length > 0) s.joiners.add(m);
    else s.members.add(m);
  }

  private flush(spaceId: string, s: SpaceStream): void {
    const frame = chunkFrame(s.pending);
    const now = this.now();
    const limit = this.backlogLimit(s);
    // Members get the shared frame in slices (queued behind any pass still running, so frames
    // reach every socket in order); the first slice goes out now.
    if (s.members.size > 0) {
      s.passes.push({ frame, targets: [...s.members], next: 0, limit, now });
      this.pump(spaceId, s);
    }
    for (const m of s.joiners) {
      s.joiners.delete(m);
      const from = m.next - s.batchSeq;
      if (from < s.pending.length) this.send(m, chunkFrame(s.pending.slice(from)));
      m.next = s.seq;
      s.members.add(m);
      if (this.tooSlow(m, limit, now)) this.drop(spaceId, s, s.members, m, 'cut');
    }
    s.pending = [];
    s.batchSeq = s.seq;
  }

  /**
   * Writes up to `sliceSize` sockets of the oldest pass, then yields to the event loop (so joins,
   * LL-HLS requests and the feed are not held behind 20,000 writes) and goes on with the rest.
   */
  private pump(spaceId: string, s: SpaceStream): void {
    let budget = this.sliceSize;
    while (s.passes.length > 0 && budget > 0) {
      const pass = s.passes[0]!;
      while (pass.next < pass.targets.length && budget > 0) {
        const m = pass.targets[pass.next++]!;
        if (!s.members.has(m)) continue; // left or cut since the pass began
        budget--;
        this.send(m, pass.frame);
        if (this.tooSlow(m, pass.limit, pass.now)) this.drop(spaceId, s, s.members, m, 'cut');
      }
      if (pass.next >= pass.targets.length) s.passes.shift();
    }
    if (s.passes.length > 0 && !s.pumping) {
      s.pumping = true;
      setImmediate(() => {
        s.pumping = false;
        this.pump(spaceId, s);
      });
    }
  }

  private send(m: Member, frame: Buffer): void {
    m.listener.sink.write(frame);
    this.writes++;
    this.bytes += frame.length;
  }

  /** Bytes of about `maxBehindMs` of audio (plus the init and one batch of slack). */
  private backlogLimit(s: SpaceStream): number {
    const avg = s.recent.length ? s.recent.reduce((a, b) => a + b, 0) / s.recent.length : 1024;
    const parts = this.maxBehindMs / this.partMs;
    return Math.ceil(avg * (parts + this.batch)) + (s.init?.length ?? 0) + 64;
  }

  private tooSlow(m: Member, limit: number, now: number): boolean {
    const backlog = m.listener.sink.writableLength;
    if (backlog === 0) {
      m.backedUpSince = 0;
      return false;
    }
    if (backlog > limit) return true;
    if (m.backedUpSince === 0) m.backedUpSince = now;
    return now - m.backedUpSince > this.maxBehindMs + this.batch * this.partMs;
  }

  private drop(
    spaceId: string,
    s: SpaceStream,
    set: Set<Member>,
    m: Member,
    reason: 'ended' | 'cut' | 'closed',
  ): void {
    if (!set.delete(m)) return;
    this.total--;
    this.release(m.listener.address);
    if (reason === 'cut') {
      this.cut++;
      m.listener.sink.destroy();
    } else if (reason === 'ended') m.listener.sink.end();
    if (s.members.size + s.joiners.size + s.waiting.size === 0) this.spaces.delete(spaceId);
    m.listener.onDone?.(reason);
  }
}
