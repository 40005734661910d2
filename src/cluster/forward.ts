/**
 * Origin-to-origin forwarding (several origins): a request about a Space that another origin runs
 * (`/api/spaces/:id/...`, `/whip/:id/...`) is passed to that origin unchanged, streamed both ways (an
 * event stream flows event by event), and its answer passed back.
 *
 * The owner must see the client, not the forwarding origin (its per-address limits): the forwarding
 * origin sends the client's address in `x-tribune-client-ip` with an HMAC of it under a key derived
 * from the shared token secret (`x-tribune-client-sig`); `trustForwardedClient` checks it on arrival
 * and only then uses that address. `x-tribune-forwarded-by` marks a forwarded request: it is never
 * forwarded again (no loops while ownership moves; the client gets 503 SPACE_MOVING and retries).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TribuneError } from '../errors.js';

export const FORWARDED_BY = 'x-tribune-forwarded-by';
const CLIENT_IP = 'x-tribune-client-ip';
const CLIENT_SIG = 'x-tribune-client-sig';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

export function forwardKey(tokenSecret: Buffer): Buffer {
  return createHmac('sha256', tokenSecret).update('tribune origin forward v1').digest();
}

const sign = (key: Buffer, ip: string): string => createHmac('sha256', key).update(ip).digest('base64url');

/** Use the client address a forwarding origin vouched for (a valid signature), else leave req.ip be. */
export function trustForwardedClient(req: FastifyRequest, key: Buffer): void {
  const ip = req.headers[CLIENT_IP];
  const sig = req.headers[CLIENT_SIG];
  if (typeof ip !== 'string' || typeof sig !== 'string' || ip.length > 64) return;
  const want = Buffer.from(sign(key, ip));
  const got = Buffer.from(sig);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return;
  Object.defineProperty(req, 'ip', { value: ip, configurable: true });
}

export interface ForwardOptions {
  /** e.g. http://origin-2:8080 */
  target: string;
  originId: string;
  key: Buffer;
  agent: http.Agent;
  /** Wait at most this long for the owner's response headers. */
  timeoutMs: number;
}

/** Passes the request to `target` and its answer back. Unreachable owner: 503 SPACE_MOVING. */
export function forward(req: FastifyRequest, reply: FastifyReply, opts: ForwardOptions): void {
  void reply.hijack();
  const res = reply.raw;
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers as IncomingHttpHeaders))
    if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
  headers[FORWARDED_BY] = opts.originId;
  headers[CLIENT_IP] = req.ip;
  headers[CLIENT_SIG] = sign(opts.key, req.ip);
  const target = new URL(opts.target);
  let answered = false;
  const fail = (err: TribuneError): void => {
    if (answered) return;
    answered = true;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = JSON.stringify(err.toJSON());
    res.writeHead(err.status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'retry-after': '1',
      'cache-control': 'no-store',
    });
    res.end(body);
  };
  const upstream = http.request({
    hostname: target.hostname.replace(/^\[|\]$/g, ''),
    port: target.port || 80,
    method: req.method,
    path: req.url,
    headers,
    agent: opts.agent,
  });
  const timer = setTimeout(() => {
    fail(new TribuneError('SPACE_MOVING', 'its origin did not answer'));
    upstream.destroy();
  }, opts.timeoutMs);
  upstream.on('error', () => {
    clearTimeout(timer);
    fail(new TribuneError('SPACE_MOVING', 'its origin could not be reached'));
  });
  upstream.on('response', (up) => {
    clearTimeout(timer);
    if (answered) {
      up.destroy();
      return;
    }
    answered = true;
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(up.headers))
      if (v !== undefined && !HOP_BY_HOP.has(k) && k !== 'content-length') out[k] = v;
    if (up.headers['content-length'] !== undefined) out['content-length'] = up.headers['content-length'];
    res.writeHead(up.statusCode ?? 502, out);
    res.flushHeaders();
    up.pipe(res);
    // The owner died mid-answer (an event stream, most often): cut the client too, so it reconnects
    // (and reaches the origin that takes the Space over) instead of waiting on a silent stream.
    up.on('error', () => res.destroy());
    up.on('close', () => {
      if (!up.complete) res.destroy();
    });
  });
  // The client hanging up ends the forwarded request (an event stream, a parked WHIP offer).
  res.on('close', () => {
    clearTimeout(timer);
    if (!res.writableFinished) upstream.destroy();
  });
  req.raw.pipe(upstream);
}
