/**
 * The three scenarios of bench/crowd.ts, each through runRehearsal (the engine of `tribune rehearse`).
 */
import { setAdmissionLimits } from '../src/ops/rehearse/edge-api.js';
import { flashLine } from '../src/ops/rehearse/report.js';
import { runRehearsal, type RehearsalOptions } from '../src/ops/rehearse/run.js';
import type { Report } from '../src/ops/rehearse/types.js';
import { createSpace, scrapeMetrics, type TestSpace } from '../test/support/server.js';
import { cpuSampler, sleep } from './crowd-procs.js';

export interface CrowdEnv {
  originUrl: string;
  edgeUrl: string;
  edgePid: number;
  token: string;
  /** the live Space with its tone speaker */
  live: TestSpace;
  /** puts a tone speaker on a Space's stage */
  publish(spaceId: string, hostToken: string): Promise<void>;
  common: Omit<RehearsalOptions, 'space' | 'listeners' | 'profile'>;
  joinsPerSec: number;
  log(msg: string): void;
}

const d = (a: Map<string, number>, b: Map<string, number>, k: string): number =>
  (b.get(k) ?? 0) - (a.get(k) ?? 0);

/** (a) N arrivals within 2 s at the edge capped at `cap`; then the cap raised to N. */
export async function flashScenario(e: CrowdEnv, n: number, cap: number) {
  const { edgeUrl, token, live, common, log } = e;
  log(`(a) flash: ${n} arrivals within 2 s at the edge capped at ${cap}`);
  await setAdmissionLimits(edgeUrl, token, { maxListeners: cap, joinsPerSec: e.joinsPerSec });
  let surge: Report | undefined;
  let raisedAt = 0;
  let drainedAt = 0;
  const flash = await runRehearsal({
    ...common,
    space: live.id,
    profile: 'ramp',
    listeners: n,
    overSeconds: 2,
    holdSeconds: 2,
    maxPlaying: cap,
    onReady: async (ctl) => {
      await sleep(8000); // the surge: the admitted play while the queue polls
      surge = await ctl.snapshot();
      log(`surge: ${JSON.stringify(flashLine(surge))}`);
      await setAdmissionLimits(edgeUrl, token, { maxListeners: n });
      raisedAt = Date.now();
      ctl.mark(`cap ${n}`);
      if (await ctl.waitFor((c) => c.queued === 0, 60_000)) drainedAt = Date.now();
      else log('queue not empty 60 s after the raise');
    },
  });
  const s = surge ?? flash;
  const out = {
    ...flashLine(s),
    admitted_in_order: flash.admitted_in_order,
    positions_monotonic: s.positions_monotonic && flash.positions_monotonic,
    first_audio_p50_ms: s.first_audio_ms.p50,
    first_audio_p99_net_of_client_stalls_ms: s.first_audio_net_of_client_stalls_ms.p99,
    client_lag_p99_ms: s.client_lag_ms.p99,
    arrivals_sent_within_s: s.arrivals_sent_within_s,
    admitted_after_raise: flash.admitted,
    order_violations: flash.order_violations,
    queue_drained_s: drainedAt ? Math.round((drainedAt - raisedAt) / 100) / 10 : null,
    admit_wait_p99_ms: flash.admit_wait_ms.p99,
    errors_through_raise: flash.errors,
    gaps_over_1s_net_of_client_stalls: s.gaps.listeners_over_net_of_client_stalls,
    gaps_over_1s_through_raise: flash.admitted_gaps_over_1s,
    gaps_over_1s_through_raise_net_of_client_stalls: flash.gaps.listeners_over_net_of_client_stalls,
    client_stall_ms: flash.client.stall_ms,
    edge_cpu_max: flash.edges.cpu_cores_max,
    edge_rss_mb_max: flash.edges.rss_mb_max,
    client_loop_delay_max_ms: flash.client.loop_delay_max_ms,
    errors_by_code: flash.errors_by_code,
  };
  log(`flash: ${JSON.stringify(out)}`);
  return out;
}

