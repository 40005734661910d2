/**
 * The edge's listener hot path on bare `node:http`: every `GET`/`HEAD` under `/hls/spaces/:id/…`
 * and `/hls/clips/:id/…` (LL-HLS objects, the live state document, the public Space view, and the
 * one-response stream `stream.mp4`). Fastify keeps the control routes (POST leave/reactions,
 * OPTIONS, /metrics); this handler runs first in the server's request callback.
 *
 * Why: a profile of the fastify route under load was flat framework overhead (request/reply
 * objects, hooks, an AbortController per request even for cache hits, header building). Here a
 * cache HIT is answered synchronously with headers prebuilt per cache entry: no Promise, no
 * AbortController, no per-request allocation beyond Node's own. Misses take the slower async path
 * with a per-listener abort signal, sharing one origin load (EdgeCache).
 *
 * Here: routing and the cache objects. Built once per handler around one HotContext: refusals
 * (hot-answers.ts), request reading (hot-request.ts), stream.mp4 (hot-stream.ts), admit and the
 * no-JavaScript context (hot-admit.ts), brownout tier 2 (hot-brownout.ts).
 */
import { register as defaultRegistry } from 'prom-client';
import { isTribuneError, TribuneError } from '../errors.js';
import { isSignedIn, ListenAccess } from '../live/edge-access.js';
import { ADMIT_FILE, hasRehearsal, operatorGet } from './admission/http.js';
import type { CacheInput } from './cache.js';
import { fetchCacheInput } from './origin-loader.js';
import {
  parseClipPath,
  parseEdgePath,
  parseStateRequest,
  LISTENERS_FILE,
  parseListenersQuery,
  SPACE_ID_RE,
  STATE_FILE,
  STREAM_FILE,
} from './paths.js';
import { noJs } from './defence/nojs-route.js';
import { GeoBlocks } from './geo.js';
import { createAdmit } from './hot-admit.js';
import { classOfStatus, createAnswers, createEntrySender, hotCounters } from './hot-answers.js';
import { createSlowStates } from './hot-brownout.js';
import { createReaders } from './hot-request.js';
import { createStreamDelivery } from './hot-stream.js';
import type {
  EdgeHandler,
  EdgeHandlerOptions,
  HotContext,
  HotCurrent,
  HotRequest,
  HotResponse,
  Loaded,
} from './hot-types.js';

export type { EdgeHandler, EdgeHandlerOptions, HotRequest, HotResponse } from './hot-types.js';

const PREFIX_SPACES = '/hls/spaces/';
const PREFIX_CLIPS = '/hls/clips/';
const VIEW_FILE = 'view.json';
/** The no-JavaScript listening path (src/edge/defence/nojs.ts). */
const NOJS_FILE = 'nojs';

