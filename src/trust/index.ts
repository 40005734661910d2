/**
 * Trust and safety (EU DSA), put together for the origin: the service, its routes, the account
 * guard (suspended and terminated accounts may read, sign out, see their statements and complain,
 * but not act), and the background work (evidence retention, the Transparency Database outbox —
 * with several origins, one at a time under a Redis lock).
 */
import path from 'node:path';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { TribuneConfig } from '../config.js';
import { TribuneError } from '../errors.js';
import type { RedisLock } from '../shared/redis-lock.js';
import type { SpaceService } from '../spaces/service.js';
import type { StageService } from '../spaces/stage.js';
import type { Storage } from '../store/types.js';
import { TrustContext } from './context.js';
import { EvidenceKeeper } from './evidence.js';
import { TrustRoles } from './roles.js';
import { trustRoutes } from './routes.js';
import { TrustService } from './service.js';
import { TdbSubmitter } from './submitter.js';

const SWEEP_MS = 60_000;
/** Several origins: how often each origin reads the Spaces' moderation (hidden, label, geo-blocks). */
const MODERATION_SYNC_MS = 2000;

export interface Trust {
  service: TrustService;
  routes: ReturnType<typeof trustRoutes>;
  /** onRequest-after-session guard: ACCOUNT_SUSPENDED for a restricted account's writes. */
  guard(req: FastifyRequest): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Writes a restricted account may still make: its session, complaints (Art. 20) and notices
 * (Art. 16 is open to anyone). Not moderation: a suspended moderator does not act on cases.
 */
const ALLOWED_WHILE_SUSPENDED =
  /^\/api\/(auth\/|trust\/notices(\?|$)|trust\/cases\/[^/?]+\/complaints(\?|$)|trust\/statements\/verify)/;

export function createTrust(d: {
  config: Readonly<TribuneConfig>;
  storage: Storage;
  svc: SpaceService;
  stage: StageService;
  log: FastifyBaseLogger;
  tdbLock?: RedisLock;
  /** Another origin may apply a moderation: read it back every few seconds. */
  severalOrigins?: boolean;
}): Trust {
  const evidence = new EvidenceKeeper({
    dir: path.join(d.config.dataDir, 'evidence'),
    store: d.storage,
    maxSec: d.config.trust.evidenceMaxSec,
    now: () => d.svc.now(),
    log: d.log,
  });
  const submitter = new TdbSubmitter({
    store: d.storage,
    config: d.config.trust.tdb,
    platformUrl: d.config.cluster.selfUrl || `http://localhost:${d.config.port}`,
    log: d.log,
  });
  const x = new TrustContext({
    storage: d.storage,
    svc: d.svc,
    stage: d.stage,
    config: d.config.trust,
    webhook: !!d.config.webhookUrl,
    roles: new TrustRoles(d.storage, d.config.operators),
    evidence,
    submitter,
  });
  const service = new TrustService(x);
  d.svc.accountRestriction = async (userId) => {
    const block = await service.accountBlock(userId);
    return block
      ? block.state === 'terminated'
        ? 'terminated'
        : `until ${block.until ?? 'further notice'}`
      : null;
  };
  const timers: ReturnType<typeof setInterval>[] = [];
  const every = (ms: number, work: () => Promise<unknown>, what: string): void => {
    const t = setInterval(() => {
      void work().catch((err: unknown) => d.log.warn({ err }, `trust: ${what} failed`));
    }, ms);
    t.unref();
    timers.push(t);
  };
  return {
    service,
    routes: trustRoutes({ trust: service }),
    async guard(req) {
      if (!req.user || req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
      if (ALLOWED_WHILE_SUSPENDED.test(req.url)) return;
      const restricted = await d.svc.accountRestriction?.(req.user.id);
      if (restricted) throw new TribuneError('ACCOUNT_SUSPENDED', restricted);
    },
    async start() {
      await service.syncModeration();
      if (d.severalOrigins) every(MODERATION_SYNC_MS, () => service.syncModeration(), 'moderation sync');
      every(SWEEP_MS, () => evidence.sweep(new Date(d.svc.now()).toISOString()), 'evidence sweep');
      if (submitter.enabled) {
        const flush = (): Promise<unknown> =>
          d.tdbLock ? d.tdbLock.run(async () => void (await submitter.flush())) : submitter.flush();
        every(d.config.trust.tdb.flushMs, flush, 'Transparency Database submission');
        d.log.info({ mode: d.config.trust.tdb.mode }, 'Transparency Database submitter on');
      }
    },
    async close() {
      for (const t of timers) clearInterval(t);
      await submitter.close();
    },
  };
}
