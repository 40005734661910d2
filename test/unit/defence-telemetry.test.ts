/**
 * The edge's defence telemetry parts: the HyperLogLog of clients (accuracy, merge, base64), client
 * networks and the past day's known ones (on an injected clock), the player-pattern rules, and
 * the per-second window a fixed-slot client table produces.
 */
import { describe, expect, it } from 'vitest';
import { hash32 } from '../../src/edge/defence/hash.js';
import { Hll, HLL_M } from '../../src/edge/defence/hll.js';
import {
  DAY_MS,
  KnownNetworks,
  WINDOW_NETWORKS_CAP,
  networkHash,
  networkOf,
} from '../../src/edge/defence/networks.js';
import {
  PART_AFTER_PLAYLIST_MS,
  PATTERN_CODES,
  PLAYLIST_MIN_GAP_MS,
  patternCode,
  patternKind,
  patternOk,
} from '../../src/edge/defence/pattern.js';
import {
  DefenceTelemetry,
  emptyClassCounts,
  rateBucket,
  type DefenceWindowExtra,
} from '../../src/edge/defence/telemetry.js';
import { RATE_BUCKETS, REQUEST_CLASSES, type PatternKind } from '../../src/edge/defence/types.js';

function sketch(keys: Iterable<string>): Hll {
  const h = new Hll();
  for (const k of keys) h.add(hash32(k));
  return h;
}

function* range(prefix: string, from: number, to: number): Generator<string> {
  for (let i = from; i < to; i++) yield `${prefix}${i}`;
}

const EXTRA: DefenceWindowExtra = {
  cpu: 0.25,
  tier: 0,
  underAttack: false,
  admission: { maxListeners: 100, joinsPerSec: 10, admitted: 3, queue: 0, joins: 1, admittedInWindow: 1 },
  joinsBySpace: { s1: 1 },
  pow: { issued: 0, solved: 0, failed: 0 },
};

describe('Hll', () => {
  it.each([10, 100, 1_000, 10_000, 100_000, 1_000_000])(
    'estimates %i distinct items within ~5% (RMS over 4 key sets; each within 3 standard errors)',
    (n) => {
      const errors = ['a', 'b', 'c', 'd'].map((set) => sketch(range(`${set}-`, 0, n)).estimate() / n - 1);
      const rms = Math.sqrt(errors.reduce((s, e) => s + e * e, 0) / errors.length);
      expect(rms).toBeLessThanOrEqual(0.05);
      for (const e of errors) expect(Math.abs(e)).toBeLessThanOrEqual(0.1);
      // A sketch fed the same items twice does not count them twice.
      const twice = sketch(range('a-', 0, n));
      const before = twice.estimate();
      for (const k of range('a-', 0, n)) twice.add(hash32(k));
      expect(twice.estimate()).toBe(before);
    },
  );

  it('merging two sketches gives the sketch of the union', () => {
    const a = sketch(range('x', 0, 30_000));
    const b = sketch(range('x', 20_000, 50_000));
    const union = sketch(range('x', 0, 50_000));
    a.merge(b);
    expect(Array.from(a.registers)).toEqual(Array.from(union.registers));
    expect(Math.abs(a.estimate() / 50_000 - 1)).toBeLessThan(0.05);
    const c = new Hll();
    c.merge(union.registers); // raw registers merge too
    expect(c.estimate()).toBe(union.estimate());
    expect(() => c.merge(new Uint8Array(HLL_M - 1))).toThrow(RangeError);
  });

  it('round-trips through base64 and refuses a wrong length or an impossible register', () => {
    const h = sketch(range('k', 0, 5_000));
    const s = h.toBase64();
    expect(Buffer.from(s, 'base64')).toHaveLength(HLL_M);
    const back = Hll.fromBase64(s);
    expect(Array.from(back.registers)).toEqual(Array.from(h.registers));
    expect(back.estimate()).toBe(h.estimate());
    expect(() => Hll.fromBase64(Buffer.alloc(HLL_M - 1).toString('base64'))).toThrow(RangeError);
    expect(() => Hll.fromBase64(Buffer.alloc(HLL_M + 1).toString('base64'))).toThrow(RangeError);
    expect(() => Hll.fromBase64('')).toThrow(RangeError);
    expect(() => Hll.fromBase64(Buffer.alloc(HLL_M, 40).toString('base64'))).toThrow(RangeError);
    h.clear();
    expect(h.estimate()).toBe(0);
  });
});

