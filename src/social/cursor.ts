/**
 * Opaque page cursors: a keyset (social-types.ts) as base64url JSON. Clients pass them back
 * unchanged; anything else is 400 BAD_REQUEST.
 */
import { TribuneError } from '../errors.js';
import type { Keyset, RankedKeyset } from '../store/social-types.js';

export function encodeCursor(k: Keyset | RankedKeyset): string {
  const list = 'rank' in k ? [k.at, k.id, k.rank] : [k.at, k.id];
  return Buffer.from(JSON.stringify(list)).toString('base64url');
}

function parse(cursor: string): unknown[] {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v)) return v;
  } catch {
    // fall through
  }
  throw new TribuneError('BAD_REQUEST', 'invalid cursor');
}

const isKeyText = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 128;

export function decodeCursor(cursor: string | undefined): Keyset | undefined {
  if (cursor === undefined) return undefined;
  const [at, id, ...rest] = parse(cursor);
  if (!isKeyText(at) || !isKeyText(id) || rest.length)
    throw new TribuneError('BAD_REQUEST', 'invalid cursor');
  return { at, id };
}

export function decodeRankedCursor(cursor: string | undefined): RankedKeyset | undefined {
  if (cursor === undefined) return undefined;
  const [at, id, rank, ...rest] = parse(cursor);
  if (!isKeyText(at) || !isKeyText(id) || !Number.isInteger(rank) || rest.length)
    throw new TribuneError('BAD_REQUEST', 'invalid cursor');
  return { at, id, rank: rank as number };
}

/**
 * A page from `limit + 1` rows: the first `limit`, and the cursor after the last of them when
 * there was more.
 */
export function pageOf<T>(rows: T[], limit: number, keyOf: (t: T) => Keyset | RankedKeyset) {
  const items = rows.slice(0, limit);
  const nextCursor =
    rows.length > limit && items.length ? encodeCursor(keyOf(items[items.length - 1])) : null;
  return { items, nextCursor };
}
