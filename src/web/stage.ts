/**
 * Being on stage: the microphone published over WHIP with a fresh publish token, the mix-minus
 * (everyone but me) played back, and automatic reconnection (0.5 s, 1 s, 2 s, then every 3 s) for
 * as long as the session is open. The page opens a session while my role is on stage and the
 * Space is live (or, before the start, while I am in its green room), and closes it the moment
 * that stops being true. The start of a Space keeps a green-room session as it is.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, client, toApiError } from './api.js';
import { exposeHooks, type StagePhase } from './testHooks.js';
import { WhipClient, type WhipConnectionState } from './whip.js';

export interface StageState {
  phase: StagePhase;
  /** The last error (kept while retrying, cleared once connected). */
  error: ApiError | null;
  /** The browser refused to autoplay the mix-minus: needs a tap. */
  autoplayBlocked: boolean;
}

const IDLE: StageState = { phase: 'idle', error: null, autoplayBlocked: false };

/** Reconnect delays; the last one repeats. */
const BACKOFF_MS = [500, 1000, 2000, 3000];
/** A WebRTC connection "disconnected" this long is treated as gone (the server may have restarted). */
const DISCONNECTED_GRACE_MS = 2000;
/** A connection that has not come up this long after the answer is retried. */
const CONNECT_TIMEOUT_MS = 10_000;
/**
 * The server sends the mix-minus continuously (about 50 packets/s, silence included). No packet
 * for this long means the session is gone, e.g. the server restarted; the browser's own ICE
 * checks can take 15-20 s to notice that.
 */
const MEDIA_STALL_MS = 2000;
const STALL_CHECK_MS = 500;

/** Audio packets received on the peer connection so far (null when unknown). */
async function packetsReceived(pc: RTCPeerConnection): Promise<number | null> {
  try {
    const stats = await pc.getStats();
    let n: number | null = null;
    stats.forEach((r: { type?: string; kind?: string; packetsReceived?: number }) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio' && typeof r.packetsReceived === 'number')
        n = (n ?? 0) + r.packetsReceived;
    });
    return n;
  } catch {
    return null;
  }
}

const MIC_CONSTRAINTS: MediaStreamConstraints = {
  audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  video: false,
};

function micError(err: unknown): ApiError {
  const name = err instanceof DOMException ? err.name : '';
  if (name === 'NotAllowedError' || name === 'SecurityError')
    return new ApiError('MIC_DENIED', 'Microphone access was blocked', 0);
  if (name === 'NotFoundError' || name === 'OverconstrainedError')
    return new ApiError('MIC_NOT_FOUND', 'No microphone found', 0);
  if (!navigator.mediaDevices?.getUserMedia)
    return new ApiError('MIC_UNSUPPORTED', 'getUserMedia is unavailable', 0);
  return new ApiError('MIC_ERROR', 'Could not start the microphone', 0);
}

export class StageSession {
  private closed = false;
  private track: MediaStreamTrack | null = null;
  private whip: WhipClient | null = null;
  private muted: boolean;
  private state: StageState = IDLE;
  private wake: (() => void) | null = null;
  private publishes = 0;

  constructor(
    private readonly spaceId: string,
    muted: boolean,
    private readonly onChange: (s: StageState) => void,
  ) {
    this.muted = muted;
  }

  start(): void {
    exposeHooks({ publishes: 0, reconnects: 0, publishing: false });
    void this.run();
  }

  setMuted(muted: boolean): void {
    this.muted = muted;
    if (this.track) this.track.enabled = !muted;
  }

  /** After a microphone error: try again (from a user gesture, so the permission prompt can show). */
  retry(): void {
    this.wake?.();
  }

  async enableAudio(): Promise<void> {
    const ok = (await this.whip?.playRemoteAudio()) ?? false;
    if (ok) this.patch({ autoplayBlocked: false });
  }

