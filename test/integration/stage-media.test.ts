/**
 * Role changes reach the media path at once. Two Node WebRTC speakers (host 440 Hz, speaker
 * 1000 Hz); the host's own return audio (its mix-minus) shows when the speaker's tone leaves and
 * comes back. The figure includes the WebRTC return trip to the host, so the mix itself is faster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSpace,
  startTribune,
  tokenUserId,
  whipUrlFor,
  type TestSpace,
  type TribuneHandle,
} from '../support/server.js';
import { toneAmplitude } from '../support/spectrum.js';
import { ToneGenerator } from '../support/tone.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient } from '../support/whip-client.js';

const ON = 0.05; // the speaker's tone at 0.3 amplitude arrives well above this
const OFF = 0.01;

describe('stage changes on the media path', () => {
  let server: TribuneHandle;
  let space: TestSpace;
  let host: NodeWhipClient;
  let speaker: NodeWhipClient;
  let speakerId = '';
  let speakerToken = '';
  /** (arrival time, 1 kHz amplitude) per 10 ms frame the host receives */
  const heard: { t: number; amp: number }[] = [];

  const hearsSpeaker = (since: number) => {
    const recent = heard.filter((h) => h.t >= since);
    return recent.length >= 5 && recent.slice(-5).every((h) => h.amp > ON);
  };
  /** Time from `t0` until the tone dropped below OFF and stayed there for the next 300 ms. */
  const goneAfter = (t0: number): number | undefined => {
    const after = heard.filter((h) => h.t >= t0);
    for (let i = 0; i < after.length; i++) {
      const rest = after.slice(i).filter((h) => h.t <= after[i].t + 300);
      if (after.at(-1)!.t < after[i].t + 300) return undefined;
      if (rest.every((h) => h.amp < OFF)) return after[i].t - t0;
    }
    return undefined;
  };

  beforeAll(async () => {
    server = await startTribune();
    space = await createSpace(server.url, 'Stage');
    host = new NodeWhipClient({
      record: false,
      onFrame: (pcm, t) => heard.push({ t, amp: toneAmplitude(pcm, 1000) }),
    });
    speaker = new NodeWhipClient({ record: false });
    await host.publish({
      whipUrl: whipUrlFor(server.url, space.id, 'Host'),
      token: space.hostToken,
      source: new ToneGenerator({ freqHz: 440, amplitude: 0.3 }),
    });
    const [token] = await space.stageTokens(1);
    speakerToken = token;
    speakerId = tokenUserId(token);
    await speaker.publish({
      whipUrl: whipUrlFor(server.url, space.id, 'Speaker'),
      token,
      source: new ToneGenerator({ freqHz: 1000, amplitude: 0.3 }),
    });
    await waitFor('the host to hear the speaker', () => hearsSpeaker(0), { timeoutMs: 15_000 });
  }, 60_000);

  afterAll(async () => {
    host?.abruptClose();
    speaker?.abruptClose();
    await server?.stop();
  });

  it('a host mute silences the speaker within 200 ms; unmuting brings them back', async () => {
    const t0 = performance.now();
    await space.hostClient.mute(space.id, speakerId, { muted: true });
    await waitFor('the tone to stop', () => goneAfter(t0) !== undefined, { timeoutMs: 5_000 });
    const ms = goneAfter(t0)!;
    console.log(`mute: speaker's tone left the host's return audio ${ms.toFixed(0)} ms after the request`);
    expect(ms).toBeLessThan(200);
    const t1 = performance.now();
    await space.hostClient.mute(space.id, speakerId, { muted: false });
    await waitFor('the tone to return', () => hearsSpeaker(t1), { timeoutMs: 5_000 });
  });

  it("a demoted speaker's audio leaves the mix within 200 ms, and their WHIP session is closed", async () => {
    await waitFor('steady tone', () => hearsSpeaker(performance.now() - 100), { timeoutMs: 5_000 });
    const t0 = performance.now();
    await space.hostClient.setRole(space.id, speakerId, 'listener');
    await waitFor('the tone to stop', () => goneAfter(t0) !== undefined, { timeoutMs: 5_000 });
    const ms = goneAfter(t0)!;
    console.log(`demote: speaker's tone left the host's return audio ${ms.toFixed(0)} ms after the request`);
    expect(ms).toBeLessThan(200);
    const p = await space.hostClient.participants(space.id);
    expect(p.members.find((m) => m.user.id === speakerId)).toMatchObject({
      role: 'listener',
      connected: false,
    });
    // The old publish token no longer gets them back on stage.
    const again = new NodeWhipClient({ record: false });
    const res = await again
      .publish({
        whipUrl: whipUrlFor(server.url, space.id, 'Again'),
        token: speakerToken,
        source: new ToneGenerator({ freqHz: 1000 }),
      })
      .then(
        () => 'joined',
        (e: { status?: number; code?: string }) => `${e.status} ${e.code}`,
      );
    again.abruptClose();
    expect(res).toBe('403 FORBIDDEN');
  });
});
