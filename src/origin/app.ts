import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { TribuneConfig } from '../config.js';
import { createAppShell } from '../edge/app-shell.js';
import { EdgeCache } from '../edge/cache.js';
import { LISTEN_BACKLOG } from '../edge/limits.js';
import type { OriginLoader } from '../edge/origin-loader.js';
import { OriginPool } from '../edge/origin-pool.js';
import { createEdgeHandler, type EdgeHandler } from '../edge/hot.js';
import { createEdgeDefence } from '../edge/defence/metrics.js';
import { reportHooks } from '../edge/defence/shield.js';
import { DefenceCenter } from '../ops/defence/center.js';
import { defenceRoutes } from '../ops/defence/routes.js';
import { createAdmissionGate } from '../edge/admission/metrics.js';
import { listenerServerFactory, tribuneClientErrorHandler } from '../edge/http-server.js';
import { edgeRoutes } from '../edge/routes.js';
import { isTribuneError, TribuneError } from '../errors.js';
import { hlsOriginRoutes } from '../hls/routes.js';
import { setNice } from '../media/engine.js';
import { capacityRoutes } from '../ops/capacity/routes.js';
import { EnginePool } from '../media/pool.js';
import { whipRoutes } from '../rtc/whip-routes.js';
import { authRoutes } from '../accounts/routes.js';
import { sessionPlugin } from '../accounts/plugin.js';
import { SessionRevocation } from '../accounts/revocation.js';
import { RedisSigninThrottle } from '../accounts/throttle-redis.js';
import {
  connectRedis,
  isRedisFailure,
  redactRedisUrl,
  storeUnavailable,
  type SharedRedis,
} from '../shared/redis.js';
import { createEdgeLive, type EdgeLive } from '../live/edge-live.js';
import { liveOriginRoutes } from '../live/origin-routes.js';
import { LiveHub } from '../live/hub.js';
import { deriveEdgeSecret, verifyReportSignature } from '../live/signature.js';
import type { EdgeReport } from '../live/types.js';
import { Cluster } from '../cluster/cluster.js';
import { Housekeeping } from '../spaces/housekeeping.js';
import { RedisLock } from '../shared/redis-lock.js';
import { startEventFanout } from '../shared/redis-events.js';
import { ListenerDirectory } from '../spaces/listeners.js';
import { publicViewRoutes } from '../spaces/public-view.js';
import { spaceRoutes } from '../spaces/routes.js';
import { SpaceService } from '../spaces/service.js';
import { StageService } from '../spaces/stage.js';
import { PostgresStorage, redactDatabaseUrl } from '../store/postgres.js';
import { SqliteStorage } from '../store/sqlite.js';
import type { Storage } from '../store/types.js';
import { EMBED_FRAME_POLICY, isEmbedUrl } from '../social/embed.js';
import { socialRoutes } from '../social/routes.js';
import { SocialService } from '../social/service.js';
import { createTrust } from '../trust/index.js';
import { registerOriginMetrics } from './metrics.js';
import { SpaceRegistry } from './spaces.js';
import { loadSecret, TokenSigner } from './tokens.js';