  /** Stops publishing at once: DELETE the WHIP session, close the peer, release the microphone. */
  async close(opts: { keepalive?: boolean; serverClosed?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    const whip = this.whip;
    this.whip = null;
    this.track?.stop();
    this.track = null;
    exposeHooks({ publishing: false, stagePhase: 'closed', pc: null, audioEl: null, remoteStream: null });
    this.state = { phase: 'closed', error: null, autoplayBlocked: false };
    if (whip) await whip.close(opts);
  }

  private patch(p: Partial<StageState>): void {
    if (this.closed) return;
    this.state = { ...this.state, ...p };
    exposeHooks({ stagePhase: this.state.phase, publishing: this.state.phase === 'connected' });
    this.onChange(this.state);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wake = done;
    }).finally(() => {
      this.wake = null;
    });
  }

  private waitForWake(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
    }).finally(() => {
      this.wake = null;
    });
  }

  private async getTrack(): Promise<MediaStreamTrack> {
    const t = this.track;
    if (t && t.readyState === 'live') return t;
    if (!navigator.mediaDevices?.getUserMedia) throw micError(null);
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia(MIC_CONSTRAINTS);
    } catch (err) {
      throw micError(err);
    }
    const track = stream.getAudioTracks()[0];
    if (!track) throw micError(null);
    if (this.closed) {
      track.stop();
      throw new ApiError('CLOSED', 'closed', 0);
    }
    track.enabled = !this.muted;
    this.track = track;
    return track;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      let connected = false;
      let whip: WhipClient | null = null;
      try {
        this.patch({ phase: this.publishes > 0 || failures > 0 ? 'reconnecting' : 'mic' });
        const track = await this.getTrack();
        if (this.closed) break;
        if (this.publishes === 0 && failures === 0) this.patch({ phase: 'connecting' });
        const grant = await client.publishToken(this.spaceId);
        if (this.closed) break;
        connected = await this.session(grant.whipUrl, grant.token, track, (w) => (whip = w));
      } catch (err) {
        if (this.closed) break;
        const e = toApiError(err, 'WEBRTC_ERROR');
        if (e.code.startsWith('MIC_')) {
          // Needs the person: wait for "Try again".
          this.patch({ phase: 'error', error: e });
          await this.waitForWake();
          failures = 0;
          continue;
        }
        this.patch({ error: e });
      } finally {
        const w = whip as WhipClient | null;
        if (w && this.whip === w) {
          this.whip = null;
          void w.close();
        }
      }
      if (this.closed) break;
      if (connected) failures = 0;
      const delay = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)];
      failures++;
      this.patch({ phase: 'reconnecting', autoplayBlocked: false });
      exposeHooks({ pc: null, remoteStream: null, audioEl: null, speakerId: null });
      await this.sleep(delay);
    }
  }

  /**
   * One WHIP session, from the offer until it fails, stays disconnected, or the stage closes.
   * Resolves true when it got connected at some point.
   */
  private session(
    whipUrl: string,
    token: string,
    track: MediaStreamTrack,
    onCreated: (w: WhipClient) => void,
  ): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      let connected = false;
      let settled = false;
      let graceTimer: ReturnType<typeof setTimeout> | undefined;
      let connectTimer: ReturnType<typeof setTimeout> | undefined;
      let stallTimer: ReturnType<typeof setInterval> | undefined;
      const watchMedia = (): void => {
        if (stallTimer) return;
        let last = -1;
        let lastChange = performance.now();
        stallTimer = setInterval(() => {
          void packetsReceived(whip.pc).then((n) => {
            if (settled) return;
            const now = performance.now();
            if (n === null || n !== last) {
              if (n !== null) last = n;
              lastChange = now;
            } else if (now - lastChange > MEDIA_STALL_MS) {
              finish();
            }
          });
        }, STALL_CHECK_MS);
      };
      const finish = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(graceTimer);
        clearTimeout(connectTimer);
        clearInterval(stallTimer);
        this.wake = null;
        resolve(connected);
      };
      const onState = (s: WhipConnectionState): void => {
        if (settled || this.whip !== whip) return;
        if (s === 'connected') {
          clearTimeout(graceTimer);
          clearTimeout(connectTimer);
          graceTimer = undefined;
          if (!connected) {
            connected = true;
            this.publishes++;
            exposeHooks({ publishes: this.publishes, reconnects: Math.max(0, this.publishes - 1) });
          }
          this.patch({ phase: 'connected', error: null });
          watchMedia();
        } else if (s === 'disconnected') {
          if (connected) this.patch({ phase: 'reconnecting' });
          if (!graceTimer) graceTimer = setTimeout(finish, DISCONNECTED_GRACE_MS);
        } else if (s === 'failed' || s === 'closed') {
          finish();
        }
      };
      const whip = new WhipClient({
        whipUrl,
        token,
        track,
        onStateChange: onState,
        onRemoteStream: (stream) => exposeHooks({ remoteStream: stream }),
        onAutoplayBlocked: () => this.patch({ autoplayBlocked: true }),
      });
      this.whip = whip;
      onCreated(whip);
      exposeHooks({ pc: whip.pc, audioEl: whip.audioEl });
      // close() wakes this up too.
      this.wake = finish;
      whip
        .publish()
        .then(() => {
          if (settled) return;
          exposeHooks({ speakerId: whip.speakerId });
          if (whip.state === 'connected') onState('connected');
          else if (!connected) connectTimer = setTimeout(finish, CONNECT_TIMEOUT_MS);
        })
        .catch((err: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(graceTimer);
          clearTimeout(connectTimer);
          clearInterval(stallTimer);
          this.wake = null;
          reject(err instanceof Error ? err : new Error(String(err)));
        });
    });
  }
}

/**
 * React side of the stage: a StageSession while `active`, kept in sync with `muted`. `leftOnOwn`
 * is true when the person stopped it themselves (leaving the green room): the WHIP session is then
 * DELETEd; otherwise a stop means the server already closed it (role or Space state changed).
 */
export function useStage(spaceId: string, active: boolean, muted: boolean, leftOnOwn = false) {
  const [state, setState] = useState<StageState>(IDLE);
  const sessionRef = useRef<StageSession | null>(null);
  const mutedRef = useRef(muted);
  mutedRef.current = muted;
  // False once the role or the Space's state took the page off stage: the server has closed the
  // WHIP session itself by then, so leaving must not DELETE it again.
  const activeRef = useRef(active);
  activeRef.current = active;
  const leftOnOwnRef = useRef(leftOnOwn);
  leftOnOwnRef.current = leftOnOwn;

  useEffect(() => {
    exposeHooks({ onStage: active });
    if (!active) {
      setState(IDLE);
      return;
    }
    const session = new StageSession(spaceId, mutedRef.current, setState);
    sessionRef.current = session;
    session.start();
    const onPageHide = (): void => {
      void session.close({ keepalive: true });
    };
    window.addEventListener('pagehide', onPageHide);
    return () => {
      window.removeEventListener('pagehide', onPageHide);
      sessionRef.current = null;
      void session.close({ serverClosed: !activeRef.current && !leftOnOwnRef.current });
      exposeHooks({ onStage: false });
    };
  }, [spaceId, active]);

  useEffect(() => {
    sessionRef.current?.setMuted(muted);
    exposeHooks({ muted });
  }, [muted]);

  const retry = useCallback(() => sessionRef.current?.retry(), []);
  const enableAudio = useCallback(async () => {
    await sessionRef.current?.enableAudio();
  }, []);

  return { state: active ? state : IDLE, retry, enableAudio };
}
