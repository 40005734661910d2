/**
 * The defence center in Prometheus, read at scrape time: the verdict, under-attack mode, requests
 * per second by class and distinct clients over all edges, and each edge's brownout tier and load.
 */
import type { Gauge, Registry } from 'prom-client';
import { scrapeLabelledGauge } from '../../shared/prom.js';
import { REQUEST_CLASSES, VERDICT_CODE } from '../../edge/defence/types.js';
import type { DefenceCenter } from './center.js';

export function registerDefenceMetrics(center: DefenceCenter, registry: Registry): void {
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void): void =>
    scrapeLabelledGauge(registry, name, help, labelNames, collect);
  gauge('tribune_defence_verdict', 'Crowd-or-attack verdict: 1 for the current one', ['verdict'], (g) => {
    for (const v of Object.keys(VERDICT_CODE)) g.set({ verdict: v }, v === center.verdict.verdict ? 1 : 0);
  });
  gauge('tribune_defence_under_attack', 'Under-attack mode in force (1) or not (0)', [], (g) =>
    g.set(center.underAttack ? 1 : 0),
  );
  gauge(
    'tribune_defence_requests_per_second',
    'Requests per second at all edges, by class',
    ['class'],
    (g) => {
      const p = center.latest();
      for (const c of REQUEST_CLASSES) g.set({ class: c }, p?.classes[c] ?? 0);
    },
  );
  gauge(
    'tribune_defence_clients',
    'Distinct clients at all edges in the last second (HyperLogLog)',
    [],
    (g) => g.set(center.latest()?.clients ?? 0),
  );
  gauge('tribune_defence_edges_reporting', 'Edges that reported in the last 10 s', [], (g) =>
    g.set(center.edgeLoads().filter((e) => e.fresh).length),
  );
  gauge('tribune_defence_edge_brownout_tier', 'Brownout tier of each edge', ['edge'], (g) => {
    g.reset();
    for (const e of center.edgeLoads()) g.set({ edge: e.edgeId }, e.tier);
  });
  gauge('tribune_defence_edge_cpu', 'Event-loop utilisation of each edge, 0..1', ['edge'], (g) => {
    g.reset();
    for (const e of center.edgeLoads()) g.set({ edge: e.edgeId }, e.cpu);
  });
}
