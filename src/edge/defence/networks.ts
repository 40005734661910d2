/**
 * Which client networks an edge has seen in the past day. A flash crowd's clients mostly come from
 * networks that were already listening (Jung, Krishnamurthy & Rabinovich, WWW 2002); a botnet's or
 * a spoofing flood's mostly do not. Weak evidence (a new Space draws new networks too), but cheap.
 *
 * A network is the /24 of an IPv4 address or the /48 of an IPv6 one (`::ffff:a.b.c.d` is IPv4); an
 * address that does not parse is its own network. Memory is fixed: a two-way hashed table of
 * 2^slotsBits entries (a Uint32 "last seen" tick and a Uint16 tag that keeps collisions from
 * passing as known), and a per-window open-addressed set of network hashes capped at
 * WINDOW_NETWORKS_CAP. Nothing is allocated per request: addresses are parsed in place.
 */
import { fmix32, hash32 } from './hash.js';

export const DAY_MS = 24 * 60 * 60 * 1000;
/** At most this many distinct networks are counted in one window; past it the count saturates. */
export const WINDOW_NETWORKS_CAP = 65_536;
/** The table keeps "last seen" in ticks of retention / TICKS_PER_RETENTION (a minute for a day). */
const TICKS_PER_RETENTION = 1440;

export interface KnownNetworksOptions {
  /** log2 of the table's entries (default 18: 256 Ki entries, 1.5 MiB). */
  slotsBits?: number;
  /** How long a network stays known after it was last seen (default 24 h). */
  retentionMs?: number;
  /**
   * A network counts as known only once it was first seen this long ago (default 10 min): a flood
   * from new networks must not become "known" by its own first seconds.
   */
  settleMs?: number;
}

// Parser scratch: module-level, so parsing allocates nothing.
const groups = new Uint16Array(8);
const tail = new Uint16Array(8);
let v4 = 0;

/** Dotted-quad IPv4 in s[start, end), as an unsigned number, or -1. */
function parseV4(s: string, start: number, end: number): number {
  let parts = 0;
  let value = 0;
  let octet = 0;
  let digits = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 3) return -1;
      octet = octet * 10 + (c - 48);
      digits++;
      if (octet > 255) return -1;
    } else if (c === 46) {
      if (digits === 0 || parts === 3) return -1;
      value = value * 256 + octet;
      parts++;
      octet = 0;
      digits = 0;
    } else return -1;
  }
  if (digits === 0 || parts !== 3) return -1;
  return value * 256 + octet;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** IPv6 (with `::`, a trailing dotted quad, a `%zone`) into `groups`; false when it is not one. */
function parseV6(s: string, start: number, end: number): boolean {
  const pct = s.indexOf('%', start);
  if (pct >= 0 && pct < end) end = pct;
  if (end - start < 2) return false;
  let nHead = 0;
  let nTail = 0;
  let double = false;
  let i = start;
  if (s.charCodeAt(i) === 58) {
    if (s.charCodeAt(i + 1) !== 58) return false;
    double = true;
    i += 2;
  }
  while (i < end) {
    let j = i;
    let v = 0;
    for (; j < end; j++) {
      const h = hexValue(s.charCodeAt(j));
      if (h < 0) break;
      v = v * 16 + h;
    }
    let words = 1;
    if (j < end && s.charCodeAt(j) === 46) {
      const q = parseV4(s, i, end); // a dotted quad can only be last
      if (q < 0) return false;
      words = 2;
      j = end;
      v = q;
    } else if (j === i || j - i > 4) return false;
    if (nHead + nTail + words > (double ? 7 : 8)) return false;
    if (words === 2) {
      const hi = Math.floor(v / 65536);
      const lo = v % 65536;
      if (double) {
        tail[nTail++] = hi;
        tail[nTail++] = lo;
      } else {
        groups[nHead++] = hi;
        groups[nHead++] = lo;
      }
    } else if (double) tail[nTail++] = v;
    else groups[nHead++] = v;
    if (j === end) break;
    if (s.charCodeAt(j) !== 58) return false;
    if (j + 1 < end && s.charCodeAt(j + 1) === 58) {
      if (double) return false;
      double = true;
      i = j + 2;
    } else {
      i = j + 1;
      if (i === end) return false; // a trailing single ':'
    }
  }
  if (!double && nHead !== 8) return false;
  for (let k = nHead; k < 8 - nTail; k++) groups[k] = 0;
  for (let k = 0; k < nTail; k++) groups[8 - nTail + k] = tail[k];
  return true;
}

/** 4 (the address is in `v4`), 6 (in `groups`) or 0 (not an address). */
function parseAddress(address: string): 0 | 4 | 6 {
  const q = parseV4(address, 0, address.length);
  if (q >= 0) {
    v4 = q;
    return 4;
  }
  if (!parseV6(address, 0, address.length)) return 0;
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0) {
    if (groups[5] === 0xffff) {
      v4 = groups[6] * 65536 + groups[7];
      return 4;
    }
  }
  return 6;
}

