/**
 * What nginx and Varnish in front of an edge must show, run against each from its shipped config
 * (test/integration/proxy-nginx.test.ts, proxy-varnish.test.ts): a Space plays through it;
 * identical concurrent requests (blocking playlist reloads included) cost the edge one request;
 * parts stay cached, live playlists about a second, keyed without lid/token/admission; a Space
 * that requires sign-in is never stored; state.json, admit, POSTs and stream.mp4 pass through
 * and the edge sees each listener's address. Counts come from the edge's /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlHlsListener } from './llhls-client.js';
import type { ProxyHandle } from './proxies.js';
import {
  blockingReloadCrowd,
  expiredPlaylistCrowd,
  N,
  tooEarlyThenCrowd,
  verdicts,
} from './proxy-scenarios.js';
import {
  Client,
  edgeCounts,
  edgeRequestsDuring,
  fetched,
  lagsAfterFirst,
  livePlaylist,
  nextPart,
  pct,
  startStack,
  STREAMS_PER_ADDRESS,
  TONE_HZ,
  type Got,
  type Stack,
} from './proxy-stack.js';
import { scrapeMetrics } from './server.js';
import { concatPcm, hasTone } from './spectrum.js';
import { StreamClient } from './stream-client.js';
import { waitFor } from './wait.js';

export interface ProxySuiteOptions {
  name: 'nginx' | 'varnish';
  start(edgePort: number): Promise<ProxyHandle>;
  /** X-Proxy-Cache of an answer the proxy was told not to cache (pass-through). */
  passed: string[];
  /** Upper bound of a collapsed blocking reload's waiters' lag behind the first answer (ms). */
  waiterLagMaxMs: number;
  /** Whether the proxy counts Age itself on a hit (Varnish) or repeats the edge's (nginx). */
  countsAge: boolean;
  /** More checks with the same stack and proxy. */
  more?: (ctx: () => { stack: Stack; proxy: ProxyHandle; client: Client }) => void;
}

/** LL-HLS players through the proxy in the playback check. */
const PLAYERS = 4;
/** X-Proxy-Cache of an answer fetched for the request. */
const FETCHED = expect.stringMatching(/^(?:MISS|EXPIRED)$/);
const fmt = (xs: number[]): string => `p50 ${pct(xs, 50).toFixed(0)} / max ${Math.max(...xs).toFixed(0)} ms`;

