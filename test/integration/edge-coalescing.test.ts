import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpOriginLoader } from '../../src/edge/origin-loader.js';
import { openFilesLimit } from '../../src/edge/limits.js';
import { createEdgeServer, type EdgeServer } from '../../src/edge/server.js';

const M3U8 = 'application/vnd.apple.mpegurl';
const PLAYLIST_CC = 'public, max-age=2';
const PART_CC = 'public, max-age=31536000, immutable';
/** No live reports here: they would be origin requests this file counts. */
const NO_LIVE = { tokenSecret: Buffer.from('edge-coalescing-test'), live: { autoStart: false } };

/** A fake origin: counts requests per URL and parks chosen URLs until the test releases them. */
class FakeOrigin {
  readonly counts = new Map<string, number>();
  total = 0;
  readonly closedEarly = new Set<string>();
  private readonly held = new Map<string, http.ServerResponse[]>();
  private readonly holdPaths = new Set<string>();
  readonly server = http.createServer((req, res) => this.handle(req, res));

  hold(url: string): void {
    this.holdPaths.add(url);
  }

  heldCount(url: string): number {
    return this.held.get(url)?.length ?? 0;
  }

  /** Answers every parked request for `url` and stops holding it. */
  release(url: string): void {
    this.holdPaths.delete(url);
    for (const res of this.held.get(url) ?? []) this.answer(url, res);
    this.held.delete(url);
  }

  count(url: string): number {
    return this.counts.get(url) ?? 0;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '';
    this.total++;
    this.counts.set(url, this.count(url) + 1);
    if (this.holdPaths.has(url) || url.startsWith('/origin/spaces/hang/')) {
      const list = this.held.get(url) ?? [];
      list.push(res);
      this.held.set(url, list);
      res.on('close', () => {
        if (!res.writableEnded) this.closedEarly.add(url);
      });
      return;
    }
    this.answer(url, res);
  }

