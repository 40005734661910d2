/**
 * Pass-through from an edge to the origin for `/api/*` and `/whip/*`, so one public host (the edges,
 * or a CDN in front of them) serves everything: signed-in users' API calls, server-sent events and
 * WHIP go through unchanged, streamed both ways (no buffering: an SSE stream flows event by event).
 *
 * - Request: method, path and query as sent; headers as sent (cookies, X-CSRF-Token, Authorization,
 *   Content-Type...) minus hop-by-hop ones, `Host` set to the origin's, and `X-Forwarded-For`,
 *   `-Proto`, `-Host` set by the edge (the client's own values are kept only with `trustProxy`).
 *   Run the origin with `TRIBUNE_TRUST_PROXY=true` so its per-address limits see the listener,
 *   not the edge.
 * - Body: at most `bodyLimit` bytes (default 64 KiB), counted as it streams: over it, the origin
 *   request is cancelled and the client gets 413 BODY_TOO_LARGE.
 * - Response: status and headers as the origin sent them (Set-Cookie included) minus hop-by-hop
 *   ones; the body piped through. The client hanging up cancels the origin request.
 * - The origin unreachable, or silent past `timeoutMs` before its response headers: 502
 *   ORIGIN_UNAVAILABLE. A stream that breaks after its headers is cut (the client sees it end).
 *
 * createApiProxy(opts) returns `(req, res) => boolean` for a bare node:http handler: true when it
 * took the request (it answers it), false when the path is not one it proxies.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Registry } from 'prom-client';
import { TribuneError } from '../errors.js';
import { counterIn } from './origin-loader.js';

export interface ApiProxyOptions {
  /** e.g. http://origin:8080 (a path prefix, if any, is prepended to every request path). */
  originUrl: string;
  /** Path prefixes proxied. Default `/api` and `/whip`. */
  prefixes?: readonly string[];
  /** Request body limit in bytes. Default 64 KiB. */
  bodyLimit?: number;
  /** Wait at most this long for the origin's response headers. Default 10 s. */
  timeoutMs?: number;
  /**
   * Keep the client's own X-Forwarded-For/-Proto/-Host (appending the peer address), for an edge
   * behind a proxy you run. Default false: the edge's peer is the client.
   */
  trustProxy?: boolean;
  /** Connection pool to the origin. Default: a keep-alive agent owned by the proxy. */
  agent?: http.Agent;
  /**
   * Counts into `tribune_edge_api_proxy_requests_total` (requests taken) and
   * `tribune_edge_api_proxy_failures_total` (answered 502 or 413 by the proxy itself).
   */
  registry?: Registry;
}

export interface ApiProxy {
  (req: IncomingMessage, res: ServerResponse): boolean;
  /** Requests proxied so far, and those answered 502 / 413 by the proxy itself. */
  readonly stats: { requests: number; originErrors: number; tooLarge: number; inflight: number };
  /** Closes the proxy's own pooled connections to the origin (in-flight requests are cut). */
  close(): void;
}

export const API_PROXY_BODY_LIMIT = 64 * 1024;
export const API_PROXY_PREFIXES = ['/api', '/whip'] as const;

