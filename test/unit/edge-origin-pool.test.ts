import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, originUrls } from '../../src/config.js';
import { createApiProxy } from '../../src/edge/api-proxy.js';
import { OriginPool, spaceIdOf } from '../../src/edge/origin-pool.js';
import { waitFor } from '../support/wait.js';
import { httpReportSender } from '../../src/live/edge-reporter.js';
import type { EdgeReport } from '../../src/live/types.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface Origin {
  url: string;
  /** Requests seen, by path. */
  seen: string[];
  handler: Handler;
  close(): Promise<void>;
}

const servers: http.Server[] = [];
const pools: { close(): void }[] = [];

afterEach(async () => {
  for (const p of pools.splice(0)) p.close();
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

async function origin(handler: Handler = ok('hello')): Promise<Origin> {
  const o = { seen: [] as string[], handler } as Origin;
  const server = http.createServer((req, res) => {
    o.seen.push(req.url ?? '');
    o.handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  o.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  o.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return o;
}

/** A base URL nothing listens on (connection refused). */
async function deadUrl(): Promise<string> {
  const o = await origin();
  await o.close();
  return o.url;
}

/** Listens again on a dead origin's port, counting connections (the dead one was not retried?). */
async function connectionsTo(url: string): Promise<{ count: number }> {
  const seen = { count: 0 };
  const srv = http.createServer((_req, res) => res.writeHead(503).end());
  srv.on('connection', () => seen.count++);
  servers.push(srv);
  await new Promise<void>((resolve) => srv.listen(Number(new URL(url).port), '127.0.0.1', resolve));
  return seen;
}

function ok(body: string): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=1' });
    res.end(body);
  };
}

function redirectTo(owner: () => string): Handler {
  return (req, res) => {
    res.writeHead(307, { location: `${owner()}${req.url}`, 'x-tribune-owner': owner() });
    res.end();
  };
}

function pool(bases: string[], timeoutMs = 2000): { pool: OriginPool; registry: Registry } {
  const registry = new Registry();
  const p = new OriginPool(bases, { timeoutMs, registry });
  pools.push(p);
  return { pool: p, registry };
}

async function metric(registry: Registry, name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return m?.values[0]?.value ?? 0;
}

describe('OriginPool', () => {
  it('one origin: one request per fetch, as the bare loader', async () => {
    const o1 = await origin();
    const { pool: p } = pool([o1.url]);
    const res = await p.fetch('/origin/spaces/A/playlist.m3u8?_HLS_msn=3');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('hello');
    expect(o1.seen).toEqual(['/origin/spaces/A/playlist.m3u8?_HLS_msn=3']);
    expect(p.fetches).toBe(1);
  });

  it('follows a redirect to the owner and remembers it', async () => {
    const owner = await origin(ok('from owner'));
    const o1 = await origin(redirectTo(() => owner.url));
    const { pool: p, registry } = pool([o1.url]);
    const first = await p.fetch('/origin/spaces/A/part?x=1');
    expect(first.status).toBe(200);
    expect(first.body.toString()).toBe('from owner');
    expect(owner.seen).toEqual(['/origin/spaces/A/part?x=1']);
    expect(p.ownerOf('A')).toBe(owner.url);
    // The second fetch of that Space goes straight to its owner.
    await p.fetch('/origin/spaces/A/state.json');
    expect(o1.seen).toHaveLength(1);
    expect(owner.seen).toHaveLength(2);
    expect(await metric(registry, 'tribune_edge_origin_redirects_total')).toBe(1);
    // Another Space is asked of the configured origin again.
    await p.fetch('/origin/spaces/B/state.json');
    expect(o1.seen).toHaveLength(2);
  });

  it('fails over to the next configured origin within one fetch when one refuses connections', async () => {
    const dead = await deadUrl();
    const o2 = await origin(ok('o2'));
    const { pool: p, registry } = pool([dead, o2.url]);
    const res = await p.fetch('/origin/spaces/A/state.json');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('o2');
    expect(await metric(registry, 'tribune_edge_origin_failovers_total')).toBe(1);
    // The dead one is marked down: the next fetch goes to o2 first.
    await p.fetch('/origin/clips/c1.m4a');
    expect(o2.seen).toHaveLength(2);
    expect(await metric(registry, 'tribune_edge_origin_failovers_total')).toBe(1);
  });

  it('all origins down: ORIGIN_UNAVAILABLE after trying each once', async () => {
    const { pool: p } = pool([await deadUrl(), await deadUrl()]);
    await expect(p.fetch('/origin/spaces/A/state.json')).rejects.toMatchObject({
      code: 'ORIGIN_UNAVAILABLE',
    });
    // Down marks are hints: the next fetch still tries them (and fails the same way).
    await expect(p.fetch('/origin/spaces/A/state.json')).rejects.toMatchObject({
      code: 'ORIGIN_UNAVAILABLE',
    });
  });

  it('an owner that died is forgotten; the configured origin is asked again and names the new owner', async () => {
    const oldOwner = await origin(ok('old'));
    const newOwner = await origin(ok('new'));
    let owner = oldOwner.url;
    const o1 = await origin(redirectTo(() => owner));
    const { pool: p } = pool([o1.url]);
    expect((await p.fetch('/origin/spaces/A/state.json')).body.toString()).toBe('old');
    await oldOwner.close();
    owner = newOwner.url;
    const res = await p.fetch('/origin/spaces/A/state.json');
    expect(res.body.toString()).toBe('new');
    expect(p.ownerOf('A')).toBe(newOwner.url);
    expect(o1.seen).toHaveLength(2);
    // The dead owner's connection pool is gone (a long-lived edge keeps no pool per past owner).
    expect(p.poolCount).toBe(2); // o1 and the new owner
  });

  it('passes a 503 SPACE_MOVING through as the origin sent it', async () => {
    const body = JSON.stringify({ error: { code: 'SPACE_MOVING', message: 'moving' } });
    const o1 = await origin((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(body);
    });
    const { pool: p } = pool([o1.url]);
    const res = await p.fetch('/origin/spaces/A/state.json');
    expect(res.status).toBe(503);
    expect(res.body.toString()).toBe(body);
    expect(o1.seen).toHaveLength(1);
    expect(p.ownerOf('A')).toBeUndefined();
  });

  it('a redirect loop ends in ORIGIN_UNAVAILABLE after at most 2 redirects', async () => {
    let o2Url = '';
    const o1 = await origin(redirectTo(() => o2Url));
    const o2 = await origin(redirectTo(() => o1.url));
    o2Url = o2.url;
    const { pool: p } = pool([o1.url]);
    await expect(p.fetch('/origin/spaces/A/state.json')).rejects.toMatchObject({
      code: 'ORIGIN_UNAVAILABLE',
    });
    expect(o1.seen.length + o2.seen.length).toBe(3);
    expect(p.ownerOf('A')).toBeUndefined();
  });

  it('refuses a redirect to a non-http(s) owner', async () => {
    const o1 = await origin((req, res) => {
      res.writeHead(307, {
        location: `ftp://evil.example${req.url}`,
        'x-tribune-owner': 'ftp://evil.example',
      });
      res.end();
    });
    const o2 = await origin((req, res) => {
      res.writeHead(307, { location: `javascript:alert(1)` });
      res.end();
    });
    const { pool: p1 } = pool([o1.url]);
    await expect(p1.fetch('/origin/spaces/A/state.json')).rejects.toMatchObject({
      code: 'ORIGIN_UNAVAILABLE',
    });
    const { pool: p2 } = pool([o2.url]);
    await expect(p2.fetch('/origin/spaces/A/state.json')).rejects.toMatchObject({
      code: 'ORIGIN_UNAVAILABLE',
    });
    expect(p1.ownerOf('A')).toBeUndefined();
  });

  it("the caller's AbortSignal aborts a fetch in flight", async () => {
    const o1 = await origin(() => {
      /* never answers */
    });
    const { pool: p } = pool([o1.url]);
    const ac = new AbortController();
    const pending = p.fetch('/origin/spaces/A/playlist.m3u8', ac.signal);
    await waitFor('the request at the origin', () => o1.seen.length === 1);
    ac.abort(new Error('listener left'));
    await expect(pending).rejects.toThrow('listener left');
  });

  it('a timeout is not retried on another origin (one deadline per fetch)', async () => {
    const slow = await origin(() => {
      /* never answers */
    });
    const o2 = await origin();
    const { pool: p } = pool([slow.url, o2.url], 150);
    const t0 = Date.now();
    await expect(p.fetch('/origin/spaces/A/state.json')).rejects.toMatchObject({
      code: 'ORIGIN_UNAVAILABLE',
    });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(o2.seen).toHaveLength(0);
  });

  it('spaceIdOf', () => {
    expect(spaceIdOf('/origin/spaces/abc/part.m4s?x=1')).toBe('abc');
    expect(spaceIdOf('/origin/spaces/abc?x=1')).toBe('abc');
    expect(spaceIdOf('/origin/clips/abc.m4a')).toBeUndefined();
  });
});

describe('originUrl lists in the config', () => {
  it('accepts one URL or a comma-separated list', () => {
    expect(loadConfig({ originUrl: 'http://o1:8080' }).originUrl).toBe('http://o1:8080');
    const cfg = loadConfig({ originUrl: 'http://o1:8080, https://o2:8443/,' });
    expect(originUrls(cfg.originUrl)).toEqual(['http://o1:8080', 'https://o2:8443/']);
  });

  it('refuses a list with a bad entry', () => {
    expect(() => loadConfig({ originUrl: 'http://o1:8080,ftp://o2' })).toThrow(/originUrl: entry 2/);
    expect(() => loadConfig({ originUrl: 'o1:8080' })).toThrow(/originUrl/);
    expect(() => loadConfig({ originUrl: ' , ' })).toThrow(/originUrl/);
  });
});

describe('several origins: API pass-through and live reports', () => {
  it('the API proxy sends the request to the next origin when the first refuses connections', async () => {
    const dead = await deadUrl();
    const bodies: string[] = [];
    const o2 = await origin((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        bodies.push(body);
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      });
    });
    const proxy = createApiProxy({ originUrl: [dead, o2.url], timeoutMs: 2000 });
    pools.push(proxy);
    const edge = http.createServer((req, res) => {
      if (!proxy(req, res)) res.writeHead(404).end();
    });
    servers.push(edge);
    await new Promise<void>((resolve) => edge.listen(0, '127.0.0.1', resolve));
    const edgeUrl = `http://127.0.0.1:${(edge.address() as AddressInfo).port}`;
    const post = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = http.request(
          `${edgeUrl}/api/spaces`,
          { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode!));
          },
        );
        req.on('error', reject);
        req.write('{"title":');
        req.end('"hi"}');
      });
    expect(await post()).toBe(201);
    expect(bodies).toEqual(['{"title":"hi"}']);
    expect(o2.seen).toEqual(['/api/spaces']);
    // The dead origin is skipped for a while: later requests go straight to the live one.
    const retried = await connectionsTo(dead);
    expect(await post()).toBe(201);
    expect(await post()).toBe(201); // its turn in the rotation came: still skipped
    expect(retried.count).toBe(0);
    expect(o2.seen).toEqual(['/api/spaces', '/api/spaces', '/api/spaces']);
    expect(proxy.stats.originErrors).toBe(0);
  });

  it('the API proxy takes turns over live origins (new Spaces spread over them)', async () => {
    const answer = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
      res.writeHead(200).end('{}');
    };
    const [o1, o2] = [await origin(answer), await origin(answer)];
    const proxy = createApiProxy({ originUrl: [o1.url, o2.url] });
    pools.push(proxy);
    const edge = http.createServer((req, res) => void proxy(req, res));
    servers.push(edge);
    await new Promise<void>((resolve) => edge.listen(0, '127.0.0.1', resolve));
    const edgeUrl = `http://127.0.0.1:${(edge.address() as AddressInfo).port}`;
    for (let i = 0; i < 6; i++) await (await fetch(`${edgeUrl}/api/spaces`)).arrayBuffer();
    expect([o1.seen.length, o2.seen.length]).toEqual([3, 3]);
  });

  it('the API proxy answers 502 when every origin refuses', async () => {
    const proxy = createApiProxy({ originUrl: [await deadUrl(), await deadUrl()] });
    pools.push(proxy);
    const edge = http.createServer((req, res) => void proxy(req, res));
    servers.push(edge);
    await new Promise<void>((resolve) => edge.listen(0, '127.0.0.1', resolve));
    const status = await new Promise<number>((resolve, reject) =>
      http
        .get(`http://127.0.0.1:${(edge.address() as AddressInfo).port}/api/me`, { agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
        .on('error', reject),
    );
    expect(status).toBe(502);
    expect(proxy.stats.originErrors).toBe(1);
  });

  it('a live report goes to the next origin when the first refuses connections', async () => {
    const dead = await deadUrl();
    const o2 = await origin((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    const send = httpReportSender([dead, o2.url], Buffer.from('edge-secret'));
    const report: EdgeReport = { edgeId: 'e1', atMs: 1, spaces: {} };
    await send(report, new AbortController().signal);
    expect(o2.seen).toEqual(['/origin/live/report']);
    // The next report goes straight to the origin that took the last one.
    const retried = await connectionsTo(dead);
    await send({ ...report, atMs: 2 }, new AbortController().signal);
    expect(o2.seen).toHaveLength(2);
    expect(retried.count).toBe(0);
  });

  it('a live report fails when no origin takes it', async () => {
    const send = httpReportSender([await deadUrl(), await deadUrl()], Buffer.from('edge-secret'));
    await expect(send({ edgeId: 'e1', atMs: 1, spaces: {} }, new AbortController().signal)).rejects.toThrow();
  });
});
