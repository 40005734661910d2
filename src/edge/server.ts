/**
 * The edge as its own process: `tribune edge --origin URL[,URL...]` calls runEdge(config).
 * Routes: `/hls/spaces/:id/...` (cached LL-HLS and live state, leave, reactions), `/hls/clips/...`,
 * `GET /healthz`, `GET /metrics` (own registry). Reports listeners and reactions to the origin.
 *
 * Several origins (a comma-separated `originUrl`): origin fetches go through OriginPool (follows an
 * origin's redirect to the origin owning a Space, fails over when one refuses connections); live
 * reports go to one origin that accepts them (any will do); /api and /whip go to one origin, the
 * next one when connecting fails. One origin: the same pool, sending the same requests as before.
 */
import { hostname } from 'node:os';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { TribuneConfig } from '../config.js';
import { TribuneError } from '../errors.js';
import { toTribuneError } from '../live/http.js';
import { createEdgeLive, type EdgeLive, type EdgeLiveOptions } from '../live/edge-live.js';
import { EdgeCache } from './cache.js';
import { createEdgeHandler, type EdgeHandler } from './hot.js';
import { listenerServerFactory, tribuneClientErrorHandler } from './http-server.js';
import type { StreamHubOptions } from './stream-hub.js';
import { createAdmissionGate } from './admission/metrics.js';
import { DEFAULTS } from '../config.js';
import { LISTEN_BACKLOG, openFilesWarning } from './limits.js';
import type { OriginLoader } from './origin-loader.js';
import { OriginPool } from './origin-pool.js';
import { originUrls } from '../config.js';
import { edgeRoutes } from './routes.js';
import { createEdgeDefence } from './defence/metrics.js';
import { reportHooks } from './defence/shield.js';
import { createEdgeFront, DEFAULT_WEB_ROOT } from './front.js';

export interface EdgeServerOptions {
  /** The origin base URL, or several, comma-separated (`http://o1:8080,http://o2:8080`). */
  originUrl: string;
  /** Used by runEdge; createEdgeServer does not listen. */
  port?: number;
  host?: string;
  cacheBytes: number;
  originTimeoutMs: number;
  /** A pino logger instance, or a level; default: silent. */
  logger?: FastifyBaseLogger | TribuneConfig['logLevel'];
  /** Override the origin wire (tests); default OriginPool(originUrl). */
  loader?: OriginLoader & { close?: () => void };
  /** Collect Node process metrics (event loop lag, heap...) into the edge registry. Default false. */
  processMetrics?: boolean;
  /**
   * The Space-token secret (TRIBUNE_TOKEN_SECRET), the same as the origin's: listen tokens are
   * verified with it and live reports are signed with a key derived from it.
   */
  tokenSecret: Buffer;
  /** Take client addresses from X-Forwarded-For (only behind a proxy you run). Default false. */
  trustProxy?: boolean;
  /** Overrides for the live-state part (report interval, listener window, bounds...). */
  live?: Omit<Partial<EdgeLiveOptions>, 'tokenSecret' | 'registry'>;
  /** Stream delivery: batch steps, slow-listener cut, streams per address. */
  stream?: StreamHubOptions;
  /** Serve the web app's shell from this directory (runEdge: dist/web). Default false: none. */
  webRoot?: string | false;
  /** Pass /api and /whip through to the origin. Default true. */
  proxyApi?: boolean;
  /** Admission limits (default: the config defaults); `false`: no admission. */
  admission?: TribuneConfig['edge']['admission'] | false;
  /** Names this edge in queue tickets. Default `edge`. */
  edgeId?: string;
  /** Flood limits, under-attack mode, brownout, telemetry. Default false: none (runEdge: the config's). */
  defence?: TribuneConfig['edge']['defence'] | false;
}

export interface EdgeInternals {
  cache: EdgeCache;
  loader: OriginLoader & { close?: () => void };
  registry: Registry;
  live: EdgeLive;
  hot: EdgeHandler;
}

export type EdgeServer = FastifyInstance & { edge: EdgeInternals };

