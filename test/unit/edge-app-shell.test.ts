import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHE_ASSET, CACHE_INDEX, CACHE_ROOT_FILE, createAppShell } from '../../src/edge/app-shell.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(
  base: string,
  urlPath: string,
  opts: { method?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${urlPath}`,
      { method: opts.method ?? 'GET', headers: opts.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const INDEX =
  '<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="root"></div></body></html>';
const JS = `export const app = ${JSON.stringify('x'.repeat(50))};\n`.repeat(200);
const CSS = 'body { color: red; }\n'.repeat(100);
const ICON = Buffer.from([0, 0, 1, 0, 1, 0, 16, 16]);

describe('edge app shell', () => {
  let dir: string;
  let server: http.Server;
  let base: string;
  let shell: ReturnType<typeof createAppShell>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tribune-shell-'));
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), INDEX);
    writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), JS);
    writeFileSync(path.join(dir, 'assets', 'index-def456.css'), CSS);
    writeFileSync(path.join(dir, 'favicon.ico'), ICON);
    shell = createAppShell(dir);
    // Whatever the shell does not take: a JSON 404, like the edge's own routes.
    server = http.createServer((req, res) => {
      if (shell(req, res)) return;
      res.writeHead(404, { 'content-type': 'application/json', 'x-fallback': '1' });
      res.end('{"error":{"code":"NOT_FOUND","message":"No such resource"}}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds every file in memory', () => {
    expect(shell.files).toBe(4);
    expect(shell.bytes).toBe(INDEX.length + JS.length + CSS.length + ICON.length);
  });

  it('serves hashed assets as immutable, with their content type and an ETag', async () => {
    const js = await request(base, '/assets/index-abc123.js');
    expect(js.status).toBe(200);
    expect(js.headers['cache-control']).toBe(CACHE_ASSET);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['content-length']).toBe(String(JS.length));
    expect(js.headers['content-encoding']).toBeUndefined();
    expect(js.headers.etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect(js.headers.vary).toBe('Accept-Encoding');
    expect(js.body.toString()).toBe(JS);
    const css = await request(base, '/assets/index-def456.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['cache-control']).toBe(CACHE_ASSET);
    const icon = await request(base, '/favicon.ico');
    expect(icon.headers['content-type']).toBe('image/x-icon');
    expect(icon.headers['cache-control']).toBe(CACHE_ROOT_FILE);
    expect(icon.headers.vary).toBeUndefined();
    expect(icon.body.equals(ICON)).toBe(true);
  });

  it('negotiates brotli and gzip variants made at start', async () => {
    const br = await request(base, '/assets/index-abc123.js', {
      headers: { 'accept-encoding': 'gzip, deflate, br' },
    });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.body.length).toBeLessThan(JS.length / 5);
    expect(brotliDecompressSync(br.body).toString()).toBe(JS);
    const gz = await request(base, '/assets/index-abc123.js', { headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(JS);
    expect(gz.headers.etag).not.toBe(br.headers.etag);
    const refused = await request(base, '/assets/index-abc123.js', {
      headers: { 'accept-encoding': 'br;q=0, gzip;q=0' },
    });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(refused.body.toString()).toBe(JS);
    // Binary files are never compressed.
    const icon = await request(base, '/favicon.ico', { headers: { 'accept-encoding': 'br, gzip' } });
    expect(icon.headers['content-encoding']).toBeUndefined();
  });

  it('answers SPA routes with index.html, no-cache and an ETag', async () => {
    for (const p of [
      '/',
      '/s/abc123',
      '/s/abc123?x=1',
      '/clip/k9',
      '/join/abc?invite=t',
      '/signin',
      '/new',
    ]) {
      const res = await request(base, p);
      expect(res.status, p).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe(CACHE_INDEX);
      expect(res.body.toString()).toBe(INDEX);
    }
    const direct = await request(base, '/index.html');
    expect(direct.body.toString()).toBe(INDEX);
  });

  it('revalidates with If-None-Match (304, no body), whatever the encoding', async () => {
    const first = await request(base, '/s/abc', { headers: { 'accept-encoding': 'br' } });
    const etag = first.headers.etag!;
    const again = await request(base, '/s/other', { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers['cache-control']).toBe(CACHE_INDEX);
    expect(again.headers.etag).toBeDefined();
    const weak = await request(base, '/assets/index-abc123.js', {
      headers: {
        'if-none-match': `"nope", W/${(await request(base, '/assets/index-abc123.js')).headers.etag}`,
      },
    });
    expect(weak.status).toBe(304);
    const stale = await request(base, '/s/abc', { headers: { 'if-none-match': '"old"' } });
    expect(stale.status).toBe(200);
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await request(base, '/assets/index-abc123.js', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(JS.length));
    expect(res.body.length).toBe(0);
    const page = await request(base, '/s/abc', { method: 'HEAD' });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('leaves the API, WHIP, HLS, origin, metrics, health, missing files and other methods to the caller', async () => {
    for (const p of [
      '/api/spaces/x',
      '/api',
      '/whip/abc',
      '/hls/spaces/abc/view.json',
      '/hls/spaces/abc/master.m3u8',
      '/origin/spaces/abc/state.json',
      '/metrics',
      '/healthz',
      '/assets/index-old999.js',
      '/assets/nothing',
      '/robots.txt',
      '/s/abc/file.json',
    ]) {
      const res = await request(base, p);
      expect(res.headers['x-fallback'], p).toBe('1');
    }
    expect((await request(base, '/', { method: 'POST' })).headers['x-fallback']).toBe('1');
    expect((await request(base, '/assets/index-abc123.js', { method: 'DELETE' })).headers['x-fallback']).toBe(
      '1',
    );
    // A prefix only counts as a whole path segment.
    expect((await request(base, '/apiary')).status).toBe(200);
  });

  it('answers nothing without a web root', () => {
    const none = createAppShell(path.join(dir, 'missing'));
    expect(none.files).toBe(0);
    const fake = { method: 'GET', url: '/', headers: {} } as http.IncomingMessage;
    expect(none(fake, {} as http.ServerResponse)).toBe(false);
  });
});

describe('edge app shell: the no-JavaScript link', () => {
  const NOJS =
    '<noscript>\n      <p>JavaScript is off. <a href="?nojs=1">Listen with the plain player</a> (no JavaScript needed).</p>\n    </noscript>';
  const PAGE = `<!doctype html><html><head></head><body>\n    ${NOJS}\n    <div id="root"></div></body></html>`;
  let dir: string;
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tribune-shell-nojs-'));
    writeFileSync(path.join(dir, 'index.html'), PAGE);
    const shell = createAppShell(dir);
    server = http.createServer((req, res) => {
      if (shell(req, res)) return;
      res.writeHead(404, { 'x-fallback': '1' });
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('offers ?nojs=1 on Space pages only', async () => {
    for (const p of ['/s/abc', '/s/abc/']) {
      const space = await request(base, p, { headers: { 'accept-encoding': 'br' } });
      expect(space.status, p).toBe(200);
      const html = space.headers['content-encoding'] === 'br' ? brotliDecompressSync(space.body) : space.body;
      expect(html.toString(), p).toContain('<a href="?nojs=1">');
    }
    for (const p of ['/', '/status', '/ops', '/clip/k9', '/u/ada', '/index.html', '/s/abc/more']) {
      const other = await request(base, p);
      if (other.headers['x-fallback']) continue; // not a page of the shell
      expect(other.status, p).toBe(200);
      const html = other.body.toString();
      expect(html, p).not.toContain('nojs');
      expect(html, p).not.toContain('<noscript>');
      expect(html, p).toContain('<div id="root"></div>');
    }
    // Each variant has its own ETag: a cached `/` never answers a Space page with a 304.
    const home = await request(base, '/');
    const space = await request(base, '/s/abc');
    expect(home.headers.etag).not.toBe(space.headers.etag);
    expect((await request(base, '/s/abc', { headers: { 'if-none-match': home.headers.etag! } })).status).toBe(
      200,
    );
  });

  it('sends /s/<id>?nojs=1 to the edge plain player (303)', async () => {
    const res = await request(base, '/s/abc?nojs=1');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/hls/spaces/abc/nojs');
    expect(res.headers['cache-control']).toBe('no-store');
    // Elsewhere the parameter means nothing: the page itself.
    expect((await request(base, '/?nojs=1')).status).toBe(200);
  });
});
