/**
 * Session revocation shared by every origin: a signed-out session's hash is kept in Redis (one key
 * per session, expiring when the session would have) and checked on every request that carries a
 * session cookie, so no origin can keep honouring it from a stale read or cache.
 *
 * Failure choices (Redis down or slow):
 * - `revoke` (at sign-out) runs after the session row is deleted from Storage, which every origin
 *   reads; a Redis failure is logged and the sign-out still succeeds: it is already effective.
 * - `isRevoked` fails open: Storage stays the authority (a deleted session resolves to nothing on
 *   every origin), so the Redis check is a second line, and failing closed would sign every user
 *   out of every origin for the length of a Redis outage.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type { SessionRecord } from '../store/types.js';
import { shared } from '../shared/redis.js';

export class SessionRevocation {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'tribune:revoked:',
    private readonly now: () => number = Date.now,
  ) {}

  private key(idHash: string): string {
    return this.prefix + idHash;
  }

  /** Marks a session revoked until it would have expired. Never throws. */
  async revoke(session: SessionRecord, log: FastifyBaseLogger): Promise<void> {
    const ttl = Math.ceil(Date.parse(session.expiresAt) - this.now());
    if (!(ttl > 0)) return;
    try {
      await shared(
        () => this.redis.set(this.key(session.idHash), '1', 'PX', ttl),
        (r) => (r === 'OK' ? r : undefined),
      );
    } catch (err) {
      log.warn(
        { err: (err as Error).message },
        'redis: could not publish a sign-out (the session is deleted in storage)',
      );
    }
  }

  /** True when the session was revoked; false when not, or when Redis cannot say (fail open). */
  async isRevoked(idHash: string): Promise<boolean> {
    try {
      return await shared(
        () => this.redis.exists(this.key(idHash)),
        (r) => (r === 0 || r === 1 ? r === 1 : undefined),
      );
    } catch {
      return false;
    }
  }
}