export function createEdgeServer(opts: EdgeServerOptions): EdgeServer {
  const registry = new Registry();
  if (opts.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'tribune_edge_' });
  const origins = originUrls(opts.originUrl);
  const loader = opts.loader ?? new OriginPool(origins, { timeoutMs: opts.originTimeoutMs, registry });
  const cache = new EdgeCache({ maxBytes: opts.cacheBytes });
  const log = opts.logger;
  const defence = opts.defence
    ? createEdgeDefence(opts.defence, opts.tokenSecret, registry, { trustProxy: opts.trustProxy })
    : undefined;
  const live = createEdgeLive({
    originUrl: opts.live?.sink ? undefined : origins,
    ...(defence ? { reports: reportHooks(defence) } : {}),
    ...opts.live,
    tokenSecret: opts.tokenSecret,
    registry,
    // `app` is created below; these run only later (reports fail after a second at the earliest).
    log: opts.live?.log ?? {
      warn: (o, m) => app.log.warn(o, m),
      info: (o, m) => app.log.info(o, m),
      error: (o, m) => app.log.error(o, m),
    },
  });
  const admission =
    opts.admission === false
      ? undefined
      : createAdmissionGate(
          opts.admission ?? DEFAULTS.edge.admission,
          opts.tokenSecret,
          opts.edgeId ?? 'edge',
          registry,
        );
  const hot = createEdgeHandler({
    loader,
    cache,
    registry,
    live,
    admission,
    defence,
    stream: opts.stream,
    trustProxy: opts.trustProxy,
    log: { warn: (o, m) => app.log.warn(o, m), error: (o, m) => app.log.error(o, m) },
  });
  // The web app's shell and the /api + /whip pass-through: after the listener hot path, before fastify.
  const front = createEdgeFront({
    originUrl: origins,
    webRoot: opts.webRoot ?? false,
    proxyApi: opts.proxyApi ?? true,
    trustProxy: opts.trustProxy,
    timeoutMs: opts.originTimeoutMs,
    registry,
  });
  const app = Fastify({
    ...(typeof log === 'object' ? { loggerInstance: log } : { logger: log ? { level: log } : false }),
    // One log line per listener request would dwarf the traffic: log failures only.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
    trustProxy: opts.trustProxy ?? false,
    // Listener GETs go to the bare node:http hot path first; fastify gets the rest.
    serverFactory: (handler) =>
      listenerServerFactory(hot)((req, res) => {
        if (!front.handle(req, res)) handler(req, res);
      }),
    clientErrorHandler: tribuneClientErrorHandler,
  });
  app.decorate('edge', { cache, loader, registry, live, hot } satisfies EdgeInternals);

  app.register(edgeRoutes({ loader, cache, registry, live, hot }), { prefix: '/hls' });
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
    const e = toTribuneError(err);
    if (e.status >= 500) request.log.error({ err }, 'edge request failed');
    return reply.code(e.status).send(e.toJSON());
  });
  // Stop reporting; cancel origin requests still parked (blocking reloads) so close() is prompt.
  app.addHook('preClose', async () => {
    front.close();
    hot.close();
    live.close();
    loader.close?.();
  });
  return app as unknown as EdgeServer;
}

export interface RunningEdge {
  app: EdgeServer;
  /** e.g. http://127.0.0.1:8081 */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts a standalone edge from the Tribune config (originUrl, tokenSecret, port, host, edge.*,
 * logLevel, trustProxy).
 */
export async function runEdge(
  config: Pick<
    TribuneConfig,
    'originUrl' | 'port' | 'host' | 'edge' | 'logLevel' | 'tokenSecret' | 'trustProxy'
  >,
): Promise<RunningEdge> {
  if (!config.originUrl) throw new Error('tribune edge needs an origin URL (--origin or TRIBUNE_ORIGIN_URL)');
  if (!config.tokenSecret)
    throw new Error(
      'tribune edge needs the token secret: set TRIBUNE_TOKEN_SECRET, and it must be the same on the ' +
        'origin and every edge (listen tokens and live reports are checked with it)',
    );
  const app = createEdgeServer({
    // The same bytes as the origin's loadSecret(config.tokenSecret, ...) for a configured secret.
    tokenSecret: Buffer.from(config.tokenSecret, 'utf8'),
    trustProxy: config.trustProxy,
    originUrl: config.originUrl,
    port: config.port,
    host: config.host,
    cacheBytes: config.edge.cacheBytes,
    originTimeoutMs: config.edge.originTimeoutMs,
    stream: config.edge.stream,
    admission: config.edge.admission,
    defence: config.edge.defence,
    edgeId: `${hostname()}:${config.port}`,
    logger: config.logLevel,
    processMetrics: true,
    webRoot: DEFAULT_WEB_ROOT,
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
