/** The gate's figures at `/metrics`, read at scrape time (nothing on the request path). */
import type { Registry } from 'prom-client';
import { scrapeGauge } from '../../shared/prom.js';
import type { TribuneConfig } from '../../config.js';
import { AdmissionGate } from './gate.js';

export function registerAdmissionMetrics(registry: Registry, gate: AdmissionGate): void {
  const gauges: [string, string, () => number][] = [
    ['active', 'Listeners holding a place at this edge', () => gate.stats().active],
    ['reserved', 'Places opened for queue tickets and not yet claimed', () => gate.stats().reserved],
    ['waiting', 'Queue tickets handed out and not yet eligible', () => gate.stats().waiting],
    ['issued_total', 'Queue tickets handed out since start', () => gate.stats().issued],
    [
      'admitted_total',
      'Listeners admitted since start (at once or from the queue)',
      () => gate.stats().admitted,
    ],
    ['abandoned_total', 'Places given up by tickets that never came back', () => gate.stats().abandoned],
    [
      'refused_total',
      'Admission refusals (bad tokens, floods, media past capacity)',
      () => gate.counts.refused,
    ],
    ['queue_rate', 'Queue tickets made eligible per second (last 10 s)', () => gate.stats().queueRatePerSec],
    [
      'max_listeners',
      'Configured concurrent listeners of this edge',
      () => gate.controller.getLimits().maxListeners,
    ],
    [
      'joins_per_sec',
      'Configured new listeners per second of this edge',
      () => gate.controller.getLimits().joinsPerSec,
    ],
  ];
  for (const [name, help, read] of gauges)
    scrapeGauge(registry, `tribune_edge_admission_${name}`, help, read);
}

/** The gate for an edge (standalone or built in), from the config's `edge.admission`. */
export function createAdmissionGate(
  cfg: TribuneConfig['edge']['admission'],
  secret: Buffer,
  edgeId: string,
  registry?: Registry,
): AdmissionGate {
  const gate = new AdmissionGate({
    secret,
    edgeId,
    limits: { maxListeners: cfg.maxListeners, joinsPerSec: cfg.joinsPerSec },
    joinsPerAddressPerMinute: cfg.joinsPerAddressPerMinute,
    admissionTtlMs: cfg.admissionTtlSec * 1000,
  });
  gate.startSweeping();
  if (registry) registerAdmissionMetrics(registry, gate);
  return gate;
}
