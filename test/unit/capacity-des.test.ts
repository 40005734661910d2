/**
 * The capacity simulation (src/ops/capacity/des.ts) with the real AdmissionController: seeded and
 * deterministic, all admitted below the cap, exactly the cap above it with the rest queued in
 * FIFO order, the rest admitted when the cap is raised, and every arrival accounted for.
 */
import { describe, expect, it } from 'vitest';
import { simulate, type DesParams } from '../../src/ops/capacity/des.js';
import type { EdgeFigures } from '../../src/ops/capacity/figures.js';
import { predictFirstAudio } from '../../src/ops/capacity/predict.js';

const params = (over: Partial<DesParams> = {}): DesParams => ({
  listeners: 1_000,
  edges: 1,
  profile: 'step',
  arrivalS: 10,
  limits: { maxListeners: 1_000, joinsPerSec: 1_000 },
  mode: 'stream',
  rttMs: 10,
  handshakeRtts: 1,
  joinServiceMs: 0.05,
  pollServiceMs: 0.01,
  partMs: 200,
  listenersPerCore: 50_000,
  tailS: 60,
  seed: 1,
  ...over,
});

describe('capacity simulation', () => {
  it('is deterministic for a seed, and the seed matters', () => {
    const p = params({
      profile: 'ramp',
      listeners: 5_000,
      limits: { maxListeners: 3_000, joinsPerSec: 400 },
    });
    const a = simulate(p);
    const b = simulate(p);
    expect(b).toEqual(a);
    const c = simulate({ ...p, seed: 2 });
    expect(c.firstAudioMs).not.toEqual(a.firstAudioMs);
  });

  it('a step of N <= cap is admitted at once; first audio = handshake + request + answer + stream round trip', () => {
    const r = simulate(params());
    expect(r.admitted).toBe(1_000);
    expect(r.admittedAtOnce).toBe(1_000);
    expect(r.queued).toBe(0);
    expect(r.peakQueue).toBe(0);
    expect(r.playing).toBe(1_000);
    // 1 RTT handshake + RTT/2 request + RTT/2 answer + RTT stream request/answer = 30 ms, plus the
    // edge core: 1,000 admits x 0.01 ms and 1,000 connects x 0.05 ms queue behind each other
    expect(r.firstAudioMs.p50).toBeGreaterThanOrEqual(30);
    expect(r.firstAudioMs.max).toBeLessThan(30 + 1_000 * 0.06 + 1);
  });

  it('a burst above the edge core throughput waits for it (M/D/1)', () => {
    const r = simulate(params({ joinServiceMs: 2, listenersPerCore: 0 }));
    // 1,000 connects of 2 ms each on one core: the last gets audio after about 2 s
    expect(r.firstAudioMs.max).toBeGreaterThan(2_000);
    expect(r.maxServerWaitMs).toBeGreaterThan(1_900);
    expect(r.admittedAtOnce).toBe(1_000);
  });

  it('N > cap: exactly cap admitted, the rest queued; raising the cap admits them in FIFO order', () => {
    const over = params({
      listeners: 1_500,
      limits: { maxListeners: 1_000, joinsPerSec: 10_000 },
      pollMs: 500,
      trace: true,
    });
    const held = simulate(over);
    expect(held.admitted).toBe(1_000);
    expect(held.queued).toBe(500);
    expect(held.peakQueue).toBe(500);
    expect(held.trace!.filter((t) => t.ticket > 0)).toHaveLength(500);

    // raise the cap to 1,200 at 10 s: exactly tickets 1..200 get in, none before 10 s
    const some = simulate({
      ...over,
      limitChanges: [{ atS: 10, limits: { maxListeners: 1_200, joinsPerSec: 10_000 } }],
    });
    const fromQueue = some.trace!.filter((t) => t.ticket > 0 && t.admittedMs >= 0);
    expect(some.admitted).toBe(1_200);
    expect(fromQueue.map((t) => t.ticket).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 200 }, (_, k) => k + 1),
    );
    expect(Math.min(...fromQueue.map((t) => t.admittedMs))).toBeGreaterThanOrEqual(10_000);

    // raise it to 1,500: everyone in; with polls in ticket order, admissions in ticket order
    const all = simulate({
      ...over,
      limitChanges: [{ atS: 10, limits: { maxListeners: 1_500, joinsPerSec: 10_000 } }],
    });
    expect(all.admitted).toBe(1_500);
    expect(all.queued).toBe(0);
    expect(all.playing).toBe(1_500);
    const byTicket = all.trace!.filter((t) => t.ticket > 0).sort((a, b) => a.ticket - b.ticket);
    for (let k = 1; k < byTicket.length; k++)
      expect(byTicket[k]!.admittedMs).toBeGreaterThanOrEqual(byTicket[k - 1]!.admittedMs);
  });

  it('with the controller jittered polls too, a raised cap admits the first tickets only', () => {
    const r = simulate(
      params({
        listeners: 3_000,
        limits: { maxListeners: 1_000, joinsPerSec: 5_000 },
        limitChanges: [{ atS: 5, limits: { maxListeners: 2_000, joinsPerSec: 5_000 } }],
        trace: true,
      }),
    );
    const tickets = r.trace!.filter((t) => t.ticket > 0 && t.admittedMs >= 0).map((t) => t.ticket);
    expect(tickets.sort((a, b) => a - b)).toEqual(Array.from({ length: 1_000 }, (_, k) => k + 1));
    expect(r.queued).toBe(1_000);
  });

  it('conservation: admitted + queued + abandoned = arrivals', () => {
    for (const profile of ['ramp', 'step', 'lobby'] as const) {
      const r = simulate(
        params({
          profile,
          listeners: 4_000,
          edges: 3,
          balance: 'random',
          limits: { maxListeners: 1_000, joinsPerSec: 300 },
          abandonAfterS: 8,
        }),
      );
      const s = r.simulated;
      expect(s.arrivals).toBe(4_000);
      expect(s.admitted + s.queued + s.abandoned).toBe(s.arrivals);
      expect(s.abandoned).toBeGreaterThan(0);
      expect(s.admitted).toBeLessThanOrEqual(3_000);
    }
  });

  it('lobby: the edge spreads the start over cap / joinsPerSec and all play within it', () => {
    const r = simulate(
      params({ profile: 'lobby', listeners: 2_000, limits: { maxListeners: 5_000, joinsPerSec: 1_000 } }),
    );
    expect(r.joinWindowS).toBe(2);
    expect(r.queued).toBe(0);
    expect(r.firstAudioMs.max).toBeLessThan(2_000 + 100);
    expect(r.firstAudioMs.p50).toBeGreaterThan(800);
  });

  it('LL-HLS waits for the next part; the stream sends the newest at once', () => {
    const ramp = { listeners: 500, profile: 'ramp' as const, arrivalS: 10 };
    const stream = simulate(params(ramp));
    const llhls = simulate(params({ ...ramp, mode: 'llhls' }));
    expect(stream.firstAudioMs.max - stream.firstAudioMs.p50).toBeLessThan(5);
    // one more round trip (10 ms) plus U(0, 200 ms) for the part: about 110 ms more on average
    expect(llhls.firstAudioMs.mean - stream.firstAudioMs.mean).toBeGreaterThan(80);
    expect(llhls.firstAudioMs.mean - stream.firstAudioMs.mean).toBeLessThan(140);
    expect(llhls.firstAudioMs.max - llhls.firstAudioMs.p50).toBeGreaterThan(50);
  });

  it('large audiences run on a sample of identical edges, totals scaled', () => {
    const r = simulate(
      params({
        profile: 'ramp',
        arrivalS: 60,
        listeners: 1_000_000,
        edges: 100,
        limits: { maxListeners: 12_000, joinsPerSec: 2_000 },
      }),
    );
    expect(r.simulatedEdges).toBe(20); // 200,000 / 10,000 per edge
    expect(r.simulatedListeners).toBe(200_000);
    expect(r.arrivals).toBe(1_000_000);
    expect(r.admitted).toBe(1_000_000);
  });

  it('predictFirstAudio takes any parameter and fills the rest from the figures', () => {
    const f: EdgeFigures = {
      stream_listeners_per_core: 50_000,
      stream_listeners_measured: 20_000,
      llhls_listeners_per_core: null,
      llhls_listeners_per_core_source: 'none',
      memory_kb_per_listener: 4,
      edge_base_rss_mb: 100,
      wire_bytes_per_listener_s: 5_000,
      bench_bitrate_kbps: 32,
      part_ms: 200,
      stream_connects_per_s_per_core: 10_000,
      stream_connects_source: 'test',
      edge_req_per_core: 100_000,
      first_part_ms: null,
      machine: { cores: 2, cpu_model: 'test', memory_gb: 8, node: 'v20', platform: 'linux' },
      date: 'd',
      command: 'c',
      git: null,
    };
    const p = predictFirstAudio(
      {
        listeners: 20_000,
        edges: 1,
        arrivalS: 2,
        limits: { maxListeners: 5_000, joinsPerSec: 5_000 },
        rttMs: 1,
      },
      f,
    );
    expect(p.params.joinServiceMs).toBeCloseTo(0.1, 9); // 1000 / 10,000
    expect(p.params.pollServiceMs).toBeCloseTo(0.01, 9); // 1000 / 100,000
    expect(p.params.rttMs).toBe(1);
    expect(p.admitted).toBe(5_000);
    expect(p.queued).toBe(15_000);
    expect(p.p99Ms).toBeGreaterThan(0);
    expect(p.p50Ms).toBeLessThanOrEqual(p.p99Ms);
  });
});
