/**
 * The hot path's public types (re-exported by hot.ts) and the one context object its parts share
 * (hot.ts builds it once per handler; hot-stream.ts and hot-admit.ts read it at construction).
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Registry } from 'prom-client';
import type { TribuneError } from '../errors.js';
import type { ListenAccess } from '../live/edge-access.js';
import type { EdgeLive } from '../live/edge-live.js';
import type { AdmissionGate, GateRefusal } from './admission/gate.js';
import type { CacheEntry, CacheInput, EdgeCache } from './cache.js';
import type { EdgeDefence } from './defence/shield.js';
import type { GeoBlocks } from './geo.js';
import type { PatternKind, RequestClass } from './defence/types.js';
import type { OriginLoader } from './origin-loader.js';
import type { RawRequest } from './raw-http.js';
import type { StreamFeeds } from './stream-feed.js';
import type { StreamHub, StreamHubOptions } from './stream-hub.js';

export interface EdgeHandlerOptions {
  loader: OriginLoader;
  cache: EdgeCache;
  /** Path prefix on the origin. Default `/origin/spaces`. */
  originPrefix?: string;
  /** Path prefix of clips on the origin. Default `/origin/clips`. */
  originClipsPrefix?: string;
  registry?: Registry;
  /** Clock for the Age header; use the cache's clock. Default Date.now. */
  now?: () => number;
  /** Add `Access-Control-Allow-Origin: *`. Default true. */
  cors?: boolean;
  /** Live state (listener counting, listen tokens). Without it, sign-in Spaces are refused to all. */
  live?: EdgeLive;
  /** Stream delivery (batch steps, slow-listener cut, per-address cap, kernel send buffer). */
  stream?: StreamHubOptions & { sendBufferBytes?: number };
  /** Take the client address from X-Forwarded-For (only behind a proxy you run). Default false. */
  trustProxy?: boolean;
  /** Admission (capacity, waiting room). Without it every listener is let in. */
  admission?: AdmissionGate;
  /** Flood limits, under-attack mode, brownout, telemetry (src/edge/defence). Without it: none. */
  defence?: EdgeDefence;
  /** Geo-restricted Spaces (src/edge/geo.ts). Default: a fresh one, learnt from origin answers. */
  geo?: GeoBlocks;
  log?: HotLog;
}

export type HotLog = { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };

/** What the hot path reads of a request: Node's IncomingMessage, or the raw front's. */
export type HotRequest = Pick<IncomingMessage, 'url' | 'method' | 'headers' | 'socket'> | RawRequest;

/** What the hot path uses of a response: Node's ServerResponse, or the raw front's RawResponse. */
export interface HotResponse {
  writeHead(status: number, headers: string[]): unknown;
  end(body?: Buffer): unknown;
  flushHeaders(): void;
  once(event: 'close', fn: () => void): unknown;
  removeListener(event: 'close', fn: () => void): unknown;
  readonly writableEnded: boolean;
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  /** The status answered (set by writeHead or a prebuilt answer). */
  readonly statusCode: number;
  destroy(): unknown;
  readonly socket: Socket | null;
}

export interface EdgeHandler {
  /** Answers the request and returns true when it is a listener path; false = not mine. */
  handle(req: HotRequest, res: HotResponse): boolean;
  readonly hub: StreamHub;
  readonly feeds: StreamFeeds;
  readonly admission: AdmissionGate | undefined;
  readonly defence: EdgeDefence | undefined;
  /** Ends every stream (as at a Space's end) and stops the feeds. */
  close(): void;
}

/** Counters kept as plain numbers on the hot path and read by prom-client at scrape time. */
export interface HotCounters {
  requests: number;
  hits: number;
  misses: number;
  collapsed: number;
  rejected: number;
  failed: number;
  bytes: number;
  unauthorized: number;
  geoRestricted: number;
}

/**
 * What the request being answered is, for the defence telemetry: set while its synchronous part
 * runs (reject/refuse/unauthorized and the routes write it), read once at the end of handle().
 */
