/**
 * Edge request validation: strict, before the origin or the cache is touched. Every accepted
 * request maps to one canonical cache key, so equivalent requests share one origin fetch.
 */
import { TribuneError, type ErrorCode } from '../errors.js';

export const SPACE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** A listener id: random per player page. */
export const LID_RE = /^[A-Za-z0-9_-]{8,64}$/;
const FILE_RE =
  /^(?:master\.m3u8|audio\.m3u8|init\.mp4|view\.json|seg\/\d{1,15}\.m4s|part\/\d{1,15}\.\d{1,6}\.m4s)$/;
const CLIP_FILE_RE = /^(?:clip\.m3u8|init\.mp4|seg\/\d{1,15}\.m4s)$/;
const HLS_NUMBER_RE = /^\d{1,15}$/;
const STATE_VERSION_RE = /^\d{1,15}$/;
/** Bodies of leave and reactions. */
export const LIVE_POST_BODY_LIMIT = 1024;
export const STATE_FILE = 'state.json';
export const STREAM_FILE = 'stream.mp4';

export type EdgePath =
  { ok: true; id: string; file: string; query: string } | { ok: false; error: TribuneError };

const bad = (code: ErrorCode, detail: string): { ok: false; error: TribuneError } => ({
  ok: false,
  error: new TribuneError(code, detail),
});

/**
 * Validates one edge request and returns its canonical origin form. `rawQuery` is the part after
 * `?` (may be empty). Only `_HLS_msn` / `_HLS_part` on `audio.m3u8` survive, digits only, leading
 * zeros stripped, always in the order msn, part; every other parameter is dropped.
 */
export function parseEdgePath(id: string, file: string, rawQuery: string): EdgePath {
  if (!SPACE_ID_RE.test(id)) return bad('BAD_REQUEST', 'invalid Space id');
  if (!FILE_RE.test(file)) return bad('NOT_FOUND', 'no such HLS file');
  if (rawQuery === '') return { ok: true, id, file, query: '' };
  const params = new URLSearchParams(rawQuery);
  const msn = params.getAll('_HLS_msn');
  const part = params.getAll('_HLS_part');
  if (msn.length === 0 && part.length === 0) return { ok: true, id, file, query: '' };
  if (file !== 'audio.m3u8') return bad('BAD_REQUEST', '_HLS_ parameters are only valid on audio.m3u8');
  if (msn.length !== 1 || part.length > 1) return bad('HLS_BAD_BLOCKING_REQUEST', 'need one _HLS_msn');
  if (!HLS_NUMBER_RE.test(msn[0]) || (part.length === 1 && !HLS_NUMBER_RE.test(part[0])))
    return bad('HLS_BAD_BLOCKING_REQUEST', '_HLS_msn/_HLS_part must be decimal digits');
  let query = `?_HLS_msn=${Number(msn[0])}`;
  if (part.length === 1) query += `&_HLS_part=${Number(part[0])}`;
  return { ok: true, id, file, query };
}

export type StateRequest =
  | { ok: true; id: string; v: number | undefined; lid: string | undefined; query: string }
  | { ok: false; error: TribuneError };

/**
 * Validates `state.json?v=N&lid=L`: `v` optional digits (STATE_BAD_VERSION otherwise), `lid`
 * optional `[A-Za-z0-9_-]{8,64}` (BAD_REQUEST otherwise). `query` is the canonical origin query:
 * `?v=N` or nothing; `lid`, `token` and anything else never reach the cache key.
 */
export function parseStateRequest(id: string, rawQuery: string): StateRequest {
  if (!SPACE_ID_RE.test(id)) return bad('BAD_REQUEST', 'invalid Space id');
  const params = new URLSearchParams(rawQuery);
  const vs = params.getAll('v');
  if (vs.length > 1 || (vs.length === 1 && !STATE_VERSION_RE.test(vs[0])))
    return bad('STATE_BAD_VERSION', 'v must be one non-negative integer');
  const lids = params.getAll('lid');
  if (lids.length > 1 || (lids.length === 1 && !LID_RE.test(lids[0])))
    return bad('BAD_REQUEST', 'lid must be 8-64 characters of [A-Za-z0-9_-]');
  const v = vs.length === 1 ? Number(vs[0]) : undefined;
  return { ok: true, id, v, lid: lids[0], query: v === undefined ? '' : `?v=${v}` };
}

export const LISTENERS_FILE = 'listeners.json';

/**
 * Validates `listeners.json?limit=&cursor=` (limit 1-100, cursor `[0-9a-z]{1,11}`; nothing else)
 * and returns its canonical query (`?limit=N[&cursor=C]`), so equal pages share one cache entry.
 */
export function parseListenersQuery(
  rawQuery: string,
): { ok: true; query: string } | { ok: false; error: TribuneError } {
  const params = new URLSearchParams(rawQuery);
  for (const k of params.keys())
    if (k !== 'limit' && k !== 'cursor') return bad('BAD_REQUEST', `unknown parameter ${k}`);
  const limits = params.getAll('limit');
  const cursors = params.getAll('cursor');
  if (limits.length > 1 || cursors.length > 1) return bad('BAD_REQUEST', 'one limit and one cursor at most');
  const limit = limits.length ? (/^\d{1,3}$/.test(limits[0]) ? Number(limits[0]) : NaN) : 50;
  if (!(limit >= 1 && limit <= 100)) return bad('BAD_REQUEST', 'limit must be 1 to 100');
  if (cursors.length && !/^[0-9a-z]{1,11}$/.test(cursors[0]))
    return bad('BAD_REQUEST', 'cursor is not valid');
  return { ok: true, query: `?limit=${limit}${cursors.length ? `&cursor=${cursors[0]}` : ''}` };
}

/** Validates `/clips/:clipId/<file>` (no query parameters survive). */
export function parseClipPath(clipId: string, file: string): EdgePath {
  if (!SPACE_ID_RE.test(clipId)) return bad('BAD_REQUEST', 'invalid clip id');
  if (!CLIP_FILE_RE.test(file)) return bad('NOT_FOUND', 'no such clip file');
  return { ok: true, id: clipId, file, query: '' };
}

/**
 * Cache-Control for a Space that requires sign-in: shared caches in front of the edge (a CDN,
 * nginx) cannot check tokens, so only the player's own cache may keep the answer.
 */
export function privateCacheControl(cc: string | undefined): string {
  const rest = (cc ?? 'no-cache')
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d && !/^(?:public|private|s-maxage\s*=)/i.test(d));
  return ['private', ...rest].join(', ');
}
