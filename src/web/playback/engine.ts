/**
 * The playback engine: attaches hls.js (or native HLS) to an <audio> element, retries on errors and
 * reports the player state. Part of the lazy player chunk (imports hls.js).
 */
import Hls, { type ErrorData, type HlsConfig } from 'hls.js';
import { useEffect, useRef, useState, type MutableRefObject } from 'react';
import { ADMISSION_HEADER, LISTEN_TOKEN_HEADER } from '../../live/types.js';
import { exposeHooks, type PlayerState } from '../testHooks.js';
import { useMediaPlayerState } from './mediaState.js';

const LIVE_CONFIG: Partial<HlsConfig> = {
  lowLatencyMode: true,
  // Parts are 200 ms, segments 1 s. Sit 0.8 s (four parts) behind the live edge, and speed up to 1.5x
  // to get back there after a stall.
  liveSyncDuration: 0.8,
  liveMaxLatencyDuration: 6,
  maxLiveSyncPlaybackRate: 1.5,
  backBufferLength: 30,
  maxBufferLength: 10,
  enableWorker: true,
};

const VOD_CONFIG: Partial<HlsConfig> = {
  lowLatencyMode: false,
  backBufferLength: 60,
  maxBufferLength: 30,
  enableWorker: true,
};

function withToken(url: string, token: string | null, admission?: string | null): string {
  if (!token && !admission) return url;
  const u = new URL(url, window.location.href);
  if (token) u.searchParams.set('token', token);
  if (admission) u.searchParams.set('admission', admission);
  return u.href;
}

interface EngineOptions {
  url: string;
  live: boolean;
  kind: 'live' | 'replay' | 'clip';
  token: string | null;
  onAuthError?: () => void;
  /** The edge's admission token (header on every request), and what to do when it is refused. */
  admission?: string | null;
  onAdmissionError?: () => void;
}

/**
 * Attaches hls.js (or native HLS) to the media element and keeps `player` in sync, with retries:
 * media errors recover in place, network errors reload with backoff (0.5 s doubling to 8 s).
 */
export function usePlayerEngine(mediaRef: MutableRefObject<HTMLAudioElement | null>, opts: EngineOptions) {
  const { url, live, kind } = opts;
  const hlsRef = useRef<Hls | null>(null);
  const tokenRef = useRef(opts.token);
  tokenRef.current = opts.token;
  const authRef = useRef(opts.onAuthError);
  authRef.current = opts.onAuthError;
  const admissionRef = useRef(opts.admission);
  admissionRef.current = opts.admission;
  const admissionErrorRef = useRef(opts.onAdmissionError);
  admissionErrorRef.current = opts.onAdmissionError;
  const [player, setPlayer] = useState<PlayerState>('loading');
  const playing = useMediaPlayerState(mediaRef, setPlayer);
  const [playlistLive, setPlaylistLive] = useState<boolean | null>(null);
  const [playerError, setPlayerError] = useState<string | null>(null);

  useEffect(() => {
    exposeHooks({ player });
  }, [player]);

  useEffect(() => {
    const media = mediaRef.current;
    if (!media) return;
    exposeHooks({ media, playerKind: kind, player: 'loading' });
    setPlayer('loading');
    setPlaylistLive(null);
    let disposed = false;
    let retries = 0;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    let hls: Hls | null = null;
    let lastMediaError = 0;
    let mediaErrorStreak = 0;

    const schedule = (fn: () => void): void => {
      const delay = Math.min(8000, 500 * 2 ** retries);
      retries++;
      setPlayer('reconnecting');
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => {
        if (!disposed) fn();
      }, delay);
    };

    const tryPlay = (): void => {
      media.play().catch(() => {
        // Autoplay refused: the big Play button does it from a user gesture.
        if (!disposed) setPlayer('paused');
      });
    };

    const createHls = (): void => {
      if (hls) hls.destroy();
      const h = new Hls({
        ...(live ? LIVE_CONFIG : VOD_CONFIG),
        xhrSetup: (xhr) => {
          const token = tokenRef.current;
          if (token) xhr.setRequestHeader(LISTEN_TOKEN_HEADER, token);
          const admission = admissionRef.current;
          if (admission) xhr.setRequestHeader(ADMISSION_HEADER, admission);
        },
      });
      hls = h;
      hlsRef.current = h;
      exposeHooks({ hls: h });
      h.on(Hls.Events.MANIFEST_PARSED, () => {
        if (live) tryPlay();
      });
      h.on(Hls.Events.LEVEL_UPDATED, (_e, data) => setPlaylistLive(data.details.live));
      h.on(Hls.Events.FRAG_BUFFERED, () => {
        retries = 0;
        setPlayerError(null);
      });
      h.on(Hls.Events.ERROR, (_e, data: ErrorData) => {
        if (disposed) return;
        const status = data.response?.code;
        if ((status === 401 || status === 403) && data.type === Hls.ErrorTypes.NETWORK_ERROR)
          authRef.current?.();
        if (
          (status === 403 || status === 429) &&
          data.type === Hls.ErrorTypes.NETWORK_ERROR &&
          admissionRef.current
        )
          admissionErrorRef.current?.();
        if (!data.fatal) return;
        setPlayerError(`${data.type}: ${data.details}`);
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
          const now = performance.now();
          mediaErrorStreak = now - lastMediaError < 5000 ? mediaErrorStreak + 1 : 1;
          lastMediaError = now;
          if (mediaErrorStreak === 1) h.recoverMediaError();
          else if (mediaErrorStreak === 2) {
            h.swapAudioCodec();
            h.recoverMediaError();
          } else schedule(createHls);
        } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
          const manifest =
            data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR ||
            data.details === Hls.ErrorDetails.MANIFEST_LOAD_TIMEOUT ||
            data.details === Hls.ErrorDetails.MANIFEST_PARSING_ERROR;
          schedule(manifest ? createHls : () => h.startLoad());
        } else {
          schedule(createHls);
        }
      });
      h.attachMedia(media);
      h.loadSource(url);
    };

    const nativeUrl = (): string => withToken(url, tokenRef.current, admissionRef.current);
    const onNativeError = (): void => {
      if (disposed) return;
      setPlayerError('The stream could not be loaded');
      schedule(() => {
        media.src = nativeUrl();
        media.load();
        if (live) tryPlay();
      });
    };
    const onNativeMetadata = (): void => {
      if (live) tryPlay();
      else setPlayer('paused');
    };

    if (Hls.isSupported()) {
      exposeHooks({ playbackMode: 'llhls' });
      createHls();
    } else if (media.canPlayType('application/vnd.apple.mpegurl')) {
      exposeHooks({ playbackMode: 'native' });
      media.addEventListener('error', onNativeError);
      media.addEventListener('loadedmetadata', onNativeMetadata);
      media.src = nativeUrl();
    } else {
      setPlayer('error');
      setPlayerError('This browser cannot play HLS audio.');
    }

    return () => {
      disposed = true;
      clearTimeout(retryTimer);
      media.removeEventListener('error', onNativeError);
      media.removeEventListener('loadedmetadata', onNativeMetadata);
      hls?.destroy();
      hlsRef.current = null;
      media.removeAttribute('src');
      media.load();
      exposeHooks({
        hls: null,
        media: null,
        player: null,
        playerKind: null,
        latency: null,
        playbackMode: null,
      });
    };
  }, [mediaRef, url, live, kind]);

  return { hlsRef, player, playing, playlistLive, playerError };
}