/** Hop-by-hop headers (RFC 9110 §7.6.1) and ones the proxy sets itself. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
]);

function stripHopByHop(headers: IncomingHttpHeaders, drop: Set<string>): Record<string, string | string[]> {
  const listed = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || drop.has(name) || listed.has(name)) continue;
    out[name] = value;
  }
  return out;
}

const RESPONSE_DROP = new Set([...HOP_BY_HOP].filter((h) => h !== 'host' && h !== 'expect'));

function sendError(res: ServerResponse, err: TribuneError, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(err.toJSON());
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
  };
  if (close) headers.connection = 'close';
  res.writeHead(err.status, headers);
  res.end(body);
}

const firstValue = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

export function createApiProxy(opts: ApiProxyOptions): ApiProxy {
  const base = new URL(opts.originUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new Error(`api proxy: origin URL must be http(s): ${opts.originUrl}`);
  const client = base.protocol === 'https:' ? https : http;
  const basePath = base.pathname.replace(/\/+$/, '');
  const hostname = base.hostname.replace(/^\[|\]$/g, '');
  const port = base.port ? Number(base.port) : base.protocol === 'https:' ? 443 : 80;
  const ownAgent = opts.agent
    ? undefined
    : new client.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 64 });
  const agent = opts.agent ?? ownAgent!;
  const limit = opts.bodyLimit ?? API_PROXY_BODY_LIMIT;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const trustProxy = opts.trustProxy ?? false;
  const prefixes = (opts.prefixes ?? API_PROXY_PREFIXES).map((p) => p.replace(/\/+$/, ''));
  const stats = { requests: 0, originErrors: 0, tooLarge: 0, inflight: 0 };
  const requestsMetric = opts.registry
    ? counterIn(
        opts.registry,
        'tribune_edge_api_proxy_requests_total',
        'API and WHIP requests passed to the origin',
      )
    : undefined;
  const failuresMetric = opts.registry
    ? counterIn(
        opts.registry,
        'tribune_edge_api_proxy_failures_total',
        'API and WHIP requests the edge answered itself (502 origin unavailable, 413 body too large)',
      )
    : undefined;

  const matches = (url: string): boolean =>
    prefixes.some((p) => url.startsWith(p) && (url.length === p.length || '/?'.includes(url[p.length]!)));

  const handler = ((req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url ?? '/';
    if (!url.startsWith('/') || !matches(url)) return false;
    stats.requests++;
    requestsMetric?.inc();

    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      stats.tooLarge++;
      failuresMetric?.inc();
      req.resume(); // discard what comes; the connection closes after the answer
      sendError(res, new TribuneError('BODY_TOO_LARGE', `over ${limit} bytes`), true);
      return true;
    }

    const headers = stripHopByHop(req.headers, HOP_BY_HOP);
    const peer = req.socket.remoteAddress ?? '';
    const encrypted = !!(req.socket as TLSSocket).encrypted;
    const xff = firstValue(req.headers['x-forwarded-for']);
    const xfp = firstValue(req.headers['x-forwarded-proto']);
    const xfh = firstValue(req.headers['x-forwarded-host']);
    headers['x-forwarded-for'] = trustProxy && xff ? `${xff}, ${peer}` : peer;
    headers['x-forwarded-proto'] = trustProxy && xfp ? xfp : encrypted ? 'https' : 'http';
    const host = trustProxy && xfh ? xfh : req.headers.host;
    if (host) headers['x-forwarded-host'] = host;
    else delete headers['x-forwarded-host'];
    headers.host = base.host;

    stats.inflight++;
    let received = 0;
    let over = false;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      stats.inflight--;
    };
    const up = client.request({
      protocol: base.protocol,
      hostname,
      port,
      method: req.method,
      path: basePath + url,
      headers,
      agent,
    });
    const timer = setTimeout(() => {
      up.destroy(new Error(`no answer from the origin in ${timeoutMs} ms`));
    }, timeoutMs);

    let answered = false;
    up.on('response', (ures) => {
      answered = true;
      clearTimeout(timer);
      const out = stripHopByHop(ures.headers, RESPONSE_DROP);
      res.writeHead(ures.statusCode ?? 502, ures.statusMessage, out);
      // Server-sent events and other streams: headers now, then every chunk as it arrives.
      if (ures.headers['content-length'] === undefined) res.flushHeaders();
      ures.on('error', () => res.destroy());
      // The origin cut the stream: cut the client's too (it must not look complete).
      ures.on('close', () => {
        if (!ures.complete) res.destroy();
      });
      ures.pipe(res);
      ures.on('end', finish);
    });
    up.on('error', () => {
      clearTimeout(timer);
      finish();
      if (over) return; // cancelled by the proxy itself, already answered 413
      // The origin answered before taking the whole body (e.g. a 401, its own 413): the answer
      // stands; the response's own end or 'close' decides what the client sees.
      if (answered) return;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      stats.originErrors++;
      failuresMetric?.inc();
      sendError(res, new TribuneError('ORIGIN_UNAVAILABLE'));
    });

    // The client went away before the answer was complete: cancel the origin request.
    res.on('close', () => {
      clearTimeout(timer);
      finish();
      if (!res.writableFinished) up.destroy();
    });

    req.on('data', (chunk: Buffer) => {
      if (over) return;
      received += chunk.length;
      if (received > limit) {
        over = true;
        stats.tooLarge++;
        failuresMetric?.inc();
        clearTimeout(timer);
        up.removeAllListeners('response');
        up.destroy();
        sendError(res, new TribuneError('BODY_TOO_LARGE', `over ${limit} bytes`), true);
        return;
      }
      if (!up.write(chunk)) {
        req.pause();
        up.once('drain', () => req.resume());
      }
    });
    req.on('end', () => {
      if (!over) up.end();
    });
    req.on('error', () => up.destroy());
    return true;
  }) as ApiProxy;

  Object.defineProperty(handler, 'stats', { value: stats, enumerable: true });
  handler.close = () => ownAgent?.destroy();
  return handler;
}
