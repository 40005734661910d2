/**
 * The HTTP server of every process listeners reach (the edge, and the one-process app): Node's
 * http.Server with the raw front (raw-http.ts) for listener GETs, the edge's hot path behind it,
 * and fastify for the rest; slowloris guards; Node's own parser errors in Tribune's shape.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { TribuneError, type ErrorCode } from '../errors.js';
import type { EdgeHandler } from './hot.js';
import { installRawFront } from './raw-http.js';
import { isTier1Post } from './defence/brownout.js';

const CONTENT_JSON = 'application/json; charset=utf-8';

/** Maps the errors Node's HTTP parser raises to Tribune's shape (fastify `clientErrorHandler`). */
export function clientErrorResponse(err: { code?: string }): Buffer {
  const code: ErrorCode =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 'HEADERS_TOO_LARGE'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'REQUEST_TIMEOUT'
        : err.code === 'HPE_URI_TOO_LONG'
          ? 'URI_TOO_LONG'
          : 'BAD_REQUEST';
  const e = new TribuneError(code);
  const body = JSON.stringify(e.toJSON());
  return Buffer.from(
    `HTTP/1.1 ${e.status} ${code.replace(/_/g, ' ')}\r\ncontent-type: ${CONTENT_JSON}\r\n` +
      `cache-control: no-store\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** Slowloris guards of servers listeners reach: headers within 10 s, checked every second. */
export const HEADERS_TIMEOUT_MS = 10_000;
/** ...and the whole request, its body included, within 15 s (a 32 KiB WHIP offer at 2 KiB/s fits). */
export const REQUEST_TIMEOUT_MS = 15_000;

/**
 * A fastify `serverFactory`: a node:http server whose request callback tries the listener hot
 * path first, then fastify. Headers must arrive within HEADERS_TIMEOUT_MS (slowloris), checked
 * every second.
 */
export function listenerServerFactory(
  hot: EdgeHandler | (() => EdgeHandler | undefined),
): (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server {
  const get = typeof hot === 'function' ? hot : () => hot;
  return (handler) => {
    const server = createServer({ connectionsCheckingInterval: 1000 }, (req, res) => {
      const h = get();
      // Brownout tier 1: reaction posts and clip creation wait (the listeners' audio does not).
      if (h?.defence?.brownout.sheds(1) && isTier1Post(req.method, req.url)) {
        res.writeHead(503, ['content-type', CONTENT_JSON, 'cache-control', 'no-store', 'retry-after', '5']);
        res.end(brownoutBody);
        return;
      }
      if (!h?.handle(req, res)) handler(req, res);
    });
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    // Listener GETs are read and answered by the raw front (raw-http.ts); the rest goes to Node.
    installRawFront(server, {
      handle: (req, res) => {
        const h = get();
        if (h) h.handle(req, res);
        else res.writeHead(404, ['content-type', CONTENT_JSON]).end(notFoundBody);
      },
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
      timeoutResponse: () => clientErrorResponse({ code: 'ERR_HTTP_REQUEST_TIMEOUT' }),
      // Per-address connection cap (src/edge/defence/connections.ts).
      accept: (socket) => get()?.defence?.connections.admit(socket) ?? true,
      refusal: () => tooManyConnections,
    });
    return server;
  };
}

/** fastify's default: longer than common load balancers' idle timeouts. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;
const notFoundBody = Buffer.from(JSON.stringify(new TribuneError('NOT_FOUND').toJSON()));
const brownoutBody = Buffer.from(JSON.stringify(new TribuneError('BROWNOUT').toJSON()));
const tooManyConnections = (() => {
  const body = JSON.stringify(
    new TribuneError('RATE_LIMITED', 'too many connections from this address').toJSON(),
  );
  return Buffer.from(
    `HTTP/1.1 429 Too Many Requests\r\ncontent-type: ${CONTENT_JSON}\r\ncache-control: no-store\r\n` +
      `retry-after: 5\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
})();

/** fastify `clientErrorHandler`: Node's parser errors (bad request line, huge headers, header timeout) in Tribune's shape. */
export function tribuneClientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  if (socket.destroyed) return;
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(clientErrorResponse(err));
}