describe('networkOf', () => {
  it('takes the /24 of IPv4, including IPv4-mapped IPv6', () => {
    expect(networkOf('1.2.3.4')).toBe('1.2.3.0/24');
    expect(networkOf('203.0.113.255')).toBe('203.0.113.0/24');
    expect(networkOf('::ffff:1.2.3.4')).toBe('1.2.3.0/24');
    expect(networkOf('::FFFF:1.2.3.77')).toBe('1.2.3.0/24');
    expect(networkOf('::ffff:0102:0304')).toBe('1.2.3.0/24');
  });

  it('takes the /48 of IPv6, however it is written', () => {
    expect(networkOf('2001:db8:1:2::1')).toBe('2001:db8:1::/48');
    expect(networkOf('2001:0DB8:0001:ffff:0:0:0:9')).toBe('2001:db8:1::/48');
    expect(networkOf('2001:db8::1')).toBe('2001:db8:0::/48');
    expect(networkOf('2001::db8:1:2:3:4:5')).toBe('2001:0:db8::/48');
    expect(networkOf('::1')).toBe('0:0:0::/48');
    expect(networkOf('fe80::1%eth0')).toBe('fe80:0:0::/48');
    expect(networkOf('64:ff9b::192.0.2.33')).toBe('64:ff9b:0::/48');
  });

  it('leaves anything unparsable as its own network', () => {
    for (const junk of [
      '',
      'unix:/run/x.sock',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '1.2.3.4 ',
      '1::2::3',
      ':::1',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7',
      '12345::1',
      '[::1]',
      '1:',
    ]) {
      expect(networkOf(junk)).toBe(junk);
    }
  });

  it('hashes equal networks equal and different ones apart', () => {
    const addrs = [
      '1.2.3.4',
      '1.2.3.200',
      '::ffff:1.2.3.9',
      '1.2.4.4',
      '2001:db8:1::1',
      '2001:db8:1:ffff::2',
      '2001:db8:2::1',
      'junk',
      'other junk',
    ];
    for (const a of addrs) {
      for (const b of addrs) {
        expect(networkHash(a) === networkHash(b)).toBe(networkOf(a) === networkOf(b));
      }
    }
  });
});

describe('KnownNetworks', () => {
  it('counts the distinct networks of a window and those seen before it in the past day', () => {
    const t0 = 1_700_000_000_000;
    const nets = new KnownNetworks({ slotsBits: 12, settleMs: 0 });
    nets.note('1.2.3.4', t0);
    nets.note('1.2.3.5', t0); // same /24
    nets.note('5.6.7.8', t0);
    expect(nets.drain(t0 + 1000)).toEqual({ networks: 2, known: 0 });

    nets.note('1.2.3.99', t0 + 1500);
    nets.note('9.9.9.9', t0 + 1600);
    nets.note('::ffff:9.9.9.10', t0 + 1700);
    expect(nets.drain(t0 + 2000)).toEqual({ networks: 2, known: 1 });
    expect(nets.drain(t0 + 3000)).toEqual({ networks: 0, known: 0 });

    // 23 h later 1.2.3.0/24 (last seen at t0 + 2 s) is still known.
    nets.note('1.2.3.1', t0 + 23 * 3600_000);
    expect(nets.drain(t0 + 23 * 3600_000 + 1000)).toEqual({ networks: 1, known: 1 });
    // 5.6.7.0/24 was last seen at t0 + 1 s: forgotten after the retention.
    nets.note('5.6.7.1', t0 + DAY_MS + 120_000);
    nets.note('1.2.3.1', t0 + DAY_MS + 120_000);
    expect(nets.drain(t0 + DAY_MS + 121_000)).toEqual({ networks: 2, known: 1 });
  });

  it('honours a short retention on an injected clock', () => {
    const nets = new KnownNetworks({ slotsBits: 8, retentionMs: 10_000, settleMs: 0 });
    nets.note('10.0.0.1', 5_000);
    expect(nets.drain(6_000)).toEqual({ networks: 1, known: 0 });
    nets.note('10.0.0.2', 14_000);
    expect(nets.drain(15_000)).toEqual({ networks: 1, known: 1 }); // 9 s later: known
    nets.note('10.0.0.3', 26_000);
    expect(nets.drain(27_000)).toEqual({ networks: 1, known: 0 }); // 12 s later: forgotten
  });

  it('a network is known only once first seen 10 minutes ago: a flood from new networks stays new', () => {
    const nets = new KnownNetworks({ slotsBits: 12 });
    const t0 = 1_700_000_000_000;
    let t = t0;
    for (let s = 0; s < 300; s++) {
      nets.note('203.0.113.7', t);
      nets.note('198.51.100.1', t);
      t += 1000;
      expect(nets.drain(t).known).toBe(0); // five minutes of a sustained flood: still new
    }
    t = t0 + 11 * 60_000;
    nets.note('203.0.113.9', t);
    expect(nets.drain(t + 1000)).toEqual({ networks: 1, known: 1 });
  });

  it('caps the distinct networks counted in one window', () => {
    const nets = new KnownNetworks();
    for (let i = 0; i < WINDOW_NETWORKS_CAP + 5000; i++) {
      nets.note(`${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.1`, 0); // a /24 each
    }
    expect(nets.drain(1000).networks).toBe(WINDOW_NETWORKS_CAP);
    expect(nets.drain(2000).networks).toBe(0);
  });
});

