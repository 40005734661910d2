import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiError } from '../../src/client/index.js';
import type { LiveDoc, LiveSpeaker } from '../../src/live/types.js';
import {
  createSpace,
  edgeMasterUrl,
  startTribune,
  whipUrlFor,
  type TestSpace,
  type TribuneHandle,
} from '../support/server.js';
import { concatPcm, hasTone, longestSilenceMs } from '../support/spectrum.js';
import { ToneGenerator } from '../support/tone.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient } from '../support/whip-client.js';
import { LlHlsListener, fetchAllPcm } from '../support/llhls-client.js';

const run = promisify(execFile);

/** Decodes `seconds` of an HLS URL with ffmpeg into 48 kHz mono PCM; ffmpeg must print no error. */
async function ffmpegDecode(url: string, seconds: number, extra: string[] = []): Promise<Int16Array> {
  const { stdout, stderr } = await run(
    'ffmpeg',
    [
      '-v',
      'error',
      ...extra,
      '-i',
      url,
      '-t',
      String(seconds),
      '-f',
      's16le',
      '-ac',
      '1',
      '-ar',
      '48000',
      '-',
    ],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
  );
  expect(stderr.toString()).toBe('');
  return new Int16Array(stdout.buffer, stdout.byteOffset, Math.floor(stdout.byteLength / 2));
}

const lastSeconds = (pcm: Int16Array, s: number): Int16Array =>
  pcm.subarray(Math.max(0, pcm.length - s * 48000));

/** The user a WHIP publish token was issued to (its `u` claim). */
const userOfToken = (token: string): string =>
  (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { u: string }).u;

