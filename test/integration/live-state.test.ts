/**
 * Live state end to end over real HTTP: a minimal origin (LiveHub + liveOriginRoutes + a stub
 * playlist and clip) on 127.0.0.1:0, and a real standalone edge (createEdgeServer) in front of it.
 */
import http from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFilesLimit } from '../../src/edge/limits.js';
import { createEdgeServer, type EdgeServer } from '../../src/edge/server.js';
import { LiveHub } from '../../src/live/hub.js';
import { liveOriginRoutes } from '../../src/live/origin-routes.js';
import { deriveEdgeSecret, signReport } from '../../src/live/signature.js';
import { EDGE_SIGNATURE_HEADER, type LiveDoc, type ReactionCounts } from '../../src/live/types.js';
import { TokenSigner } from '../../src/origin/tokens.js';
import { waitFor } from '../support/wait.js';

const TOKEN_SECRET = Buffer.from('live-state-integration-secret');
const REPORT_INTERVAL_MS = 200;
const N = 500;

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json<T = unknown>(): T;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: N + 100 });

function request(
  base: string,
  path: string,
  opts: { method?: string; body?: string; headers?: Record<string, string>; localAddress?: string } = {},
): Promise<Got> {
  const u = new URL(base);
  return new Promise<Got>((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        // A different source address is a different client for the edge (no shared keep-alive).
        ...(opts.localAddress ? { localAddress: opts.localAddress, agent: false } : { agent }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: <T>() => JSON.parse(body.toString()) as T,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const postJson = (base: string, path: string, body: unknown, extra: Parameters<typeof request>[2] = {}) =>
  request(base, path, {
    method: 'POST',
    body: JSON.stringify(body),
    ...extra,
    headers: { 'content-type': 'application/json', ...extra.headers },
  });

const lidFor = (i: number) => `listener-${String(i).padStart(6, '0')}`;
const errorCode = (r: Got) => r.json<{ error: { code: string } }>().error.code;

describe('live state through a real edge', () => {
  const hub = new LiveHub({ holdMs: 20_000 });
  const signedIn = new Set<string>(['private1']);
  const originCounts = new Map<string, number>();
  const originCount = (url: string) => originCounts.get(url) ?? 0;
  /** Origin requests other than the edge's own reports. */
  const originNonReport = () =>
    [...originCounts].filter(([k]) => k !== '/origin/live/report').reduce((a, [, n]) => a + n, 0);
  const tokens = new TokenSigner(TOKEN_SECRET);
  let origin: FastifyInstance;
  let originUrl = '';
  let edge: EdgeServer;
  let edgeUrl = '';
  /** Sum of every published reaction window, per Space (a batch may span windows). */
  const reactionTotals = new Map<string, ReactionCounts>();
  const lastSeq = new Map<string, number>();

  beforeAll(async () => {
    const limit = openFilesLimit() ?? Infinity;
    if (limit < 4096)
      throw new Error(`open-files limit ${limit} < 4096: run through \`npm test\`, which raises it`);
    hub.on('doc', (id, doc: LiveDoc) => {
      if (doc.reactions.seq <= (lastSeq.get(id) ?? 0)) return;
      lastSeq.set(id, doc.reactions.seq);
      const total = reactionTotals.get(id) ?? {};
      for (const [e, n] of Object.entries(doc.reactions.counts) as Array<[keyof ReactionCounts, number]>)
        total[e] = (total[e] ?? 0) + n;
      reactionTotals.set(id, total);
    });
    for (const id of ['crowd', 'other', 'private1', 'private2'])
      hub.open(id, { state: 'live', title: `Space ${id}`, speakers: [] });

    origin = Fastify({ ajv: { customOptions: { removeAdditional: false } } });
    origin.addHook('onRequest', async (req) => {
      originCounts.set(req.url, originCount(req.url) + 1);
    });
    const accessFor = (id: string) => (signedIn.has(id) ? 'signed-in' : 'public');
    await origin.register(liveOriginRoutes({ hub, edgeSecret: deriveEdgeSecret(TOKEN_SECRET), accessFor }), {
      prefix: '/origin',
    });
    origin.get('/origin/spaces/:id/audio.m3u8', async (req, reply) => {
      const { id } = req.params as { id: string };
      if (!hub.has(id)) return reply.code(404).send({ error: { code: 'SPACE_NOT_FOUND', message: 'no' } });
      if (accessFor(id) === 'signed-in') reply.header('x-tribune-access', 'signed-in');
      return reply
        .header('content-type', 'application/vnd.apple.mpegurl')
        .header('cache-control', 'public, max-age=30')
        .send(`#EXTM3U\n# ${id}\n`);
    });
    origin.get('/origin/clips/:clipId/clip.m3u8', async (req, reply) =>
      reply
        .header('content-type', 'application/vnd.apple.mpegurl')
        .header('cache-control', 'public, max-age=60')
        .send(`#EXTM3U\n# clip ${(req.params as { clipId: string }).clipId}\n#EXT-X-ENDLIST\n`),
    );
    originUrl = await origin.listen({ port: 0, host: '127.0.0.1' });

    edge = createEdgeServer({
      originUrl,
      cacheBytes: 16 << 20,
      originTimeoutMs: 30_000,
      tokenSecret: TOKEN_SECRET,
      // A long listener window: the counts below must not expire while the test looks at them.
      live: { reportIntervalMs: REPORT_INTERVAL_MS, listenerWindowMs: 120_000 },
    });
    edgeUrl = await edge.listen({ port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    agent.destroy();
    await edge?.close();
    hub.dispose();
    await origin?.close();
  });

  it('(a) 500 long-polls with distinct lids cost the origin one state request; all get the new doc', async () => {
    const v = hub.doc('crowd').v;
    const originPath = `/origin/spaces/crowd/state.json?v=${v}`;
    const before = edge.edge.cache.stats().collapsed;
    const polls = Array.from({ length: N }, (_, i) =>
      request(edgeUrl, `/hls/spaces/crowd/state.json?v=${v}&lid=${lidFor(i)}`),
    );
    for (const p of polls) p.catch(() => undefined);
    await waitFor('the one origin poll to park in the hub', () => hub.waiterCount('crowd') === 1);
    await waitFor('every poll to join it', () => edge.edge.cache.stats().collapsed - before === N - 1, {
      timeoutMs: 20_000,
      intervalMs: 5,
    });
    expect(originCount(originPath)).toBe(1);
    hub.update('crowd', { title: 'Now with news' });
    const res = await Promise.all(polls);
    expect(originCount(originPath)).toBe(1);
    for (const r of res) {
      expect(r.status).toBe(200);
      expect(r.headers['cache-control']).toBe('public, max-age=1');
      expect(r.body.equals(res[0].body)).toBe(true);
    }
    expect(res[0].json<LiveDoc>()).toMatchObject({ v: v + 1, spaceId: 'crowd', title: 'Now with news' });
    const xc = res.map((r) => r.headers['x-cache']);
    expect(xc.filter((x) => x === 'MISS')).toHaveLength(1);
    expect(xc.filter((x) => x === 'COLLAPSED')).toHaveLength(N - 1);
  });

  it('(b) the doc counts those 500 listeners exactly, and 300 once 200 of them left', async () => {
    await waitFor('500 listeners in the doc', () => hub.doc('crowd').listeners === N, { timeoutMs: 10_000 });
    expect(hub.listeners('crowd')).toBe(N);
    // Half leave like navigator.sendBeacon (text/plain), half with fetch (application/json).
    const leaves = Array.from({ length: 200 }, (_, i) =>
      request(edgeUrl, '/hls/spaces/crowd/leave', {
        method: 'POST',
        body: JSON.stringify({ lid: lidFor(i) }),
        headers: { 'content-type': i % 2 ? 'text/plain;charset=UTF-8' : 'application/json' },
      }),
    );
    for (const r of await Promise.all(leaves)) expect(r.status).toBe(204);
    await waitFor('300 listeners in the doc', () => hub.doc('crowd').listeners === 300, {
      timeoutMs: 10_000,
    });
    // ...and the players see it through the edge.
    const seen = await waitFor('the edge to serve the new count', async () => {
      const r = await request(edgeUrl, '/hls/spaces/crowd/state.json');
      return r.json<LiveDoc>().listeners === 300 ? r : undefined;
    });
    expect(seen.status).toBe(200);
    const metrics = (await request(edgeUrl, '/metrics')).body.toString();
    expect(metrics).toMatch(/^tribune_edge_listeners 300$/m);
    expect(Number(/^tribune_edge_reports_sent_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
  });

  it('(c) reactions from several lids add up in the doc; unknown emoji 400; a flood 429 only for its Space', async () => {
    const sent = [
      ['👏', 0],
      ['👏', 1],
      ['🔥', 2],
      ['👏', 3],
      ['❤️', 4],
      ['🔥', 5],
    ] as const;
    for (const [emoji, i] of sent) {
      const r = await postJson(edgeUrl, '/hls/spaces/crowd/reactions', { emoji, lid: lidFor(300 + i) });
      expect(r.status).toBe(202);
      expect(r.json()).toEqual({ accepted: true });
      expect(r.headers['access-control-allow-origin']).toBe('*');
    }
    await waitFor('the reactions in the doc', () => {
      const t = reactionTotals.get('crowd');
      return t?.['👏'] === 3 && t['🔥'] === 2 && t['❤️'] === 1;
    });
    expect(reactionTotals.get('crowd')).toEqual({ '👏': 3, '🔥': 2, '❤️': 1 });

    const unknown = await postJson(edgeUrl, '/hls/spaces/crowd/reactions', { emoji: '💩' });
    expect(unknown.status).toBe(400);
    expect(errorCode(unknown)).toBe('UNKNOWN_EMOJI');

    // 10 per 5 s per address and Space: of a flood of 25, at least 15 are refused (6 were spent above).
    const flood = await Promise.all(
      Array.from({ length: 25 }, () => postJson(edgeUrl, '/hls/spaces/crowd/reactions', { emoji: '🎉' })),
    );
    const limited = flood.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(15);
    expect(flood.filter((r) => r.status === 202).length).toBe(25 - limited.length);
    expect(errorCode(limited[0])).toBe('RATE_LIMITED');
    expect(Number(limited[0].headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited[0].headers['retry-after'])).toBeLessThanOrEqual(5);
    // Another Space from the same address, and the same Space from another address, still work.
    const other = await postJson(edgeUrl, '/hls/spaces/other/reactions', { emoji: '💯' });
    expect(other.status).toBe(202);
    const otherClient = await postJson(
      edgeUrl,
      '/hls/spaces/crowd/reactions',
      { emoji: '🤔' },
      { localAddress: '127.0.0.2' },
    );
    expect(otherClient.status).toBe(202);
    await waitFor('the other Space’s reaction in its doc', () => reactionTotals.get('other')?.['💯'] === 1);

    const ghost = await postJson(edgeUrl, '/hls/spaces/ghost/reactions', { emoji: '👏' });
    expect(ghost.status).toBe(404);
    expect(errorCode(ghost)).toBe('SPACE_NOT_FOUND');
    const tooBig = await postJson(edgeUrl, '/hls/spaces/other/reactions', {
      emoji: '👏',
      lid: 'x'.repeat(2000),
    });
    expect(tooBig.status).toBe(413);
    expect(errorCode(tooBig)).toBe('BODY_TOO_LARGE');
  });

  it('(d) a forged report is refused with 401 and changes no count', async () => {
    const before = hub.listeners('crowd');
    expect(before).toBe(300);
    const body = JSON.stringify({
      edgeId: 'evil-edge',
      atMs: Date.now(),
      spaces: { crowd: { listeners: 1_000_000, reactions: { '👏': 999 }, sample: [] } },
    });
    for (const signature of [signReport(deriveEdgeSecret(Buffer.from('guess')), body), 'ab'.repeat(32), '']) {
      const r = await request(originUrl, '/origin/live/report', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', [EDGE_SIGNATURE_HEADER]: signature },
      });
      expect(r.status).toBe(401);
      expect(errorCode(r)).toBe('UNAUTHORIZED');
    }
    expect(hub.listeners('crowd')).toBe(before);
    expect(hub.doc('crowd').listeners).toBe(before);
  });

  it('(e) STATE_BAD_VERSION for a version far ahead or malformed', async () => {
    const v = hub.doc('crowd').v;
    const ahead = await request(edgeUrl, `/hls/spaces/crowd/state.json?v=${v + 50}&lid=${lidFor(1)}`);
    expect(ahead.status).toBe(400);
    expect(errorCode(ahead)).toBe('STATE_BAD_VERSION');
    expect(ahead.headers['cache-control']).toBe('no-store');
    const before = originNonReport();
    for (const q of ['v=abc', 'v=-1', 'v=1&v=2', 'v=1.5']) {
      const r = await request(edgeUrl, `/hls/spaces/crowd/state.json?${q}`);
      expect(r.status, q).toBe(400);
      expect(errorCode(r), q).toBe('STATE_BAD_VERSION');
    }
    expect(originNonReport()).toBe(before); // refused at the edge
  });

  it('(f) a Space that requires sign-in needs a listen token for that Space, HITs included', async () => {
    const nowSec = Math.floor(Date.now() / 1000);
    const good = tokens.sign({ s: 'private1', r: 'listen', u: 'user-42', i: nowSec, e: nowSec + 600 });
    const otherSpace = tokens.sign({ s: 'private2', r: 'listen', i: nowSec });
    const expired = tokens.sign({ s: 'private1', r: 'listen', i: nowSec - 100, e: nowSec - 1 });
    const hostToken = tokens.sign({ s: 'private1', r: 'host', i: nowSec });

    const noToken = await request(edgeUrl, '/hls/spaces/private1/state.json');
    expect(noToken.status).toBe(401);
    expect(errorCode(noToken)).toBe('LISTEN_TOKEN_REQUIRED');
    const playlistNoToken = await request(edgeUrl, '/hls/spaces/private1/audio.m3u8');
    expect(playlistNoToken.status).toBe(401);
    expect(errorCode(playlistNoToken)).toBe('LISTEN_TOKEN_REQUIRED');

    const lid = 'private-listener-1';
    const withQuery = await request(
      edgeUrl,
      `/hls/spaces/private1/state.json?lid=${lid}&token=${encodeURIComponent(good)}`,
    );
    expect(withQuery.status).toBe(200);
    expect(withQuery.json<LiveDoc>().spaceId).toBe('private1');
    expect(withQuery.headers['cache-control']).toBe('private, max-age=1'); // shared caches cannot check tokens
    const withHeader = await request(edgeUrl, '/hls/spaces/private1/audio.m3u8', {
      headers: { 'x-tribune-listen-token': good },
    });
    expect(withHeader.status).toBe(200);
    expect(withHeader.body.toString()).toContain('# private1');
    // The token never reaches the origin nor the cache key.
    expect([...originCounts.keys()].filter((k) => k.includes('token'))).toEqual([]);

    for (const bad of [otherSpace, expired, hostToken, 'not.a.token']) {
      const r = await request(edgeUrl, `/hls/spaces/private1/audio.m3u8?token=${encodeURIComponent(bad)}`);
      expect(r.status).toBe(401);
      expect(errorCode(r)).toBe('LISTEN_TOKEN_REQUIRED');
    }
    // The playlist is cached now (max-age=30): a HIT with the token, and still a 401 without one.
    const fetchesBefore = originCount('/origin/spaces/private1/audio.m3u8');
    const hit = await request(edgeUrl, `/hls/spaces/private1/audio.m3u8?token=${encodeURIComponent(good)}`);
    expect(hit.status).toBe(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    const hitNoToken = await request(edgeUrl, '/hls/spaces/private1/audio.m3u8');
    expect(hitNoToken.status).toBe(401);
    expect(originCount('/origin/spaces/private1/audio.m3u8')).toBe(fetchesBefore);
    // Reactions and leave are checked as well.
    const reactNoToken = await postJson(edgeUrl, '/hls/spaces/private1/reactions', { emoji: '👏' });
    expect(reactNoToken.status).toBe(401);
    const react = await postJson(
      edgeUrl,
      '/hls/spaces/private1/reactions',
      { emoji: '👏' },
      {
        headers: { 'x-tribune-listen-token': good },
      },
    );
    expect(react.status).toBe(202);
    // A public Space needs no token at all.
    expect((await request(edgeUrl, '/hls/spaces/private2/audio.m3u8')).status).toBe(200);
    // The signed-in listener counts, and its user id reaches the origin's sample.
    await waitFor('the signed-in listener in the sample', () => hub.sample('private1').includes('user-42'));
    expect(hub.listeners('private1')).toBe(1);
    const leaveNoToken = await postJson(edgeUrl, '/hls/spaces/private1/leave', { lid });
    expect(leaveNoToken.status).toBe(401);
  });

  it('(g) a bad lid is refused with 400 before the origin', async () => {
    const before = originNonReport();
    for (const lid of ['short', 'has$dollar-signs', 'x'.repeat(65), '']) {
      const r = await request(edgeUrl, `/hls/spaces/crowd/state.json?lid=${encodeURIComponent(lid)}`);
      expect(r.status, lid).toBe(400);
      expect(errorCode(r), lid).toBe('BAD_REQUEST');
    }
    const twice = await request(edgeUrl, `/hls/spaces/crowd/state.json?lid=${lidFor(1)}&lid=${lidFor(2)}`);
    expect(twice.status).toBe(400);
    const leave = await postJson(edgeUrl, '/hls/spaces/crowd/leave', { lid: 'bad lid!' });
    expect(leave.status).toBe(400);
    expect(errorCode(leave)).toBe('BAD_REQUEST');
    const notJson = await request(edgeUrl, '/hls/spaces/crowd/leave', {
      method: 'POST',
      body: 'lid=abc',
      headers: { 'content-type': 'text/plain' },
    });
    expect(notJson.status).toBe(400);
    expect(originNonReport()).toBe(before);
  });

  it('proxies clips through the cache and answers CORS preflights', async () => {
    const a = await request(edgeUrl, '/hls/clips/c1/clip.m3u8?anything=1');
    const b = await request(edgeUrl, '/hls/clips/c1/clip.m3u8');
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(b.headers['x-cache']).toBe('HIT');
    expect(b.body.toString()).toContain('# clip c1');
    expect(originCount('/origin/clips/c1/clip.m3u8')).toBe(1);
    expect((await request(edgeUrl, '/hls/clips/c1/other.txt')).status).toBe(404);
    const pre = await request(edgeUrl, '/hls/spaces/crowd/reactions', {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(pre.headers['access-control-allow-headers']).toContain('x-tribune-listen-token');
  });
});