describe('patternOk', () => {
  it('always accepts stream, state and admit, never other', () => {
    for (const k of ['stream', 'state', 'admit'] as PatternKind[]) {
      expect(patternOk(k, false, Infinity)).toBe(true);
      expect(patternOk(k, false, 0)).toBe(true);
    }
    expect(patternOk('other', false, Infinity)).toBe(false);
    expect(patternOk('other', true, 1000)).toBe(false);
  });

  it('accepts a playlist when blocking or at least 500 ms after the previous one', () => {
    expect(patternOk('playlist', false, Infinity)).toBe(true); // the first
    expect(patternOk('playlist', false, PLAYLIST_MIN_GAP_MS)).toBe(true);
    expect(patternOk('playlist', false, PLAYLIST_MIN_GAP_MS - 1)).toBe(false);
    expect(patternOk('playlist', false, -5)).toBe(false);
    expect(patternOk('playlist', true, 10)).toBe(true);
  });

  it('accepts a part only within 10 s of a playlist', () => {
    expect(patternOk('part', false, 0)).toBe(true);
    expect(patternOk('part', false, PART_AFTER_PLAYLIST_MS)).toBe(true);
    expect(patternOk('part', false, PART_AFTER_PLAYLIST_MS + 1)).toBe(false);
    expect(patternOk('part', false, Infinity)).toBe(false);
  });

  it('encodes kinds as distinct small integers and back', () => {
    const codes = Object.values(PATTERN_CODES);
    expect(new Set(codes).size).toBe(codes.length);
    for (const [kind, code] of Object.entries(PATTERN_CODES)) {
      expect(code).toBeGreaterThan(0);
      expect(code).toBeLessThan(256);
      expect(patternCode(kind as PatternKind)).toBe(code);
      expect(patternKind(code)).toBe(kind);
    }
    expect(patternKind(0)).toBeUndefined();
  });
});