/** The network an address belongs to: `a.b.c.0/24`, `x:y:z::/48`, or the address itself. */
export function networkOf(address: string): string {
  switch (parseAddress(address)) {
    case 4:
      return `${Math.floor(v4 / 16777216)}.${Math.floor(v4 / 65536) % 256}.${Math.floor(v4 / 256) % 256}.0/24`;
    case 6:
      return `${groups[0].toString(16)}:${groups[1].toString(16)}:${groups[2].toString(16)}::/48`;
    default:
      return address;
  }
}

/**
 * A 32-bit hash of networkOf(address), computed without building that string: equal networks
 * hash equal; the families are seeded apart.
 */
export function networkHash(address: string): number {
  switch (parseAddress(address)) {
    case 4:
      return fmix32(Math.floor(v4 / 256) ^ 0x04000000);
    case 6:
      return fmix32(fmix32(((groups[0] << 16) | groups[1]) ^ 0x06000000) ^ groups[2]);
    default:
      return hash32(address, 0x6e657477);
  }
}

function tagOf(h: number): number {
  return Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 16;
}

export class KnownNetworks {
  private readonly tickMs: number;
  private readonly retentionTicks: number;
  private readonly slotMask: number;
  /** Per entry: the tick (1-based, from baseMs) at which its network was last seen; 0 = empty. */
  private readonly seen: Uint32Array;
  /** Per entry: the tick at which its network was first seen (since it was last forgotten). */
  private readonly first: Uint32Array;
  private readonly settleTicks: number;
  private readonly tags: Uint16Array;
  private baseMs: number | undefined;
  /** This window's networks: an open-addressed set of hashes (0 = empty) and its filled positions. */
  private readonly set: Uint32Array;
  private readonly setMask: number;
  private readonly filled: Uint32Array;
  private count = 0;

  constructor(options: KnownNetworksOptions = {}) {
    const bits = options.slotsBits ?? 18;
    if (!Number.isInteger(bits) || bits < 1 || bits > 28) throw new RangeError(`slotsBits ${bits}: 1..28`);
    const retentionMs = options.retentionMs ?? DAY_MS;
    if (!(retentionMs > 0)) throw new RangeError(`retentionMs ${retentionMs}: must be positive`);
    this.tickMs = Math.max(1, Math.floor(retentionMs / TICKS_PER_RETENTION));
    this.retentionTicks = Math.ceil(retentionMs / this.tickMs);
    this.seen = new Uint32Array(1 << bits);
    this.first = new Uint32Array(1 << bits);
    this.settleTicks = Math.ceil((options.settleMs ?? 10 * 60_000) / this.tickMs);
    this.tags = new Uint16Array(1 << bits);
    this.slotMask = (1 << bits) - 1;
    this.set = new Uint32Array(WINDOW_NETWORKS_CAP * 2);
    this.setMask = this.set.length - 1;
    this.filled = new Uint32Array(WINDOW_NETWORKS_CAP);
  }

  /**
   * Notes one request's client (hot path: a parse in place and a probe). `nowMs` is accepted for
   * symmetry with drain(): the day table is only read and written at drain.
   */
  note(address: string, _nowMs: number): void {
    const h = networkHash(address) || 1;
    const set = this.set;
    const mask = this.setMask;
    let i = h & mask;
    for (;;) {
      const v = set[i];
      if (v === h) return;
      if (v === 0) break;
      i = (i + 1) & mask;
    }
    if (this.count >= WINDOW_NETWORKS_CAP) return;
    set[i] = h;
    this.filled[this.count++] = i;
  }

  /**
   * Closes the window: the distinct networks noted since the last drain, and how many of them had
   * been seen within the retention and were first seen at least `settleMs` ago.
   */
  drain(nowMs: number): { networks: number; known: number } {
    this.baseMs ??= nowMs;
    const tick = Math.max(1, Math.floor((nowMs - this.baseMs) / this.tickMs) + 1);
    const { seen, first, tags, set, filled } = this;
    let known = 0;
    for (let k = 0; k < this.count; k++) {
      const pos = filled[k];
      const h = set[pos];
      set[pos] = 0;
      const tag = tagOf(h);
      const a = h & this.slotMask & ~1;
      const b = a | 1; // slotsBits >= 1: every bucket has two entries
      let hit = -1;
      if (seen[a] !== 0 && tags[a] === tag) hit = a;
      else if (seen[b] !== 0 && tags[b] === tag) hit = b;
      if (hit >= 0 && tick - seen[hit] <= this.retentionTicks) {
        if (tick - first[hit] >= this.settleTicks) known++;
      } else {
        // New (or forgotten): take its entry, else an empty one, else the one seen longer ago.
        if (hit < 0) hit = seen[a] <= seen[b] ? a : b;
        tags[hit] = tag;
        first[hit] = tick;
      }
      seen[hit] = tick;
    }
    const networks = this.count;
    this.count = 0;
    return { networks, known };
  }
}