/** (b) N listeners wait on a scheduled Space; the host starts it. */
export async function lobbyScenario(e: CrowdEnv, n: number) {
  const { originUrl, edgeUrl, token, common, log } = e;
  log(`(b) lobby: ${n} listeners wait on a scheduled Space`);
  await setAdmissionLimits(edgeUrl, token, { maxListeners: 1_000_000, joinsPerSec: e.joinsPerSec });
  const sched = await createSpace(originUrl, 'bench crowd: lobby', {
    scheduledFor: new Date(Date.now() + 3600_000).toISOString(),
  });
  let greenRoom = true;
  await e.publish(sched.id, (await sched.hostClient.publishToken(sched.id)).token).catch((err: unknown) => {
    greenRoom = false;
    log(`no green room (${(err as Error).message}): the speaker joins after the start`);
  });
  const o0 = await scrapeMetrics(originUrl);
  const e0 = await scrapeMetrics(edgeUrl);
  const lobby = await runRehearsal({
    ...common,
    space: sched.id,
    profile: 'lobby',
    listeners: n,
    overSeconds: 2,
    holdSeconds: 5,
    onReady: async (ctl) => {
      await sleep(1000);
      ctl.setStartAt();
      await sched.hostClient.start(sched.id);
      if (!greenRoom) await e.publish(sched.id, (await sched.hostClient.publishToken(sched.id)).token);
    },
  });
  const o1 = await scrapeMetrics(originUrl);
  const e1 = await scrapeMetrics(edgeUrl);
  const reports = d(e0, e1, 'tribune_edge_reports_sent_total');
  const out = {
    waiting: lobby.arrivals,
    first_audio_p99_ms: lobby.first_audio_ms.p99,
    // every request under /origin during the lobby, minus the edge's live reports (about 1/s)
    origin_requests: d(o0, o1, 'tribune_origin_hls_requests_total') - reports,
    first_audio_p50_ms: lobby.first_audio_ms.p50,
    first_audio_p99_net_of_client_stalls_ms: lobby.first_audio_net_of_client_stalls_ms.p99,
    live_seen_after_start_ms: lobby.live_seen_after_start_ms,
    admitted: lobby.admitted,
    played: lobby.played,
    no_audio: lobby.no_audio,
    errors: lobby.errors,
    http_5xx: lobby.http_5xx,
    gaps_over_1s: lobby.admitted_gaps_over_1s,
    gaps_over_1s_net_of_client_stalls: lobby.gaps.listeners_over_net_of_client_stalls,
    client_stall_ms: lobby.client.stall_ms,
    client_lag_p99_ms: lobby.client_lag_ms.p99,
    seconds: lobby.durationS,
    edge_live_reports: reports,
    green_room: greenRoom,
    edge_cpu_max: lobby.edges.cpu_cores_max,
    client_loop_delay_max_ms: lobby.client.loop_delay_max_ms,
    errors_by_code: lobby.errors_by_code,
  };
  log(`lobby: ${JSON.stringify(out)}`);
  return out;
}

/** (c) N new arrivals asking /admit at once (cap lifted): admissions per edge CPU second. */
export async function admissionsScenario(e: CrowdEnv, n: number) {
  const { edgeUrl, token, live, common, log } = e;
  log(`(c) ${n} new arrivals asking /admit at once`);
  await setAdmissionLimits(edgeUrl, token, { maxListeners: 100_000_000, joinsPerSec: 10_000_000 });
  const cpu = cpuSampler(e.edgePid);
  let servedAt = 0;
  let t0 = 0;
  const burst = await runRehearsal({
    ...common,
    space: live.id,
    profile: 'step',
    listeners: n,
    holdSeconds: 0,
    pageData: false,
    play: false,
    renew: false,
    onReady: async (ctl) => {
      t0 = ctl.t0;
      servedAt = Date.now(); // up to a tick (1 s) late: the edge is idle then, its CPU barely moves
    },
  });
  cpu.stop();
  const windowS = (servedAt - t0) / 1000;
  const edgeCpuS = cpu.at(servedAt) - cpu.at(t0);
  const out = {
    admitted: burst.admitted,
    errors: burst.errors,
    window_s: Math.round(windowS * 100) / 100,
    edge_cpu_s: Math.round(edgeCpuS * 100) / 100,
    admissions_per_s: Math.round(burst.admitted / windowS),
    admissions_per_s_per_core: Math.round(burst.admitted / edgeCpuS),
    client_cpu_s: burst.client.cpu_seconds,
  };
  log(`admissions: ${JSON.stringify(out)}`);
  return out;
}
