import type { DefenceWindow } from '../edge/defence/types.js';

/**
 * Live state of a Space (listener count, speakers, reactions) as published by the origin's LiveHub
 * and long-polled by listeners through the edges. Shared by origin, edge and clients.
 */

/** The only reactions a listener can send (anything else: 400 UNKNOWN_EMOJI). */
export const REACTION_EMOJI = ['👏', '❤️', '😂', '🔥', '💯', '🙌', '🎉', '🤔'] as const;
export type ReactionEmoji = (typeof REACTION_EMOJI)[number];

const EMOJI_SET: ReadonlySet<string> = new Set(REACTION_EMOJI);

export function isReactionEmoji(v: unknown): v is ReactionEmoji {
  return typeof v === 'string' && EMOJI_SET.has(v);
}

export type ReactionCounts = Partial<Record<ReactionEmoji, number>>;

export interface LiveSpeaker {
  userId: string;
  handle: string;
  name: string;
  role: 'host' | 'cohost' | 'speaker';
  connected: boolean;
  muted: boolean;
  speaking: boolean;
  /** 0..1 */
  level: number;
}

/** The per-Space state document (`state.json`). `v` grows by one per publish. */
export interface LiveDoc {
  v: number;
  spaceId: string;
  state: 'scheduled' | 'live' | 'ended';
  title: string;
  /** Listeners counted by the edges (distinct players seen in the last few seconds). */
  listeners: number;
  speakers: LiveSpeaker[];
  /** Reactions that arrived in the latest reaction window; `seq` grows per non-empty window. */
  reactions: { seq: number; counts: ReactionCounts };
  updatedAtMs: number;
}

/** What the origin's Space registry owns; the hub adds listeners and reactions. */
export type LiveBase = Pick<LiveDoc, 'state' | 'title' | 'speakers'>;

/** What every edge POSTs to `/origin/live/report` about once per second (signed). */
export interface EdgeReport {
  edgeId: string;
  atMs: number;
  spaces: Record<
    string,
    {
      listeners: number;
      reactions: ReactionCounts;
      /** Up to 20 user ids of signed-in listeners seen on this edge. */
      sample: string[];
    }
  >;
  /** The edge's defence telemetry since its previous report (src/edge/defence). */
  defence?: DefenceWindow;
}

/** Header carrying hex HMAC-SHA256(edgeSecret, raw report body). */
export const EDGE_SIGNATURE_HEADER = 'x-tribune-edge-signature';
/** Origin response header marking a Space whose listeners need a listen token. */
export const ACCESS_HEADER = 'x-tribune-access';
/** Request header a player may use instead of `?token=`. */
export const LISTEN_TOKEN_HEADER = 'x-tribune-listen-token';
/** Header (or `?admission=`) carrying an edge's admission token on media requests. */
export const ADMISSION_HEADER = 'x-tribune-admission';
/** Header carrying the operator's rehearsal token (rehearsals, the edge's admission endpoints). */
export const REHEARSAL_HEADER = 'x-tribune-rehearsal';
/** Several origins: on an origin's 307, the base URL of the origin running the Space (src/cluster). */
export const OWNER_HEADER = 'x-tribune-owner';
/** Several origins: sent by an edge that could not reach that owner; the origin waits for a new one. */
export const OWNER_UNREACHABLE_HEADER = 'x-tribune-owner-unreachable';
/** Max user ids an edge puts in one Space's `sample`. */
export const EDGE_SAMPLE_MAX = 20;