describe('live audio: WHIP in, mix, LL-HLS out through the edge', () => {
  let server: TribuneHandle;
  let space: TestSpace;
  let guestToken: string;
  let guestId: string;
  let host: NodeWhipClient;
  let guest: NodeWhipClient;

  /** The live state document listeners get from the edge. */
  const liveDoc = async (): Promise<LiveDoc> => {
    const res = await fetch(`${server.url}/hls/spaces/${space.id}/state.json`);
    if (res.status !== 200) throw new Error(`state.json -> ${res.status}`);
    return (await res.json()) as LiveDoc;
  };

  beforeAll(async () => {
    server = await startTribune();
    space = await createSpace(server.url, 'Integration');
    [guestToken] = await space.stageTokens(1);
    guestId = userOfToken(guestToken!);
    host = new NodeWhipClient();
    guest = new NodeWhipClient();
    await host.publish({
      whipUrl: whipUrlFor(server.url, space.id, 'Alice'),
      token: space.hostToken,
      source: new ToneGenerator({ freqHz: 440, amplitude: 0.3 }),
    });
    await guest.publish({
      whipUrl: whipUrlFor(server.url, space.id, 'Bob'),
      token: guestToken,
      source: new ToneGenerator({ freqHz: 1000, amplitude: 0.3 }),
    });
  });

  afterAll(async () => {
    host?.abruptClose();
    guest?.abruptClose();
    await server?.stop();
  });

  it('lists both speakers with live speaking indicators', async () => {
    const doc = await waitFor('both speakers speaking', async () => {
      const d = await liveDoc();
      return d.speakers.length === 2 &&
        d.speakers.every((s) => s.connected && !s.muted && s.speaking && s.level > 0.3)
        ? d
        : null;
    });
    expect(doc.state).toBe('live');
    // The first user put on stage by stageTokens is a co-host.
    expect(doc.speakers.map((s) => [s.userId, s.role]).sort()).toEqual(
      [
        [space.host.id, 'host'],
        [guestId, 'cohost'],
      ].sort(),
    );
    expect(doc.speakers.find((s) => s.userId === space.host.id)?.handle).toBe(space.host.handle);
    // The host sees the same in the participants list.
    const p = await space.hostClient.participants(space.id);
    expect(
      p.members
        .filter((m) => m.connected)
        .map((m) => m.user.id)
        .sort(),
    ).toEqual([space.host.id, guestId].sort());
  });

  it('sends each speaker a mix-minus: the other tone, never their own', async () => {
    const since = performance.now();
    await waitFor(
      '2 s of return audio',
      () => host.receivedPcm(since).length >= 96_000 && guest.receivedPcm(since).length >= 96_000,
    );
    const atHost = lastSeconds(host.receivedPcm(since), 1.5);
    const atGuest = lastSeconds(guest.receivedPcm(since), 1.5);
    expect(hasTone(atHost, 1000)).toBe(true);
    expect(hasTone(atHost, 440, { minRatio: 1, minAmplitude: 0.01 })).toBe(false);
    expect(hasTone(atGuest, 440)).toBe(true);
    expect(hasTone(atGuest, 1000, { minRatio: 1, minAmplitude: 0.01 })).toBe(false);
  });

  it('serves LL-HLS through the edge that ffmpeg decodes without error, with both tones', async () => {
    const master = edgeMasterUrl(server.url, space.id);
    const probe = await run('ffprobe', [
      '-v',
      'error',
      '-show_entries',
      'stream=codec_name,sample_rate,channels',
      '-of',
      'json',
      master,
    ]);
    expect(probe.stderr).toBe('');
    expect(JSON.parse(probe.stdout).streams[0]).toMatchObject({
      codec_name: 'opus',
      sample_rate: '48000',
      channels: 1,
    });
    const pcm = await ffmpegDecode(master, 3);
    expect(pcm.length).toBeGreaterThanOrEqual(2.5 * 48000);
    const tail = lastSeconds(pcm, 2);
    expect(hasTone(tail, 440)).toBe(true);
    expect(hasTone(tail, 1000)).toBe(true);
  });

  it('keeps blocking playlist reloads and parts correct at the live edge', async () => {
    const media = edgeMasterUrl(server.url, space.id).replace('master.m3u8', 'audio.m3u8');
    const text = await (await fetch(media)).text();
    expect(text).toMatch(/#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=/);
    expect(text).toMatch(/#EXT-X-PROGRAM-DATE-TIME:/);
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part\/(\d+)\.(\d+)\.m4s"/.exec(text);
    expect(hint).not.toBeNull();
    const [msn, part] = [Number(hint![1]), Number(hint![2])];
    const t0 = performance.now();
    const blocked = await fetch(`${media}?_HLS_msn=${msn}&_HLS_part=${part}`);
    const waited = performance.now() - t0;
    expect(blocked.status).toBe(200);
    expect(await blocked.text()).toContain(`part/${msn}.${part}.m4s`);
    expect(waited).toBeLessThan(1000);
    const partRes = await fetch(media.replace('audio.m3u8', `part/${msn}.${part}.m4s`));
    expect(partRes.status).toBe(200);
    expect(partRes.headers.get('cache-control')).toContain('immutable');
    // Far in the future: the spec's 400, answered at once, not a hang.
    const far = await fetch(`${media}?_HLS_msn=${msn + 50}&_HLS_part=0`);
    expect(far.status).toBe(400);
    expect(((await far.json()) as { error: { code: string } }).error.code).toBe('HLS_BAD_BLOCKING_REQUEST');
    const partOnly = await fetch(`${media}?_HLS_part=1`);
    expect(partOnly.status).toBe(400);
    const negative = await fetch(`${media}?_HLS_msn=-1`);
    expect(negative.status).toBe(400);
  });

  it('keeps the mix flowing when a speaker vanishes mid-frame, and drops them', async () => {
    const listener = new LlHlsListener({ masterUrl: edgeMasterUrl(server.url, space.id) });
    const pcm: Int16Array[] = [];
    listener.onPcm = (p) => pcm.push(p);
    void listener.done.catch(() => undefined);
    await listener.started;
    await waitFor('1 s of listener audio', () => pcm.reduce((n, p) => n + p.length, 0) >= 48_000);
    guest.abruptClose();
    const samplesAtDrop = pcm.reduce((n, p) => n + p.length, 0);
    await waitFor(
      '3 s more of listener audio',
      () => pcm.reduce((n, p) => n + p.length, 0) >= samplesAtDrop + 3 * 48_000,
    );
    void listener.stop();
    const all = concatPcm(pcm);
    const after = all.subarray(samplesAtDrop);
    expect(longestSilenceMs(after, 48000, 20, -40)).toBeLessThan(100);
    expect(hasTone(after.subarray(after.length - 48_000), 440)).toBe(true);
    expect(listener.missedParts).toBe(0);
    // They keep their role (they may reconnect) but are no longer connected; the host still is.
    const doc = await waitFor(
      'the vanished speaker to show as disconnected',
      async () => {
        const d = await liveDoc();
        const gone = d.speakers.find((s: LiveSpeaker) => s.userId === guestId);
        return gone && !gone.connected && !gone.speaking && gone.level === 0 ? d : null;
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    expect(doc.speakers.filter((s) => s.connected).map((s) => s.userId)).toEqual([space.host.id]);
    const p = await space.hostClient.participants(space.id);
    expect(p.members.find((m) => m.user.id === guestId)?.connected).toBe(false);
    expect(p.members.find((m) => m.user.id === space.host.id)?.connected).toBe(true);
  }, 60_000);

  it('ends the Space into a replay that ffmpeg decodes without error', async () => {
    const ended = await space.hostClient.end(space.id);
    expect(ended.state).toBe('ended');
    expect(ended.replay.state).toBe('available');
    // The edge may serve the cached live playlist for its max-age (1 s) before the replay's.
    await waitFor('the replay playlist on the edge', async () =>
      (
        await (await fetch(edgeMasterUrl(server.url, space.id).replace('master.m3u8', 'audio.m3u8'))).text()
      ).includes('#EXT-X-ENDLIST'),
    );
    const vod = await fetchAllPcm(edgeMasterUrl(server.url, space.id));
    expect(vod.playlist.ended).toBe(true);
    expect(vod.durationSec).toBeGreaterThan(5);
    expect(hasTone(vod.pcm, 440)).toBe(true);
    const pcm = await ffmpegDecode(edgeMasterUrl(server.url, space.id), 600);
    expect(Math.abs(pcm.length / 48000 - vod.durationSec)).toBeLessThan(0.5);
    // A listener of an ended Space gets a VOD playlist, and no speaker can join it any more:
    // not with a publish token issued while it was live, nor get a new one.
    const late = await new NodeWhipClient()
      .publish({
        whipUrl: whipUrlFor(server.url, space.id, 'Late'),
        token: guestToken,
        source: new ToneGenerator({ freqHz: 300 }),
      })
      .then(
        () => 'joined',
        (e: { status?: number; code?: string }) => `${e.status} ${e.code}`,
      );
    expect(late).toBe('409 SPACE_NOT_LIVE');
    await expect(space.hostClient.publishToken(space.id)).rejects.toMatchObject({
      status: 409,
      code: 'SPACE_NOT_LIVE',
    } satisfies Partial<ApiError>);
  });
});
