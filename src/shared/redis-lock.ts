/**
 * A Redis lock for a duty that one origin at a time must run (the webhook outbox). Taken with
 * `SET key token NX PX ttl`; renewed every ttl/3 while the work runs (compare-and-pexpire); released
 * with compare-and-delete, so a holder never extends or removes a lock that expired and was taken
 * by another origin. The token names the holder (`host:pid:random`) for the operator.
 *
 * Fencing: the work gets `held()`, which asks Redis whether this token still holds the lock (and
 * answers false at once if a renewal failed or the last successful renewal is a TTL old). Call
 * it before each side effect and stop when it answers false. A holder frozen for longer than the
 * TTL between `held()` and its side effect can still overlap with the next holder: delivery stays
 * at least once, duplicates become rare instead of routine.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Redis } from 'ioredis';

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/** `held()` for the work under the lock: true while this holder still owns it. */
export type StillHeld = () => Promise<boolean>;

export class RedisLock {
  constructor(
    private readonly client: Redis,
    readonly key: string,
    readonly ttlMs: number,
  ) {}

  /**
   * Runs `work` if the lock is free: resolves `true` when it ran, `false` when another holder has
   * the lock. A Redis failure while taking the lock rejects (the caller skips its pass); failures
   * after that only make `held()` answer false. The lock is released when `work` settles.
   */
  async run(work: (held: StillHeld) => Promise<void>): Promise<boolean> {
    const token = `${os.hostname()}:${process.pid}:${randomBytes(8).toString('hex')}`;
    const taken = await this.client.set(this.key, token, 'PX', this.ttlMs, 'NX');
    if (taken !== 'OK') return false;
    let confirmedAt = Date.now();
    let lost = false;
    const renew = async (): Promise<void> => {
      if (lost) return;
      const started = Date.now();
      try {
        const r = await this.client.eval(RENEW, 1, this.key, token, String(this.ttlMs));
        if (r === 1) confirmedAt = started;
        else lost = true;
      } catch {
        lost = true; // Redis unreachable: we can no longer prove we hold it.
      }
    };
    const timer = setInterval(() => void renew(), Math.max(100, Math.floor(this.ttlMs / 3)));
    timer.unref();
    const held: StillHeld = async () => {
      if (lost || Date.now() - confirmedAt >= this.ttlMs) return false;
      try {
        // A GET does not extend the lock: only renewals move `confirmedAt`.
        if ((await this.client.get(this.key)) !== token) lost = true;
      } catch {
        lost = true;
      }
      return !lost;
    };
    try {
      await work(held);
    } finally {
      clearInterval(timer);
      // Best effort: if this fails the lock expires by itself after the TTL.
      await this.client.eval(RELEASE, 1, this.key, token).catch(() => undefined);
    }
    return true;
  }
}
