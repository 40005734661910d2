/**
 * Geo-restriction on the edge (EU DSA moderation: a moderator may refuse a live Space to listeners
 * in given countries).
 *
 * The country database is the npm package `geoip-country` (MaxMind GeoLite2 Country, IPv4 and
 * IPv6, shipped inside the package: no download at install, no network at run time). Licence: the
 * code is Apache-2.0; the data is GeoLite2 (CC BY-SA 4.0 plus MaxMind's GeoLite2 EULA: keep the
 * attribution "This product includes GeoLite2 data created by MaxMind, available from
 * https://www.maxmind.com", and take a newer package version within 30 days of a data release).
 *
 * Loaded lazily, once, on the first lookup (so an edge with no restricted Space never loads it).
 * Measured on this machine (Node 20, 2 cores, network off): 19-23 ms to load, +10 MB RSS (8 MB of
 * Buffers: 3.6 MB IPv4 + 4.5 MB IPv6 records), ~2 µs per countryOf (the bare database lookup
 * ~0.5 µs). The package is 7.9 MB on disk. Results are kept in a small LRU (CountryCache).
 *
 * How the edge learns a Space's blocked countries: the origin labels every answer about a Space
 * (its LL-HLS objects, errors included, and the live state document) with
 * `x-tribune-geo-block: DE,FR` while the Space is restricted, and without it otherwise; the edge
 * remembers the list per Space from the newest answer it loaded (GeoBlocks below), the way
 * ListenAccess (src/live/edge-access.ts) remembers `x-tribune-access`.
 */
import { createRequire } from 'node:module';
import { BlockList, isIP } from 'node:net';

/** The origin's response header listing a Space's blocked countries (ISO alpha-2, comma-separated). */
export const GEO_BLOCK_HEADER = 'x-tribune-geo-block';

type GeoipCountry = { lookup(ip: string): { country?: string } | null };

let db: GeoipCountry | undefined;

function database(): GeoipCountry {
  if (!db) {
    // geoip-country is CommonJS and reads its data synchronously when required.
    const require = createRequire(import.meta.url);
    db = require('geoip-country') as GeoipCountry;
  }
  return db;
}

/** Addresses no country database places: private, loopback, link-local, CGNAT, ULA, multicast... */
const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const)
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 127], // :: and ::1
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv6');

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * The ISO 3166-1 alpha-2 country of `address` (IPv4, IPv6 or IPv4-mapped IPv6), or null for a
 * private, loopback or otherwise non-public address, one the database does not place, or a string
 * that is no address.
 */
export function countryOf(address: string): string | null {
  let a = address.trim();
  const mapped = MAPPED_V4.exec(a);
  if (mapped) a = mapped[1];
  const family = isIP(a);
  if (family === 0) return null;
  if (NOT_PUBLIC.check(a, family === 4 ? 'ipv4' : 'ipv6')) return null;
  const c = database().lookup(a)?.country;
  return typeof c === 'string' && /^[A-Z]{2}$/.test(c) ? c : null;
}

/** countryOf with a bounded LRU in front (only asked for requests of restricted Spaces). */
export class CountryCache {
  private readonly map = new Map<string, string | null>();

  constructor(
    private readonly max = 10_000,
    private readonly lookup: (address: string) => string | null = countryOf,
  ) {}

  get(address: string): string | null {
    const hit = this.map.get(address);
    if (hit !== undefined) {
      this.map.delete(address);
      this.map.set(address, hit);
      return hit;
    }
    const c = this.lookup(address);
    if (this.map.size >= this.max) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(address, c);
    return c;
  }

  get size(): number {
    return this.map.size;
  }
}

/** Parses `DE, fr,XX` into upper-case alpha-2 codes; empty for an absent or empty header. */
export function parseGeoBlock(header: string | undefined): string[] {
  if (!header) return [];
  const out: string[] = [];
  for (const part of header.split(',')) {
    const c = part.trim().toUpperCase();
    if (/^[A-Z]{2}$/.test(c) && !out.includes(c)) out.push(c);
  }
  return out;
}

interface Block {
  /** The header as the origin sent it (compared as is: no parse per request). */
  header: string;
  countries: Set<string>;
  /** Clock time of the newest origin answer that said so. */
  atMs: number;
}

