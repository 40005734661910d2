/**
 * The origin's defence center: edges' reports in, one console point a second, the verdict, the
 * orders each edge gets back (under-attack mode: on / automatic from the verdict; brownout floor;
 * capacity), settings kept in the data dir and shared by origins reading the same file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { DefenceTelemetry } from '../../src/edge/defence/telemetry.js';
import type { DefenceWindow } from '../../src/edge/defence/types.js';
import type { EdgeReport } from '../../src/live/types.js';
import { DefenceCenter } from '../../src/ops/defence/center.js';
import { verifyStatus } from '../../src/ops/defence/status.js';

const extra = {
  cpu: 0.3,
  tier: 0 as const,
  underAttack: false,
  admission: { maxListeners: 100, joinsPerSec: 10, admitted: 5, queue: 2, joins: 3, admittedInWindow: 3 },
  joinsBySpace: { sp1: 3 },
  pow: { issued: 0, solved: 0, failed: 0 },
};

/** A real telemetry window: `clients` addresses each making `perClient` requests of class `cls`. */
function windowOf(
  t: number,
  clients: number,
  perClient: number,
  cls: 'control' | 'refused',
  prefix: string,
): DefenceWindow {
  const tel = new DefenceTelemetry();
  for (let c = 0; c < clients; c++)
    for (let i = 0; i < perClient; i++)
      tel.record(`${prefix}.${c >> 8}.${c & 255}`, cls, cls === 'control' ? 'state' : 'other', false, t);
  return tel.drain(t + 1000, extra);
}

function report(edgeId: string, atMs: number, defence?: DefenceWindow): EdgeReport {
  return { edgeId, atMs, spaces: { sp1: { listeners: 7, reactions: {}, sample: [] } }, defence };
}

