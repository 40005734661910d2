import type Hls from 'hls.js';
import { useLayoutEffect } from 'react';
import type { LiveDoc } from '../live/types.js';
import type { ClipView, Participants, Role, SpaceState, UserRef } from '../client/index.js';

export type PlayerState = 'loading' | 'playing' | 'paused' | 'buffering' | 'reconnecting' | 'ended' | 'error';

export type StagePhase = 'idle' | 'mic' | 'connecting' | 'connected' | 'reconnecting' | 'error' | 'closed';

/**
 * Handles the end-to-end tests read from `window.__tribune`. Part of the test contract: keep the
 * names. One object per page visit (reset on navigation); fields appear as soon as they exist and
 * are removed (set to undefined/null) when what they point at goes away.
 */
export interface TribuneTestHooks {
  /** Which page is shown: home, signin, new, space, clip, join, profile, search, embed, notfound. */
  page: string;
  /** The signed-in user (null when signed out). Survives navigation. */
  user?: UserRef | null;

  // ---- Space page
  spaceId?: string;
  /** Effective state (the live doc's state wins over the loaded SpaceView). */
  spaceState?: SpaceState;
  /** My role in the Space (null: anonymous or no role). */
  role?: Role | null;
  /** Under-attack mode: how long this page's proof of work took (ms). */
  powSolveMs?: number;
  /** This page load's listener id (sent with every state poll, reaction and leave beacon). */
  lid?: string;
  /** The newest LiveDoc seen (edge long-poll or the `doc` SSE event). */
  doc?: LiveDoc | null;
  /** True while this page long-polls the edge's state document (i.e. counts as a listener). */
  polling?: boolean;
  /** Number of state documents received by the poll loop. */
  docsReceived?: number;
  /** Reactions seen since the page opened, per emoji (sum of every reaction window). */
  reactionTotals?: Record<string, number>;
  /** The listen grant's token (null when the Space does not require sign-in). */
  listenToken?: string | null;
  /** This page's place at the edge: asking, admitted (with its token), queued (position, wait), busy. */
  admission?: import('./space/admission.js').Admission;
  /** Host/co-host view: the latest Participants (SSE `participants`). */
  participants?: Participants | null;
  /** The SSE stream (signed-in users). */
  events?: EventSource | null;
  /** The last clip made on this page. */
  clip?: ClipView | null;

  // ---- stage (WHIP publishing)
  /** True while my role is on stage and the Space is live (the page publishes instead of listening). */
  onStage?: boolean;
  stagePhase?: StagePhase;
  /** True while a WHIP session is connected. */
  publishing?: boolean;
  /** WHIP sessions established on this page (1 after the first connect). */
  publishes?: number;
  /** WHIP sessions established after a drop (automatic reconnects). */
  reconnects?: number;
  /** Local speaker mute (the track is disabled while true). */
  muted?: boolean;
  pc?: RTCPeerConnection | null;
  /** The mix-minus (everyone but me) received over WebRTC. */
  remoteStream?: MediaStream | null;
  /** The <audio> element playing the mix-minus. */
  audioEl?: HTMLAudioElement | null;
  /** The WHIP session id (last part of the Location URL). */
  speakerId?: string | null;

  // ---- players (live HLS, replay, clip)
  playerKind?: 'live' | 'replay' | 'clip' | null;
  player?: PlayerState | null;
  hls?: Hls | null;
  media?: HTMLMediaElement | null;
  /**
   * Seconds behind the live edge, null when unknown or not live: hls.js `latency` (llhls), seekable
   * end - currentTime (native), buffered end - currentTime (stream).
   */
  latency?: number | null;
  /**
   * How the player plays: `stream` (the edge's CMAF stream `stream.mp4` through MediaSource, live
   * only), `llhls` (hls.js) or `native` (the browser's own HLS, e.g. iOS Safari).
   */
  playbackMode?: 'stream' | 'llhls' | 'native' | null;
  /** Stream mode: the stream URL and counters (connections made, fragments appended, seeks to live). */
  stream?: StreamStats | null;
  /** Stream mode: drops the current connection (as an edge cutting a listener does); it reconnects. */
  cutStream?: (() => void) | null;
}

export interface StreamStats {
  url: string;
  connects: number;
  fragments: number;
  bytes: number;
  /** Seeks to the live edge after the first one (drift, a reconnect's gap, resuming after a pause). */
  jumps: number;
  /** Back-buffer removals. */
  trims: number;
  /** Times playback ran out of audio while connected (each raises the cushion kept in hand). */
  stalls: number;
  /** Seconds of audio the rate control keeps in hand (grows with stalls, shrinks back slowly). */
  cushion: number;
}

declare global {
  interface Window {
    __tribune?: TribuneTestHooks;
  }
}

/** Starts a fresh hooks object for a page (keeps the signed-in user). */
export function resetHooks(page: string): void {
  window.__tribune = { page, user: window.__tribune?.user };
}

/** Publishes handles (mutates the current object so references the tests hold stay valid). */
export function exposeHooks(patch: Partial<TribuneTestHooks>): void {
  const hooks = window.__tribune ?? { page: 'unknown' };
  Object.assign(hooks, patch);
  window.__tribune = hooks;
}

/**
 * Resets the hooks when a page mounts. A layout effect: it runs before every passive effect of the
 * page's children, so what they expose is never wiped.
 */
export function usePageHooks(page: string, key?: string): void {
  useLayoutEffect(() => {
    resetHooks(page);
  }, [page, key]);
}
