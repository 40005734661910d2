/**
 * `GET /hls/spaces/:id/stream.mp4`: one response per listener, fed by the edge's StreamHub (one
 * StreamFeeds follower per Space), and the state document's fields the hot path reads.
 */
import { randomBytes } from 'node:crypto';
import { TribuneError } from '../errors.js';
import { hasRehearsal } from './admission/http.js';
import type { CacheEntry } from './cache.js';
import { scrapeCounter, scrapeGauge } from '../shared/prom.js';
import type { EdgeHandlerOptions, HotContext, HotRequest, HotResponse } from './hot-types.js';
import { LID_RE, STATE_FILE } from './paths.js';
import { capSendBuffer } from './sndbuf.js';
import { StreamFeeds } from './stream-feed.js';
import { StreamHub, type StreamListener } from './stream-hub.js';

/** A cached 'scheduled' state older than this is read again before a stream is refused. */
const STATE_RECHECK_MS = 100;
/** Stream listeners are counted as listeners this often (the counter's window is 5 s). */
const STREAM_COUNT_INTERVAL_MS = 2000;

/** A state document's `state` and `title`, parsed once per cached entry. */
const docFields = new WeakMap<CacheEntry, { state?: string; title?: string }>();
function fieldsOf(entry: CacheEntry): { state?: string; title?: string } {
  let f = docFields.get(entry);
  if (!f) {
    f = {};
    try {
      const d = JSON.parse(entry.body.toString('utf8')) as { state?: unknown; title?: unknown };
      if (typeof d.state === 'string') f.state = d.state;
      if (typeof d.title === 'string') f.title = d.title;
    } catch {
      // not a state document: neither
    }
    docFields.set(entry, f);
  }
  return f;
}

/** The `state` of a state document, if it has one. */
export function stateOf(entry: CacheEntry): string | undefined {
  return fieldsOf(entry).state;
}

/** The `title` of a state document, if it has one. */
export function titleOf(entry: CacheEntry): string | undefined {
  return fieldsOf(entry).title;
}

export interface StreamDelivery {
  readonly hub: StreamHub;
  readonly feeds: StreamFeeds;
  /** Answers a stream request (its errors are thrown: the caller answers them). */
  stream(req: HotRequest, res: HotResponse, id: string, rawQuery: string): Promise<void>;
  /** Stops the listener counting and the feeds, and ends every stream. */
  close(): void;
}