export interface GeoBlocksOptions {
  /** Spaces remembered (blocked, and recently lifted). Default 100,000, oldest forgotten first. */
  maxSpaces?: number;
  /** Address -> country results kept. Default 10,000. */
  maxAddresses?: number;
  /** The country lookup (tests). Default countryOf. */
  countryOf?: (address: string) => string | null;
}

/**
 * The edge's memory of which Spaces are geo-restricted, learnt from origin answers (the
 * `x-tribune-geo-block` header of every Space answer, `atMs` = when the answer was loaded). The
 * newest answer wins, so a cached object loaded before a change (an immutable segment, say) can
 * neither lift a newer restriction nor bring back a lifted one. Checking a Space without a
 * restriction is one Map lookup; the country lookup runs only for restricted Spaces.
 */
export class GeoBlocks {
  private readonly blocked = new Map<string, Block>();
  /** Space -> clock time of the newest answer that said it is not restricted (to order updates). */
  private readonly liftedAt = new Map<string, number>();
  private readonly maxSpaces: number;
  private readonly countries: CountryCache;
  private readonly listeners: ((spaceId: string) => void)[] = [];

  constructor(opts: GeoBlocksOptions = {}) {
    this.maxSpaces = opts.maxSpaces ?? 100_000;
    this.countries = new CountryCache(opts.maxAddresses ?? 10_000, opts.countryOf ?? countryOf);
  }

  /** Runs `fn` whenever a Space becomes restricted or its list changes (stream listeners are cut). */
  onBlock(fn: (spaceId: string) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Learns a Space's restriction from one origin answer: `header` is its x-tribune-geo-block
   * (undefined when absent), `atMs` when it was loaded. Only successful answers count, as for
   * ListenAccess (an error may come from elsewhere than the Space's own routes).
   */
  note(spaceId: string, status: number, header: string | undefined, atMs: number): void {
    if (status < 200 || status >= 300) return;
    const cur = this.blocked.get(spaceId);
    if (header === undefined || header === '') {
      if (!cur) {
        // The common case (no Space restricted, or not this one): nothing to do unless it was lifted.
        if (this.liftedAt.size === 0) return;
        const at = this.liftedAt.get(spaceId);
        if (at !== undefined && at < atMs) this.liftedAt.set(spaceId, atMs);
        return;
      }
      if (atMs < cur.atMs) return; // an answer older than the restriction
      this.blocked.delete(spaceId);
      remember(this.liftedAt, spaceId, atMs, this.maxSpaces);
      return;
    }
    if (cur) {
      if (atMs < cur.atMs) return;
      if (cur.header === header) {
        cur.atMs = atMs;
        return;
      }
    } else {
      const lifted = this.liftedAt.get(spaceId);
      if (lifted !== undefined && atMs < lifted) return; // older than the lift
    }
    const countries = new Set(parseGeoBlock(header));
    if (countries.size === 0) {
      // A malformed header restricts nothing (but still orders later answers).
      this.blocked.delete(spaceId);
      remember(this.liftedAt, spaceId, atMs, this.maxSpaces);
      return;
    }
    this.liftedAt.delete(spaceId);
    remember(this.blocked, spaceId, { header, countries, atMs }, this.maxSpaces);
    for (const fn of this.listeners) fn(spaceId);
  }

  /** True when some Space is restricted (the hot path skips everything else otherwise). */
  get any(): boolean {
    return this.blocked.size > 0;
  }

  /** The countries a Space is closed to (empty when it is not restricted). */
  countriesOf(spaceId: string): string[] {
    const b = this.blocked.get(spaceId);
    return b ? [...b.countries] : [];
  }

  /** When the edge last heard the Space's restriction confirmed (undefined: not restricted). */
  confirmedAt(spaceId: string): number | undefined {
    return this.blocked.get(spaceId)?.atMs;
  }

  /** True when `address` is in a country `spaceId` is closed to. */
  refuses(spaceId: string, address: string): boolean {
    if (this.blocked.size === 0) return false;
    const b = this.blocked.get(spaceId);
    if (!b) return false;
    const c = this.countries.get(address);
    return c !== null && b.countries.has(c);
  }
}

function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}