describe('DefenceTelemetry', () => {
  it('builds a window of classes, clients, rate histogram, networks and pattern counts', () => {
    const tel = new DefenceTelemetry({ networks: { slotsBits: 10, settleMs: 0 } });
    const t = 1_000_000;
    // A: a player. B: a scanner. C: one state poll.
    tel.record('1.1.1.1', 'media_token', 'playlist', false, t);
    tel.record('1.1.1.1', 'media_token', 'part', false, t + 10);
    tel.record('1.1.1.1', 'media_token', 'playlist', false, t + 100); // too soon, not blocking
    tel.record('1.1.1.1', 'media_token', 'playlist', true, t + 200);
    for (let i = 0; i < 100; i++) tel.record('2.2.2.2', 'unknown_path', 'other', false, t + i);
    tel.record('2001:db8::7', 'control', 'state', false, t + 300);
    const w = tel.drain(t + 1000, EXTRA);
    expect(w.fromMs).toBe(t);
    expect(w.toMs).toBe(t + 1000);
    expect(w.classes).toEqual({ ...emptyClassCounts(), media_token: 4, unknown_path: 100, control: 1 });
    const hist = new Array<number>(RATE_BUCKETS).fill(0);
    hist[0] = 1; // C: 1
    hist[2] = 1; // A: 4
    hist[6] = 1; // B: 100
    expect(w.rateHistogram).toEqual(hist);
    expect(Math.round(Hll.fromBase64(w.clientsHll).estimate())).toBe(3);
    expect([w.networks, w.knownNetworks]).toEqual([3, 0]);
    expect([w.patternOk, w.patternTotal]).toEqual([4, 105]);
    expect(w.cpu).toBe(0.25);
    expect(w.joinsBySpace).toEqual({ s1: 1 });

    // The next window starts empty; the last playlist time carries over.
    tel.record('1.1.1.1', 'media_token', 'part', false, t + 2000);
    tel.record('1.1.1.1', 'media_token', 'part', false, t + 200 + PART_AFTER_PLAYLIST_MS + 1);
    const w2 = tel.drain(t + 20_000, EXTRA);
    expect(w2.fromMs).toBe(t + 1000);
    expect(w2.classes).toEqual({ ...emptyClassCounts(), media_token: 2 });
    expect(w2.rateHistogram).toEqual([0, 1, ...new Array<number>(RATE_BUCKETS - 2).fill(0)]);
    expect([w2.patternOk, w2.patternTotal]).toEqual([1, 2]);
    expect([w2.networks, w2.knownNetworks]).toEqual([1, 1]);
    expect(Math.round(Hll.fromBase64(w2.clientsHll).estimate())).toBe(1);

    const w3 = tel.drain(t + 21_000, EXTRA);
    expect(w3.rateHistogram.every((n) => n === 0)).toBe(true);
    expect(REQUEST_CLASSES.every((c) => w3.classes[c] === 0)).toBe(true);
    expect(Hll.fromBase64(w3.clientsHll).estimate()).toBe(0);
    expect([w3.patternOk, w3.patternTotal, w3.networks]).toEqual([0, 0, 0]);
  });

  it('shares a slot between colliding clients but counts them apart in the sketch', () => {
    const tel = new DefenceTelemetry({ slotsBits: 0, networks: { slotsBits: 4, settleMs: 0 } });
    for (let i = 0; i < 40; i++) tel.record(`10.0.${i}.1`, 'media_token', 'stream', false, 5);
    const w = tel.drain(1000, EXTRA);
    expect(w.rateHistogram[rateBucket(40)]).toBe(1);
    expect(w.rateHistogram.reduce((a, b) => a + b, 0)).toBe(1);
    expect(Math.abs(Hll.fromBase64(w.clientsHll).estimate() - 40)).toBeLessThan(2);
    // Networks are noted once per slot and window (the parse is the costly part): a colliding
    // client of another network is missed, which only lowers this weak count.
    expect(w.networks).toBe(1);
  });

  it('buckets counts by floor(log2), the last bucket open-ended', () => {
    expect([1, 2, 3, 4, 7, 8, 63, 64, 65_535, 65_536, 2 ** 31].map(rateBucket)).toEqual([
      0, 1, 1, 2, 2, 3, 5, 6, 15, 15, 15,
    ]);
  });

  it("counts admitted players behind one NAT address as separate clients at a player's rate", () => {
    const tel = new DefenceTelemetry();
    for (let p = 0; p < 25; p++)
      for (let i = 0; i < 10; i++) tel.record('192.0.2.1', 'media_token', 'part', false, 100 + i, `aid-${p}`);
    const w = tel.drain(1000, EXTRA);
    expect(w.rateHistogram.reduce((a, b) => a + b, 0)).toBe(25);
    expect(w.rateHistogram[3]).toBe(25); // 10 requests each: bucket [8, 16)
    expect(Math.abs(Hll.fromBase64(w.clientsHll).estimate() - 25)).toBeLessThan(3); // a sketch: ~3%
    expect(w.networks).toBe(1);
  });

  it('handles many clients over many windows with a fixed table', () => {
    const tel = new DefenceTelemetry({ networks: { settleMs: 0 } });
    for (let sec = 0; sec < 3; sec++) {
      for (let i = 0; i < 20_000; i++) {
        const a = `100.0.${i >> 8}.${i & 255}`;
        tel.record(a, 'media_token', 'playlist', true, sec * 1000 + (i % 1000));
      }
      const w = tel.drain((sec + 1) * 1000, EXTRA);
      expect(w.classes.media_token).toBe(20_000);
      const clients = w.rateHistogram.reduce((a, b) => a + b, 0);
      expect(clients).toBeGreaterThan(17_000); // collisions in 65,536 slots merge a few
      expect(clients).toBeLessThanOrEqual(20_000);
      expect(Math.abs(Hll.fromBase64(w.clientsHll).estimate() / 20_000 - 1)).toBeLessThan(0.1);
      expect(w.networks).toBe(Math.ceil(20_000 / 256));
      expect(w.knownNetworks).toBe(sec === 0 ? 0 : w.networks);
    }
  });
});
