/**
 * GET /api/capacity on a real origin: the plan and a bounded simulation as JSON, and absurd
 * numbers refused with 400 CAPACITY_OUT_OF_RANGE in Tribune's error shape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTribune, type TribuneHandle } from '../support/server.js';

interface Answer {
  figures: { source: string; date: string };
  plan: { edges: number; perEdge: { maxListeners: number }; cores: number; bandwidth: { gbitPerS: number } };
  simulation: { admitted: number; firstAudioMs: { p50: number; p99: number } } | null;
  simulationNote: string | null;
}

describe('GET /api/capacity', () => {
  let server: TribuneHandle;
  const get = async (query: string) => {
    const res = await fetch(`${server.url}/api/capacity?${query}`);
    return {
      status: res.status,
      body: (await res.json()) as Answer & { error?: { code: string; message: string } },
    };
  };

  beforeAll(async () => {
    server = await startTribune({ args: ['origin'] });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('answers the plan and a simulation for a sane audience', async () => {
    const { status, body } = await get('listeners=100000&arrivalPerSec=2000&bitrateKbps=32&edges=10');
    expect(status).toBe(200);
    expect(body.figures.source).toMatch(/bench\/results\/edge\.json|README/);
    expect(body.plan.edges).toBe(10);
    const planned = (await get('listeners=100000&arrivalPerSec=2000&simulate=0')).body;
    expect(planned.plan.edges).toBe(Math.ceil(100_000 / planned.plan.perEdge.maxListeners));
    expect(planned.simulation).toBeNull();
    expect(body.plan.cores).toBe(body.plan.edges);
    expect(body.plan.bandwidth.gbitPerS).toBeGreaterThan(100_000 * 4_000 * 8e-9);
    expect(body.simulation?.admitted).toBe(100_000);
    expect(body.simulation!.firstAudioMs.p50).toBeGreaterThan(0);
    expect(body.simulationNote).toBeNull();
  });

  it('arithmetic only past the simulation bound; given edges are used', async () => {
    const big = await get('listeners=10000000&arrivalPerSec=100000');
    expect(big.status).toBe(200);
    expect(big.body.simulation).toBeNull();
    expect(big.body.simulationNote).toMatch(/tribune capacity/);
    expect((await get('listeners=1000&arrivalPerSec=10&edges=3')).body.plan.edges).toBe(3);
  });

  it('absurd numbers: 400 CAPACITY_OUT_OF_RANGE naming the input', async () => {
    const cases: [string, RegExp][] = [
      ['listeners=-1&arrivalPerSec=10', /listeners/],
      ['listeners=0&arrivalPerSec=10', /listeners/],
      ['listeners=abc&arrivalPerSec=10', /listeners.*NaN/],
      ['listeners=2000000000&arrivalPerSec=10', /listeners/],
      ['listeners=1000&arrivalPerSec=10&bitrateKbps=20000', /bitrateKbps/],
      ['listeners=1000&arrivalPerSec=2000000', /arrivalPerSec/],
      ['listeners=1000&arrivalPerSec=NaN', /arrivalPerSec/],
      ['listeners=1000&arrivalPerSec=10&edges=0', /edges/],
      ['listeners=1000&arrivalPerSec=10&mode=carrier-pigeon', /mode/],
      ['arrivalPerSec=10', /listeners is required/],
    ];
    for (const [query, detail] of cases) {
      const { status, body } = await get(query);
      expect({ query, status, code: body.error?.code }).toEqual({
        query,
        status: 400,
        code: 'CAPACITY_OUT_OF_RANGE',
      });
      expect(body.error!.message).toMatch(detail);
    }
  });

  it('an unknown parameter is a malformed request', async () => {
    const { status, body } = await get('listeners=1000&arrivalPerSec=10&frobnicate=1');
    expect(status).toBe(400);
    expect(body.error?.code).toBe('BAD_REQUEST');
  });
});
