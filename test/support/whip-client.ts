/**
 * A WHIP speaker in Node (@roamhq/wrtc, main thread only): sends a ToneGenerator through an
 * RTCAudioSource on a drift-free 10 ms clock, and records what it receives (the server's mix-minus).
 */
import { performance } from 'node:perf_hooks';
import wrtc from '@roamhq/wrtc';
import type { ToneGenerator } from './tone.js';

const { RTCPeerConnection, nonstandard } = wrtc;

type WrtcAudioSource = InstanceType<typeof nonstandard.RTCAudioSource>;
type WrtcAudioSink = InstanceType<typeof nonstandard.RTCAudioSink>;

interface SinkData {
  samples: Int16Array;
  sampleRate: number;
  bitsPerSample?: number;
  channelCount?: number;
  numberOfFrames?: number;
}

export const WHIP_SAMPLE_RATE = 48_000;
const FRAME_MS = 10;
/** With more than this many frames of backlog, the clock skips ahead instead of bursting. */
const MAX_CATCH_UP_FRAMES = 5;

/**
 * One drift-free 10 ms clock per process, shared by every client (60+ clients in one process
 * would otherwise run 60 timers). Ticks are scheduled against the absolute start time, so timer
 * lateness does not accumulate; a late tick emits the frames that are due (up to a bound).
 */
class FrameClock {
  private readonly subs = new Set<() => void>();
  private t0 = 0;
  private n = 0;
  private timer: NodeJS.Timeout | undefined;
  /** frames dropped because the event loop was blocked too long */
  skipped = 0;

  add(fn: () => void): void {
    this.subs.add(fn);
    if (!this.timer) {
      this.t0 = performance.now();
      this.n = 0;
      this.schedule();
    }
  }

  delete(fn: () => void): void {
    this.subs.delete(fn);
    if (this.subs.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private schedule(): void {
    const next = this.t0 + this.n * FRAME_MS;
    this.timer = setTimeout(() => this.tick(), Math.max(0, next - performance.now()));
  }

  private tick(): void {
    const due = Math.floor((performance.now() - this.t0) / FRAME_MS) + 1;
    if (due - this.n > MAX_CATCH_UP_FRAMES) {
      this.skipped += due - this.n - MAX_CATCH_UP_FRAMES;
      this.n = due - MAX_CATCH_UP_FRAMES;
    }
    while (this.n < due) {
      this.n++;
      for (const fn of this.subs) {
        try {
          fn();
        } catch (err) {
          console.error('whip-client frame clock subscriber failed', err);
        }
      }
    }
    if (this.subs.size > 0) this.schedule();
    else this.timer = undefined;
  }
}

export const frameClock = new FrameClock();

export interface ReceivedFrame {
  /** 48 kHz mono */
  pcm: Int16Array;
  /** performance.now() at arrival */
  t: number;
}

export class WhipError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly code?: string,
  ) {
    super(`WHIP ${status}${code ? ` ${code}` : ''}: ${body.slice(0, 300)}`);
    this.name = 'WhipError';
  }
}

export interface PublishOptions {
  /** e.g. http://127.0.0.1:PORT/whip/SPACE?name=x */
  whipUrl: string;
  /** host or invite token */
  token: string;
  source: ToneGenerator;
  /** wait for the peer connection to be connected before returning (default true) */
  waitConnected?: boolean;
  timeoutMs?: number;
}

/** Exchange of an SDP offer for an answer (HTTP WHIP by default; in-process for loopback tests). */
export type SdpExchange = (offerSdp: string) => Promise<{ answerSdp: string; location?: string }>;

export interface NodeWhipClientOptions {
  /** keep the received PCM (default true; turn off for load clients: ~96 kB/s per client) */
  record?: boolean;
  /** live callback per received 10 ms frame (48 kHz mono) */
  onFrame?: (pcm: Int16Array, arrivedAtMs: number) => void;
  /**
   * attach an RTCAudioSink to the received track (default true). Load generators turn it off: the
   * transceiver stays sendrecv (the server still sends the mix-minus) but the client does not decode it.
   */
  receive?: boolean;
}