export function createStreamDelivery(ctx: HotContext, opts: EdgeHandlerOptions['stream']): StreamDelivery {
  const { cache, live, access, geo, gate, n, cur, originPrefix, now, liveNow, registry } = ctx;
  const { loadOrigin, lookupAsync, sendEntry, authorize, tokenOf, admissionOf, addressOf } = ctx;
  const { reject, refuse, sendError, unauthorized, geoRefused, geoRefusedEarly, geoRestricted } = ctx;

  const hub = new StreamHub(opts);
  const sendBufferBytes = opts?.sendBufferBytes ?? 4096;
  const feeds = new StreamFeeds({
    hub,
    cached: async (key, signal) => {
      const { entry } = await cache.get(key, (s) => loadOrigin(`${originPrefix}/${key}`, s), signal);
      // The feed reloads the playlist every part: a new restriction is learnt here too.
      const slash = key.indexOf('/');
      if (slash > 0) geo.note(key.slice(0, slash), entry.status, entry.geoBlock, entry.storedAt);
      return entry;
    },
    direct: async (key, signal) => {
      const input = await loadOrigin(`${originPrefix}/${key}`, signal);
      return { ...input, storedAt: now(), expiresAt: now() } as CacheEntry;
    },
    log: ctx.log,
  });
  for (const [name, help, read] of [
    ['stream_listeners', 'Stream-mode listeners connected to this edge', () => hub.listeners],
    [
      'stream_parts_per_write',
      'Parts per write to each stream listener at the current load',
      () => hub.batch,
    ],
    ['stream_feeds', 'Spaces this edge follows for stream listeners', () => feeds.size],
  ] as const)
    scrapeGauge(registry, `tribune_edge_${name}`, help, read);
  scrapeCounter(
    registry,
    'tribune_edge_stream_writes_total',
    'Writes to stream listeners',
    () => hub.stats().writes,
  );
  scrapeCounter(
    registry,
    'tribune_edge_stream_cut_total',
    'Stream listeners cut for falling behind',
    () => hub.stats().cut,
  );
  scrapeCounter(
    registry,
    'tribune_edge_stream_skipped_parts_total',
    'Parts a stream feed skipped to stay at the live edge after falling behind (an overloaded edge)',
    () => feeds.skipped,
  );

  // Stream listeners count as listeners like pollers of the state document (same window, by lid).
  const countTimer = live
    ? setInterval(() => {
        const t = live.now();
        for (const id of hub.activeSpaces())
          for (const l of hub.listenersOf(id)) live.listeners.seen(id, l.lid, l.userId, t);
      }, STREAM_COUNT_INTERVAL_MS)
    : undefined;
  countTimer?.unref();

  // A Space newly closed to some countries: its open streams to them end now (their players'
  // reconnections are then refused 451).
  geo.onBlock((id) => {
    for (const l of hub.listenersOf(id)) if (geo.refuses(id, l.address)) l.sink.destroy();
  });

  const STREAM_HEADERS = [
    'content-type',
    'audio/mp4',
    'cache-control',
    'no-store',
    'x-accel-buffering',
    'no',
    ...(ctx.cors ? ['access-control-allow-origin', '*'] : []),
  ];
  const stream = async (req: HotRequest, res: HotResponse, id: string, rawQuery: string): Promise<void> => {
    const params = new URLSearchParams(rawQuery);
    const lids = params.getAll('lid');
    if (lids.length > 1 || (lids.length === 1 && !LID_RE.test(lids[0]))) {
      reject(res, new TribuneError('BAD_REQUEST', 'lid must be 8-64 characters of [A-Za-z0-9_-]'));
      return;
    }
    const lid = lids[0] ?? randomBytes(12).toString('base64url');
    const address = addressOf(req);
    cur.kind = 'stream';
    const rehearsal = gate !== undefined && hasRehearsal(gate, req.headers);
    let aid: string | undefined;
    if (gate) {
      const adm = admissionOf(req, rawQuery);
      const check = gate.media(id, adm, address, 'stream');
      if (!check.ok) {
        refuse(res, check.refusal);
        return;
      }
      aid = check.aid;
      cur.cls = adm !== undefined ? 'media_token' : 'tokenless';
    } else cur.cls = 'tokenless';
    if (!rehearsal && !hub.reserve(address)) {
      gate?.streamClosed(aid);
      n.rejected++;
      cur.cls = 'refused';
      sendError(res, new TribuneError('RATE_LIMITED', `at most ${hub.perAddressMax} streams per address`), [
        'retry-after',
        '10',
      ]);
      return;
    }
    // The place is held from here; every way out before joining gives it back.
    let joined = false;
    try {
      joined = await openStream(req, res, id, rawQuery, lid, address, aid);
    } finally {
      if (!joined) {
        if (!rehearsal) hub.release(address);
        gate?.streamClosed(aid);
      }
    }
  };

  /** The rest of a stream request, its address's place taken; true once it joined the hub. */
  const openStream = async (
    req: HotRequest,
    res: HotResponse,
    id: string,
    rawQuery: string,
    lid: string,
    address: string,
    aid: string | undefined,
  ): Promise<boolean> => {
    if (geoRefusedEarly(req, id)) {
      geoRestricted(res);
      return false;
    }
    const token = tokenOf(req, rawQuery);
    if (access.requiresToken(id) && !authorize(id, undefined, token).ok) {
      unauthorized(res);
      return false;
    }
    const key = `${id}/${STATE_FILE}`;
    let loaded = await lookupAsync(res, key, `${originPrefix}/${key}`);
    if (!loaded || res.destroyed) return false;
    // A copy that still says 'scheduled' may be up to a second behind a start: a player sent here
    // by the page of a Space that just started must not be refused. Read it again once (collapsed
    // with any other reload), unless it was just loaded.
    if (
      loaded.outcome === 'HIT' &&
      stateOf(loaded.entry) === 'scheduled' &&
      now() - loaded.entry.storedAt > STATE_RECHECK_MS
    ) {
      cache.delete(key);
      loaded = await lookupAsync(res, key, `${originPrefix}/${key}`);
      if (!loaded || res.destroyed) return false;
    }
    const { entry, outcome } = loaded;
    if (entry.status < 200 || entry.status >= 300) {
      sendEntry(res, entry, outcome, false); // the origin's own error (SPACE_NOT_FOUND...)
      return false;
    }
    if (geoRefused(req, id, entry)) {
      geoRestricted(res);
      return false;
    }
    const auth = authorize(id, entry, token, true);
    if (!auth.ok) {
      unauthorized(res);
      return false;
    }
    const state = stateOf(entry);
    if (state === 'ended') {
      // Nothing more to stream, and nothing wrong: a player reconnecting as its Space ends gets
      // this, not an error (browsers log every 4xx as one).
      res.writeHead(204, ['cache-control', 'no-store', 'x-tribune-state', 'ended']);
      res.end();
      return false;
    }
    if (state !== 'live') {
      reject(res, new TribuneError('SPACE_NOT_LIVE', `state ${state ?? 'unknown'}`));
      return false;
    }
    const socket = res.socket;
    if (!socket || req.method === 'HEAD') {
      res.writeHead(200, STREAM_HEADERS);
      res.end();
      return false;
    }
    res.writeHead(200, STREAM_HEADERS);
    res.flushHeaders();
    if (sendBufferBytes > 0) capSendBuffer(socket, sendBufferBytes);
    // From here the hub writes prebuilt HTTP chunks straight to the socket (one write per batch);
    // res.end() writes the last chunk when the Space ends.
    const listener: StreamListener = {
      sink: {
        write: (b) => socket.write(b),
        get writableLength() {
          return socket.writableLength;
        },
        destroy: () => socket.destroy(),
        end: () => res.end(),
      },
      address,
      lid,
      userId: auth.userId,
    };
    hub.join(id, listener);
    gate?.streamOpened(aid);
    live?.listeners.seen(id, lid, auth.userId, live.now());
    // A listen token ends the response when it expires: the player gets a fresh one and reconnects.
    const expiry =
      auth.expiresAtMs !== undefined
        ? setTimeout(() => socket.destroy(), Math.min(2 ** 31 - 1, Math.max(0, auth.expiresAtMs - liveNow())))
        : undefined;
    expiry?.unref();
    res.once('close', () => {
      clearTimeout(expiry);
      hub.leave(id, listener);
      gate?.streamClosed(aid);
      live?.listeners.leave(id, lid);
    });
    feeds.ensure(id);
    return true;
  };

  return {
    hub,
    feeds,
    stream,
    close() {
      if (countTimer) clearInterval(countTimer);
      feeds.close();
      for (const id of hub.activeSpaces()) hub.end(id);
    },
  };
}