export interface Origin {
  app: FastifyInstance;
  registry: SpaceRegistry;
  svc: SpaceService;
  housekeeping: Housekeeping;
  storage: Storage;
  engine: EnginePool;
  metrics: Registry;
  /** Starts listening; in embedded mode also points the built-in edge at this origin. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

const WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/web');

/** Maps every error to `{error:{code,message}}` with a stable code: Tribune's, fastify's, or INTERNAL. */
export function errorHandler(
  err: FastifyError | TribuneError,
  req: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  let e: TribuneError;
  if (isTribuneError(err)) e = err;
  else if (isRedisFailure(err))
    e = storeUnavailable(err); // e.g. @fastify/rate-limit's Redis store
  else if (err.validation) e = new TribuneError('BAD_REQUEST', err.message);
  else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = new TribuneError('BODY_TOO_LARGE');
  else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') e = new TribuneError('UNSUPPORTED_MEDIA_TYPE');
  else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
    e = new TribuneError('BAD_REQUEST', err.message);
  else {
    req.log.error({ err }, 'unhandled error');
    e = new TribuneError('INTERNAL');
  }
  return reply.code(e.status).send(e.toJSON());
}

/** The control plane's store: PostgreSQL when `databaseUrl` is set, otherwise SQLite in the data dir. */
async function openStorage(config: Readonly<TribuneConfig>, log: FastifyBaseLogger): Promise<Storage> {
  if (!config.databaseUrl) return SqliteStorage.open(path.join(config.dataDir, 'tribune.db'));
  const database = redactDatabaseUrl(config.databaseUrl);
  const storage = await PostgresStorage.open(config.databaseUrl, {
    onIdleError: (err) => log.warn({ database, err: err.message }, 'postgres: an idle connection failed'),
  });
  log.info({ database }, 'control plane in PostgreSQL');
  return storage;
}

/**
 * The origin: control API, WHIP ingest, LL-HLS origin routes, and (embedded mode) a built-in edge at /hls
 * plus the web app, all on one port.
 */
export async function createOrigin(
  config: Readonly<TribuneConfig>,
  opts: { embeddedEdge: boolean },
): Promise<Origin> {
  let hot: EdgeHandler | undefined; // the built-in edge's listener hot path (embedded mode)
  const shell = createAppShell(WEB_ROOT); // answers nothing when dist/web is absent
  const app = Fastify({
    logger: { level: config.logLevel },
    // Listener GETs under /hls go to the bare node:http hot path first, then the web app's shell
    // (from memory: hashed assets immutable, index.html revalidated); fastify gets the rest.
    serverFactory: (handler) =>
      listenerServerFactory(() => hot)((req, res) => {
        // The embeddable player may be framed by any site; nothing else changes.
        if (isEmbedUrl(req.url)) res.setHeader('content-security-policy', EMBED_FRAME_POLICY);
        if (!shell(req, res)) handler(req, res);
      }),
    clientErrorHandler: tribuneClientErrorHandler,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.limits.jsonBodyBytes,
    trustProxy: config.trustProxy,
    // Unknown properties are refused (400), not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
  });
  const log = app.log;
  // Several origins: requests about a Space another origin runs go there (src/cluster). Added first,
  // so it runs before every route's own hooks (rate limits see the forwarded client's address).
  let cluster: Cluster | null = null;
  app.addHook('onRequest', async (req, reply) => (cluster ? cluster.onRequest(req, reply) : undefined));
  // First: a database that is down stops the start here, with nothing else started yet.
  const storage = await openStorage(config, log);
  // Shared fast-changing state (throttle, rate limits, revocation): Redis when configured. Never
  // awaited: Tribune starts, and live Spaces play, with Redis down; those requests answer 503.
  const redis: SharedRedis | null = config.redisUrl ? connectRedis(config.redisUrl, log) : null;
  if (redis) log.info({ redis: redactRedisUrl(config.redisUrl) }, 'shared state in Redis');
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  // Live audio must not starve behind other work on the machine; the HTTP process gets the same
  // priority as the engine so that, under saturation, neither waits behind the other.
  if (config.nice !== 0 && !setNice(process.pid, config.nice))
    log.warn({ nice: config.nice }, 'could not raise scheduling priority (needs CAP_SYS_NICE)');
  const engine = new EnginePool(config.media.engines, config.nice);
  await engine.start();
  const secret = await loadSecret(config.tokenSecret, config.dataDir);
  const tokens = new TokenSigner(secret);
  const registry = new SpaceRegistry(config, engine, log);
  const hub = new LiveHub({ onListenerError: (err) => log.error({ err }, 'live state listener failed') });
  const svc = new SpaceService({ storage, registry, hub, tokens, config, log });
  const stage = new StageService(svc);
  const social = new SocialService(svc);
  svc.announce = (s) => social.announce(s);
  const edgeSecret = deriveEdgeSecret(secret);
  // Crowd or attack: the edges' telemetry, the verdict, the operator's orders (src/ops/defence).
  const liveIds = (): string[] => hub.spaceIds().filter((id) => hub.doc(id).state === 'live');
  const defence = new DefenceCenter({
    dataDir: config.dataDir,
    tokenSecret: secret,
    deployment: config.cluster.originId || config.cluster.selfUrl || `${hostname()}:${config.port}`,
    registry: metrics,
    spaces: () => {
      const ids = liveIds();
      // Up: its media runs here, or (several origins) another origin holds its lease.
      return { live: ids.length, up: ids.every((id) => registry.runs(id) || !!cluster?.runsElsewhere(id)) };
    },
    titleOf: (id) => (hub.has(id) ? hub.doc(id).title : undefined),
  });
  defence.start();
  if (config.cluster.selfUrl && redis) {
    cluster = new Cluster({
      originId: config.cluster.originId || `${hostname()}:${config.port}`,
      selfUrl: config.cluster.selfUrl.replace(/\/+$/, ''),
      leaseMs: config.cluster.leaseMs,
      redis: redis.client,
      svc,
      tokenSecret: secret,
      log,
      // A moderator's action on a live Space runs where its media does (src/trust).
      spaceOf: (method, url) => trust.service.spaceOfAction(method, url),
    });
    log.info({ origin: cluster.originId, url: config.cluster.selfUrl }, 'one of several origins');
  }
  // Several origins: events emitted here reach the event streams other origins hold, and theirs ours;
  // edges' live reports one origin accepts reach the others (whichever runs the Space counts them all).
  const fanout = redis
    ? startEventFanout({
        url: config.redisUrl,
        publisher: redis.client,
        svc,
        log,
        originId: cluster?.originId,
        onReport: cluster
          ? (signature, raw) => {
              const body = Buffer.from(raw, 'utf8');
              if (!verifyReportSignature(edgeSecret, body, signature)) return;
              const report = JSON.parse(raw) as EdgeReport;
              hub.ingest(report);
              defence.ingest(report);
            }
          : undefined,
      })
    : null;
  // Several origins share the outbox: with Redis only the holder of this lock delivers it.
  const housekeeping = new Housekeeping(svc, {
    webhookSecret: secret,
    webhookLock: redis ? new RedisLock(redis.client, 'tribune:lock:outbox', config.webhookLockMs) : undefined,
    onlyRunningHere: cluster !== null,
  });
  // Trust and safety (EU DSA): notices, moderation, statements of reasons, complaints (src/trust).
  const trust = createTrust({
    config,
    storage,
    svc,
    stage,
    log,
    tdbLock: redis ? new RedisLock(redis.client, 'tribune:lock:tdb', config.webhookLockMs) : undefined,
    severalOrigins: cluster !== null,
  });
  await svc.replays.ensureDirs();
  // Several origins: live Spaces are adopted by the cluster's sweep (those nobody runs), not resumed.
  await svc.init({ resumeLive: cluster === null });
  housekeeping.start();
  await trust.start();
  cluster?.start();

  const originRequests = registerOriginMetrics(metrics, engine, registry);

  app.setErrorHandler(errorHandler);
  // Per client address, on the routes that cost real resources (a Space, a WebRTC peer).
  // With Redis the counters are shared by every origin; while it is down the limited routes (they
  // create Spaces, accounts, WebRTC peers) answer 503 rather than run unlimited (skipOnError false).
  await app.register(rateLimit, {
    global: false,
    ...(redis ? { redis: redis.client, nameSpace: 'tribune:rl:', skipOnError: false } : {}),
    errorResponseBuilder: (_req, ctx) =>
      new TribuneError('RATE_LIMITED', `retry in ${Math.ceil(ctx.ttl / 1000)} s`),
  });

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Tribune API',
        version: '1',
        description:
          'Live audio Spaces. Errors are `{error:{code,message}}`; the codes are listed in the README.',
      },
      tags: [
        {
          name: 'auth',
          description: 'Accounts and sessions (HTTP-only cookies; send X-CSRF-Token on writes)',
        },
        { name: 'spaces', description: 'Space lifecycle and grants' },
        { name: 'stage', description: 'Requests to speak, roles, mutes, and the real-time channel' },
        { name: 'replays', description: 'Replays and clips' },
        { name: 'social', description: 'Profiles, follows, notifications, search, calendar and embeds' },
      ],
    },
  });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  const revocation = redis ? new SessionRevocation(redis.client) : undefined;
  await app.register(sessionPlugin({ storage, revocation }));
  // A suspended or terminated account reads, complains and signs out, but does not act.
  app.addHook('preHandler', async (req) => trust.guard(req));
  const throttle = redis ? new RedisSigninThrottle(redis.client) : undefined;
  await app.register(
    authRoutes({ storage, throttle, revocation, signupPerMinute: config.limits.signupPerMinute }),
    {
      prefix: '/api/auth',
    },
  );
  await app.register(
    spaceRoutes({ svc, stage, housekeeping, createPerMinute: config.limits.createSpacePerMinute }),
    { prefix: '/api' },
  );
  await app.register(socialRoutes({ social }), { prefix: '/api' });
  await app.register(trust.routes, { prefix: '/api' });
  await app.register(capacityRoutes(), { prefix: '/api' });
  await app.register(defenceRoutes({ center: defence, operators: config.operators }), { prefix: '/api' });
  await app.register(
    whipRoutes({
      registry,
      tokens,
      authorizePublish: (id, userId) => svc.authorizePublish(id, userId),
      bodyLimit: config.limits.whipBodyBytes,
      perMinute: config.limits.whipPerMinute,
    }),
    {
      prefix: '/whip',
    },
  );
  await app.register(
    async (origin) => {
      origin.addHook('onRequest', async () => {
        originRequests.inc();
      });
      const accessFor = (id: string) => svc.accessFor(id);
      const geoBlockFor = (id: string) => svc.blockedCountries(id);
      await origin.register(
        hlsOriginRoutes({
          lookup: (id: string) => registry.store(id),
          clipDir: (id: string) => svc.replays.clipDir(id),
          clipSpace: async (clipId: string) => {
            const c = await storage.clipById(clipId);
            return c ? { spaceId: c.spaceId, access: svc.accessFor(c.spaceId) } : undefined;
          },
          accessFor,
          geoBlockFor,
        }),
      );
      await origin.register(
        liveOriginRoutes({
          hub,
          edgeSecret,
          accessFor,
          geoBlockFor,
          onReport: fanout ? (signature, raw) => fanout.publishReport(signature, raw) : undefined,
          answer: (report) => defence.ingest(report),
        }),
      );
      const directory = new ListenerDirectory(svc);
      await origin.register(
        publicViewRoutes({
          publicView: (id) => svc.publicView(id),
          listeners: (id, cursor, limit) => directory.list(id, null, cursor, limit),
        }),
      );
    },
    { prefix: '/origin' },
  );

  let loader: OriginPool | null = null;
  let live: EdgeLive | undefined;
  if (opts.embeddedEdge) {
    const lazy: OriginLoader = {
      fetch: (p, signal) => {
        if (!loader) return Promise.reject(new TribuneError('ORIGIN_UNAVAILABLE', 'not listening yet'));
        return loader.fetch(p, signal);
      },
    };
    const cache = new EdgeCache({ maxBytes: config.edge.cacheBytes });
    // The built-in edge reports listeners and reactions straight to the hub (no HTTP, nothing to sign).
    const edgeDefence = createEdgeDefence(config.edge.defence, secret, metrics, {
      trustProxy: config.trustProxy,
    });
    live = createEdgeLive({
      tokenSecret: secret,
      sink: (r) => {
        hub.ingest(r);
        return defence.ingest(r);
      },
      reports: reportHooks(edgeDefence),
      registry: metrics,
      log,
    });
    hot = createEdgeHandler({
      loader: lazy,
      cache,
      registry: metrics,
      live,
      admission: createAdmissionGate(config.edge.admission, secret, `${hostname()}:${config.port}`, metrics),
      defence: edgeDefence,
      stream: config.edge.stream,
      trustProxy: config.trustProxy,
      log,
    });
    await app.register(edgeRoutes({ loader: lazy, cache, registry: metrics, live, hot }), { prefix: '/hls' });
  }

  app.setNotFoundHandler((_req, reply) => reply.code(404).send(new TribuneError('NOT_FOUND').toJSON()));

  let closed = false;
  return {
    app,
    registry,
    svc,
    housekeeping,
    storage,
    engine,
    metrics,
    async listen() {
      const address = await app.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG });
      if (opts.embeddedEdge) {
        const port = (app.server.address() as { port: number }).port;
        // A pool of one: with several origins it follows each Space to the origin running it.
        loader = new OriginPool(`http://127.0.0.1:${port}`, {
          timeoutMs: config.edge.originTimeoutMs,
          registry: metrics,
        });
      }
      return address;
    },
    async close() {
      if (closed) return;
      closed = true;
      // Live Spaces stay live: they resume at the next start, speakers reconnecting by themselves.
      housekeeping.close();
      defence.close();
      await trust.close();
      hot?.close(); // stream listeners get their last chunk
      live?.close(); // parked state polls answer at once
      await app.close();
      loader?.close();
      await engine.close();
      await registry.suspendAll();
      await cluster?.close(); // leases back: the other origins take this one's Spaces over at once
      hub.dispose();
      fanout?.close();
      await redis?.close();
      await storage.close();
    },
  };
}
