/**
 * How the hot path reads a request: its listen token, its admission, its address, and whether it
 * may have a Space's object (listen tokens for Spaces that require sign-in).
 */
import { isSignedIn, type ListenAccess } from '../live/edge-access.js';
import { LISTEN_TOKEN_HEADER } from '../live/types.js';
import { ADMISSION_HEADER } from './admission/tokens.js';
import type { CacheEntry } from './cache.js';
import { admissionFromCookie } from './defence/nojs.js';
import type { GeoBlocks } from './geo.js';
import type { Authorized, HotCurrent, HotReaders, HotRequest } from './hot-types.js';

/**
 * A Space's restriction confirmed this recently refuses before the origin is asked; older, the
 * request goes through the cache (a reload once its copy expires) and is checked against the
 * answer: a lift reaches even an audience that is all refused within this plus a playlist's 1 s.
 */
const GEO_FRESH_MS = 1000;

export function createReaders(
  cur: HotCurrent,
  access: ListenAccess,
  liveNow: () => number,
  trustProxy: boolean | undefined,
  geo: GeoBlocks,
  now: () => number,
): HotReaders {
  const authorize = (
    spaceId: string,
    entry: CacheEntry | undefined,
    token: string | undefined,
    isStateDoc = false,
  ): Authorized => {
    if (entry) access.note(spaceId, entry.status, entry.access, entry.storedAt, isStateDoc);
    const signedIn = access.requiresToken(spaceId) || isSignedIn(entry?.access);
    if (!signedIn && token === undefined) return { ok: true, signedIn, userId: undefined };
    const check = token !== undefined ? access.check(spaceId, token, liveNow()) : { ok: false as const };
    if (!check.ok) return { ok: !signedIn, signedIn, userId: undefined };
    return {
      ok: true,
      signedIn,
      userId: check.userId,
      expiresAtMs: signedIn ? check.expiresAtMs : undefined,
    };
  };

  const tokenOf = (req: HotRequest, rawQuery: string): string | undefined => {
    if (rawQuery.includes('token=')) {
      const q = new URLSearchParams(rawQuery).get('token');
      if (q) return q;
    }
    const h = req.headers[LISTEN_TOKEN_HEADER];
    return typeof h === 'string' && h ? h : undefined;
  };

  const readAdmission = (req: HotRequest, rawQuery: string): string | undefined => {
    if (rawQuery.includes('admission=')) {
      const q = new URLSearchParams(rawQuery).get('admission');
      if (q) return q;
    }
    const h = req.headers[ADMISSION_HEADER];
    if (typeof h === 'string' && h) return h;
    // The no-JavaScript player's admission travels in a cookie (nojs.ts).
    const c = req.headers.cookie;
    return typeof c === 'string' ? admissionFromCookie(c) : undefined;
  };

  // With defences on, handle() reads them once per request into `cur`.
  const admissionOf = (req: HotRequest, rawQuery: string): string | undefined =>
    cur.req === req ? cur.admission : readAdmission(req, rawQuery);

  const readAddress = (req: HotRequest): string => {
    if (trustProxy) {
      const xff = req.headers['x-forwarded-for'];
      const first = (Array.isArray(xff) ? xff[0] : xff)?.split(',')[0]?.trim();
      if (first) return first;
    }
    return req.socket.remoteAddress ?? 'unknown';
  };

  const addressOf = (req: HotRequest): string => (cur.req === req ? cur.address : readAddress(req));

  const geoRefused = (req: HotRequest, spaceId: string, entry?: CacheEntry): boolean => {
    if (entry) geo.note(spaceId, entry.status, entry.geoBlock, entry.storedAt);
    return geo.any && geo.refuses(spaceId, addressOf(req));
  };

  const geoRefusedEarly = (req: HotRequest, spaceId: string): boolean => {
    if (!geo.any) return false;
    const at = geo.confirmedAt(spaceId);
    return at !== undefined && now() - at <= GEO_FRESH_MS && geo.refuses(spaceId, addressOf(req));
  };

  return {
    authorize,
    tokenOf,
    admissionOf,
    addressOf,
    readAdmission,
    readAddress,
    geoRefused,
    geoRefusedEarly,
  };
}
