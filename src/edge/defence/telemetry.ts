/**
 * The edge's per-second defence telemetry: what the origin needs to tell a flash crowd from an
 * attack (src/ops/defence/classifier.ts), gathered on the hot path at the cost of one hash and a
 * few typed-array writes per request. Per window (one live report, about a second):
 * - requests by class (types.ts REQUEST_CLASSES);
 * - distinct clients, as a mergeable HyperLogLog (hll.ts);
 * - clients by their request count (log2 histogram): a crowd is many clients at a player's rate,
 *   a flood is few clients at far more;
 * - distinct networks and how many were seen in the past day (networks.ts);
 * - how many requests followed the player's pattern (pattern.ts).
 *
 * Clients live in a fixed table indexed by hash32(address) & mask (2^16 slots by default);
 * addresses that collide share a slot (their counts add up; tolerable up to ~100k active clients
 * per edge per second). A slot keeps its request count in the window and its last playlist time
 * (which outlives the window: a part is checked against a playlist up to 10 s old). The slots
 * touched in a window are listed in a preallocated array, so drain() visits only those.
 */
import { hash32 } from './hash.js';
import { Hll } from './hll.js';
import { KnownNetworks, type KnownNetworksOptions } from './networks.js';
import { patternOk } from './pattern.js';
import {
  RATE_BUCKETS,
  REQUEST_CLASSES,
  type ClassCounts,
  type DefenceWindow,
  type PatternKind,
  type RequestClass,
} from './types.js';

export function emptyClassCounts(): ClassCounts {
  const counts = {} as ClassCounts;
  for (const c of REQUEST_CLASSES) counts[c] = 0;
  return counts;
}

/** What drain() takes from the rest of the edge as is. */
export type DefenceWindowExtra = Pick<
  DefenceWindow,
  'cpu' | 'tier' | 'underAttack' | 'admission' | 'joinsBySpace' | 'pow'
>;

export interface DefenceTelemetryOptions {
  /** log2 of the per-client table's slots (default 16). */
  slotsBits?: number;
  /** The known-networks table (default: a new one with these options). */
  networks?: KnownNetworks | KnownNetworksOptions;
}

/** The histogram bucket of a count >= 1: floor(log2(count)), the last bucket open-ended. */
export function rateBucket(count: number): number {
  const b = 31 - Math.clz32(count);
  return b < RATE_BUCKETS ? b : RATE_BUCKETS - 1;
}

export class DefenceTelemetry {
  private readonly mask: number;
  private readonly counts: Uint32Array;
  private readonly lastPlaylistMs: Float64Array;
  private readonly touched: Uint32Array;
  private nTouched = 0;
  private classes = emptyClassCounts();
  private readonly hll = new Hll();
  readonly networks: KnownNetworks;
  private patternOkCount = 0;
  private patternTotal = 0;
  private windowStartMs: number | undefined;

  constructor(options: DefenceTelemetryOptions = {}) {
    const bits = options.slotsBits ?? 16;
    if (!Number.isInteger(bits) || bits < 0 || bits > 24) throw new RangeError(`slotsBits ${bits}: 0..24`);
    const slots = 1 << bits;
    this.mask = slots - 1;
    this.counts = new Uint32Array(slots);
    this.lastPlaylistMs = new Float64Array(slots).fill(-Infinity);
    this.touched = new Uint32Array(slots);
    this.networks =
      options.networks instanceof KnownNetworks ? options.networks : new KnownNetworks(options.networks);
  }

  /**
   * One request, on the hot path: no allocation. `client` names the client for the rates and the
   * distinct count: an admitted player's admission id (players behind one NAT address are each
   * one client at a player's rate, not one heavy hitter), else its address; the network is always
   * the address's.
   */
  record(
    address: string,
    cls: RequestClass,
    kind: PatternKind,
    blocking: boolean,
    nowMs: number,
    client: string = address,
  ): void {
    this.windowStartMs ??= nowMs;
    const h = hash32(client);
    const slot = h & this.mask;
    this.hll.add(h);
    if (this.counts[slot]++ === 0) {
      // A slot's first request in the window: its network (the same for its later requests; a
      // colliding client of another network is missed, which only lowers a weak count).
      this.touched[this.nTouched++] = slot;
      this.networks.note(address, nowMs);
    }
    this.classes[cls]++;
    this.patternTotal++;
    if (patternOk(kind, blocking, nowMs - this.lastPlaylistMs[slot])) this.patternOkCount++;
    if (kind === 'playlist') this.lastPlaylistMs[slot] = nowMs;
  }

  /**
   * Closes the window that began at the previous drain (or the first record) and starts the next:
   * the window's telemetry with `extra` from the rest of the edge.
   */
  drain(nowMs: number, extra: DefenceWindowExtra): DefenceWindow {
    const rateHistogram = new Array<number>(RATE_BUCKETS).fill(0);
    const { counts, touched } = this;
    for (let k = 0; k < this.nTouched; k++) {
      const slot = touched[k];
      rateHistogram[rateBucket(counts[slot])]++;
      counts[slot] = 0;
    }
    this.nTouched = 0;
    const { networks, known } = this.networks.drain(nowMs);
    const window: DefenceWindow = {
      fromMs: this.windowStartMs ?? nowMs,
      toMs: nowMs,
      classes: this.classes,
      clientsHll: this.hll.toBase64(),
      rateHistogram,
      networks,
      knownNetworks: known,
      patternOk: this.patternOkCount,
      patternTotal: this.patternTotal,
      ...extra,
    };
    this.classes = emptyClassCounts();
    this.hll.clear();
    this.patternOkCount = 0;
    this.patternTotal = 0;
    this.windowStartMs = nowMs;
    return window;
  }
}
