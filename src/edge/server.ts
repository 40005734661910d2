/**
 * The edge as its own process: `tribune edge --origin URL` calls runEdge(config).
 * Routes: `/hls/spaces/:id/...` (cached LL-HLS), `GET /healthz`, `GET /metrics` (own registry).
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { TribuneConfig } from '../config.js';
import { TribuneError } from '../errors.js';
import { EdgeCache } from './cache.js';
import { LISTEN_BACKLOG, openFilesWarning } from './limits.js';
import { HttpOriginLoader, type OriginLoader } from './origin-loader.js';
import { edgeRoutes } from './routes.js';

export interface EdgeServerOptions {
  originUrl: string;
  /** Used by runEdge; createEdgeServer does not listen. */
  port?: number;
  host?: string;
  cacheBytes: number;
  originTimeoutMs: number;
  /** A pino logger instance, or a level; default: silent. */
  logger?: FastifyBaseLogger | TribuneConfig['logLevel'];
  /** Override the origin wire (tests); default HttpOriginLoader(originUrl). */
  loader?: OriginLoader & { close?: () => void };
  /** Collect Node process metrics (event loop lag, heap...) into the edge registry. Default false. */
  processMetrics?: boolean;
}

export interface EdgeInternals {
  cache: EdgeCache;
  loader: OriginLoader & { close?: () => void };
  registry: Registry;
}

export type EdgeServer = FastifyInstance & { edge: EdgeInternals };

export function createEdgeServer(opts: EdgeServerOptions): EdgeServer {
  const registry = new Registry();
  if (opts.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'tribune_edge_' });
  const loader =
    opts.loader ?? new HttpOriginLoader(opts.originUrl, { timeoutMs: opts.originTimeoutMs, registry });
  const cache = new EdgeCache({ maxBytes: opts.cacheBytes });
  const log = opts.logger;
  const app = Fastify({
    ...(typeof log === 'object' ? { loggerInstance: log } : { logger: log ? { level: log } : false }),
    // One log line per listener request would dwarf the traffic: log failures only.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  });
  app.decorate('edge', { cache, loader, registry } satisfies EdgeInternals);

  app.register(edgeRoutes({ loader, cache, registry }), { prefix: '/hls' });
  app.get('/healthz', async () => ({ ok: true, cache: cache.stats() }));
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  app.setNotFoundHandler((_req, reply) => {
    const err = new TribuneError('NOT_FOUND');
    return reply.code(err.status).send(err.toJSON());
  });
  app.setErrorHandler((err, request, reply) => {
    const e =
      err instanceof TribuneError
        ? err
        : (err as { statusCode?: number }).statusCode === 400
          ? new TribuneError('BAD_REQUEST', (err as Error).message)
          : new TribuneError('INTERNAL');
    if (e.status >= 500) request.log.error({ err }, 'edge request failed');
    return reply.code(e.status).send(e.toJSON());
  });
  // Cancel origin requests still parked (blocking playlist reloads) so close() is prompt.
  app.addHook('preClose', async () => loader.close?.());
  return app as unknown as EdgeServer;
}

export interface RunningEdge {
  app: EdgeServer;
  /** e.g. http://127.0.0.1:8081 */
  url: string;
  close(): Promise<void>;
}

/** Starts a standalone edge from the Tribune config (originUrl, port, host, edge.*, logLevel). */
export async function runEdge(
  config: Pick<TribuneConfig, 'originUrl' | 'port' | 'host' | 'edge' | 'logLevel'>,
): Promise<RunningEdge> {
  if (!config.originUrl) throw new Error('tribune edge needs an origin URL (--origin or TRIBUNE_ORIGIN_URL)');
  const app = createEdgeServer({
    originUrl: config.originUrl,
    port: config.port,
    host: config.host,
    cacheBytes: config.edge.cacheBytes,
    originTimeoutMs: config.edge.originTimeoutMs,
    logger: config.logLevel,
    processMetrics: true,
  });
  await app.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG });
  const addr = app.server.address();
  const url =
    addr && typeof addr === 'object'
      ? `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`
      : String(addr);
  app.log.info({ url, origin: config.originUrl }, 'tribune edge listening');
  const warning = openFilesWarning();
  if (warning) app.log.warn(warning);
  let closing: Promise<void> | undefined;
  return { app, url, close: () => (closing ??= app.close()) };
}