describe('DefenceCenter', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const make = (now: () => number, dir?: string) => {
    const dataDir = dir ?? mkdtempSync(path.join(tmpdir(), 'defence-'));
    if (!dir) dirs.push(dataDir);
    return new DefenceCenter({
      dataDir,
      tokenSecret: Buffer.from('secret'),
      deployment: 'test',
      now,
      registry: new Registry(),
      spaces: () => ({ live: 1, up: true }),
    });
  };

  it('adds edges up in one point a second, and keeps 5 minutes of them', () => {
    let t = 1_000_000;
    const c = make(() => t);
    c.ingest(report('e1', t, windowOf(t, 50, 2, 'control', '10.1')));
    c.ingest(report('e2', t, windowOf(t, 30, 2, 'control', '10.2')));
    c.tick();
    const p = c.latest()!;
    expect(p.classes.control).toBe(160);
    expect(p.clients).toBeGreaterThan(70);
    expect(p.clients).toBeLessThan(90);
    expect(p.listenersByEdge).toEqual({ e1: 7, e2: 7 });
    expect(p.listenersBySpace).toEqual({ sp1: 14 });
    expect([p.joins, p.admitted, p.queue]).toEqual([6, 6, 4]);
    for (let i = 0; i < 400; i++) {
      t += 1000;
      c.tick();
    }
    const ov = c.overview() as { series: { t: number[]; classes: { control: number[] } } };
    expect(ov.series.t.length).toBe(300);
    expect(ov.series.classes.control.length).toBe(300);
  });

  it('answers each edge with its orders: on, automatic from the verdict, floors and capacity', () => {
    let t = 2_000_000;
    const c = make(() => t);
    expect(c.ingest(report('e1', t)).defence).toEqual({ underAttack: false, tierFloor: 0 });
    c.setMode('on');
    c.setTierFloor('e1', 2);
    c.setLimits('e1', { maxListeners: 10, joinsPerSec: 5 });
    expect(c.ingest(report('e1', t)).defence).toEqual({
      underAttack: true,
      tierFloor: 2,
      limits: { maxListeners: 10, joinsPerSec: 5 },
    });
    expect(c.ingest(report('e2', t)).defence).toEqual({ underAttack: true, tierFloor: 0 });
    // Automatic: follows the verdict (a one-address flood after a quiet baseline).
    c.setMode('auto');
    for (let i = 0; i < 20; i++) {
      c.ingest(report('e1', t, windowOf(t, 40, 2, 'control', '10.3')));
      c.tick();
      t += 1000;
    }
    expect(c.verdict.verdict).toBe('normal');
    expect(c.underAttack).toBe(false);
    for (let i = 0; i < 6; i++) {
      c.ingest(report('e1', t, windowOf(t, 1, 5000, 'refused', '10.9')));
      c.tick();
      t += 1000;
    }
    expect(c.verdict.verdict).toBe('attack');
    expect(c.underAttack).toBe(true);
    expect(c.ingest(report('e1', t)).defence.underAttack).toBe(true);
  });

  it('keeps the operator settings in the data dir: a second origin on the same dir reads them', () => {
    const t = 3_000_000;
    const a = make(() => t);
    a.setMode('auto');
    a.setLimits('edge-x', { maxListeners: 123, joinsPerSec: 7 });
    const dir = (a as unknown as { file: string }).file.replace(/\/defence\.json$/, '');
    const b = make(() => t, dir);
    expect(b.mode).toBe('auto');
    expect(b.control('edge-x').limits).toEqual({ maxListeners: 123, joinsPerSec: 7 });
    a.setMode('on');
    b.tick(); // re-reads the file when it changed
    expect(b.mode).toBe('on');
  });

  it("takes a report's window once: a retried or replayed report (not newer) adds nothing", () => {
    let t = 5_000_000;
    const c = make(() => t);
    const r = report('e1', t, windowOf(t, 10, 3, 'control', '10.5'));
    c.ingest(r);
    expect(c.ingest(r).defence).toEqual({ underAttack: false, tierFloor: 0 }); // still answered
    c.ingest({ ...r, atMs: r.atMs - 1 });
    t += 1000;
    c.tick();
    expect(c.latest()!.classes.control).toBe(30);
  });

  it("an operator's change keeps another origin's change made since (read before write)", () => {
    const t = 6_000_000;
    const a = make(() => t);
    const dir = (a as unknown as { file: string }).file.replace(/\/defence\.json$/, '');
    const b = make(() => t, dir);
    a.setMode('on');
    b.setTierFloor('edge-y', 2); // b has not ticked since a's change
    a.tick();
    expect([a.mode, a.control('edge-y').tierFloor]).toEqual(['on', 2]);
    expect(b.mode).toBe('on');
  });

  it('keeps only valid settings from the file (a hand edit gone wrong)', () => {
    const t = 7_000_000;
    const a = make(() => t);
    const file = (a as unknown as { file: string }).file;
    writeFileSync(
      file,
      JSON.stringify({
        mode: 'max',
        limits: {
          good: { maxListeners: 10, joinsPerSec: 2 },
          bad: { maxListeners: -1, joinsPerSec: 2 },
          'b d': 1,
        },
        tierFloors: { e1: 3, e2: 9, e3: '2' },
      }),
    );
    a.tick();
    expect(a.mode).toBe('off');
    expect(a.control('good').limits).toEqual({ maxListeners: 10, joinsPerSec: 2 });
    expect(a.control('bad').limits).toBeUndefined();
    expect([a.control('e1').tierFloor, a.control('e2').tierFloor, a.control('e3').tierFloor]).toEqual([
      3, 0, 0,
    ]);
    writeFileSync(file, '{not json');
    a.tick();
    expect(a.control('good').limits).toEqual({ maxListeners: 10, joinsPerSec: 2 }); // kept
  });

  it('signs the status document with the deployment key', () => {
    const c = make(() => 4_000_000);
    c.ingest(report('e1', 4_000_000));
    const s = c.status();
    expect(s.document.spaces).toEqual({ live: 1, up: true });
    expect(s.document.edges.reporting).toBe(1);
    expect(verifyStatus(s.document, s.signature, c.publicKey)).toBe(true);
    expect(verifyStatus({ ...s.document, verdict: 'attack' }, s.signature, c.publicKey)).toBe(false);
  });
});
