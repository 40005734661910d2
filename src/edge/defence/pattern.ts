/**
 * The player's normal request pattern, as one pure check per request. A flash crowd is people
 * running our player, so its requests follow the player's rhythm; a flood rarely does (Jung,
 * Krishnamurthy & Rabinovich, WWW 2002: legitimate requests follow content popularity and client
 * behaviour). The share of requests that pass is the "pattern conformance" the origin weighs.
 *
 * Rules (the player: LL-HLS with blocking playlist reloads, or the stream.mp4 fallback):
 * - `stream`, `state`, `admit`: always normal (one long response, or a slow poll the edge's own
 *   limits already bound);
 * - `playlist`: normal when blocking (`_HLS_msn`: the edge holds it until the part exists, so the
 *   client cannot spin), or when at least PLAYLIST_MIN_GAP_MS after the same client's previous
 *   playlist (a non-blocking player reloads about once per part/target duration, never faster);
 * - `part` (part, segment, init): normal when the same client fetched a playlist within the past
 *   PART_AFTER_PLAYLIST_MS (a player only learns part names from a playlist);
 * - `other` (unknown path, bad query): never normal.
 *
 * "The same client" is the telemetry's per-address slot: clients behind one NAT or colliding in
 * the table share one, which costs a little conformance, never a false "normal".
 */
import type { PatternKind } from './types.js';

/** A non-blocking playlist reload sooner than this after the previous one is not the player. */
export const PLAYLIST_MIN_GAP_MS = 500;
/** A part is the player's when a playlist was fetched at most this long before it. */
export const PART_AFTER_PLAYLIST_MS = 10_000;

/** PatternKind as a small integer, for a Uint8Array; 0 means "nothing yet". */
export const PATTERN_CODES = {
  playlist: 1,
  part: 2,
  stream: 3,
  state: 4,
  admit: 5,
  other: 6,
} as const satisfies Record<PatternKind, number>;
export type PatternCode = 0 | (typeof PATTERN_CODES)[PatternKind];

const KINDS: readonly (PatternKind | undefined)[] = [
  undefined,
  'playlist',
  'part',
  'stream',
  'state',
  'admit',
  'other',
];

export function patternCode(kind: PatternKind): PatternCode {
  return PATTERN_CODES[kind];
}

/** The kind a code stands for; undefined for 0 ("nothing yet") or an unknown code. */
export function patternKind(code: number): PatternKind | undefined {
  return KINDS[code];
}

/**
 * Whether one request follows the player's pattern (rules above).
 * `sinceLastPlaylistMs`: now minus the time of this client's previous playlist request, Infinity
 * when it has none (a negative value, a clock step back, counts as "just now").
 */
export function patternOk(kind: PatternKind, blocking: boolean, sinceLastPlaylistMs: number): boolean {
  switch (kind) {
    case 'stream':
    case 'state':
    case 'admit':
      return true;
    case 'playlist':
      return blocking || sinceLastPlaylistMs >= PLAYLIST_MIN_GAP_MS;
    case 'part':
      return sinceLastPlaylistMs <= PART_AFTER_PLAYLIST_MS;
    default:
      return false;
  }
}
