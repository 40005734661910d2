/**
 * Metrics read at scrape time: the code they describe keeps plain numbers (nothing is done per
 * request for Prometheus), and prom-client reads them when /metrics is asked. Registering a name
 * again replaces the old metric (tests build several handlers on one registry).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

function replace(registry: Registry, name: string): void {
  if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
}

/** A counter whose total is `read()` (a number that only grows). */
export function scrapeCounter(registry: Registry, name: string, help: string, read: () => number): void {
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

/** A gauge set to `read()` at each scrape. */
export function scrapeGauge(registry: Registry, name: string, help: string, read: () => number): void {
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

/** A labelled gauge filled by `collect` at each scrape. */
export function scrapeLabelledGauge(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  collect: (g: Gauge) => void,
): void {
  replace(registry, name);
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      collect(this);
    },
  });
}
