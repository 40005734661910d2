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
 * - Several origins (`originUrl` a list): requests take turns over the origins (round robin), so
 *   that new Spaces spread over them (the origin that starts a Space runs it; any origin forwards
 *   a request about a Space to the one running it). When connecting to one fails (refused,
 *   unreachable... before anything was sent), the request is sent once more to the next origin
 *   (the body received so far is kept until the connection is up), and the failed one is skipped
 *   for a second. Any other failure: 502 as above.
 *
 * createApiProxy(opts) returns `(req, res) => boolean` for a bare node:http handler: true when it
 * took the request (it answers it), false when the path is not one it proxies.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Registry } from 'prom-client';
import { TribuneError } from '../errors.js';
import { counterIn, isConnectionErrorCode } from './origin-loader.js';

export interface ApiProxyOptions {
  /**
   * e.g. http://origin:8080 (a path prefix, if any, is prepended to every request path); a list:
   * several origins, the next one tried when connecting to one fails.
   */
  originUrl: string | readonly string[];
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
/** An origin that refused a connection gets no pass-through request for this long. */
const API_ORIGIN_DOWN_MS = 1000;
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
  const urls = typeof opts.originUrl === 'string' ? [opts.originUrl] : opts.originUrl;
  if (urls.length === 0) throw new Error('api proxy: no origin URL');
  const ownAgents: http.Agent[] = [];
  const origins = urls.map((url) => {
    const base = new URL(url);
    if (base.protocol !== 'http:' && base.protocol !== 'https:')
      throw new Error(`api proxy: origin URL must be http(s): ${url}`);
    const client = base.protocol === 'https:' ? https : http;
    let agent = opts.agent;
    if (!agent) {
      agent = new client.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 64 });
      ownAgents.push(agent);
    }
    return {
      base,
      client,
      agent,
      basePath: base.pathname.replace(/\/+$/, ''),
      hostname: base.hostname.replace(/^\[|\]$/g, ''),
      port: base.port ? Number(base.port) : base.protocol === 'https:' ? 443 : 80,
    };
  });
  /** Round robin over the origins; one that refused a connection is skipped for DOWN_MS. */
  let turn = 0;
  const downUntil = origins.map(() => 0);
  const pickOrigin = (): number => {
    if (origins.length === 1) return 0;
    const now = Date.now();
    for (let i = 0; i < origins.length; i++) {
      const t = turn++ % origins.length;
      if (downUntil[t]! <= now) return t;
    }
    return turn++ % origins.length;
  };
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

    stats.inflight++;
    let received = 0;
    let over = false;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      stats.inflight--;
    };
    let target = pickOrigin();
    let retried = false;
    let connected = false;
    let ended = false;
    // With another origin to fall back on: the body so far, until the connection is up.
    let pending: Buffer[] | undefined = origins.length > 1 ? [] : undefined;
    const open = (): http.ClientRequest => {
      const o = origins[target]!;
      headers.host = o.base.host;
      const r = o.client.request({
        protocol: o.base.protocol,
        hostname: o.hostname,
        port: o.port,
        method: req.method,
        path: o.basePath + url,
        headers,
        agent: o.agent,
      });
      if (pending)
        r.on('socket', (socket) => {
          const onConnected = (): void => {
            connected = true;
            pending = undefined;
          };
          if (socket.connecting) socket.once('connect', onConnected);
          else onConnected();
        });
      return r;
    };
    let up = open();
    const timer = setTimeout(() => {
      up.destroy(new Error(`no answer from the origin in ${timeoutMs} ms`));
    }, timeoutMs);

    let answered = false;
    const onResponse = (ures: IncomingMessage): void => {
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
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      // Connecting to this origin failed, nothing was sent: once, the next origin.
      if (
        pending &&
        !connected &&
        !retried &&
        !answered &&
        !over &&
        !res.destroyed &&
        isConnectionErrorCode(err.code)
      ) {
        retried = true;
        downUntil[target] = Date.now() + API_ORIGIN_DOWN_MS;
        target = (target + 1) % origins.length;
        up = open();
        up.on('response', onResponse);
        up.on('error', onError);
        for (const chunk of pending) up.write(chunk);
        if (ended) up.end();
        else req.resume();
        return;
      }
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
    };
    up.on('response', onResponse);
    up.on('error', onError);

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
      pending?.push(chunk);
      if (!up.write(chunk)) {
        req.pause();
        up.once('drain', () => req.resume());
      }
    });
    req.on('end', () => {
      ended = true;
      if (!over) up.end();
    });
    req.on('error', () => up.destroy());
    return true;
  }) as ApiProxy;

  Object.defineProperty(handler, 'stats', { value: stats, enumerable: true });
  handler.close = () => {
    for (const agent of ownAgents) agent.destroy();
  };
  return handler;
}
