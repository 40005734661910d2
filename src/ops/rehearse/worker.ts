/**
 * Worker process of a rehearsal: one Engine (a share of the crowd) on its own event loop (and, when
 * the coordinator pins it, its own core). Talks to the coordinator over the IPC channel: receives
 * `{type:'config', cfg}` then `snapshot` / `stop` requests; sends a tick every second and the
 * summaries. Exits when the channel closes, so it never outlives the coordinator.
 */
import { Engine } from './engine.js';
import type { EngineConfig, FromWorker, ToWorker } from './types.js';

const send = (m: FromWorker): void => {
  if (process.connected) process.send!(m);
};

let engine: Engine | undefined;

process.on('message', (m: ToWorker | { type: 'config'; cfg: EngineConfig }) => {
  try {
    if (m.type === 'config') {
      engine = new Engine(m.cfg, (at, counters) =>
        send({ type: 'tick', worker: m.cfg.worker, at, counters }),
      );
      engine.start();
    } else if (m.type === 'snapshot' && engine) {
      send({ type: 'summary', id: m.id, summary: engine.summary() });
    } else if (m.type === 'stop' && engine) {
      const summary = engine.stop();
      send({ type: 'summary', id: m.id, summary });
    }
  } catch (err) {
    send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});

process.on('disconnect', () => process.exit(0));
// tells the coordinator this process is up and listening for its config
if (process.connected) process.send!({ type: 'ready' });
process.on('uncaughtException', (err) => {
  send({ type: 'error', message: err.stack ?? err.message });
  process.exit(1);
});
