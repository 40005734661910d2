/**
 * Playback timing: position, duration and latency (behind the live edge, behind the wall clock),
 * sampled 4x a second; plus the time formatting the players show.
 */
import type Hls from 'hls.js';
import { useEffect, useState, type MutableRefObject } from 'react';
import { exposeHooks } from '../testHooks.js';

const UI_TICK_MS = 250;

type MediaWithStartDate = HTMLMediaElement & { getStartDate?: () => Date };

export function seekableEnd(media: HTMLMediaElement): number | null {
  const r = media.seekable;
  return r.length > 0 ? r.end(r.length - 1) : null;
}

export function fmtTime(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '0:00';
  const t = Math.floor(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export interface Timing {
  /** Seconds behind the live edge (null when unknown or not live). */
  latency: number | null;
  /** Seconds between the wall clock and EXT-X-PROGRAM-DATE-TIME of what is playing. */
  glassLatency: number | null;
  target: number | null;
  currentTime: number;
  duration: number;
}

export function useTiming(
  mediaRef: MutableRefObject<HTMLAudioElement | null>,
  hlsRef: MutableRefObject<Hls | null>,
  live: boolean,
): [Timing, (t: Timing | ((p: Timing) => Timing)) => void] {
  const [timing, setTiming] = useState<Timing>({
    latency: null,
    glassLatency: null,
    target: null,
    currentTime: 0,
    duration: 0,
  });
  useEffect(() => {
    const timer = setInterval(() => {
      const media = mediaRef.current as MediaWithStartDate | null;
      if (!media) return;
      const h = hlsRef.current;
      let latency: number | null = null;
      let glassLatency: number | null = null;
      let target: number | null = null;
      if (h) {
        if (live && h.media && Number.isFinite(h.latency) && h.latency > 0) latency = h.latency;
        target = h.targetLatency;
        const pd = h.playingDate;
        if (pd) glassLatency = (Date.now() - pd.getTime()) / 1000;
      } else if (media.src) {
        const start = media.getStartDate?.();
        if (start && Number.isFinite(start.getTime())) {
          glassLatency = (Date.now() - (start.getTime() + media.currentTime * 1000)) / 1000;
        }
        const end = seekableEnd(media);
        if (live && end !== null && media.duration === Infinity)
          latency = Math.max(0, end - media.currentTime);
      }
      if (live) exposeHooks({ latency });
      setTiming({
        latency,
        glassLatency,
        target,
        currentTime: media.currentTime,
        duration: Number.isFinite(media.duration) ? media.duration : (seekableEnd(media) ?? 0),
      });
    }, UI_TICK_MS);
    return () => clearInterval(timer);
  }, [mediaRef, hlsRef, live]);
  return [timing, setTiming];
}
