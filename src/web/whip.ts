import { ApiError } from './api.js';

/**
 * WHIP publisher (non-trickle). One instance = one speaker session:
 * offer (sendrecv audio) -> wait for ICE gathering -> POST /whip/:spaceId -> 201 + answer + Location.
 * The server sends back this speaker's mix-minus (everyone but me), played via a hidden <audio>.
 */

export type WhipConnectionState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

export interface WhipOptions {
  /** The WHIP endpoint (from POST /api/spaces/:id/publish-token). */
  whipUrl: string;
  /** Bearer token for the endpoint and for DELETE on the session. */
  token: string;
  track: MediaStreamTrack;
  onStateChange?: (state: WhipConnectionState) => void;
  onRemoteStream?: (stream: MediaStream) => void;
  /** The browser refused to autoplay the mix-minus; call playRemoteAudio() from a user gesture. */
  onAutoplayBlocked?: () => void;
  iceGatheringTimeoutMs?: number;
}

/** An ApiError from a WHIP error response (`{error:{code,message}}` when the body is JSON). */
async function errorFromResponse(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = JSON.parse(await res.text()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === 'string') code = body.error.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    // not JSON: keep the HTTP status
  }
  const retry = Number(res.headers.get('retry-after'));
  return new ApiError(code, message, res.status, Number.isFinite(retry) && retry > 0 ? retry : undefined);
}

function waitForIceGathering(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onState);
      pc.removeEventListener('icecandidate', onCandidate);
      resolve();
    };
    const onState = (): void => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const onCandidate = (e: RTCPeerConnectionIceEvent): void => {
      if (!e.candidate) done();
    };
    // Whatever has been gathered by then is sent (host candidates arrive almost at once).
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', onState);
    pc.addEventListener('icecandidate', onCandidate);
  });
}

export class WhipClient {
  readonly pc: RTCPeerConnection;
  /** Plays the mix-minus; attached to document.body for the lifetime of the session. */
  readonly audioEl: HTMLAudioElement;
  remoteStream: MediaStream | null = null;
  /** Absolute URL of the WHIP resource (from the Location header). */
  resourceUrl: string | null = null;
  speakerId: string | null = null;
  state: WhipConnectionState = 'new';

  private closed = false;
  private readonly opts: WhipOptions;

  constructor(opts: WhipOptions) {
    this.opts = opts;
    this.pc = new RTCPeerConnection({ iceServers: [] });
    this.audioEl = document.createElement('audio');
    this.audioEl.autoplay = true;
    this.audioEl.setAttribute('playsinline', '');
    this.audioEl.dataset.testid = 'remote-audio';
    this.audioEl.hidden = true;
    document.body.appendChild(this.audioEl);

    this.pc.addEventListener('connectionstatechange', () => this.syncState());
    this.pc.addEventListener('iceconnectionstatechange', () => this.syncState());
    this.pc.addEventListener('track', (e) => {
      const stream = e.streams[0] ?? this.remoteStream ?? new MediaStream();
      if (!stream.getTracks().includes(e.track)) stream.addTrack(e.track);
      this.remoteStream = stream;
      if (this.audioEl.srcObject !== stream) this.audioEl.srcObject = stream;
      this.opts.onRemoteStream?.(stream);
      void this.playRemoteAudio().then((ok) => {
        if (!ok) this.opts.onAutoplayBlocked?.();
      });
    });
  }

  private setState(state: WhipConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.opts.onStateChange?.(state);
  }

  private syncState(): void {
    if (this.closed) return;
    const cs = this.pc.connectionState;
    const ice = this.pc.iceConnectionState;
    if (cs === 'failed' || ice === 'failed') this.setState('failed');
    else if (cs === 'connected' || (cs === undefined && (ice === 'connected' || ice === 'completed')))
      this.setState('connected');
    else if (cs === 'disconnected') this.setState('disconnected');
    else if (cs === 'closed') this.setState('closed');
    else this.setState('connecting');
  }

  /** Resolves once the answer is applied; throws ApiError on HTTP errors. */
  async publish(): Promise<void> {
    const { whipUrl, token, track } = this.opts;
    this.setState('connecting');
    try {
      this.pc.addTransceiver(track, { direction: 'sendrecv' });
      const offer = await this.pc.createOffer();
      await this.pc.setLocalDescription(offer);
      await waitForIceGathering(this.pc, this.opts.iceGatheringTimeoutMs ?? 3000);
      if (this.closed) return;
      const sdp = this.pc.localDescription?.sdp;
      if (!sdp) throw new ApiError('SDP_INVALID', 'Could not create a WebRTC offer', 0);

      const endpoint = new URL(whipUrl, window.location.href).href;
      let res: Response;
      try {
        res = await fetch(endpoint, {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${token}`,
            'Content-Type': 'application/sdp',
            Accept: 'application/sdp',
          },
          body: sdp,
        });
      } catch (err) {
        throw new ApiError('NETWORK', err instanceof Error ? err.message : String(err), 0);
      }
      if (res.status !== 201 && !res.ok) throw await errorFromResponse(res);
      const location = res.headers.get('Location');
      if (location) {
        this.resourceUrl = new URL(location, endpoint).href;
        const parts = new URL(this.resourceUrl).pathname.split('/').filter(Boolean);
        this.speakerId = parts.length ? decodeURIComponent(parts[parts.length - 1]) : null;
      }
      const answer = await res.text();
      if (this.closed) {
        await this.deleteResource();
        return;
      }
      await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
      this.syncState();
    } catch (err) {
      if (!this.closed) this.setState('failed');
      throw err;
    }
  }

  /** (Re)starts the mix-minus playback; false when the browser's autoplay policy refused. */
  async playRemoteAudio(): Promise<boolean> {
    try {
      await this.audioEl.play();
      return true;
    } catch {
      return false;
    }
  }

  private async deleteResource(keepalive = false): Promise<void> {
    const url = this.resourceUrl;
    if (!url) return;
    this.resourceUrl = null;
    try {
      await fetch(url, {
        method: 'DELETE',
        headers: { Authorization: `Bearer ${this.opts.token}` },
        keepalive,
      });
    } catch {
      // the server may be gone; the session times out there
    }
  }

  /**
   * Leaves at once: closes the peer connection and the mix-minus, then DELETEs the WHIP resource
   * with the same bearer (the server may be gone: that must not delay leaving). `serverClosed`:
   * the server already ended the session (removed, demoted, left the stage, Space ended), so there
   * is nothing to delete (a DELETE would only earn a 404).
   */
  async close(opts: { keepalive?: boolean; serverClosed?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pc.close();
    this.audioEl.pause();
    this.audioEl.srcObject = null;
    this.audioEl.remove();
    this.setState('closed');
    if (opts.serverClosed) this.resourceUrl = null;
    else await this.deleteResource(opts.keepalive);
  }
}
