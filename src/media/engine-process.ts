/**
 * Entry point of the media engine child process. It owns libwebrtc and all CPU-heavy media work,
 * so the HTTP process (control plane, edge) never waits behind it. Talks to its parent over IPC only.
 */
import { isTribuneError } from '../errors.js';
import { FrameClock } from '../mix/clock.js';
import { SpaceEngine } from './space-engine.js';
import type { EngineEnvelope, EngineEvent, EngineMessage, EngineRequest, EngineStats } from './protocol.js';

const spaces = new Map<string, SpaceEngine>();
let closedUnderruns = 0;

function send(msg: EngineMessage): void {
  if (process.connected) process.send?.(msg);
}
const emit = (e: EngineEvent): void => send(e);

const clock = new FrameClock({
  periodMs: 20,
  // Listeners' HLS timeline must keep pace with the wall clock: after a stall (CPU contention),
  // run every missed tick (a tick costs ~0.15 ms for 13 speakers); skip only past 1 s of backlog.
  maxCatchUpTicks: 50,
  onTick: () => {
    for (const s of spaces.values()) {
      try {
        s.tick();
      } catch (err) {
        // One Space's fault never stops the others.
        console.error(`[engine] space ${s.spaceId} tick failed`, err);
      }
    }
  },
});

function space(id: string): SpaceEngine {
  const s = spaces.get(id);
  if (!s) throw Object.assign(new Error('no such space'), { code: 'SPACE_NOT_FOUND' });
  return s;
}

async function handle(req: EngineRequest): Promise<unknown> {
  switch (req.op) {
    case 'openSpace':
      if (!spaces.has(req.spaceId)) spaces.set(req.spaceId, new SpaceEngine(req.spaceId, req.config, emit));
      return { ok: true };
    case 'closeSpace':
      closedUnderruns += spaces.get(req.spaceId)?.underruns ?? 0;
      spaces.get(req.spaceId)?.close();
      spaces.delete(req.spaceId);
      return { ok: true };
    case 'goLive':
      space(req.spaceId).goLive(req.timelineStartSamples);
      return { ok: true };
    case 'publish':
      return { answerSdp: await space(req.spaceId).publish(req.speakerId, req.offerSdp) };
    case 'unpublish':
      space(req.spaceId).unpublish(req.speakerId);
      return { ok: true };
    case 'setMuted':
      space(req.spaceId).setMuted(req.speakerId, req.muted);
      return { ok: true };
    case 'stats': {
      const cpu = process.cpuUsage();
      let speakers = 0;
      let underruns = closedUnderruns;
      for (const s of spaces.values()) {
        speakers += s.speakerCount;
        underruns += s.underruns;
      }
      const stats: EngineStats = {
        cpuUserUs: cpu.user,
        cpuSystemUs: cpu.system,
        spaces: spaces.size,
        speakers,
        ticks: clock.ticks,
        lateTicks: clock.lateTicks,
        skippedTicks: clock.skippedTicks,
        underruns,
      };
      return stats;
    }
  }
}

process.on('message', (raw: EngineEnvelope) => {
  handle(raw.req).then(
    (result) => send({ type: 'reply', id: raw.id, ok: true, result }),
    (err: unknown) => {
      const code = isTribuneError(err) ? err.code : ((err as { code?: string }).code ?? 'INTERNAL');
      send({
        type: 'reply',
        id: raw.id,
        ok: false,
        error: { code, detail: isTribuneError(err) ? err.detail : String(err) },
      });
    },
  );
});

let shuttingDown = false;
function shutdown(): void {
  if (shuttingDown) return;
  shuttingDown = true;
  // Closing libwebrtc peers can block or throw; the engine must go regardless.
  setTimeout(() => process.exit(0), 1000);
  clock.stop();
  try {
    for (const s of spaces.values()) s.close();
  } catch {
    // exiting anyway
  }
  spaces.clear();
  process.exit(0);
}
// The parent going away (crash or exit) ends the engine too: by the IPC channel closing, and,
// should that happen before this listener existed, by being re-parented (checked every second).
process.on('disconnect', shutdown);
if (!process.connected) shutdown();
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent || !process.connected) shutdown();
}, 1000).unref();
process.on('SIGTERM', shutdown);
process.on('SIGINT', () => undefined); // the parent decides when we stop

clock.start();
send({ type: 'ready' });
