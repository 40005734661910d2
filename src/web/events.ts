/**
 * The signed-in user's real-time stream for one Space: `GET /api/spaces/:id/events` (SSE) with
 * events `me` (MeInSpace), `participants` (hosts and co-hosts only), `doc` (LiveDoc) and `space`
 * (the SpaceView, when it changes: started, ended, replay trimmed…).
 * EventSource reconnects by itself after network errors; when the server answered with an error
 * status (the stream is then closed for good) it is reopened here after a pause.
 */
import { useEffect, useRef } from 'react';
import type { LiveDoc } from '../live/types.js';
import type { MeInSpace, Participants, SpaceView } from './api.js';
import { exposeHooks } from './testHooks.js';

export interface SpaceEventHandlers {
  onMe?: (me: MeInSpace) => void;
  onParticipants?: (p: Participants) => void;
  onDoc?: (doc: LiveDoc) => void;
  onSpace?: (space: SpaceView) => void;
  /** The stream (re)connected: state may have changed while it was down. */
  onOpen?: (reconnect: boolean) => void;
}

const REOPEN_MS = 2000;

function parse<T>(e: Event): T | null {
  try {
    return JSON.parse((e as MessageEvent<string>).data) as T;
  } catch {
    return null;
  }
}

export function useSpaceEvents(spaceId: string, enabled: boolean, handlers: SpaceEventHandlers): void {
  const latest = useRef(handlers);
  latest.current = handlers;

  useEffect(() => {
    if (!enabled) return;
    let es: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let disposed = false;
    let opened = 0;

    const open = (): void => {
      if (disposed) return;
      const source = new EventSource(`/api/spaces/${encodeURIComponent(spaceId)}/events`);
      es = source;
      exposeHooks({ events: source });
      source.addEventListener('open', () => {
        latest.current.onOpen?.(opened > 0);
        opened++;
      });
      source.addEventListener('me', (e) => {
        const me = parse<MeInSpace>(e);
        if (me) latest.current.onMe?.(me);
      });
      source.addEventListener('participants', (e) => {
        const p = parse<Participants>(e);
        if (p) latest.current.onParticipants?.(p);
      });
      source.addEventListener('doc', (e) => {
        const d = parse<LiveDoc>(e);
        if (d && typeof d.v === 'number') latest.current.onDoc?.(d);
      });
      source.addEventListener('space', (e) => {
        const v = parse<SpaceView>(e);
        if (v && typeof v.id === 'string') latest.current.onSpace?.(v);
      });
      source.addEventListener('error', () => {
        if (source.readyState !== EventSource.CLOSED || disposed) return;
        clearTimeout(timer);
        timer = setTimeout(open, REOPEN_MS);
      });
    };
    open();

    return () => {
      disposed = true;
      clearTimeout(timer);
      es?.close();
      exposeHooks({ events: null });
    };
  }, [spaceId, enabled]);
}
