/**
 * The edge's defences in Prometheus (read at scrape time: nothing is done per request for them).
 */
import type { Registry } from 'prom-client';
import { scrapeCounter, scrapeGauge } from '../../shared/prom.js';
import { EdgeDefence, type EdgeDefenceConfig } from './shield.js';

/** An EdgeDefence with its metrics on `registry`, its load sampling started. */
export function createEdgeDefence(
  config: EdgeDefenceConfig,
  secret: Buffer,
  registry: Registry,
  opts: { trustProxy?: boolean } = {},
): EdgeDefence {
  const d = new EdgeDefence({ ...config, secret, trustProxy: opts.trustProxy });
  scrapeCounter(
    registry,
    'tribune_edge_flood_refused_total',
    'Requests refused by the per-address limit (429 RATE_LIMITED, no work done)',
    () => d.addresses.refused,
  );
  scrapeCounter(
    registry,
    'tribune_edge_admission_bucket_refused_total',
    'Requests of admitted players refused by their per-admission limit',
    () => d.admissions.refused,
  );
  scrapeCounter(
    registry,
    'tribune_edge_connections_refused_total',
    'Connections refused by the per-address connection cap',
    () => d.connections.refused,
  );
  scrapeGauge(
    registry,
    'tribune_edge_brownout_tier',
    'Brownout tier in force (0 none, 3 new joins wait)',
    () => d.brownout.tier,
  );
  scrapeGauge(
    registry,
    'tribune_edge_load',
    'Smoothed event-loop utilisation of the edge, 0..1',
    () => d.brownout.load,
  );
  scrapeGauge(
    registry,
    'tribune_edge_under_attack',
    'Under-attack mode in force on this edge (1) or not (0)',
    () => (d.underAttack ? 1 : 0),
  );
  d.start();
  return d;
}
