/** The origin's own Prometheus metrics: the media engine's gauges and live Spaces; HLS requests. */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { EnginePool } from '../media/pool.js';
import type { EngineStats } from '../media/protocol.js';
import type { SpaceRegistry } from './spaces.js';

/** Registers the gauges (read at each scrape) and returns the counter of HLS origin requests. */
export function registerOriginMetrics(
  metrics: Registry,
  engine: EnginePool,
  registry: SpaceRegistry,
): Counter {
  // One engine stats request per scrape feeds every media gauge.
  let statsAt = 0;
  let stats: Promise<EngineStats | null> = Promise.resolve(null);
  const engineStats = (): Promise<EngineStats | null> => {
    if (Date.now() - statsAt > 500) {
      statsAt = Date.now();
      stats = engine.stats().catch(() => null);
    }
    return stats;
  };
  const mediaGauge = (name: string, help: string, pick: (s: EngineStats) => number): Gauge =>
    new Gauge({
      name,
      help,
      registers: [metrics],
      async collect() {
        const s = await engineStats();
        if (s) this.set(pick(s));
      },
    });
  mediaGauge(
    'tribune_media_cpu_seconds_total',
    'CPU seconds used by the media engine process',
    (s) => (s.cpuUserUs + s.cpuSystemUs) / 1e6,
  );
  mediaGauge('tribune_media_ticks_total', '20 ms mixer ticks run', (s) => s.ticks);
  mediaGauge(
    'tribune_media_late_ticks_total',
    'Mixer ticks that ran over half a frame late',
    (s) => s.lateTicks,
  );
  mediaGauge(
    'tribune_media_skipped_ticks_total',
    'Mixer ticks skipped because the engine fell too far behind',
    (s) => s.skippedTicks,
  );
  mediaGauge(
    'tribune_media_underruns_total',
    'Times a speaker jitter buffer ran dry (late or lost audio from that speaker)',
    (s) => s.underruns,
  );
  mediaGauge('tribune_media_speakers', 'Speakers connected to the media engine', (s) => s.speakers);
  new Gauge({
    name: 'tribune_live_spaces',
    help: 'Live Spaces on this origin',
    registers: [metrics],
    collect() {
      this.set(registry.liveCount);
    },
  });
  return new Counter({
    name: 'tribune_origin_hls_requests_total',
    help: 'HLS requests the origin answered (edges collapse listeners into these)',
    registers: [metrics],
  });
}
