/**
 * Redis for state that several origins share and that changes fast (the sign-in throttle, the
 * per-address rate limits, session revocation). One ioredis client per process, on only when
 * `TRIBUNE_REDIS_URL` is set; without it all of this stays in process memory.
 *
 * Failures never wait: no offline queue (a command while disconnected fails at once), one retry per
 * command, a short command timeout, and reconnection with backoff in the background, so Tribune
 * recovers by itself when Redis returns. `shared()` turns any failure (down, timeout, a reply that
 * is malformed or too large) into 503 STORE_UNAVAILABLE.
 */
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import { isTribuneError, TribuneError } from '../errors.js';

/** A command that takes longer than this fails (503) instead of holding the request. */
const COMMAND_TIMEOUT_MS = 500;
/** Replies (strings) longer than this are refused as malformed: nothing Tribune stores is this big. */
export const MAX_REPLY_BYTES = 4096;

export interface SharedRedis {
  readonly client: Redis;
  close(): Promise<void>;
}

/** Never echo a URL as given: it may hold a password. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://(unparsable)';
  }
}

export function connectRedis(url: string, log: FastifyBaseLogger): SharedRedis {
  const where = redactRedisUrl(url);
  const client = new Redis(url, {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: 2_000,
    // 50 ms, 100 ms, ... up to 2 s between attempts, forever.
    retryStrategy: (times) => Math.min(2_000, 50 * 2 ** Math.min(times, 6)),
    // A replica promoted or a READONLY reply: reconnect.
    reconnectOnError: (err) => /READONLY/.test(err.message),
  });
  let down = false;
  client.on('ready', () => {
    if (down) log.info({ redis: where }, 'redis: back');
    down = false;
  });
  // Without a listener an 'error' event would crash the process. Log once per outage.
  client.on('error', (err: Error) => {
    if (down) return;
    down = true;
    log.warn(
      { redis: where, err: err.message },
      'redis: unavailable; shared state answers 503 until it returns',
    );
  });
  return {
    client,
    async close() {
      client.disconnect();
    },
  };
}

/** True for errors raised by ioredis or a Redis server (as opposed to Tribune's own). */
export function isRedisFailure(err: unknown): boolean {
  if (!(err instanceof Error) || isTribuneError(err)) return false;
  return (
    [
      'ReplyError',
      'MaxRetriesPerRequestError',
      'AbortError',
      'ParserError',
      'ClusterAllFailedError',
    ].includes(err.name) ||
    /Command timed out|enableOfflineQueue|Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE/.test(
      err.message,
    )
  );
}

/** STORE_UNAVAILABLE (stable message; the cause is kept for the logs). */
export function storeUnavailable(cause?: unknown): TribuneError {
  return new TribuneError('STORE_UNAVAILABLE', undefined, { cause });
}

/**
 * Runs one Redis operation; any failure becomes 503 STORE_UNAVAILABLE. `check` validates the reply
 * (shape, size) and returns it typed, or undefined to refuse it as malformed.
 */
export async function shared<R, T>(op: () => Promise<R>, check: (reply: R) => T | undefined): Promise<T> {
  let reply: R;
  try {
    reply = await op();
  } catch (err) {
    throw storeUnavailable(err);
  }
  const value = check(reply);
  if (value === undefined) throw storeUnavailable(new Error('malformed reply from redis'));
  return value;
}

/** An array of exactly `n` integers (a Lua script's reply), else undefined. */
export function intArray(reply: unknown, n: number): number[] | undefined {
  if (!Array.isArray(reply) || reply.length !== n) return undefined;
  return reply.every((v) => typeof v === 'number' && Number.isSafeInteger(v))
    ? (reply as number[])
    : undefined;
}
