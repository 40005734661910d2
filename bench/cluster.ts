/**
 * Several origins at scale (issue 8): `npm run bench:cluster -- [--spaces 100] [--json]`.
 *
 * A real PostgreSQL and Redis (started here, from the Debian packages), two `tribune origin`
 * processes sharing them and one data dir, three `tribune edge` processes in front of both origins
 * (each lists them in a different order, so their live reports reach different origins). Half of
 * the Spaces are created through each origin (the origin that starts a Space runs it). Every Space
 * gets one LL-HLS player (its media really flows) and 1-5 counted listeners (live-state polls with a
 * listener id, as the web page sends), spread over the three edges.
 *
 * Prints: Spaces per origin, each origin's CPU (its process and its media engines, from /proc, over
 * a 10 s window) and memory, whether every Space's count is exact through every edge and through
 * both origins' lists, and how long that took to settle. The Spaces have no speakers (100 WebRTC
 * speakers would dwarf the origins on this 2-core machine); each still mixes and encodes every 20 ms.
 * Everything on 127.0.0.1; bounded (--timeout-seconds, default 300); every child killed on exit.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { TribuneClient } from '../src/client/index.js';
import { pollState, type StatePoller } from '../test/support/listener-poll.js';
import { LlHlsListener } from '../test/support/llhls-client.js';
import { startPostgres } from '../test/support/postgres.js';
import { startRedis } from '../test/support/redis.js';
import { freePort, startTribune, type TribuneHandle } from '../test/support/server.js';

const { values: args } = parseArgs({
  options: {
    spaces: { type: 'string', default: '100' },
    json: { type: 'boolean', default: false },
    'timeout-seconds': { type: 'string', default: '300' },
  },
});
const SPACES = Number(args.spaces);
const watchdog = setTimeout(
  () => {
    console.error(`bench:cluster: over ${args['timeout-seconds']} s, giving up`);
    process.exit(2);
  },
  Number(args['timeout-seconds']) * 1000,
);
watchdog.unref();

const log = (s: string): void => {
  if (!args.json) console.log(s);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const CLK = 100; // USER_HZ

/** CPU seconds of a process and its children (the media engines), from /proc. */
function cpuSeconds(pid: number): number {
  const read = (p: number): number => {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) / CLK;
    } catch {
      return 0;
    }
  };
  let total = read(pid);
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid)
        total += read(Number(d));
    } catch {
      // gone
    }
  }
  return total;
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tribune-bench-cluster-'));
  const secret = randomBytes(32).toString('hex');
  const [db, redis] = await Promise.all([startPostgres(), startRedis()]);
  const procs: TribuneHandle[] = [];
  const players: LlHlsListener[] = [];
  const pollers: StatePoller[] = [];
  try {
    const databaseUrl = await db.createDatabase('tribune');
    const [pa, pb, ...pe] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const urlOf = (p: number): string => `http://127.0.0.1:${p}`;
    const originEnv = (port: number, id: string): Record<string, string> => ({
      PORT: String(port),
      TRIBUNE_DATABASE_URL: databaseUrl,
      TRIBUNE_REDIS_URL: redis.url,
      TRIBUNE_SELF_URL: urlOf(port),
      TRIBUNE_ORIGIN_ID: id,
      TRIBUNE_TOKEN_SECRET: secret,
      TRIBUNE_PUBLIC_EDGE_URL: urlOf(pe[0]),
      TRIBUNE_CREATE_SPACE_PER_MINUTE: '100000',
      TRIBUNE_MEDIA_ENGINES: '1',
    });
    const origins = [
      await startTribune({ args: ['origin'], dataDir, env: originEnv(pa, 'origin-a') }),
      await startTribune({ args: ['origin'], dataDir, env: originEnv(pb, 'origin-b') }),
    ];
    procs.push(...origins);
    const [A, B] = origins.map((o) => o.url);
    const orders = [`${A},${B}`, `${B},${A}`, `${A},${B}`];
    const edges = await Promise.all(
      pe.map((port, i) =>
        startTribune({
          args: ['edge'],
          env: { PORT: String(port), TRIBUNE_TOKEN_SECRET: secret, TRIBUNE_ORIGIN_URL: orders[i] },
        }),
      ),
    );
    procs.push(...edges);
    log(
      `2 origins (${A}, ${B}), 3 edges, PostgreSQL + Redis: up in ${Math.round(performance.now() - started)} ms`,
    );

    // Half of the Spaces through each origin.
    const hosts = await Promise.all(
      origins.map(async (o, i) => {
        const c = new TribuneClient({ baseUrl: o.url, cookieJar: true });
        await c.signUp({
          handle: `benchhost${i}`,
          displayName: `Host ${i}`,
          password: 'correct horse battery',
        });
        return c;
      }),
    );
    const created = performance.now();
    const ids: string[] = [];
    for (let i = 0; i < SPACES; i++) ids.push((await hosts[i % 2].createSpace({ title: `Space ${i}` })).id);
    log(`${SPACES} live Spaces created in ${Math.round(performance.now() - created)} ms`);

    // One player per Space (media flows) and 1-5 counted listeners per Space over the edges.
    const expected = new Map<string, number>();
    let lid = 0;
    ids.forEach((id, i) => {
      const edge = edges[i % 3].url;
      players.push(new LlHlsListener({ masterUrl: `${edge}/hls/spaces/${id}/master.m3u8`, keepLog: true }));
      const n = 1 + (i % 5);
      expected.set(id, n);
      for (let k = 0; k < n; k++) {
        const e = edges[(i + k) % 3].url;
        pollers.push(
          pollState(
            e,
            { stateUrl: `/hls/spaces/${id}/state.json`, leaveUrl: `/hls/spaces/${id}/leave` },
            `bench${++lid}x${randomBytes(4).toString('hex')}`,
          ),
        );
      }
    });
    const listening = performance.now();
    await Promise.all(players.map((p) => p.started));

    // Exact counts: every Space through every edge (state.json) and in both origins' lists.
    const check = async (): Promise<{ viaEdges: number; viaOrigins: number }> => {
      let viaEdges = 0;
      for (const id of ids) {
        const docs = await Promise.all(
          edges.map(
            async (e) =>
              ((await (await fetch(`${e.url}/hls/spaces/${id}/state.json`)).json()) as { listeners: number })
                .listeners,
          ),
        );
        if (docs.every((n) => n === expected.get(id))) viaEdges++;
      }
      // Both origins' lists (the hosts' profile pages, paged): each origin runs only half of them.
      let viaOrigins = 0;
      for (const o of origins) {
        const anon = new TribuneClient({ baseUrl: o.url });
        for (const handle of ['benchhost0', 'benchhost1']) {
          let cursor: string | undefined;
          do {
            const page = await anon.userSpaces(handle, { state: 'live', cursor, limit: 50 });
            viaOrigins += page.spaces.filter((s) => s.live?.listeners === expected.get(s.id)).length;
            cursor = page.nextCursor ?? undefined;
          } while (cursor);
        }
      }
      return { viaEdges, viaOrigins };
    };
    let counts = { viaEdges: 0, viaOrigins: 0 };
    let exactAfterMs = NaN;
    while (performance.now() - listening < 30_000) {
      counts = await check();
      if (counts.viaEdges === SPACES && counts.viaOrigins === 2 * SPACES) {
        exactAfterMs = performance.now() - listening;
        break;
      }
      await sleep(500);
    }
    log(
      `counts exact: ${counts.viaEdges}/${SPACES} Spaces through all 3 edges, ` +
        `${counts.viaOrigins}/${2 * SPACES} in the two origins' lists` +
        (Number.isFinite(exactAfterMs)
          ? ` (settled ${Math.round(exactAfterMs)} ms after the listeners started)`
          : ''),
    );

    // Steady state: each origin's CPU over 10 s, Spaces per origin, parts delivered per player.
    const spacesOn = async (o: TribuneHandle): Promise<number> =>
      Number(/^tribune_live_spaces (\d+)$/m.exec(await (await fetch(`${o.url}/metrics`)).text())?.[1] ?? NaN);
    const cpu0 = origins.map((o) => cpuSeconds(o.pid));
    const edgeCpu0 = edges.map((e) => cpuSeconds(e.pid));
    const parts0 = players.map((p) => p.parts.length);
    const t0 = performance.now();
    await sleep(10_000);
    const sec = (performance.now() - t0) / 1000;
    const perOrigin = await Promise.all(
      origins.map(async (o, i) => ({
        origin: i === 0 ? 'origin-a' : 'origin-b',
        spaces: await spacesOn(o),
        cpuPercentOfOneCore: Math.round(((cpuSeconds(o.pid) - cpu0[i]) / sec) * 1000) / 10,
        rssMiB: rssMiB(o.pid),
      })),
    );
    const edgeCpu = edges.map((e, i) => Math.round(((cpuSeconds(e.pid) - edgeCpu0[i]) / sec) * 1000) / 10);
    const partsPerSec = players.map((p, i) => (p.parts.length - parts0[i]) / sec);
    const minParts = Math.min(...partsPerSec);
    const playerErrors = players.reduce((n, p) => n + p.errors.length, 0);
    for (const o of perOrigin)
      log(
        `${o.origin}: ${o.spaces} live Spaces, CPU ${o.cpuPercentOfOneCore}% of one core (process + media engine), RSS ${o.rssMiB} MiB`,
      );
    log(`edges: CPU ${edgeCpu.map((c) => `${c}%`).join(', ')} of one core`);
    log(
      `players: every Space delivering >= ${minParts.toFixed(1)} parts/s (5 expected), ${playerErrors} errors`,
    );
    const result = {
      spaces: SPACES,
      origins: perOrigin,
      edgeCpuPercentOfOneCore: edgeCpu,
      countsExactThroughEdges: counts.viaEdges,
      countsExactInOriginLists: counts.viaOrigins,
      countsSettledMs: Number.isFinite(exactAfterMs) ? Math.round(exactAfterMs) : null,
      listeners: pollers.length,
      minPartsPerSecond: Math.round(minParts * 10) / 10,
      playerErrors,
    };
    if (args.json) console.log(JSON.stringify(result, null, 2));
    if (counts.viaEdges !== SPACES || counts.viaOrigins !== 2 * SPACES || minParts < 4) process.exitCode = 1;
  } finally {
    await Promise.all(players.map((p) => p.stop()));
    await Promise.all(pollers.map((p) => p.stop().catch(() => undefined)));
    await Promise.all(procs.map((p) => p.stop()));
    await Promise.all([redis.stop(), db.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
