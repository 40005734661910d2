/**
 * Background duties of the control plane, each on one timer, all stopped by `close()`:
 * - a live Space whose host has been gone (no stage session, no open page) for
 *   `spaces.hostAbsentEndSec` ends by itself;
 * - replays past their retention are deleted from disk;
 * - the webhook outbox is delivered (signed, retried with backoff; it survives restarts); with
 *   several origins (Redis configured) only the holder of a Redis lock delivers, so an event is not
 *   POSTed by two origins at once; while Redis is down nobody delivers (the outbox waits);
 * - expired sessions are purged.
 */
import { createHmac } from 'node:crypto';
import type { SpaceService } from './service.js';
import { isTribuneError } from '../errors.js';
import type { RedisLock, StillHeld } from '../shared/redis-lock.js';

export interface HousekeepingOptions {
  intervalMs?: number;
  /** HMAC key for the webhook signature header. */
  webhookSecret: Buffer;
  fetch?: typeof fetch;
  /** Several origins: deliver the outbox only while holding this lock (absent: one origin, no lock). */
  webhookLock?: RedisLock;
  /** Several origins: the host-absent end is decided by the origin running the Space's media. */
  onlyRunningHere?: boolean;
}

const MAX_WEBHOOK_ATTEMPTS = 12;

export class Housekeeping {
  /** spaceId → open host pages (server-sent event streams). */
  private readonly hostPages = new Map<string, number>();
  /** spaceId → last time the host was seen present. */
  private readonly hostSeenAt = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly doFetch: typeof fetch;

  constructor(
    private readonly svc: SpaceService,
    private readonly opts: HousekeepingOptions,
  ) {
    this.doFetch = opts.fetch ?? ((...a) => fetch(...a));
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs ?? 1000);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The host opened (+1) or closed (-1) a page on their Space. */
  hostPage(spaceId: string, delta: 1 | -1): void {
    const n = (this.hostPages.get(spaceId) ?? 0) + delta;
    if (n <= 0) this.hostPages.delete(spaceId);
    else this.hostPages.set(spaceId, n);
    this.hostSeenAt.set(spaceId, this.svc.now());
  }

  private storeDown = false;

  /** One pass of every duty (exposed for tests; the timer calls it). */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.endAbandoned();
      await this.expireReplays();
      await this.deliverWebhooks();
      await this.svc.storage.deleteExpiredSessions(new Date(this.svc.now()).toISOString());
      if (this.storeDown) this.svc.log.info('housekeeping: the store is back');
      this.storeDown = false;
    } catch (err) {
      // A database outage is logged once (a warning), not once a second with a stack trace.
      if (isTribuneError(err) && err.code === 'STORE_UNAVAILABLE') {
        if (!this.storeDown)
          this.svc.log.warn({ err: err.cause ?? err }, 'housekeeping: the store is unavailable');
        this.storeDown = true;
      } else this.svc.log.error({ err }, 'housekeeping failed');
    } finally {
      this.running = false;
    }
  }

  private async endAbandoned(): Promise<void> {
    const now = this.svc.now();
    const limitMs = this.svc.config.spaces.hostAbsentEndSec * 1000;
    // Several origins: an origin running no live Space has nothing to check (no query a second).
    if (this.opts.onlyRunningHere && this.svc.registry.liveCount === 0) {
      this.hostSeenAt.clear();
      return;
    }
    for (const s of await this.svc.storage.listSpaces({ states: ['live'], limit: 100_000 })) {
      // Several origins: only the origin running a Space's media can tell whether its host is there.
      if (this.opts.onlyRunningHere && !this.svc.registry.runs(s.id)) {
        this.hostSeenAt.delete(s.id);
        continue;
      }
      const present = (this.hostPages.get(s.id) ?? 0) > 0 || this.svc.registry.isConnected(s.id, s.hostId);
      const seen = this.hostSeenAt.get(s.id);
      if (present || seen === undefined) {
        // First sight (a new Space, or a restart) starts the clock: a host gets the full grace period.
        this.hostSeenAt.set(s.id, now);
        continue;
      }
      if (now - seen >= limitMs) {
        this.svc.log.info(
          { id: s.id, goneSec: Math.round((now - seen) / 1000) },
          'host gone: ending the Space',
        );
        await this.svc.end(null, s.id);
        this.hostSeenAt.delete(s.id);
      }
    }
  }

  private async expireReplays(): Promise<void> {
    for (const s of await this.svc.storage.expiredReplays(new Date(this.svc.now()).toISOString())) {
      this.svc.log.info({ id: s.id }, 'replay retention passed: deleting the recording');
      await this.svc.exclusive(s.id, () => this.svc.replays.dropReplay(s, 'expired'));
      this.svc.emit('space', s.id);
    }
  }

  private lockDown = false;

  private async deliverWebhooks(): Promise<void> {
    const url = this.svc.config.webhookUrl;
    if (!url) return;
    const lock = this.opts.webhookLock;
    if (!lock) return this.deliverDue(url, async () => true);
    // Errors of the pass itself are told apart from a failure to take the lock.
    let failure: { err: unknown } | undefined;
    try {
      // Resolves false when another origin holds the lock (it is delivering): nothing to do here.
      await lock.run(async (held) => {
        try {
          await this.deliverDue(url, held);
        } catch (err) {
          failure = { err };
        }
      });
    } catch (err) {
      // Redis down: skip the pass (never "everyone delivers"); logged once per outage.
      if (!this.lockDown)
        this.svc.log.warn(
          { err },
          'housekeeping: webhook delivery paused, the outbox lock (redis) is unavailable',
        );
      this.lockDown = true;
      return;
    }
    if (this.lockDown) this.svc.log.info('housekeeping: webhook delivery resumed, the outbox lock is back');
    this.lockDown = false;
    if (failure) throw failure.err;
  }

  private async deliverDue(url: string, held: StillHeld): Promise<void> {
    const now = this.svc.now();
    for (const o of await this.svc.storage.dueOutbox(new Date(now).toISOString(), 20)) {
      // Fencing: stop as soon as the lock is lost (expired, taken over, or Redis unreachable).
      if (!(await held())) {
        this.svc.log.warn({ id: o.id }, 'housekeeping: lost the outbox lock, stopping this delivery pass');
        return;
      }
      const signature = createHmac('sha256', this.opts.webhookSecret).update(o.payload).digest('hex');
      let ok = false;
      try {
        const res = await this.doFetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-tribune-signature': `sha256=${signature}`,
            'x-tribune-delivery': o.id,
          },
          body: o.payload,
          signal: AbortSignal.timeout(5000),
        });
        ok = res.ok;
      } catch (err) {
        this.svc.log.warn({ err, id: o.id }, 'webhook delivery failed');
      }
      if (ok || o.attempts + 1 >= MAX_WEBHOOK_ATTEMPTS) {
        if (!ok) this.svc.log.error({ id: o.id }, 'webhook dropped after repeated failures');
        await this.svc.storage.deleteOutbox(o.id);
      } else {
        const backoffMs = Math.min(3600_000, 1000 * 2 ** o.attempts);
        await this.svc.storage.rescheduleOutbox(
          o.id,
          o.attempts + 1,
          new Date(now + backoffMs).toISOString(),
        );
      }
    }
  }
}