export interface HotCurrent {
  req: HotRequest | undefined;
  /** The client address of `req`, read once. */
  address: string;
  cls: RequestClass;
  kind: PatternKind;
  blocking: boolean;
  admission: string | undefined;
}

export type Loaded = { entry: CacheEntry; outcome: string };

export interface Authorized {
  ok: boolean;
  signedIn: boolean;
  userId: string | undefined;
  expiresAtMs?: number;
}

/** The answers every part of the hot path sends (hot-answers.ts). */
export interface HotAnswers {
  sendError(res: HotResponse, err: TribuneError, extra?: string[]): true;
  /** A validation refusal (counted, classed for the telemetry). */
  reject(res: HotResponse, err: TribuneError): true;
  /** A refusal of the admission gate. */
  refuse(res: HotResponse, r: GateRefusal): true;
  sendJson(res: HotResponse, status: number, body: unknown, extra?: string[]): true;
  unauthorized(res: HotResponse): true;
  /** The 451 GEO_RESTRICTED of a Space closed to the listener's country. */
  geoRestricted(res: HotResponse): true;
  /** The 429 of a flood limit. */
  sendFlood(res: HotResponse): true;
  /** An unexpected error: 500 if nothing was sent yet, else the connection is cut. */
  fail(res: HotResponse, err: unknown): void;
}

/** How the hot path reads a request (hot-request.ts). */
export interface HotReaders {
  tokenOf(req: HotRequest, rawQuery: string): string | undefined;
  admissionOf(req: HotRequest, rawQuery: string): string | undefined;
  addressOf(req: HotRequest): string;
  /** The same, read from the request itself (admissionOf/addressOf use what handle() read). */
  readAdmission(req: HotRequest, rawQuery: string): string | undefined;
  readAddress(req: HotRequest): string;
  authorize(
    spaceId: string,
    entry: CacheEntry | undefined,
    token: string | undefined,
    isStateDoc?: boolean,
  ): Authorized;
  /**
   * Learns the Space's geo-restriction from `entry` (when given) and says whether the request's
   * address is in a country the Space is closed to. One Map lookup when no Space is restricted.
   */
  geoRefused(req: HotRequest, spaceId: string, entry?: CacheEntry): boolean;
  /**
   * The same before any load: true only while the restriction was confirmed by an origin answer
   * of the last second (so a DE-only audience still reloads, and sees a lift, once a second).
   */
  geoRefusedEarly(req: HotRequest, spaceId: string): boolean;
}

/** What hot-stream.ts and hot-admit.ts need of the handler: created once by createEdgeHandler. */
export interface HotContext extends HotAnswers, HotReaders {
  readonly cache: EdgeCache;
  readonly live: EdgeLive | undefined;
  readonly access: ListenAccess;
  readonly geo: GeoBlocks;
  readonly gate: AdmissionGate | undefined;
  readonly defence: EdgeDefence | undefined;
  readonly originPrefix: string;
  readonly cors: boolean;
  /** Client addresses (and the scheme) come from a proxy we run. */
  readonly trustProxy: boolean;
  readonly now: () => number;
  readonly liveNow: () => number;
  readonly log: HotLog | undefined;
  readonly registry: Registry;
  readonly n: HotCounters;
  readonly cur: HotCurrent;
  loadOrigin(path: string, signal: AbortSignal): Promise<CacheInput>;
  /** The object for `key` (a HIT synchronously); see hot.ts. */
  lookup(
    res: HotResponse,
    key: string,
    path: string,
    then: (loaded: Loaded) => void,
    otherwise?: () => void,
  ): void;
  /** lookup as a Promise: null when the load failed (answered) or the listener left. */
  lookupAsync(res: HotResponse, key: string, path: string): Promise<Loaded | null>;
  sendEntry(res: HotResponse, entry: CacheEntry, outcome: string, signedIn: boolean): void;
}
