import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installRawFront, parseRequestHead } from '../../src/edge/raw-http.js';

const head = (text: string) => {
  const buf = Buffer.from(text, 'latin1');
  return parseRequestHead(buf, buf.indexOf('\r\n\r\n'));
};

describe('raw request heads', () => {
  it('takes plain GET and HEAD requests under /hls/', () => {
    expect(
      head('GET /hls/spaces/a/part/1.2.m4s HTTP/1.1\r\nHost: x\r\nX-Tribune-Listen-Token: t\r\n\r\n'),
    ).toEqual({
      method: 'GET',
      url: '/hls/spaces/a/part/1.2.m4s',
      headers: { host: 'x', 'x-tribune-listen-token': 't' },
      keepAlive: true,
    });
    expect(head('HEAD /hls/x HTTP/1.1\r\nConnection: close\r\n\r\n')?.keepAlive).toBe(false);
    expect(head('GET /hls/x HTTP/1.0\r\n\r\n')?.keepAlive).toBe(false);
    expect(head('GET /hls/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')?.keepAlive).toBe(true);
    expect(head('GET /hls/x HTTP/1.1\r\nContent-Length: 0\r\n\r\n')).not.toBeNull();
  });

  it('leaves everything else to Node', () => {
    for (const t of [
      'POST /hls/spaces/a/leave HTTP/1.1\r\nContent-Length: 2\r\n\r\n',
      'GET /api/spaces HTTP/1.1\r\n\r\n',
      'GET /hls/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n',
      'GET /hls/x HTTP/1.1\r\nContent-Length: 5\r\n\r\n',
      'GET /hls/x HTTP/1.1\r\nUpgrade: websocket\r\n\r\n',
      'GET /hls/x HTTP/2.0\r\n\r\n',
      'GET /hls/x HTTP/1.1\r\nbad header\r\n\r\n',
      'GET /hls/x HTTP/1.1\r\nBad Name: v\r\n\r\n',
      'GET /hls/x\x01y HTTP/1.1\r\n\r\n',
      'GET  /hls/x HTTP/1.1\r\n\r\n',
      `GET /hls/x HTTP/1.1\r\n${'A: b\r\n'.repeat(100)}\r\n`,
    ])
      expect(head(t), JSON.stringify(t)).toBeNull();
  });
});

describe('raw front in front of a node:http server', () => {
  let server: http.Server;
  let port: number;
  const seen: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(`node ${req.method} ${req.url}`);
      let body = '';
      req.on('data', (d) => (body += String(d)));
      req.on('end', () => res.end(`node:${req.method}:${body}`));
    });
    installRawFront(server, {
      handle: (req, res) => {
        seen.push(`raw ${req.method} ${req.url}`);
        const body = Buffer.from(`raw:${req.url}`);
        if (req.url.includes('slow'))
          setTimeout(() => res.writeHead(200, ['content-type', 'text/plain']).end(body), 50);
        else res.writeHead(200, ['content-type', 'text/plain']).end(body);
      },
      headersTimeoutMs: 300,
      keepAliveTimeoutMs: 5000,
      timeoutResponse: () =>
        Buffer.from('HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n'),
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  /** Sends raw bytes on one connection, returns everything read until the server closes or `until` matches. */
  const exchange = (bytes: string, until: RegExp): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      let text = '';
      const t = setTimeout(() => reject(new Error(`no answer: ${text}`)), 3000);
      s.on('data', (d) => {
        text += String(d);
        if (until.test(text)) {
          clearTimeout(t);
          s.destroy();
          resolve(text);
        }
      });
      s.on('close', () => {
        clearTimeout(t);
        resolve(text);
      });
      s.write(bytes);
    });

  it('answers pipelined listener requests in order, then hands the connection to Node for a POST', async () => {
    const text = await exchange(
      'GET /hls/slow HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /hls/fast HTTP/1.1\r\nHost: x\r\n\r\n' +
        'HEAD /hls/head HTTP/1.1\r\nHost: x\r\n\r\n' +
        'POST /hls/spaces/a/leave HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi' +
        'GET /hls/after HTTP/1.1\r\nHost: x\r\n\r\n',
      /node:GET:/,
    );
    const bodies = [...text.matchAll(/\r\n\r\n([a-z]+:[^H]*?)(?=HTTP\/1\.1|$)/g)].map((m) => m[1]);
    expect(bodies).toEqual(['raw:/hls/slow', 'raw:/hls/fast', 'node:POST:hi', 'node:GET:']);
    expect(text.match(/HTTP\/1\.1 200/g)).toHaveLength(5); // HEAD answered with a head only
    expect(seen).toContain('node GET /hls/after'); // once Node owns a connection, it keeps it
  });

  it('gives other paths to Node from the first byte', async () => {
    const text = await exchange('GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n', /node:GET:/);
    expect(text).toMatch(/^HTTP\/1\.1 200/);
  });

  it('answers 408 to a head that never ends, and closes HTTP/1.0 connections', async () => {
    expect(await exchange('GET /hls/x HTTP/1.1\r\nHost: x\r\n', /408/)).toMatch(/^HTTP\/1\.1 408/);
    const one = await exchange('GET /hls/one HTTP/1.0\r\n\r\n', /never/);
    expect(one).toMatch(/connection: close/);
    expect(one).toMatch(/raw:\/hls\/one$/);
  });
});
