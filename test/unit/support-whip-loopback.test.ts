import { waitFor } from '../support/wait.js';
import { performance } from 'node:perf_hooks';
import wrtc from '@roamhq/wrtc';
import { afterAll, describe, expect, it } from 'vitest';
import { OnsetDetector, hasTone } from '../support/spectrum.js';
import { ToneGenerator } from '../support/tone.js';
import { NodeWhipClient, frameClock, type SdpExchange } from '../support/whip-client.js';

const { RTCPeerConnection, nonstandard } = wrtc;

/** An in-process answerer standing in for the server: sends a 660 Hz tone back, records what it gets. */
function loopbackAnswerer() {
  const pc = new RTCPeerConnection({ iceServers: [] });
  const source = new nonstandard.RTCAudioSource();
  const track = source.createTrack();
  const back = new ToneGenerator({ freqHz: 660 });
  const pump = () => {
    const samples = back.nextFrame();
    source.onData({ samples, sampleRate: 48_000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 });
  };
  const frames: { pcm: Int16Array; t: number; rate: number }[] = [];
  let sink: InstanceType<typeof nonstandard.RTCAudioSink> | undefined;
  pc.ontrack = (ev: RTCTrackEvent) => {
    sink = new nonstandard.RTCAudioSink(ev.track);
    sink.ondata = (d: { samples: Int16Array; sampleRate: number }) =>
      frames.push({ pcm: d.samples.slice(), t: performance.now(), rate: d.sampleRate });
  };
  const exchange: SdpExchange = async (offerSdp) => {
    await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    const tr = pc.getTransceivers()[0];
    await tr.sender.replaceTrack(track);
    tr.direction = 'sendrecv';
    frameClock.add(pump);
    await pc.setLocalDescription(await pc.createAnswer());
    await new Promise<void>((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
    });
    return { answerSdp: pc.localDescription!.sdp, location: 'http://127.0.0.1:1/whip/space/spk1' };
  };
  const close = () => {
    frameClock.delete(pump);
    if (sink) {
      sink.ondata = null;
      sink.stop();
    }
    track.stop();
    pc.close();
  };
  return { exchange, frames, close };
}

describe('NodeWhipClient media path (wrtc loopback, no server)', () => {
  const cleanups: (() => void)[] = [];
  afterAll(() => cleanups.forEach((c) => c()));

  it('sends a timed 1 kHz burst and records the 48 kHz audio it receives', async () => {
    const answerer = loopbackAnswerer();
    cleanups.push(answerer.close);
    const tone = new ToneGenerator({ freqHz: 1000, continuous: false });
    const client = new NodeWhipClient();
    cleanups.push(() => client.abruptClose());
    await client.connect(tone, answerer.exchange);
    expect(client.speakerId).toBe('spk1');

    // let audio flow (0.5 s at the answerer), then burst
    await waitFor('audio at the answerer', () => answerer.frames.length >= 50);
    const det = new OnsetDetector({ freq: 1000, threshold: 0.05 });
    const startIdx = answerer.frames.length;
    tone.startBurst(300);
    await waitFor('0.6 s after the burst', () => answerer.frames.length >= startIdx + 60);
    const received = answerer.frames.slice(startIdx).filter((f) => f.rate === 48_000);
    let onsetT: number | undefined;
    for (const f of received) {
      const o = det.push(f.pcm, f.t);
      if (o && onsetT === undefined) onsetT = o.t;
    }
    expect(tone.bursts).toHaveLength(1);
    expect(onsetT).toBeDefined();
    const latency = onsetT! - tone.bursts[0].startMs;
    console.log(`loopback burst latency ${latency.toFixed(1)} ms`);
    expect(latency).toBeGreaterThan(0);
    expect(latency).toBeLessThan(500);

    // the client recorded the answerer's 660 Hz tone, at 48 kHz
    expect(client.framesReceived).toBeGreaterThan(100);
    expect(client.received.every((f) => f.pcm.length === 480)).toBe(true);
    const pcm = client.receivedPcm(performance.now() - 500);
    expect(hasTone(pcm, 660)).toBe(true);
    expect(hasTone(pcm, 1000)).toBe(false);
    expect(frameClock.skipped).toBe(0);

    // close without a server: the DELETE fails, the pc is closed anyway
    await expect(client.close()).rejects.toThrow();
    expect(client.pc.connectionState).toBe('closed');
  });
});
