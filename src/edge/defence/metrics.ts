/**
 * The edge's defences in Prometheus (read at scrape time: nothing is done per request for them).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { EdgeDefence, type EdgeDefenceConfig } from './shield.js';

function replace(registry: Registry, name: string): void {
  if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
}

function scrapeCounter(registry: Registry, name: string, help: string, read: () => number): void {
  replace(registry, name);
  let reported = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const v = read();
      if (v > reported) this.inc(v - reported);
      reported = v;
    },
  });
}

function gauge(registry: Registry, name: string, help: string, read: () => number): void {
  replace(registry, name);
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

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
  gauge(
    registry,
    'tribune_edge_brownout_tier',
    'Brownout tier in force (0 none, 3 new joins wait)',
    () => d.brownout.tier,
  );
  gauge(
    registry,
    'tribune_edge_load',
    'Smoothed event-loop utilisation of the edge, 0..1',
    () => d.brownout.load,
  );
  gauge(
    registry,
    'tribune_edge_under_attack',
    'Under-attack mode in force on this edge (1) or not (0)',
    () => (d.underAttack ? 1 : 0),
  );
  d.start();
  return d;
}
