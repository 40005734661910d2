import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, getSpace, isAbortError, type SpaceView } from './api.js';
import { exposeHooks } from './testHooks.js';
import { WhipClient, type WhipConnectionState } from './whip.js';

/** Polls GET /api/spaces/:id (every `intervalMs`, slower after errors, stops on 404). */
export function useSpace(
  id: string,
  intervalMs = 250,
): { space: SpaceView | null; error: ApiError | null; loading: boolean } {
  const [space, setSpace] = useState<SpaceView | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    const ctrl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const tick = async (): Promise<void> => {
      let next = intervalMs;
      try {
        const s = await getSpace(id, ctrl.signal);
        if (stopped) return;
        setSpace(s);
        setError(null);
        if (s.state === 'ended') next = Math.max(intervalMs, 2000);
      } catch (err) {
        if (stopped || isAbortError(err)) return;
        const e =
          err instanceof ApiError ? err : new ApiError('NETWORK', 'Could not reach the Tribune server', 0);
        setError(e);
        if (e.status === 404) {
          setLoading(false);
          return;
        }
        next = 2000;
      }
      setLoading(false);
      if (!stopped) timer = setTimeout(() => void tick(), next);
    };
    void tick();
    return () => {
      stopped = true;
      ctrl.abort();
      clearTimeout(timer);
    };
  }, [id, intervalMs]);

  return { space, error, loading };
}

export type PublisherPhase =
  'idle' | 'mic' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'error' | 'closed';

export interface PublisherState {
  phase: PublisherPhase;
  error: ApiError | null;
  muted: boolean;
  speakerId: string | null;
  autoplayBlocked: boolean;
}

export interface PublishParams {
  spaceId: string;
  token: string;
  name: string;
}

const MIC_CONSTRAINTS: MediaStreamConstraints = {
  audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  video: false,
};

function micError(err: unknown): ApiError {
  const name = err instanceof DOMException ? err.name : '';
  if (name === 'NotAllowedError' || name === 'SecurityError')
    return new ApiError(
      'MIC_DENIED',
      'Microphone access was blocked. Allow it in your browser and try again.',
      0,
    );
  if (name === 'NotFoundError' || name === 'OverconstrainedError')
    return new ApiError('MIC_NOT_FOUND', 'No microphone was found on this device.', 0);
  if (!navigator.mediaDevices?.getUserMedia)
    return new ApiError(
      'MIC_UNSUPPORTED',
      'This browser cannot use the microphone here (HTTPS is required).',
      0,
    );
  return new ApiError('MIC_ERROR', 'Could not start the microphone.', 0);
}

/** Fatal for this session (no point reconnecting): the Space is gone/full or the token is bad. */
function isTerminal(err: ApiError): boolean {
  return err.status >= 400 && err.status < 500;
}

/** Mic + WHIP session for the host and speaker pages. */
export function usePublisher(role: 'host' | 'speaker') {
  const [state, setState] = useState<PublisherState>({
    phase: 'idle',
    error: null,
    muted: false,
    speakerId: null,
    autoplayBlocked: false,
  });
  const clientRef = useRef<WhipClient | null>(null);
  const trackRef = useRef<MediaStreamTrack | null>(null);
  const paramsRef = useRef<PublishParams | null>(null);
  const mountedRef = useRef(true);
  const generation = useRef(0);

  const patch = useCallback((p: Partial<PublisherState>) => {
    if (mountedRef.current) setState((s) => ({ ...s, ...p }));
  }, []);

  const stopMic = useCallback(() => {
    trackRef.current?.stop();
    trackRef.current = null;
  }, []);

  const getTrack = useCallback(async (): Promise<MediaStreamTrack> => {
    const existing = trackRef.current;
    if (existing && existing.readyState === 'live') return existing;
    if (!navigator.mediaDevices?.getUserMedia) throw micError(null);
    const stream = await navigator.mediaDevices.getUserMedia(MIC_CONSTRAINTS).catch((err: unknown) => {
      throw micError(err);
    });
    const track = stream.getAudioTracks()[0];
    if (!track) throw micError(null);
    trackRef.current = track;
    return track;
  }, []);

  const connect = useCallback(
    async (params: PublishParams): Promise<void> => {
      const gen = ++generation.current;
      paramsRef.current = params;
      const old = clientRef.current;
      clientRef.current = null;
      if (old) await old.close();
      patch({ phase: 'mic', error: null, autoplayBlocked: false });
      let client: WhipClient | null = null;
      try {
        const track = await getTrack();
        if (gen !== generation.current) return;
        patch({ muted: !track.enabled });
        client = new WhipClient({
          spaceId: params.spaceId,
          token: params.token,
          name: params.name,
          track,
          onStateChange: (s: WhipConnectionState) => {
            if (gen !== generation.current || clientRef.current !== client || s === 'new') return;
            patch({ phase: s === 'closed' ? 'closed' : s });
          },
          onRemoteStream: (stream) => exposeHooks(role, { remoteStream: stream }),
          onAutoplayBlocked: () => patch({ autoplayBlocked: true }),
        });
        clientRef.current = client;
        exposeHooks(role, { pc: client.pc, audioEl: client.audioEl });
        patch({ phase: 'connecting' });
        await client.publish();
        if (gen !== generation.current) return;
        if (client.speakerId) exposeHooks(role, { speakerId: client.speakerId });
        patch({ speakerId: client.speakerId });
      } catch (err) {
        if (gen !== generation.current) return;
        const e = err instanceof ApiError ? err : new ApiError('WEBRTC_ERROR', String(err), 0);
        if (client) {
          clientRef.current = null;
          void client.close();
        }
        const terminal = isTerminal(e) || e.code.startsWith('MIC_');
        if (terminal) stopMic();
        patch({ phase: terminal ? 'error' : 'failed', error: e });
      }
    },
    [getTrack, patch, role, stopMic],
  );

  const start = useCallback((params: PublishParams) => connect(params), [connect]);

  const reconnect = useCallback(async () => {
    if (paramsRef.current) await connect(paramsRef.current);
  }, [connect]);

  /** Leaves the stage: DELETE the WHIP resource, close the peer, release the mic. */
  const stop = useCallback(async () => {
    generation.current++;
    const client = clientRef.current;
    clientRef.current = null;
    stopMic();
    if (client) await client.close();
    patch({ phase: 'closed', autoplayBlocked: false });
  }, [patch, stopMic]);

  const toggleMute = useCallback(() => {
    const track = trackRef.current;
    if (!track) return;
    track.enabled = !track.enabled;
    patch({ muted: !track.enabled });
  }, [patch]);

  const enableAudio = useCallback(async () => {
    const ok = (await clientRef.current?.playRemoteAudio()) ?? false;
    if (ok) patch({ autoplayBlocked: false });
  }, [patch]);

  useEffect(() => {
    mountedRef.current = true;
    const onPageHide = (): void => {
      void clientRef.current?.close({ keepalive: true });
    };
    window.addEventListener('pagehide', onPageHide);
    return () => {
      mountedRef.current = false;
      window.removeEventListener('pagehide', onPageHide);
      generation.current++;
      void clientRef.current?.close();
      clientRef.current = null;
      trackRef.current?.stop();
      trackRef.current = null;
    };
  }, []);

  return { state, start, stop, reconnect, toggleMute, enableAudio };
}
