/**
 * Live-state fan-out benchmark: `npm run bench:live [-- --listeners N] [--json]`
 *
 * One origin and one standalone edge process (as deployed at scale). N listeners long-poll the
 * Space's state document through the edge, each with its own lid, while reactions arrive. Prints:
 *  - how many listener requests the edge answered per origin fetch (request collapsing);
 *  - edge CPU-seconds per second per 1,000 listeners;
 *  - the listener count the origin publishes vs N (accuracy) and how long 10% more listeners take
 *    to show in it (freshness);
 *  - reaction latency: POST to the edge until the reaction is in a listener's document, p50/p95.
 * Everything on 127.0.0.1; both servers are stopped at the end.
 */
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { LiveDoc } from '../src/live/types.js';
import { createSpace, scrapeMetrics, startTribune, type TribuneHandle } from '../test/support/server.js';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    listeners: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '20' },
  },
});
const N = Math.max(10, Number(args.listeners));
const SECONDS = Math.max(5, Number(args.seconds));
const SECRET = 'bench-live-secret';
const log = (...a: unknown[]) => console.error('[bench:live]', ...a);

const cpuSeconds = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, clock ticks of 10 ms
};
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

async function main(): Promise<void> {
  const servers: TribuneHandle[] = [];
  const stop = new AbortController();
  setMaxListeners(0, stop.signal); // every poller's fetch listens on it
  try {
    const origin = await startTribune({ env: { TRIBUNE_TOKEN_SECRET: SECRET } });
    servers.push(origin);
    const edge = await startTribune({
      args: ['edge', '--origin', origin.url],
      env: { TRIBUNE_TOKEN_SECRET: SECRET, TRIBUNE_ORIGIN_URL: origin.url },
    });
    servers.push(edge);
    const space = await createSpace(origin.url, 'bench live');
    const stateUrl = `${edge.url}/hls/spaces/${space.id}/state.json`;

    let latest: LiveDoc | undefined;
    const reactionSeen: { t: number; seq: number }[] = [];
    let answered = 0;
    const poller = async (lid: string): Promise<void> => {
      let v: number | undefined;
      while (!stop.signal.aborted) {
        try {
          const res = await fetch(`${stateUrl}?lid=${lid}${v === undefined ? '' : `&v=${v}`}`, {
            signal: stop.signal,
          });
          if (!res.ok) {
            await res.arrayBuffer();
            continue;
          }
          const doc = (await res.json()) as LiveDoc;
          answered++;
          v = doc.v;
          if (!latest || doc.v > latest.v) {
            if (latest && doc.reactions.seq > latest.reactions.seq)
              reactionSeen.push({ t: performance.now(), seq: doc.reactions.seq });
            latest = doc;
          }
        } catch {
          return;
        }
      }
    };
    const start = (from: number, count: number) => {
      for (let i = from; i < from + count; i++) void poller(`bench-listener-${i}`);
    };

    log(`${N} listeners polling through the edge`);
    start(0, N);
    const t0 = performance.now();
    while (latest?.listeners !== N) {
      if (performance.now() - t0 > 30_000) throw new Error(`count stuck at ${latest?.listeners}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const firstCountMs = performance.now() - t0;

    // Steady state: measure edge CPU and request collapsing while reactions arrive.
    const m0 = await scrapeMetrics(edge.url);
    const cpu0 = cpuSeconds(edge.pid);
    const w0 = performance.now();
    const answered0 = answered;
    const reactionLatency: number[] = [];
    let deadline = w0 + SECONDS * 1000;
    while (performance.now() < deadline) {
      const seq = latest!.reactions.seq;
      const sent = performance.now();
      const res = await fetch(`${edge.url}/hls/spaces/${space.id}/reactions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ emoji: '👏', lid: 'bench-reactor' }),
      });
      await res.arrayBuffer();
      while (!reactionSeen.some((r) => r.seq > seq && r.t >= sent) && performance.now() < sent + 10_000)
        await new Promise((r) => setTimeout(r, 10));
      const seen = reactionSeen.find((r) => r.seq > seq && r.t >= sent);
      if (seen) reactionLatency.push(seen.t - sent);
      await new Promise((r) => setTimeout(r, 1500)); // a fresh reaction window each time
    }
    const wallS = (performance.now() - w0) / 1000;
    const cpu = cpuSeconds(edge.pid) - cpu0;
    const m1 = await scrapeMetrics(edge.url);
    const d = (k: string) => (m1.get(k) ?? 0) - (m0.get(k) ?? 0);
    const requests = d('tribune_edge_requests_total');
    const originFetches = d('tribune_edge_cache_misses_total');

    // Freshness: 10% more listeners join; how long until the published count has them all.
    const extra = Math.ceil(N / 10);
    const j0 = performance.now();
    start(N, extra);
    deadline = j0 + 30_000;
    while (latest!.listeners !== N + extra && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const joinMs = performance.now() - j0;
    const finalCount = latest!.listeners;

    const result = {
      listeners: N,
      seconds: Math.round(wallS),
      answers_per_origin_fetch: Math.round(requests / Math.max(1, originFetches)),
      listener_answers_per_s: Math.round((answered - answered0) / wallS),
      edge_cpu_s_per_s_per_1000_listeners: Number(((cpu / wallS) * (1000 / N)).toFixed(3)),
      count: {
        expected: N + extra,
        published: finalCount,
        first_full_count_ms: Math.round(firstCountMs),
        join_10pct_ms: Math.round(joinMs),
      },
      reaction_latency_ms: {
        p50: Math.round(pct(reactionLatency, 50)),
        p95: Math.round(pct(reactionLatency, 95)),
        n: reactionLatency.length,
      },
    };
    console.log(`listeners long-polling through one edge      ${N}`);
    console.log(
      `edge answers per origin fetch                 ${result.answers_per_origin_fetch} (${requests} answers, ${originFetches} origin fetches in ${result.seconds} s)`,
    );
    console.log(
      `edge CPU per 1,000 listeners                  ${result.edge_cpu_s_per_s_per_1000_listeners} CPU-s/s`,
    );
    console.log(`published count vs listeners                  ${finalCount} / ${N + extra}`);
    console.log(
      `count: all ${N} in ${result.count.first_full_count_ms} ms; +10% in ${result.count.join_10pct_ms} ms`,
    );
    console.log(
      `reaction latency (POST to listener's doc)     p50 ${result.reaction_latency_ms.p50} ms, p95 ${result.reaction_latency_ms.p95} ms (n=${reactionLatency.length})`,
    );
    if (args.json) console.log(JSON.stringify(result));
  } finally {
    stop.abort();
    for (const s of servers.reverse()) await s.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
