import wrtc from '@roamhq/wrtc';
import type { RTCAudioData } from '@roamhq/wrtc/types/nonstandard.js';
import { TribuneError } from '../errors.js';

const { RTCPeerConnection, nonstandard } = wrtc;

/** One frame as RTCAudioSink delivers it (usually 10 ms, 48 kHz, mono). */
export type SinkFrame = Required<Pick<RTCAudioData, 'samples' | 'sampleRate'>> & {
  channelCount: number;
  numberOfFrames: number;
  bitsPerSample: number;
};

export interface SpeakerPeerEvents {
  /** Audio from the speaker, on libwebrtc's delivery cadence. */
  onFrame(frame: SinkFrame): void;
  /** The connection is gone (closed, failed, or disconnected for too long). Called at most once. */
  onGone(reason: string): void;
}

const GATHER_TIMEOUT_MS = 2000;
const DISCONNECT_GRACE_MS = 5000;
/**
 * A speaker whose RTP stops for this long is gone. WebRTC clients send audio packets all the time
 * (silence while muted; with DTX, one every 400 ms), and a vanished client may never close its
 * DTLS session, leaving ICE "connected" until consent checks fail much later.
 */
const MEDIA_TIMEOUT_MS = 3000;
/** Time allowed for the first packet after the answer (ICE and DTLS on a slow network). */
const FIRST_MEDIA_TIMEOUT_MS = 15_000;
const HALF = 480; // 10 ms at 48 kHz

/**
 * The server side of one speaker's WebRTC connection (lives in the media engine).
 * Receives the speaker's microphone and sends back their mix-minus, 10 ms at a time.
 */
export class SpeakerPeer {
  private readonly pc: RTCPeerConnection;
  private readonly source = new nonstandard.RTCAudioSource();
  private readonly track: MediaStreamTrack;
  private sink: InstanceType<typeof nonstandard.RTCAudioSink> | null = null;
  private readonly halves = [new Int16Array(HALF), new Int16Array(HALF)] as const;
  private disconnectTimer: NodeJS.Timeout | null = null;
  private readonly mediaWatch: NodeJS.Timeout;
  private lastPacketTs = -1;
  private lastProgressAt = Date.now();
  private closed = false;

  private constructor(private readonly events: SpeakerPeerEvents) {
    this.pc = new RTCPeerConnection({ iceServers: [] });
    this.track = this.source.createTrack();
    this.pc.ontrack = (e: RTCTrackEvent) => {
      if (e.track.kind !== 'audio' || this.sink) return;
      const sink = new nonstandard.RTCAudioSink(e.track);
      sink.ondata = (d: SinkFrame) => {
        if (!this.closed) this.events.onFrame(d);
      };
      this.sink = sink;
    };
    this.pc.onconnectionstatechange = () => this.onState(this.pc.connectionState);
    this.mediaWatch = setInterval(() => this.checkMedia(), 1000);
  }

  /** Applies a WHIP offer and returns the complete (non-trickle) answer. */
  static async answer(
    offerSdp: string,
    events: SpeakerPeerEvents,
  ): Promise<{ peer: SpeakerPeer; answerSdp: string }> {
    const peer = new SpeakerPeer(events);
    try {
      await peer.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    } catch (err) {
      peer.close();
      throw new TribuneError('SDP_INVALID', (err as Error).message.slice(0, 200), { cause: err });
    }
    try {
      const audio = peer.pc.getTransceivers().find((t) => t.receiver.track.kind === 'audio');
      if (!audio) throw new TribuneError('SDP_NO_AUDIO');
      // Reuses the offered audio transceiver and makes it sendrecv: the speaker hears their mix-minus on it.
      peer.pc.addTrack(peer.track);
      const answer = await peer.pc.createAnswer();
      await peer.pc.setLocalDescription(answer);
      await peer.gathered();
      const sdp = peer.pc.localDescription?.sdp;
      if (!sdp) throw new TribuneError('INTERNAL', 'no local description');
      return { peer, answerSdp: sdp };
    } catch (err) {
      peer.close();
      if (err instanceof TribuneError) throw err;
      throw new TribuneError('SDP_INVALID', (err as Error).message.slice(0, 200), { cause: err });
    }
  }

  /** Sends 20 ms (960 samples) of mix-minus as two 10 ms frames. */
  send(frame20ms: Int16Array): void {
    if (this.closed) return;
    for (let h = 0; h < 2; h++) {
      const half = this.halves[h]!;
      half.set(frame20ms.subarray(h * HALF, h * HALF + HALF));
      this.source.onData({
        samples: half,
        sampleRate: 48000,
        bitsPerSample: 16,
        channelCount: 1,
        numberOfFrames: HALF,
      });
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.disconnectTimer) clearTimeout(this.disconnectTimer);
    this.disconnectTimer = null;
    clearInterval(this.mediaWatch);
    this.sink?.stop();
    this.track.stop();
    this.pc.onconnectionstatechange = null;
    this.pc.ontrack = null;
    this.pc.close();
  }

  private gathered(): Promise<void> {
    if (this.pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.pc.onicegatheringstatechange = null;
        resolve();
      };
      const timer = setTimeout(done, GATHER_TIMEOUT_MS);
      this.pc.onicegatheringstatechange = () => {
        if (this.pc.iceGatheringState === 'complete') done();
      };
    });
  }

  /** Arrival time of the speaker's last RTP packet, from the receiver (cheap; no getStats). */
  private checkMedia(): void {
    const receiver = this.pc.getReceivers().find((r) => r.track.kind === 'audio');
    const ts = receiver?.getSynchronizationSources()[0]?.timestamp ?? -1;
    const now = Date.now();
    if (ts !== this.lastPacketTs) {
      this.lastPacketTs = ts;
      this.lastProgressAt = now;
      return;
    }
    const limit = ts < 0 ? FIRST_MEDIA_TIMEOUT_MS : MEDIA_TIMEOUT_MS;
    if (now - this.lastProgressAt > limit) this.gone('no-media');
  }

  private onState(state: RTCPeerConnectionState): void {
    if (this.closed) return;
    if (state === 'connected' && this.disconnectTimer) {
      clearTimeout(this.disconnectTimer);
      this.disconnectTimer = null;
    } else if (state === 'disconnected' && !this.disconnectTimer) {
      this.disconnectTimer = setTimeout(() => this.gone('disconnected'), DISCONNECT_GRACE_MS);
    } else if (state === 'failed' || state === 'closed') {
      this.gone(state);
    }
  }

  private gone(reason: string): void {
    if (this.closed) return;
    this.close();
    this.events.onGone(reason);
  }
}