export function createEdgeHandler(opts: EdgeHandlerOptions): EdgeHandler {
  const { loader, cache, live } = opts;
  const originPrefix = (opts.originPrefix ?? '/origin/spaces').replace(/\/+$/, '');
  const clipsPrefix = (opts.originClipsPrefix ?? '/origin/clips').replace(/\/+$/, '');
  const now = opts.now ?? Date.now;
  const cors = opts.cors ?? true;
  const access = live?.access ?? new ListenAccess();
  const geo = opts.geo ?? new GeoBlocks();
  const liveNow = (): number => (live ? live.now() : Date.now());
  const registry = opts.registry ?? defaultRegistry;
  const gate = opts.admission;
  const defence = opts.defence;
  defence?.attach(gate);

  /** The request being answered, for the defence telemetry (see HotCurrent). */
  const cur: HotCurrent = {
    req: undefined,
    address: '',
    cls: 'control',
    kind: 'other',
    blocking: false,
    admission: undefined,
  };
  const n = hotCounters(registry);
  const loadOrigin = (path: string, signal: AbortSignal): Promise<CacheInput> =>
    fetchCacheInput(loader, path, signal);
  const answers = createAnswers(cors, n, cur, opts.log, defence?.addresses.retryAfterSec);
  const { sendError, reject, refuse, sendJson, unauthorized, geoRestricted, sendFlood, fail } = answers;
  const readers = createReaders(cur, access, liveNow, opts.trustProxy, geo, now);
  const { authorize, tokenOf, admissionOf, addressOf, readAdmission, readAddress } = readers;
  const { geoRefused, geoRefusedEarly } = readers;

  const sendEntry = createEntrySender(cors, n, now);

  /**
   * The object for `key`: a HIT is answered synchronously; otherwise the request joins the shared
   * origin load (one per key) and leaves it if the listener hangs up. `then` runs once the object
   * is there; an origin failure is answered here (502 / the origin's error). `otherwise` runs
   * instead of `then` when the load failed or the listener hung up.
   */
  const lookup = (
    res: HotResponse,
    key: string,
    path: string,
    then: (loaded: Loaded) => void,
    otherwise?: () => void,
  ): void => {
    const entry = cache.hit(key);
    if (entry) {
      n.hits++;
      then({ entry, outcome: 'HIT' });
      return;
    }
    const onClose = (): void => {
      if (res.writableEnded) return;
      leave(); // this listener is gone; the load goes on for the others
      otherwise?.();
    };
    res.once('close', onClose);
    const leave = cache.join(
      key,
      (signal) => loadOrigin(path, signal),
      (err, result) => {
        res.removeListener('close', onClose);
        if (err || !result) {
          n.failed++;
          if (isTribuneError(err)) sendError(res, err);
          else {
            opts.log?.error({ err, path }, 'edge load failed');
            sendError(res, new TribuneError('ORIGIN_UNAVAILABLE'));
          }
          otherwise?.();
          return;
        }
        if (result.outcome === 'MISS') n.misses++;
        else if (result.outcome === 'COLLAPSED') n.collapsed++;
        else n.hits++;
        try {
          then(result);
        } catch (e) {
          fail(res, e);
        }
      },
    );
  };

  /** lookup as a Promise (stream requests): null when the load failed (answered) or the listener left. */
  const lookupAsync = (res: HotResponse, key: string, path: string): Promise<Loaded | null> =>
    new Promise((resolve) => lookup(res, key, path, resolve, () => resolve(null)));

  /** Answers an object of a Space once loaded: geo and access checks, listener counting, the bytes. */
  const finishSpace = (
    req: HotRequest,
    res: HotResponse,
    id: string,
    loaded: Loaded,
    token: string | undefined,
    isState: boolean,
    lid: string | undefined,
  ): void => {
    const { entry, outcome } = loaded;
    // Cache HITs too: the Space's newest known restriction, not the one this copy was loaded with.
    if (geoRefused(req, id, entry)) {
      geoRestricted(res);
      return;
    }
    const auth = authorize(id, entry, token, isState);
    if (!auth.ok) {
      unauthorized(res);
      return;
    }
    // A player counts once the edge has answered it with the doc of a Space that exists.
    if (lid !== undefined && live && entry.status >= 200 && entry.status < 300)
      live.listeners.seen(id, lid, auth.userId, live.now());
    sendEntry(res, entry, outcome, auth.signedIn);
  };

  const spaceObject = (
    req: HotRequest,
    res: HotResponse,
    id: string,
    file: string,
    rawQuery: string,
  ): true => {
    let key: string;
    let lid: string | undefined;
    const isState = file === STATE_FILE;
    cur.kind = isState || file === VIEW_FILE ? 'state' : file.endsWith('.m3u8') ? 'playlist' : 'part';
    if (isState) {
      const st = parseStateRequest(id, rawQuery);
      if (!st.ok) return reject(res, st.error);
      key = `${st.id}/${STATE_FILE}${st.query}`;
      lid = st.lid;
      // Brownout tier 2: a Space's new versions reach this edge's players every 3 s at most.
      if (st.v !== undefined && defence?.brownout.sheds(2) && slowState(res, id, rawQuery, req)) return true;
    } else {
      const parsed = parseEdgePath(id, file, file === VIEW_FILE ? '' : rawQuery);
      if (!parsed.ok) return reject(res, parsed.error);
      key = `${parsed.id}/${parsed.file}${parsed.query}`;
    }
    const token = tokenOf(req, rawQuery);
    const isView = file === VIEW_FILE;
    if (!isState && !isView) {
      const playlist = cur.kind === 'playlist';
      if (playlist) cur.blocking = rawQuery.includes('_HLS_msn=');
      const adm = admissionOf(req, rawQuery);
      if (gate) {
        const check = gate.media(id, adm, addressOf(req), playlist ? 'playlist' : 'object');
        if (!check.ok) return refuse(res, check.refusal);
      }
      cur.cls = adm !== undefined ? 'media_token' : 'tokenless';
    }
    // Known (within the last second) to be closed to this listener's country: refused before the
    // origin is touched; past that second the answer loaded below says (finishSpace).
    if (!isView && geoRefusedEarly(req, id)) return geoRestricted(res);
    // Known to require sign-in: refuse before the origin is touched. The public view is not secret
    // (title, host, state: what a page needs to ask its visitor to sign in), so it is not refused.
    if (!isView && access.requiresToken(id) && !authorize(id, undefined, token).ok) return unauthorized(res);
    if (isView) {
      lookup(res, key, `${originPrefix}/${key}`, (loaded) => {
        access.note(id, loaded.entry.status, loaded.entry.access, loaded.entry.storedAt, false);
        sendEntry(res, loaded.entry, loaded.outcome, false);
      });
      return true;
    }
    lookup(res, key, `${originPrefix}/${key}`, (loaded) => {
      if (isState) noteStateVersion(id, loaded.outcome);
      finishSpace(req, res, id, loaded, token, isState, lid);
    });
    return true;
  };

  /**
   * A clip carries its Space's rule: the origin labels clips of Spaces that require sign-in with
   * `x-tribune-access: signed-in` and `x-tribune-space`, and they then need a listen token of that
   * Space on every request (cache HITs included), and are served `private`.
   */
  const clipObject = (
    req: HotRequest,
    res: HotResponse,
    clipId: string,
    file: string,
    rawQuery: string,
  ): true => {
    const parsed = parseClipPath(clipId, file);
    if (!parsed.ok) return reject(res, parsed.error);
    const key = `clip:${parsed.id}/${parsed.file}`;
    lookup(res, key, `${clipsPrefix}/${parsed.id}/${parsed.file}`, (loaded) => {
      const signedIn = isSignedIn(loaded.entry.access);
      if (signedIn) {
        const token = tokenOf(req, rawQuery);
        const space = loaded.entry.space;
        if (!space || token === undefined || !access.check(space, token, liveNow()).ok) {
          unauthorized(res);
          return;
        }
      }
      sendEntry(res, loaded.entry, loaded.outcome, signedIn);
    });
    return true;
  };

  /** What the parts built below need of this handler, created once. */
  const ctx: HotContext = {
    ...answers,
    ...readers,
    cache,
    live,
    access,
    geo,
    gate,
    defence,
    originPrefix,
    cors,
    trustProxy: opts.trustProxy === true,
    now,
    liveNow,
    log: opts.log,
    registry,
    n,
    cur,
    loadOrigin,
    lookup,
    lookupAsync,
    sendEntry,
  };
  const delivery = createStreamDelivery(ctx, opts.stream);
  const { hub, feeds, stream } = delivery;
  const { admit, noJsContext } = createAdmit(ctx);

  // Brownout tier 2: held state polls are answered again by spaceObject.
  const slow = createSlowStates(
    now,
    defence,
    (req, res, id, rawQuery) => void spaceObject(req, res, id, STATE_FILE, rawQuery),
    fail,
  );
  const { hold: slowState, noteVersion: noteStateVersion } = slow;

  const handle = (req: HotRequest, res: HotResponse): boolean => {
    const url = req.url ?? '';
    if (!url.startsWith('/hls/')) return false;
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    n.requests++;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const rawQuery = q === -1 ? '' : url.slice(q + 1);
    if (!defence) return route(req, res, path, rawQuery);
    // The cheap checks first: the request's admission (one cached HMAC check), its bucket.
    const t = now();
    const address = readAddress(req);
    cur.req = req;
    cur.address = address;
    cur.admission = readAdmission(req, rawQuery);
    cur.cls = 'control';
    cur.kind = 'other';
    cur.blocking = false;
    const claims = cur.admission !== undefined && gate ? gate.peek(cur.admission) : null;
    // A rehearsal (the operator's own load test, few addresses) is not a flood: not charged.
    const rehearsal = gate !== undefined && hasRehearsal(gate, req.headers);
    if (!rehearsal && !defence.allow(address, claims?.a, t)) {
      defence.telemetry.record(address, 'refused', 'other', false, t);
      cur.req = undefined;
      return sendFlood(res);
    }
    try {
      return route(req, res, path, rawQuery);
    } finally {
      cur.req = undefined;
      const { cls, kind, blocking } = cur as HotCurrent; // (routes set them: not narrowed)
      const client = claims?.a;
      // Answered now (a HIT, a refusal) or a stream: its class is known. Otherwise the answer comes
      // after a load, and what it says (an origin's 404, a refusal) decides the class then.
      if (res.writableEnded || kind === 'stream')
        defence.telemetry.record(address, classOfStatus(res.statusCode, cls), kind, blocking, t, client);
      else
        res.once('close', () =>
          defence.telemetry.record(
            address,
            res.headersSent ? classOfStatus(res.statusCode, cls) : cls,
            kind,
            blocking,
            t,
            client,
          ),
        );
    }
  };

  const route = (req: HotRequest, res: HotResponse, path: string, rawQuery: string): boolean => {
    if (path.startsWith(PREFIX_SPACES)) {
      const rest = path.slice(PREFIX_SPACES.length);
      const slash = rest.indexOf('/');
      if (slash <= 0) return reject(res, new TribuneError('NOT_FOUND', 'no such HLS file'));
      const id = rest.slice(0, slash);
      const file = rest.slice(slash + 1);
      if (file === ADMIT_FILE) {
        if (!gate) return reject(res, new TribuneError('NOT_FOUND', 'this edge has no admission'));
        if (!SPACE_ID_RE.test(id)) return reject(res, new TribuneError('BAD_REQUEST', 'invalid Space id'));
        return admit(req, res, id, rawQuery);
      }
      if (file === NOJS_FILE) {
        if (!gate || !defence)
          return reject(res, new TribuneError('NOT_FOUND', 'this edge has no admission'));
        if (!SPACE_ID_RE.test(id)) return reject(res, new TribuneError('BAD_REQUEST', 'invalid Space id'));
        cur.kind = 'admit';
        return noJs(noJsContext, req, res, id, rawQuery);
      }
      if (file === LISTENERS_FILE) {
        cur.kind = 'state';
        if (!SPACE_ID_RE.test(id)) return reject(res, new TribuneError('BAD_REQUEST', 'invalid Space id'));
        const q = parseListenersQuery(rawQuery);
        if (!q.ok) return reject(res, q.error);
        // The public listener list (what an anonymous page shows): cached 2 s, shared by everyone.
        const key = `${id}/${LISTENERS_FILE}${q.query}`;
        lookup(res, key, `${originPrefix}/${key}`, (l) => sendEntry(res, l.entry, l.outcome, false));
        return true;
      }
      if (file === STREAM_FILE) {
        if (!SPACE_ID_RE.test(id)) return reject(res, new TribuneError('BAD_REQUEST', 'invalid Space id'));
        stream(req, res, id, rawQuery).catch((err: unknown) => fail(res, err));
        return true;
      }
      return spaceObject(req, res, id, file, rawQuery);
    }
    if (path.startsWith(PREFIX_CLIPS)) {
      const rest = path.slice(PREFIX_CLIPS.length);
      const slash = rest.indexOf('/');
      if (slash <= 0) return reject(res, new TribuneError('NOT_FOUND', 'no such clip file'));
      cur.kind = 'part';
      return clipObject(req, res, rest.slice(0, slash), rest.slice(slash + 1), rawQuery);
    }
    if (gate) {
      const op = operatorGet(gate, path, req.headers);
      if (op) return sendJson(res, op.status, op.body);
    }
    return reject(res, new TribuneError('NOT_FOUND'));
  };

  return {
    handle,
    hub,
    feeds,
    admission: gate,
    defence,
    close() {
      if (gate) gate.close();
      defence?.close();
      slow.close();
      delivery.close();
    },
  };
}
