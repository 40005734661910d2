/**
 * Media element -> player state, shared by both playback engines (hls.js/native in engine.ts, the
 * CMAF stream in stream.ts): playing/paused/buffering/ended from the element's events, keeping
 * `reconnecting` (and `loading` before metadata) while the element is merely paused.
 */
import { useEffect, useState, type Dispatch, type MutableRefObject, type SetStateAction } from 'react';
import type { PlayerState } from '../testHooks.js';

/** Follows the element's events into `setPlayer`; returns whether the element is playing. */
export function useMediaPlayerState(
  mediaRef: MutableRefObject<HTMLAudioElement | null>,
  setPlayer: Dispatch<SetStateAction<PlayerState>>,
): boolean {
  const [playing, setPlaying] = useState(false);
  useEffect(() => {
    const media = mediaRef.current;
    if (!media) return;
    const sync = (e?: Event): void => {
      setPlaying(!media.paused);
      if (e?.type === 'waiting' && !media.paused) setPlayer('buffering');
      else if (media.ended) setPlayer('ended');
      else if (media.paused)
        setPlayer((p) => (p === 'reconnecting' || (p === 'loading' && media.readyState < 1) ? p : 'paused'));
      else if (e?.type === 'playing' || e?.type === 'timeupdate') setPlayer('playing');
    };
    const events = ['play', 'playing', 'pause', 'waiting', 'ended', 'timeupdate', 'canplay'];
    events.forEach((ev) => media.addEventListener(ev, sync));
    return () => events.forEach((ev) => media.removeEventListener(ev, sync));
  }, [mediaRef, setPlayer]);
  return playing;
}
