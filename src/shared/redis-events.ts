/**
 * Server-sent-event fan-out between origins (with `TRIBUNE_REDIS_URL`). A control-plane change made
 * on one origin (a request to speak, an approval, a role change, a mute, a Space that starts or
 * ends) emits `me`, `participants` or `space` on that origin's SpaceService; hosts and speakers
 * whose event stream (src/spaces/events.ts) is held by another origin must hear of it too.
 *
 * Each origin publishes every event it emits on one Redis channel, as a small JSON message
 * `{o: origin id, k: kind, s: spaceId, u?: userId}`, and subscribes to that channel with a
 * connection of its own (a subscribed connection runs no other command). A message from another
 * origin is emitted again locally, so the streams re-read the fresh state from storage exactly as
 * they do for a local change; the message carries no state, only what to re-read.
 *
 * Failures never block nor crash: publishing is fire-and-forget (Redis down: the event still reaches
 * this origin's streams, other origins miss it); the subscriber reconnects with backoff and
 * subscribes again at each `ready`. A malformed or oversized message is ignored (logged once).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import type { ServiceEvents, SpaceService } from '../spaces/service.js';
import { redactRedisUrl } from './redis.js';

export const EVENTS_CHANNEL = 'tribune:events';
/**
 * Edges' live reports (listener counts, reactions, samples), as received by one origin, for all the
 * others: `<origin id>\n<edge signature>\n<raw report>`. Each origin checks the edge's signature again.
 */
export const REPORTS_CHANNEL = 'tribune:live-reports';
/** A report is at most 256 KiB (the report route's body limit) plus the two header lines. */
const MAX_REPORT_MESSAGE = 256 * 1024 + 256;
/** Messages longer than this are refused: a real one is about 100 bytes. */
export const MAX_EVENT_BYTES = 512;
/** Ids (Space, user, origin) longer than this are refused. */
const MAX_ID_CHARS = 64;
const KINDS: ReadonlySet<string> = new Set<keyof ServiceEvents>(['me', 'participants', 'space']);

export interface PeerEvent {
  origin: string;
  kind: keyof ServiceEvents;
  spaceId: string;
  userId?: string;
}

const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_CHARS;

export function encodePeerEvent(e: PeerEvent): string {
  return JSON.stringify({ o: e.origin, k: e.kind, s: e.spaceId, ...(e.userId ? { u: e.userId } : {}) });
}

/** The event in a channel message, or undefined when it is malformed or too large. */
export function decodePeerEvent(message: string): PeerEvent | undefined {
  if (typeof message !== 'string' || message.length > MAX_EVENT_BYTES) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const { o, k, s, u } = v as Record<string, unknown>;
  if (!isId(o) || typeof k !== 'string' || !KINDS.has(k) || !isId(s)) return undefined;
  if (k === 'me') return isId(u) ? { origin: o, kind: 'me', spaceId: s, userId: u } : undefined;
  return { origin: o, kind: k as PeerEvent['kind'], spaceId: s };
}

export interface EventFanout {
  /** This origin's id in the messages (its own are ignored when they come back). */
  readonly originId: string;
  /** Messages ignored as malformed or oversized. */
  readonly rejected: number;
  /** Shares an edge report this origin accepted with the other origins (fire and forget). */
  publishReport(signature: string, raw: Buffer): void;
  close(): void;
}

/**
 * Publishes `svc`'s events through `publisher` (the shared client) and re-emits other origins'
 * events on `svc`, heard through a subscriber connection of its own to `url`.
 */
export function startEventFanout(opts: {
  url: string;
  publisher: Redis;
  svc: SpaceService;
  log: FastifyBaseLogger;
  originId?: string;
  /** An edge report another origin accepted: `signature` is the edge's, over `raw`. */
  onReport?: (signature: string, raw: string) => void;
}): EventFanout {
  const { url, publisher, svc, log } = opts;
  const originId = opts.originId ?? randomUUID();
  const where = redactRedisUrl(url);
  let closed = false;
  let rejected = 0;

  svc.relay = (kind, spaceId, userId) => {
    if (closed) return;
    const message = encodePeerEvent({ origin: originId, kind, spaceId, userId });
    // No offline queue on the shared client: while Redis is down this fails at once. The shared
    // client logs the outage; other origins miss this event, the local streams do not.
    publisher.publish(EVENTS_CHANNEL, message).catch(() => undefined);
  };

  const sub = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(2_000, 50 * 2 ** Math.min(times, 6)),
    // Subscribed again at each `ready` below, the first connection and every reconnection alike.
    autoResubscribe: false,
  });
  let down = false;
  sub.on('ready', () => {
    sub.subscribe(EVENTS_CHANNEL, ...(opts.onReport ? [REPORTS_CHANNEL] : [])).then(
      () => {
        if (down) log.info({ redis: where }, 'redis events: subscribed again');
        down = false;
      },
      (err: Error) => log.warn({ redis: where, err: err.message }, 'redis events: subscribe failed'),
    );
  });
  sub.on('error', (err: Error) => {
    if (down) return;
    down = true;
    log.warn(
      { redis: where, err: err.message },
      'redis events: subscriber unavailable; other origins unheard',
    );
  });
  sub.on('message', (channel: string, message: string) => {
    if (closed) return;
    if (channel === REPORTS_CHANNEL) {
      if (typeof message !== 'string' || message.length > MAX_REPORT_MESSAGE) return;
      const a = message.indexOf('\n');
      const b = message.indexOf('\n', a + 1);
      if (a <= 0 || b <= a || message.slice(0, a) === originId) return;
      try {
        opts.onReport?.(message.slice(a + 1, b), message.slice(b + 1));
      } catch (err) {
        log.warn({ err }, 'redis events: a peer report could not be taken');
      }
      return;
    }
    if (channel !== EVENTS_CHANNEL) return;
    const e = decodePeerEvent(message);
    if (!e) {
      if (rejected++ === 0)
        log.warn(
          { bytes: String(message).length },
          'redis events: ignored a malformed message (logged once)',
        );
      return;
    }
    if (e.origin === originId) return;
    try {
      if (e.kind === 'me') svc.emitFromPeer('me', e.spaceId, e.userId!);
      else svc.emitFromPeer(e.kind, e.spaceId);
    } catch (err) {
      log.warn({ err, kind: e.kind, spaceId: e.spaceId }, 'redis events: a listener failed');
    }
  });

  return {
    originId,
    get rejected() {
      return rejected;
    },
    publishReport(signature, raw) {
      if (closed || !opts.onReport) return;
      const message = `${originId}\n${signature}\n${raw.toString('utf8')}`;
      publisher.publish(REPORTS_CHANNEL, message).catch(() => undefined);
    },
    close() {
      if (closed) return;
      closed = true;
      if (svc.relay) svc.relay = null;
      sub.disconnect();
    },
  };
}