  private answer(url: string, res: http.ServerResponse): void {
    if (url.startsWith('/origin/spaces/s503/')) {
      res.writeHead(503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      return void res.end('{"error":{"code":"HLS_NOT_AVAILABLE","message":"not yet"}}');
    }
    if (url.startsWith('/origin/spaces/missing/')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end('{"error":{"code":"SPACE_NOT_FOUND","message":"No such Space"}}');
    }
    if (url.includes('/part/') || url.endsWith('/init.mp4')) {
      res.writeHead(200, { 'content-type': 'audio/mp4', 'cache-control': PART_CC });
      return void res.end(Buffer.alloc(800, url.length));
    }
    res.writeHead(200, { 'content-type': M3U8, 'cache-control': PLAYLIST_CC });
    res.end(`#EXTM3U\n#EXT-X-VERSION:9\n# for ${url}\n`);
  }
}

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function get(base: string, path: string, agent: http.Agent): Promise<Got> & { req: http.ClientRequest } {
  const u = new URL(base);
  let req!: http.ClientRequest;
  const p = new Promise<Got>((resolve, reject) => {
    req = http.get({ host: u.hostname, port: u.port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  return Object.assign(p, { req });
}

async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function listen(server: http.Server | EdgeServer): Promise<string> {
  if ('edge' in server) return server.listen({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('edge coalescing against a real HTTP origin', () => {
  const origin = new FakeOrigin();
  let originUrl = '';
  let edge: EdgeServer;
  let edgeUrl = '';
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1100 });
  const others: EdgeServer[] = [];

  beforeAll(async () => {
    // 1,000 listeners mean 2,000+ descriptors here (both ends live in this process).
    const limit = openFilesLimit() ?? Infinity;
    if (limit < 4096)
      throw new Error(`open-files limit ${limit} < 4096: run through \`npm test\`, which raises it`);
    originUrl = await listen(origin.server);
    edge = createEdgeServer({ originUrl, cacheBytes: 64 << 20, originTimeoutMs: 10_000, ...NO_LIVE });
    edgeUrl = await listen(edge);
  });

  afterAll(async () => {
    agent.destroy();
    await Promise.all([edge.close(), ...others.map((e) => e.close())]);
    origin.server.closeAllConnections();
    await new Promise((r) => origin.server.close(r));
  });

  /** Fires n concurrent requests while the origin holds `originPath`, then releases it. */
  async function burst(paths: string[], originPath: string) {
    origin.hold(originPath);
    const before = edge.edge.cache.stats().collapsed;
    const reqs = paths.map((p) => get(edgeUrl, p, agent));
    // If a wait below throws, the requests still settle later: keep that from being unhandled.
    for (const r of reqs) r.catch(() => undefined);
    await until(() => origin.heldCount(originPath) === 1, 'the origin request');
    await until(
      () => edge.edge.cache.stats().collapsed - before === paths.length - 1,
      'all clients to collapse',
    );
    const t0 = performance.now();
    origin.release(originPath);
    const res = await Promise.all(reqs);
    return { res, releaseToLastMs: performance.now() - t0 };
  }

  it('1,000 concurrent blocking playlist requests cost the origin exactly one request', async () => {
    const path = '/hls/spaces/live/audio.m3u8?_HLS_msn=5&_HLS_part=2';
    const originPath = '/origin/spaces/live/audio.m3u8?_HLS_msn=5&_HLS_part=2';
    const { res, releaseToLastMs } = await burst(Array(1000).fill(path), originPath);
    expect(origin.count(originPath)).toBe(1);
    const body = res[0].body;
    expect(body.toString()).toMatch(/^#EXTM3U/);
    for (const r of res) {
      expect(r.status).toBe(200);
      expect(r.body.equals(body)).toBe(true);
      expect(r.headers['cache-control']).toBe(PLAYLIST_CC);
      expect(r.headers['content-type']).toBe(M3U8);
    }
    const xc = res.map((r) => r.headers['x-cache']);
    expect(xc.filter((x) => x === 'MISS')).toHaveLength(1);
    expect(xc.filter((x) => x === 'COLLAPSED')).toHaveLength(999);
    console.log(`playlist: 1000 collapsed clients served ${releaseToLastMs.toFixed(1)} ms after release`);
    // Within max-age it is a HIT and still costs the origin nothing.
    const hit = await get(edgeUrl, path, agent);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers.age).toBe('0');
    expect(origin.count(originPath)).toBe(1);
  });

  it('1,000 concurrent part requests cost the origin exactly one request; immutable passes through', async () => {
    const originPath = '/origin/spaces/live/part/5.2.m4s';
    const { res, releaseToLastMs } = await burst(
      Array(1000).fill('/hls/spaces/live/part/5.2.m4s'),
      originPath,
    );
    expect(origin.count(originPath)).toBe(1);
    for (const r of res) {
      expect(r.status).toBe(200);
      expect(r.body.length).toBe(800);
      expect(r.headers['cache-control']).toBe(PART_CC);
      expect(r.headers['content-type']).toBe('audio/mp4');
    }
    console.log(`part: 1000 collapsed clients served ${releaseToLastMs.toFixed(1)} ms after release`);
  });

  it('collapses different spellings of the same blocking request into one canonical origin request', async () => {
    const originPath = '/origin/spaces/live/audio.m3u8?_HLS_msn=6&_HLS_part=3';
    const spellings = [
      '/hls/spaces/live/audio.m3u8?_HLS_msn=6&_HLS_part=3',
      '/hls/spaces/live/audio.m3u8?_HLS_part=3&_HLS_msn=6',
      '/hls/spaces/live/audio.m3u8?_HLS_part=03&_HLS_msn=006',
      '/hls/spaces/live/audio.m3u8?x=1&_HLS_msn=6&_HLS_part=3&cachebust=42',
    ];
    const { res } = await burst(
      Array.from({ length: 200 }, (_, i) => spellings[i % 4]),
      originPath,
    );
    expect(res.every((r) => r.status === 200 && r.body.equals(res[0].body))).toBe(true);
    expect(origin.count(originPath)).toBe(1);
    expect([...origin.counts.keys()].filter((k) => k.includes('_HLS_msn=6'))).toEqual([originPath]);
  });

  it('refuses bad paths and parameters with 400/404 JSON and no origin request', async () => {
    const before = origin.total;
    const cases: Array<[string, number]> = [
      ['/hls/spaces/../../etc/passwd', 400],
      ['/hls/spaces/abc/evil.txt', 404],
      ['/hls/spaces/abc/audio.m3u8?_HLS_msn=abc', 400],
      ['/hls/spaces/abc/audio.m3u8?_HLS_part=1', 400],
      ['/hls/spaces/abc/seg/..%2F..%2Fx.m4s', 404],
      ['/hls/spaces/a%2Fb/audio.m3u8', 400],
      [`/hls/spaces/${'x'.repeat(65)}/audio.m3u8`, 400],
      ['/hls/spaces/abc', 404],
      ['/hls/nothing', 404],
    ];
    for (const [path, status] of cases) {
      const r = await get(edgeUrl, path, agent);
      expect(r.status, path).toBe(status);
      const json = JSON.parse(r.body.toString()) as { error: { code: string; message: string } };
      expect(typeof json.error.code, path).toBe('string');
      expect(typeof json.error.message, path).toBe('string');
    }
    expect(origin.total).toBe(before);
  });

  it('negatively caches origin 404s briefly but never caches 503', async () => {
    const a = await get(edgeUrl, '/hls/spaces/missing/master.m3u8', agent);
    const b = await get(edgeUrl, '/hls/spaces/missing/master.m3u8', agent);
    expect([a.status, b.status]).toEqual([404, 404]);
    expect(JSON.parse(b.body.toString())).toMatchObject({ error: { code: 'SPACE_NOT_FOUND' } });
    expect(b.headers['x-cache']).toBe('HIT');
    expect(origin.count('/origin/spaces/missing/master.m3u8')).toBe(1);
    for (let i = 0; i < 3; i++) {
      const r = await get(edgeUrl, '/hls/spaces/s503/audio.m3u8', agent);
      expect(r.status).toBe(503);
      expect(r.headers['cache-control']).toBe('no-store');
    }
    expect(origin.count('/origin/spaces/s503/audio.m3u8')).toBe(3);
  });

  it('keeps the shared origin request alive when some listeners hang up; cancels it when all do', async () => {
    const originPath = '/origin/spaces/live/audio.m3u8?_HLS_msn=7';
    origin.hold(originPath);
    const before = edge.edge.cache.stats().collapsed;
    const reqs = Array.from({ length: 20 }, () =>
      get(edgeUrl, '/hls/spaces/live/audio.m3u8?_HLS_msn=7', agent),
    );
    for (const r of reqs) r.catch(() => undefined);
    await until(() => edge.edge.cache.stats().collapsed - before === 19, 'collapse');
    for (const r of reqs.slice(0, 10)) r.req.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect(origin.closedEarly.has(originPath)).toBe(false);
    origin.release(originPath);
    const rest = await Promise.all(reqs.slice(10));
    expect(rest.every((r) => r.status === 200)).toBe(true);
    expect(origin.count(originPath)).toBe(1);

    const lonely = '/origin/spaces/live/audio.m3u8?_HLS_msn=8';
    origin.hold(lonely);
    const gone = Array.from({ length: 5 }, () =>
      get(edgeUrl, '/hls/spaces/live/audio.m3u8?_HLS_msn=8', agent),
    );
    for (const r of gone) r.catch(() => undefined);
    await until(() => origin.heldCount(lonely) === 1, 'origin request');
    await until(() => edge.edge.cache.stats().collapsed - before === 23, 'collapse');
    for (const r of gone) r.req.destroy();
    await until(() => origin.closedEarly.has(lonely), 'origin request to be cancelled', 5000);
    origin.release(lonely);
  });

  it('answers 502 ORIGIN_UNAVAILABLE quickly when the origin is down or too slow', async () => {
    const probe = http.createServer();
    const deadUrl = await listen(probe);
    await new Promise((r) => probe.close(r));
    const dead = createEdgeServer({
      originUrl: deadUrl,
      cacheBytes: 1 << 20,
      originTimeoutMs: 5000,
      ...NO_LIVE,
    });
    const slow = createEdgeServer({ originUrl, cacheBytes: 1 << 20, originTimeoutMs: 300, ...NO_LIVE });
    others.push(dead, slow);
    const [deadEdge, slowEdge] = await Promise.all([listen(dead), listen(slow)]);

    let t0 = performance.now();
    const r1 = await get(deadEdge, '/hls/spaces/live/audio.m3u8', agent);
    const downMs = performance.now() - t0;
    expect(r1.status).toBe(502);
    expect(JSON.parse(r1.body.toString())).toMatchObject({ error: { code: 'ORIGIN_UNAVAILABLE' } });
    expect(r1.headers['cache-control']).toBe('no-store');
    expect(downMs).toBeLessThan(1000);

    t0 = performance.now();
    const r2 = await get(slowEdge, '/hls/spaces/hang/audio.m3u8', agent);
    const slowMs = performance.now() - t0;
    expect(r2.status).toBe(502);
    expect(JSON.parse(r2.body.toString())).toMatchObject({ error: { code: 'ORIGIN_UNAVAILABLE' } });
    expect(slowMs).toBeGreaterThanOrEqual(250);
    expect(slowMs).toBeLessThan(2000);
    console.log(`502: origin down ${downMs.toFixed(1)} ms, origin timeout(300 ms) ${slowMs.toFixed(1)} ms`);
  });

  it('serves /healthz and Prometheus /metrics', async () => {
    const h = await get(edgeUrl, '/healthz', agent);
    expect(h.status).toBe(200);
    const m = await get(edgeUrl, '/metrics', agent);
    const text = m.body.toString();
    const value = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1]);
    expect(value('tribune_edge_origin_fetches_total')).toBe((edge.edge.loader as HttpOriginLoader).fetches);
    expect(value('tribune_edge_cache_collapsed_total')).toBeGreaterThanOrEqual(2000);
    expect(value('tribune_edge_cache_hits_total')).toBeGreaterThanOrEqual(2);
    expect(value('tribune_edge_bytes_served_total')).toBeGreaterThan(800_000);
    expect(value('tribune_edge_rejected_requests_total')).toBeGreaterThanOrEqual(9);
  });
});
