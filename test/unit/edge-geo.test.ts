/**
 * src/edge/geo.ts: the country database wrapper (geoip-country, shipped in the package) and the
 * edge's per-Space memory of geo-restrictions learnt from origin answers.
 *
 * The public addresses below are placed by the package's own data (GeoLite2 Country) in stable,
 * long-held allocations: 193.99.144.80 (heise.de, DE), 8.8.8.8 (Google, US), 81.2.69.142 (GB, an
 * address MaxMind uses in its own test data); IPv6 2a00:1450:4001::1 (Google Frankfurt, DE),
 * 2001:4860:4860::8888 (Google DNS, US).
 */
import { describe, expect, it } from 'vitest';
import { countryOf, CountryCache, GeoBlocks, parseGeoBlock } from '../../src/edge/geo.js';

describe('countryOf', () => {
  it('places public IPv4 addresses', () => {
    expect(countryOf('193.99.144.80')).toBe('DE');
    expect(countryOf('8.8.8.8')).toBe('US');
    expect(countryOf('81.2.69.142')).toBe('GB');
  });

  it('places public IPv6 and IPv4-mapped IPv6 addresses', () => {
    expect(countryOf('2a00:1450:4001::1')).toBe('DE');
    expect(countryOf('2001:4860:4860::8888')).toBe('US');
    expect(countryOf('::ffff:193.99.144.80')).toBe('DE');
    expect(countryOf('::FFFF:8.8.8.8')).toBe('US');
  });

  it('is null for private, loopback, link-local and unique-local addresses', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.5.4',
      '192.168.1.1',
      '100.64.0.1',
      '169.254.1.1',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
    ])
      expect(countryOf(a), a).toBeNull();
  });

  it('is null for what is not an address', () => {
    for (const a of ['', 'unknown', 'example.com', '999.1.1.1', '1.2.3', 'DE'])
      expect(countryOf(a), a).toBeNull();
  });
});

describe('CountryCache', () => {
  it('keeps at most max addresses, dropping the least recently used', () => {
    const asked: string[] = [];
    const c = new CountryCache(2, (a) => {
      asked.push(a);
      return a === 'x' ? 'DE' : null;
    });
    expect(c.get('x')).toBe('DE');
    expect(c.get('y')).toBeNull();
    expect(c.get('x')).toBe('DE'); // hit: x is now the most recent
    expect(c.get('z')).toBeNull(); // evicts y
    expect(c.size).toBe(2);
    c.get('x');
    c.get('y');
    expect(asked).toEqual(['x', 'y', 'z', 'y']);
  });
});

describe('parseGeoBlock', () => {
  it('reads upper-case alpha-2 codes and drops the rest', () => {
    expect(parseGeoBlock('DE,FR')).toEqual(['DE', 'FR']);
    expect(parseGeoBlock(' de , fr,DE,xyz,,1A')).toEqual(['DE', 'FR']);
    expect(parseGeoBlock(undefined)).toEqual([]);
    expect(parseGeoBlock('')).toEqual([]);
  });
});

describe('GeoBlocks', () => {
  const country = (a: string): string | null => ({ de: 'DE', us: 'US', fr: 'FR' })[a] ?? null;

  it('costs nothing and refuses nobody while no Space is restricted', () => {
    let lookups = 0;
    const g = new GeoBlocks({
      countryOf: (a) => {
        lookups++;
        return country(a);
      },
    });
    g.note('s1', 200, undefined, 1);
    expect(g.any).toBe(false);
    expect(g.refuses('s1', 'de')).toBe(false);
    expect(lookups).toBe(0);
  });

  it('refuses the listed countries of a restricted Space only', () => {
    const g = new GeoBlocks({ countryOf: country });
    g.note('s1', 200, 'DE,FR', 10);
    expect(g.refuses('s1', 'de')).toBe(true);
    expect(g.refuses('s1', 'fr')).toBe(true);
    expect(g.refuses('s1', 'us')).toBe(false);
    expect(g.refuses('s1', 'loopback')).toBe(false);
    expect(g.refuses('s2', 'de')).toBe(false);
    expect(g.countriesOf('s1')).toEqual(['DE', 'FR']);
  });

  it('follows the newest answer: an older copy neither lifts nor brings back a restriction', () => {
    const g = new GeoBlocks({ countryOf: country });
    g.note('s1', 200, 'DE', 10);
    g.note('s1', 200, undefined, 5); // a segment cached before the restriction
    expect(g.refuses('s1', 'de')).toBe(true);
    g.note('s1', 200, 'DE', 20); // confirmed
    expect(g.confirmedAt('s1')).toBe(20);
    g.note('s1', 200, undefined, 15); // older than the confirmation
    expect(g.refuses('s1', 'de')).toBe(true);
    g.note('s1', 200, undefined, 30); // lifted
    expect(g.refuses('s1', 'de')).toBe(false);
    g.note('s1', 200, 'DE', 25); // a copy loaded while it was restricted
    expect(g.refuses('s1', 'de')).toBe(false);
    g.note('s1', 200, 'US', 40); // restricted again, to another country
    expect(g.refuses('s1', 'de')).toBe(false);
    expect(g.refuses('s1', 'us')).toBe(true);
  });

  it('ignores error answers (they may not come from the Space routes)', () => {
    const g = new GeoBlocks({ countryOf: country });
    g.note('s1', 200, 'DE', 10);
    g.note('s1', 502, undefined, 20);
    g.note('s1', 404, undefined, 20);
    expect(g.refuses('s1', 'de')).toBe(true);
  });

  it('tells its listeners when a Space becomes restricted or its list changes', () => {
    const g = new GeoBlocks({ countryOf: country });
    const told: string[] = [];
    g.onBlock((id) => told.push(id));
    g.note('s1', 200, 'DE', 10);
    g.note('s1', 200, 'DE', 11); // same list: nothing new
    g.note('s1', 200, 'DE,FR', 12);
    expect(told).toEqual(['s1', 's1']);
  });

  it('forgets the oldest Space beyond maxSpaces', () => {
    const g = new GeoBlocks({ countryOf: country, maxSpaces: 2 });
    g.note('a', 200, 'DE', 1);
    g.note('b', 200, 'DE', 2);
    g.note('c', 200, 'DE', 3);
    expect(g.refuses('a', 'de')).toBe(false);
    expect(g.refuses('c', 'de')).toBe(true);
  });
});
