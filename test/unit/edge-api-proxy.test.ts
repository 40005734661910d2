import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createApiProxy, type ApiProxy } from '../../src/edge/api-proxy.js';
import { waitFor } from '../support/wait.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

/** One request; `chunks` are written one by one (chunked encoding unless content-length is given). */
function request(
  base: string,
  urlPath: string,
  opts: { method?: string; headers?: Record<string, string>; chunks?: Buffer[] } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${urlPath}`,
      { method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    for (const c of opts.chunks ?? []) req.write(c);
    req.end();
  });
}

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bodyBytes: number;
  completed: boolean;
}

describe('edge API pass-through', () => {
  const registry = new Registry();
  let origin: http.Server;
  let originUrl: string;
  let edge: http.Server;
  let edgeUrl: string;
  let proxy: ApiProxy;
  const seen: Seen[] = [];
  const sseClosed: number[] = [];
  let sseOpen = 0;

  beforeAll(async () => {
    origin = http.createServer((req, res) => {
      const s: Seen = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        bodyBytes: 0,
        completed: false,
      };
      seen.push(s);
      if (req.url === '/api/early') {
        // Answers at once, without reading the body (like a refusal before the upload is done).
        res.writeHead(401, { 'content-type': 'application/json', connection: 'close' });
        res.end('{"error":{"code":"SIGN_IN_REQUIRED","message":"Sign in first"}}');
        return;
      }
      req.on('data', (c: Buffer) => (s.bodyBytes += c.length));
      req.on('end', () => {
        s.completed = true;
        if (req.url!.startsWith('/api/echo') || req.url!.startsWith('/whip/')) {
          const body = JSON.stringify({
            method: s.method,
            url: s.url,
            headers: s.headers,
            bodyBytes: s.bodyBytes,
          });
          res.writeHead(req.url!.startsWith('/whip/') ? 201 : 200, {
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(body)),
            'set-cookie': ['a=1; Path=/; HttpOnly', 'b=2; Path=/'],
            location: '/whip/abc/session1',
            connection: 'keep-alive',
            'keep-alive': 'timeout=99',
          });
          res.end(req.method === 'HEAD' ? undefined : body);
        } else if (req.url === '/api/events') {
          // Server-sent events: one event now, one every 100 ms, never ends by itself.
          sseOpen++;
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
          let n = 0;
          res.write(`event: hello\ndata: ${n++}\n\n`);
          const t = setInterval(() => res.write(`data: ${n++}\n\n`), 100);
          res.on('close', () => {
            clearInterval(t);
            sseOpen--;
            sseClosed.push(Date.now());
          });
        } else if (req.url === '/api/silent') {
          // never answers
        } else if (req.url === '/api/cut') {
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
          res.write('only part of it');
          setTimeout(() => res.socket?.destroy(), 50);
        } else {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end('{"error":{"code":"NOT_FOUND","message":"No such resource"}}');
        }
      });
    });
    originUrl = await listen(origin);
    proxy = createApiProxy({ originUrl, bodyLimit: 64 * 1024, timeoutMs: 500, registry });
    edge = http.createServer((req, res) => {
      if (proxy(req, res)) return;
      res.writeHead(418, { 'x-fallback': '1' });
      res.end();
    });
    edgeUrl = await listen(edge);
  });

  afterAll(async () => {
    proxy.close();
    edge.closeAllConnections();
    origin.closeAllConnections();
    await new Promise((r) => edge.close(r));
    await new Promise((r) => origin.close(r));
  });

  it('forwards method, path, query, cookies, CSRF, Authorization and content type; sets X-Forwarded-*', async () => {
    const body = Buffer.from(JSON.stringify({ title: 'hello' }));
    const res = await request(edgeUrl, '/api/echo/spaces?state=live&x=%20y', {
      method: 'POST',
      headers: {
        cookie: 'tribune_session=s1; tribune_csrf=c1',
        'x-csrf-token': 'c1',
        authorization: 'Bearer tok',
        'content-type': 'application/json',
        'content-length': String(body.length),
        'x-forwarded-for': '6.6.6.6',
        host: 'listen.example.com',
        connection: 'keep-alive, x-secret',
        'x-secret': 'hop',
      },
      chunks: [body],
    });
    expect(res.status).toBe(200);
    const echo = JSON.parse(res.body) as {
      method: string;
      url: string;
      headers: Record<string, string>;
      bodyBytes: number;
    };
    expect(echo.method).toBe('POST');
    expect(echo.url).toBe('/api/echo/spaces?state=live&x=%20y');
    expect(echo.bodyBytes).toBe(body.length);
    expect(echo.headers.cookie).toBe('tribune_session=s1; tribune_csrf=c1');
    expect(echo.headers['x-csrf-token']).toBe('c1');
    expect(echo.headers.authorization).toBe('Bearer tok');
    expect(echo.headers['content-type']).toBe('application/json');
    // The client's own X-Forwarded-For is not trusted by default: the edge's peer is the client.
    expect(echo.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(echo.headers['x-forwarded-proto']).toBe('http');
    expect(echo.headers['x-forwarded-host']).toBe('listen.example.com');
    expect(echo.headers.host).toBe(new URL(originUrl).host);
    expect(echo.headers['x-secret']).toBeUndefined();
    // Response headers come back, Set-Cookie lines intact; hop-by-hop ones do not.
    expect(res.headers['set-cookie']).toEqual(['a=1; Path=/; HttpOnly', 'b=2; Path=/']);
    expect(res.headers['keep-alive']).not.toBe('timeout=99'); // the edge's own, if any
    expect(res.headers['content-type']).toBe('application/json');
  });

  it('keeps a trusted proxy chain with trustProxy', async () => {
    const trusting = createApiProxy({ originUrl, trustProxy: true });
    const srv = http.createServer((req, res) => void trusting(req, res));
    const url = await listen(srv);
    try {
      const res = await request(url, '/api/echo', {
        headers: {
          'x-forwarded-for': '203.0.113.9',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'a.example',
        },
      });
      const echo = JSON.parse(res.body) as { headers: Record<string, string> };
      expect(echo.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
      expect(echo.headers['x-forwarded-proto']).toBe('https');
      expect(echo.headers['x-forwarded-host']).toBe('a.example');
    } finally {
      trusting.close();
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  });

  it('passes WHIP (SDP body, 201, Location) and HEAD, and only its own prefixes', async () => {
    const sdp = Buffer.from('v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\n');
    const res = await request(edgeUrl, '/whip/abc', {
      method: 'POST',
      headers: { 'content-type': 'application/sdp', authorization: 'Bearer t' },
      chunks: [sdp],
    });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe('/whip/abc/session1');
    expect((JSON.parse(res.body) as { bodyBytes: number }).bodyBytes).toBe(sdp.length);
    const head = await request(edgeUrl, '/api/echo', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect((await request(edgeUrl, '/api/nothing')).status).toBe(404);
    for (const p of ['/apiary', '/hls/spaces/x/master.m3u8', '/', '/whipped', '/s/abc'])
      expect((await request(edgeUrl, p)).headers['x-fallback'], p).toBe('1');
    expect((await request(edgeUrl, '/api')).status).toBe(404); // the bare prefix is the origin's
  });

  it('streams server-sent events as they come, and hangs up on the origin when the client does', async () => {
    const closedBefore = sseClosed.length;
    const got: string[] = [];
    const t0 = Date.now();
    let firstAt = 0;
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${edgeUrl}/api/events`, { agent: false }, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream');
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (!firstAt) firstAt = Date.now();
          got.push(c);
          if (got.join('').includes('data: 3\n')) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', (e) => (e.message.includes('socket hang up') ? undefined : reject(e)));
    });
    // The first event arrived at once (not buffered until the stream ends), the rest one by one.
    expect(firstAt - t0).toBeLessThan(250);
    expect(got.length).toBeGreaterThanOrEqual(3);
    expect(got.join('')).toMatch(/^event: hello\ndata: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n/);
    await waitFor('the origin stream closed', () => sseClosed.length > closedBefore, { timeoutMs: 2000 });
    expect(sseOpen).toBe(0);
    await waitFor('no request in flight', () => proxy.stats.inflight === 0, { timeoutMs: 2000 });
  });

  it('refuses bodies over the limit with 413 BODY_TOO_LARGE, declared or streamed', async () => {
    const big = Buffer.alloc(64 * 1024 + 1, 1);
    const declared = await request(edgeUrl, '/api/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(big.length) },
      chunks: [big],
    }).catch((e: Error) => e);
    if (declared instanceof Error) throw declared;
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body)).toMatchObject({ error: { code: 'BODY_TOO_LARGE' } });
    const before = seen.length;
    // Chunked, no length: counted as it streams; the origin request is cancelled.
    const streamed = await request(edgeUrl, '/api/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      chunks: [Buffer.alloc(40 * 1024, 1), Buffer.alloc(40 * 1024, 1)],
    });
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body)).toMatchObject({ error: { code: 'BODY_TOO_LARGE' } });
    await new Promise((r) => setTimeout(r, 100));
    for (const s of seen.slice(before)) expect(s.completed).toBe(false);
    // Exactly at the limit is fine.
    const ok = await request(edgeUrl, '/api/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      chunks: [Buffer.alloc(64 * 1024, 1)],
    });
    expect(ok.status).toBe(200);
    expect((JSON.parse(ok.body) as { bodyBytes: number }).bodyBytes).toBe(64 * 1024);
  });

  it("passes an origin's early answer through while the body is still coming", async () => {
    const res = await request(edgeUrl, '/api/early', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      chunks: Array.from({ length: 15 }, () => Buffer.alloc(4096, 1)),
    });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'SIGN_IN_REQUIRED' } });
  });

  it('answers 502 ORIGIN_UNAVAILABLE when the origin is down or silent', async () => {
    const silent = await request(edgeUrl, '/api/silent');
    expect(silent.status).toBe(502);
    expect(JSON.parse(silent.body)).toMatchObject({ error: { code: 'ORIGIN_UNAVAILABLE' } });
    expect(silent.headers['cache-control']).toBe('no-store');
    const text = await registry.metrics();
    expect(Number(/^tribune_edge_api_proxy_requests_total (\d+)/m.exec(text)?.[1])).toBe(
      proxy.stats.requests,
    );
    expect(Number(/^tribune_edge_api_proxy_failures_total (\d+)/m.exec(text)?.[1])).toBe(
      proxy.stats.originErrors + proxy.stats.tooLarge,
    );
    expect(proxy.stats.originErrors).toBeGreaterThanOrEqual(1);

    const gone = http.createServer();
    const goneUrl = await listen(gone);
    await new Promise((r) => gone.close(r));
    const down = createApiProxy({ originUrl: goneUrl });
    const srv = http.createServer((req, res) => void down(req, res));
    const url = await listen(srv);
    try {
      const res = await request(url, '/api/spaces/x');
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'ORIGIN_UNAVAILABLE' } });
      expect(down.stats.originErrors).toBe(1);
    } finally {
      down.close();
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  });

  it('cuts the client off when the origin breaks a response midway', async () => {
    const err = await request(edgeUrl, '/api/cut').then(
      (a) => new Error(`completed: ${a.status} ${a.body}`),
      (e: Error) => e,
    );
    expect(err.message).toMatch(/aborted|hang up|ECONNRESET/);
  });
});
