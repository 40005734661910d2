/**
 * The players' volume: a 0–100 slider and a mute toggle that set the <audio> element's `volume` and
 * `muted`, remembered in localStorage (one setting for every player: live, replay, clip).
 */
import { useEffect, useState, type MutableRefObject } from 'react';

export const VOLUME_KEY = 'tribune.volume';

interface VolumePref {
  /** 0..100 */
  level: number;
  muted: boolean;
}

const DEFAULT_PREF: VolumePref = { level: 100, muted: false };

function loadPref(): VolumePref {
  try {
    const v = JSON.parse(localStorage.getItem(VOLUME_KEY) ?? 'null') as Partial<VolumePref> | null;
    const level = Number(v?.level);
    return {
      level: Number.isFinite(level) ? Math.min(100, Math.max(0, Math.round(level))) : 100,
      muted: v?.muted === true,
    };
  } catch {
    return DEFAULT_PREF;
  }
}

function savePref(p: VolumePref): void {
  try {
    localStorage.setItem(VOLUME_KEY, JSON.stringify(p));
  } catch {
    // private mode or storage full: the setting lasts this page only
  }
}

function SpeakerIcon({ off }: { off: boolean }) {
  return (
    <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
      <path d="M4 9v6h4l5 4V5L8 9H4z" fill="currentColor" />
      {off ? (
        <path d="M16 9l5 6M21 9l-5 6" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
      ) : (
        <path
          d="M16 8.5a5 5 0 0 1 0 7M18.5 6a8.5 8.5 0 0 1 0 12"
          stroke="currentColor"
          strokeWidth="2"
          fill="none"
          strokeLinecap="round"
        />
      )}
    </svg>
  );
}

export function VolumeControl({ mediaRef }: { mediaRef: MutableRefObject<HTMLAudioElement | null> }) {
  const [pref, setPref] = useState(loadPref);

  useEffect(() => {
    const media = mediaRef.current;
    if (!media) return;
    media.volume = pref.level / 100;
    media.muted = pref.muted;
  }, [pref, mediaRef]);

  const change = (next: VolumePref): void => {
    setPref(next);
    savePref(next);
  };

  const silent = pref.muted || pref.level === 0;
  return (
    <div className="volume" data-testid="volume-control">
      <button
        type="button"
        className="volume-mute"
        onClick={() => change({ ...pref, muted: !pref.muted })}
        aria-pressed={pref.muted}
        aria-label={pref.muted ? 'Unmute' : 'Mute'}
        title={pref.muted ? 'Unmute' : 'Mute'}
        data-testid="volume-mute"
      >
        <SpeakerIcon off={silent} />
      </button>
      <input
        type="range"
        className="volume-bar"
        min={0}
        max={100}
        step={1}
        value={pref.level}
        onChange={(e) => {
          const level = Math.min(100, Math.max(0, Math.round(Number(e.target.value))));
          // Moving the slider is asking to hear it.
          if (Number.isFinite(level)) change({ level, muted: false });
        }}
        aria-label="Volume"
        aria-valuetext={`${pref.level}%${pref.muted ? ', muted' : ''}`}
        data-testid="volume"
      />
    </div>
  );
}