export function proxySuite(o: ProxySuiteOptions): void {
  describe(`${o.name} in front of an edge (deploy/ config)`, () => {
    let s: Stack;
    let proxy: ProxyHandle;
    const client = new Client();
    const hls = (id: string, file: string): string => `${proxy.url}/hls/spaces/${id}/${file}`;

    beforeAll(async () => {
      s = await startStack();
      proxy = await o.start(s.edge.port);
    }, 60_000);

    afterAll(async () => {
      client.close();
      await proxy?.stop();
      await s?.stop();
    });

    it('plays a Space through it: LL-HLS players miss no part, stream.mp4 unbuffered', async () => {
      // PLAYERS players through the proxy (their requests collapse there), one straight to the edge.
      const pcm: Int16Array[] = [];
      const players = Array.from(
        { length: PLAYERS },
        (_, i) =>
          new LlHlsListener({
            masterUrl: hls(s.space.id, 'master.m3u8'),
            onPcm: i ? undefined : (p) => pcm.push(p),
          }),
      );
      const direct = new LlHlsListener({ masterUrl: `${s.edge.url}/hls/spaces/${s.space.id}/master.m3u8` });
      const stream = new StreamClient({
        url: hls(s.space.id, 'stream.mp4?lid=proxy-listener-01'),
        keepBytes: false,
      });
      try {
        expect(await stream.started).toBe(200);
        expect(stream.headers['content-type']).toBe('audio/mp4');
        expect(stream.headers['cache-control']).toBe('no-store');
        expect(stream.headers['x-proxy-cache']).toBeUndefined();
        await waitFor(
          '25 parts for every player and 15 stream fragments',
          () => {
            for (const p of [...players, direct]) if (p.errors.length) throw p.errors[0];
            return [...players, direct].every((p) => p.parts.length >= 25) && stream.fragments.length >= 15;
          },
          { timeoutMs: 20_000 },
        );
      } finally {
        await Promise.all([...players, direct].map((p) => p.stop()));
        stream.close();
      }
      for (const p of players) {
        expect(p.errors).toEqual([]);
        expect(p.missedParts).toBe(0);
      }
      expect(hasTone(concatPcm(pcm), TONE_HZ)).toBe(true);
      expect(stream.missing()).toBe(0);
      // Buffered, 4 KB at a time, a 5 KB/s stream would arrive in lumps seconds apart.
      expect(stream.maxGapMs()).toBeLessThan(1000);
      // How much later each part reached a player through the proxy than the one on the edge.
      const seen = new Map(direct.parts.map((a) => [a.id, a.arrivedAtMs]));
      const late = players
        .flatMap((p) => p.parts.slice(3).map((a) => a.arrivedAtMs - (seen.get(a.id) ?? NaN)))
        .filter(Number.isFinite)
        .sort((a, b) => a - b);
      expect(late.length).toBeGreaterThan(PLAYERS * 15);
      console.log(
        `${o.name}: ${PLAYERS} LL-HLS players through it got each part later than one on the edge by ${fmt(late)} (p90 ${pct(late, 90).toFixed(0)} ms, ${late.length} parts); ` +
          `stream: ${stream.fragments.length} fragments, max gap ${stream.maxGapMs().toFixed(0)} ms`,
      );
      expect(pct(late, 50)).toBeLessThan(o.waiterLagMaxMs);
    });

    it(`collapses ${N} identical requests into one edge request: blocking reloads, the hinted part`, async () => {
      const id = s.space.id;
      // Three crowds of blocking reloads through the proxy, each listener with its own lid,
      // arriving over 300 ms before the part exists; and the same straight to the edge.
      const lags = { proxy: [] as number[], edge: [] as number[] };
      for (let round = 0; round < 3; round++) {
        for (const via of ['proxy', 'edge'] as const) {
          const c = await blockingReloadCrowd(
            s,
            via === 'proxy' ? proxy.url : s.edge.url,
            client,
            300,
            `r${round}${via}`,
          );
          expect(c.edgeRequests).toBe(via === 'proxy' ? 1 : N);
          if (via === 'proxy') {
            expect(c.answers.filter(fetched)).toHaveLength(1);
            expect(c.answers.filter((g) => g.cache === 'HIT')).toHaveLength(N - 1);
          }
          lags[via].push(...c.lags);
        }
      }
      // The part the playlist hints at, by N at once (the last crowd went straight to the edge).
      const hint = (await livePlaylist(s, id)).preloadHint!;
      const parts = await edgeRequestsDuring(s.edge, () =>
        client.burst(Array.from({ length: N }, () => hls(id, `part/${hint.msn}.${hint.part}.m4s`))),
      );
      expect(parts.edgeRequests).toBe(1);
      expect(parts.result.every((g) => g.status === 200 && g.body.equals(parts.result[0]!.body))).toBe(true);
      expect(parts.result.filter(fetched)).toHaveLength(1);

      lags.proxy.sort((a, b) => a - b);
      lags.edge.sort((a, b) => a - b);
      console.log(
        `${o.name}: 3 x ${N} blocking reloads arriving over 300 ms -> 1 edge request each; answers lag the first ` +
          `through ${o.name}: ${fmt(lags.proxy)}; straight to the edge: ${fmt(lags.edge)}; ${N} requests for the hinted part -> 1 edge request`,
      );
      expect(Math.max(...lags.proxy)).toBeLessThan(o.waiterLagMaxMs);
      expect(pct(lags.edge, 50)).toBeLessThan(100);
    });

    it('keeps parts and segments, live playlists about 1 s; lid, token and admission are not in the key', async () => {
      const id = s.space.id;
      // admit: a place per listener, never cached.
      const admits = await edgeRequestsDuring(s.edge, () =>
        Promise.all([client.get(hls(id, 'admit')), client.get(hls(id, 'admit'))]),
      );
      expect(admits.edgeRequests).toBe(2);
      const [a1, a2] = admits.result.map((g) => {
        expect(g.status).toBe(200);
        expect(g.headers['cache-control']).toBe('no-store');
        expect(o.passed).toContain(g.cache);
        return g.json<{ admitted: boolean; admission: string }>();
      });
      expect(a1!.admitted).toBe(true);
      expect(a1!.admission).not.toBe(a2!.admission);
      const admission = encodeURIComponent(a1!.admission);

      const pl = await livePlaylist(s, id);
      const seg = pl.segments.at(-1)!;
      const last = pl.parts.at(-1)!;
      const reload = `audio.m3u8?_HLS_msn=${last.msn}&_HLS_part=${last.part}`;
      const cached = await edgeRequestsDuring(s.edge, async () => [
        await client.get(hls(id, seg.uri)),
        await client.get(hls(id, `${seg.uri}?lid=listener-0001&admission=${admission}`)),
        // A signed-in user's page sends its session cookie with every request: still a hit.
        await client.get(hls(id, seg.uri), {
          headers: { 'x-tribune-admission': a1!.admission, cookie: 'tribune_session=s3cr3t; tribune_csrf=c' },
        }),
        await client.get(hls(id, reload)),
        await client.get(hls(id, `audio.m3u8?_HLS_msn=${seg.msn}`)),
        await client.get(
          hls(id, `audio.m3u8?lid=listener-0002&${reload.split('?')[1]}&admission=${admission}`),
        ),
      ]);
      const [s1, s2, s3, r1, r2, r3] = cached.result;
      expect(cached.result.map((g) => g.status)).toEqual([200, 200, 200, 200, 200, 200]);
      expect(s1!.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect([s1!.cache, s2!.cache, s3!.cache]).toEqual([FETCHED, 'HIT', 'HIT']);
      expect(s2!.body.equals(s1!.body) && s3!.body.equals(s1!.body)).toBe(true);
      // _HLS_msn / _HLS_part are: two reloads, two objects; the first again (other lid) is a hit.
      expect([r1!.cache, r2!.cache, r3!.cache]).toEqual([FETCHED, FETCHED, 'HIT']);
      expect(r3!.body.equals(r1!.body)).toBe(true);
      expect(cached.edgeRequests).toBe(3);

      // The live playlist (max-age=1): hits until it expires, then fetched again.
      const fill = await client.get(hls(id, 'audio.m3u8'));
      expect(fill.headers['cache-control']).toBe('public, max-age=1');
      let refreshed: Got | undefined;
      let hits = 0;
      await waitFor(
        'the live playlist to expire in the proxy',
        async () => {
          refreshed = await client.get(hls(id, 'audio.m3u8?lid=listener-0003'));
          if (refreshed.cache === 'HIT') hits++;
          return refreshed.cache !== 'HIT';
        },
        { timeoutMs: 5000, intervalMs: 25 },
      );
      const ttlMs = refreshed!.at - fill.at;
      expect(fetched(refreshed!)).toBe(true);
      expect(hits).toBeGreaterThan(5);
      // nginx keeps expiry times in whole seconds: max-age=1 lasts 1-2 s there.
      expect(ttlMs).toBeGreaterThan(900);
      expect(ttlMs).toBeLessThan(2300);
      // The segment is still there (immutable); Age tells how long it has been.
      const again = await client.get(hls(id, seg.uri));
      expect(again.cache).toBe('HIT');
      expect(again.headers.age).toBeDefined(); // NaN would equal NaN below
      const age = Number(again.headers.age);
      if (o.countsAge) expect(age).toBeGreaterThanOrEqual(1);
      else expect(age).toBe(Number(s1!.headers.age));

      // An expired playlist asked by a crowd at once: one edge request (nginx needs
      // `proxy_cache_use_stale updating` for this: its lock does not cover expired entries).
      const crowd = await expiredPlaylistCrowd(s, proxy.url, client);
      expect(crowd.answers.filter(fetched)).toHaveLength(1);
      expect(crowd.edgeRequests).toBe(1);
      console.log(
        `${o.name}: live playlist (max-age=1) served from cache for ${ttlMs.toFixed(0)} ms (${hits} hits); segment Age on a hit ${age} s; ` +
          `${N} requests for the expired playlist -> ${crowd.edgeRequests} edge request (${verdicts(crowd.answers)})`,
      );
    });

    it('never stores a Space that requires sign-in', async () => {
      const url = hls(s.closed.id, 'master.m3u8');
      const before = await edgeCounts(s.edge);
      const signed = await client.get(url, { headers: { 'x-tribune-listen-token': s.closedToken } });
      expect(signed.status).toBe(200);
      expect(signed.headers['cache-control']).toMatch(/^private\b/);
      expect(fetched(signed) || o.passed.includes(signed.cache)).toBe(true);
      const anon = await client.get(url);
      expect(anon.status).toBe(401);
      expect(anon.json()).toMatchObject({ error: { code: 'LISTEN_TOKEN_REQUIRED' } });
      expect(anon.cache).not.toBe('HIT');
      const signedQuery = await client.get(`${url}?token=${encodeURIComponent(s.closedToken)}`);
      expect(signedQuery.status).toBe(200);
      // A crowd of anonymous requests: every one refused by the edge, none from the cache.
      const t0 = performance.now();
      const crowd = await client.burst(Array.from({ length: 6 }, () => url));
      const crowdMs = Math.max(...crowd.map((g) => g.at)) - t0;
      expect(crowd.map((g) => g.status)).toEqual(Array(6).fill(401));
      const after = await edgeCounts(s.edge);
      expect(after.requests - before.requests).toBe(9);
      expect(after.unauthorized - before.unauthorized).toBe(7);

      // Signed blocking reloads are per listener: each reaches the edge (which collapses them),
      // none waits behind another in the proxy.
      const t = nextPart((await livePlaylist(s, s.closed.id)).preloadHint!);
      const reloads = await edgeRequestsDuring(s.edge, () =>
        client.burst(
          Array.from({ length: 10 }, () =>
            hls(s.closed.id, `audio.m3u8?_HLS_msn=${t.msn}&_HLS_part=${t.part}`),
          ),
          { headers: { 'x-tribune-listen-token': s.closedToken } },
        ),
      );
      expect(reloads.result.map((g) => g.status)).toEqual(Array(10).fill(200));
      expect(reloads.result.every((g) => /^private\b/.test(String(g.headers['cache-control'])))).toBe(true);
      expect(reloads.edgeRequests).toBe(10);
      console.log(
        `${o.name}: sign-in Space: 9 requests -> 9 edge requests, 7 refused; 6 concurrent refused (uncacheable) requests all answered after ${crowdMs.toFixed(0)} ms; ` +
          `10 signed blocking reloads -> 10 edge requests, spread ${fmt(lagsAfterFirst(reloads.result))}`,
      );
    });

    it('passes state.json, admit, POSTs and stream.mp4 through; the edge sees each listener address', async () => {
      const id = s.space.id;
      const polls = await edgeRequestsDuring(s.edge, () =>
        Promise.all(
          ['poll-listener-a', 'poll-listener-b'].map((lid) => client.get(hls(id, `state.json?lid=${lid}`))),
        ),
      );
      expect(polls.edgeRequests).toBe(2);
      for (const g of polls.result) {
        expect(g.status).toBe(200);
        expect(o.passed).toContain(g.cache);
      }
      const reaction = await client.get(hls(id, 'reactions'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ emoji: '👏', lid: 'poll-listener-a' }),
      });
      expect(reaction.status).toBe(202);

      // The edge allows STREAMS_PER_ADDRESS streams per listener address, read from X-Forwarded-For.
      const open = (from: string, headers?: Record<string, string>) =>
        new StreamClient({ url: hls(id, 'stream.mp4'), localAddress: from, headers, keepBytes: false });
      const mine = Array.from({ length: STREAMS_PER_ADDRESS }, () => open('127.0.0.2'));
      const streams = [...mine, open('127.0.0.3')];
      try {
        expect(await Promise.all(streams.map((c) => c.started))).toEqual(Array(streams.length).fill(200));
        // One more from the same listener, claiming another address: refused all the same.
        const spoofed = open('127.0.0.2', { 'x-forwarded-for': '198.51.100.7' });
        streams.push(spoofed);
        expect(await spoofed.started).toBe(429);
        await spoofed.done;
        expect(JSON.parse(spoofed.errorBody)).toMatchObject({ error: { code: 'RATE_LIMITED' } });
        await waitFor('the streams at the edge', async () => {
          const m = await scrapeMetrics(s.edge.url);
          return m.get('tribune_edge_stream_listeners') === STREAMS_PER_ADDRESS + 1;
        });
      } finally {
        streams.forEach((c) => c.close());
      }
    });

    it('collapses a blocking reload again once valid after a refusal as too early (400, never stored)', async () => {
      const { answers, edgeRequests } = await tooEarlyThenCrowd(s, proxy.url, client);
      expect(answers.filter(fetched)).toHaveLength(1);
      expect(edgeRequests).toBe(1);
      console.log(
        `${o.name}: blocking reload refused 400 as too early, then asked by ${N} at once -> ${edgeRequests} edge request (${verdicts(answers)})`,
      );
    });

    o.more?.(() => ({ stack: s, proxy, client }));
  });
}