export class NodeWhipClient {
  readonly pc: RTCPeerConnection;
  /** everything received so far, when recording */
  readonly received: ReceivedFrame[] = [];
  onFrame?: (pcm: Int16Array, arrivedAtMs: number) => void;
  /** absolute URL of the WHIP resource (from Location) */
  location?: string;
  speakerId?: string;
  /** received frames that were not 48 kHz (resampled) */
  resampledFrames = 0;
  framesSent = 0;
  framesReceived = 0;

  private readonly record: boolean;
  private audioSource: WrtcAudioSource | undefined;
  private track: MediaStreamTrack | undefined;
  private sink: WrtcAudioSink | undefined;
  private source: ToneGenerator | undefined;
  private token: string | undefined;
  private closed = false;
  private readonly pump = () => this.sendFrame();

  constructor(opts: NodeWhipClientOptions = {}) {
    this.record = opts.record ?? true;
    this.onFrame = opts.onFrame;
    this.pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: 'max-bundle' });
    if (opts.receive ?? true) this.pc.ontrack = (ev: RTCTrackEvent) => this.attachSink(ev.track);
  }

  /** WHIP publish: POST the offer, expect 201 + Location, apply the answer. */
  async publish(opts: PublishOptions): Promise<{ location: string; speakerId: string }> {
    this.token = opts.token;
    await this.connect(
      opts.source,
      async (offerSdp) => {
        const res = await fetch(opts.whipUrl, {
          method: 'POST',
          headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${opts.token}` },
          body: offerSdp,
        });
        const text = await res.text();
        if (res.status !== 201) {
          let code: string | undefined;
          try {
            code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
          } catch {
            // not JSON
          }
          throw new WhipError(res.status, text, code);
        }
        const loc = res.headers.get('location');
        if (!loc) throw new WhipError(res.status, 'missing Location header');
        return { answerSdp: text, location: new URL(loc, opts.whipUrl).toString() };
      },
      { waitConnected: opts.waitConnected, timeoutMs: opts.timeoutMs },
    );
    return { location: this.location!, speakerId: this.speakerId! };
  }

  /** Start sending `source` and negotiate through `exchange` (the WHIP POST, or a loopback peer). */
  async connect(
    source: ToneGenerator,
    exchange: SdpExchange,
    opts: { waitConnected?: boolean; timeoutMs?: number } = {},
  ): Promise<void> {
    if (source.sampleRate !== WHIP_SAMPLE_RATE) throw new Error('ToneGenerator must run at 48 kHz');
    const timeoutMs = opts.timeoutMs ?? 15_000;
    this.source = source;
    this.audioSource = new nonstandard.RTCAudioSource();
    this.track = this.audioSource.createTrack();
    this.pc.addTransceiver(this.track, { direction: 'sendrecv' });
    frameClock.add(this.pump);
    try {
      const offer = await this.pc.createOffer();
      await this.pc.setLocalDescription(offer);
      await this.iceGatheringComplete(Math.min(timeoutMs, 5_000));
      const { answerSdp, location } = await exchange(this.pc.localDescription!.sdp);
      this.location = location;
      if (location) this.speakerId = new URL(location).pathname.split('/').filter(Boolean).at(-1);
      await this.pc.setRemoteDescription({ type: 'answer', sdp: answerSdp });
      if (opts.waitConnected ?? true) await this.connected(timeoutMs);
    } catch (err) {
      this.abruptClose();
      throw err;
    }
  }

  /** Concatenation of everything received (48 kHz mono). */
  receivedPcm(sinceMs = -Infinity): Int16Array {
    const frames = this.received.filter((f) => f.t >= sinceMs);
    let n = 0;
    for (const f of frames) n += f.pcm.length;
    const out = new Int16Array(n);
    let o = 0;
    for (const f of frames) {
      out.set(f.pcm, o);
      o += f.pcm.length;
    }
    return out;
  }

  clearReceived(): void {
    this.received.length = 0;
  }

  /** Leave: DELETE the WHIP resource (with the bearer), then close the peer connection. */
  async close(): Promise<number | undefined> {
    if (this.closed) return undefined;
    let status: number | undefined;
    this.stopMedia();
    try {
      if (this.location) {
        const res = await fetch(this.location, {
          method: 'DELETE',
          headers: { Authorization: `Bearer ${this.token ?? ''}` },
        });
        await res.arrayBuffer();
        status = res.status;
      }
    } finally {
      this.closePc();
    }
    return status;
  }

  /** Vanish without the DELETE: stop media mid-stream and close the peer connection. */
  abruptClose(): void {
    if (this.closed) return;
    this.stopMedia();
    this.closePc();
  }

  private sendFrame(): void {
    if (!this.audioSource || !this.source || this.closed) return;
    const samples = this.source.nextFrame();
    this.audioSource.onData({
      samples,
      sampleRate: WHIP_SAMPLE_RATE,
      bitsPerSample: 16,
      channelCount: 1,
      numberOfFrames: samples.length,
    });
    this.framesSent++;
  }

  private attachSink(track: MediaStreamTrack): void {
    if (track.kind !== 'audio' || this.sink || this.closed) return;
    const sink = new nonstandard.RTCAudioSink(track);
    this.sink = sink;
    sink.ondata = (data: SinkData) => this.onSinkData(data);
  }

  private onSinkData(data: SinkData): void {
    if (this.closed) return;
    const t = performance.now();
    const channels = data.channelCount ?? 1;
    let pcm = data.samples;
    if (channels > 1) {
      const n = Math.floor(pcm.length / channels);
      const mono = new Int16Array(n);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let c = 0; c < channels; c++) s += pcm[i * channels + c];
        mono[i] = Math.round(s / channels);
      }
      pcm = mono;
    } else {
      // the native buffer may be reused: copy
      pcm = pcm.slice();
    }
    if (data.sampleRate !== WHIP_SAMPLE_RATE) {
      pcm = resampleLinear(pcm, data.sampleRate, WHIP_SAMPLE_RATE);
      this.resampledFrames++;
    }
    this.framesReceived++;
    if (this.record) this.received.push({ pcm, t });
    this.onFrame?.(pcm, t);
  }

  private stopMedia(): void {
    this.closed = true;
    frameClock.delete(this.pump);
    if (this.sink) {
      this.sink.ondata = null;
      this.sink.stop();
    }
    this.track?.stop();
  }

  private closePc(): void {
    try {
      this.pc.close();
    } catch {
      // already closed
    }
  }

  private iceGatheringComplete(timeoutMs: number): Promise<void> {
    if (this.pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.pc.removeEventListener('icegatheringstatechange', check);
        this.pc.removeEventListener('icecandidate', onCandidate);
        resolve();
      };
      // proceed with what was gathered if gathering never reports completion
      const timer = setTimeout(done, timeoutMs);
      const check = () => {
        if (this.pc.iceGatheringState === 'complete') done();
      };
      const onCandidate = (ev: RTCPeerConnectionIceEvent) => {
        if (!ev.candidate) done();
      };
      this.pc.addEventListener('icegatheringstatechange', check);
      this.pc.addEventListener('icecandidate', onCandidate);
    });
  }

  private connected(timeoutMs: number): Promise<void> {
    const ok = () =>
      this.pc.connectionState === 'connected' ||
      this.pc.iceConnectionState === 'connected' ||
      this.pc.iceConnectionState === 'completed';
    if (ok()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.pc.removeEventListener('connectionstatechange', check);
        this.pc.removeEventListener('iceconnectionstatechange', check);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`WebRTC not connected after ${timeoutMs} ms (${this.pc.connectionState})`));
      }, timeoutMs);
      const check = () => {
        if (ok()) {
          cleanup();
          resolve();
        } else if (this.pc.connectionState === 'failed' || this.pc.connectionState === 'closed') {
          cleanup();
          reject(new Error(`WebRTC connection ${this.pc.connectionState}`));
        }
      };
      this.pc.addEventListener('connectionstatechange', check);
      this.pc.addEventListener('iceconnectionstatechange', check);
    });
  }
}

/** Linear-interpolation resampler (only used for the first few 16 kHz frames of a sink). */
export function resampleLinear(pcm: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (fromRate === toRate || pcm.length === 0) return pcm;
  const n = Math.round((pcm.length * toRate) / fromRate);
  const out = new Int16Array(n);
  const step = fromRate / toRate;
  for (let i = 0; i < n; i++) {
    const x = i * step;
    const i0 = Math.floor(x);
    const i1 = Math.min(i0 + 1, pcm.length - 1);
    const f = x - i0;
    out[i] = Math.round(pcm[Math.min(i0, pcm.length - 1)] * (1 - f) + pcm[i1] * f);
  }
  return out;
}
