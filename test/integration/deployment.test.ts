import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { LiveDoc } from '../../src/live/types.js';
import { fetchAllPcm, LlHlsListener } from '../support/llhls-client.js';
import {
  createSpace,
  edgeMasterUrl,
  freePort,
  scrapeMetrics,
  startTribune,
  whipUrlFor,
  type TribuneHandle,
} from '../support/server.js';
import { concatPcm, hasTone, longestSilenceMs } from '../support/spectrum.js';
import { ToneGenerator } from '../support/tone.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient } from '../support/whip-client.js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const run = promisify(execFile);

/** Decodes an HLS URL with ffmpeg into 48 kHz mono PCM; ffmpeg must print no error. */
async function ffmpegDecode(url: string): Promise<Int16Array> {
  const { stdout, stderr } = await run(
    'ffmpeg',
    ['-v', 'error', '-i', url, '-f', 's16le', '-ac', '1', '-ar', '48000', '-'],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
  );
  expect(stderr.toString()).toBe('');
  return new Int16Array(stdout.buffer, stdout.byteOffset, Math.floor(stdout.byteLength / 2));
}

/** Waits until the edge serves the ended Space's playlist (a cached live one may linger for its max-age). */
async function replayReady(url: string, spaceId: string): Promise<void> {
  await waitFor('the replay playlist on the edge', async () =>
    (await (await fetch(`${url}/hls/spaces/${spaceId}/audio.m3u8`)).text()).includes('#EXT-X-ENDLIST'),
  );
}

/** User ids connected on stage, from the live state document the edge serves. */
async function connectedOnStage(url: string, spaceId: string): Promise<string[]> {
  const res = await fetch(`${url}/hls/spaces/${spaceId}/state.json`);
  if (res.status !== 200) throw new Error(`state.json -> ${res.status}`);
  return ((await res.json()) as LiveDoc).speakers.filter((s) => s.connected).map((s) => s.userId);
}

describe('origin and edge as separate processes', () => {
  const handles: TribuneHandle[] = [];
  afterAll(async () => {
    for (const h of handles.reverse()) await h.stop();
  });

  it('listeners play through a standalone edge; identical requests reach the origin once', async () => {
    const edgePort = await freePort();
    // Origin and edges share the token secret (listen tokens, signed live reports).
    const secret = randomBytes(32).toString('hex');
    const origin = await startTribune({
      args: ['origin'],
      env: { TRIBUNE_PUBLIC_EDGE_URL: `http://127.0.0.1:${edgePort}`, TRIBUNE_TOKEN_SECRET: secret },
    });
    handles.push(origin);
    const edge = await startTribune({
      args: ['edge', '--origin', origin.url],
      env: { PORT: String(edgePort), TRIBUNE_TOKEN_SECRET: secret },
    });
    handles.push(edge);

    // The origin alone serves no listener path.
    expect((await fetch(`${origin.url}/hls/spaces/x/master.m3u8`)).status).toBe(404);

    const space = await createSpace(origin.url, 'Split');
    expect(space.playbackUrl).toBe(`${edge.url}/hls/spaces/${space.id}/master.m3u8`);
    const speaker = new NodeWhipClient({ record: false });
    await speaker.publish({
      whipUrl: whipUrlFor(origin.url, space.id, 'Solo'),
      token: space.hostToken,
      source: new ToneGenerator({ freqHz: 660, amplitude: 0.3 }),
    });
    try {
      // Five listeners at the live edge, in step: they ask the edge for the same parts and playlists.
      const listeners = Array.from(
        { length: 5 },
        () => new LlHlsListener({ masterUrl: edgeMasterUrl(edge.url, space.id) }),
      );
      const pcm = listeners.map(() => [] as Int16Array[]);
      listeners.forEach((l, i) => {
        l.onPcm = (p) => pcm[i]!.push(p);
        void l.done.catch(() => undefined);
      });
      await Promise.all(listeners.map((l) => l.started));
      const before = await scrapeMetrics(origin.url);
      const edgeBefore = await scrapeMetrics(edge.url);
      await waitFor('3 s of audio at every listener', () =>
        pcm.every((chunks) => chunks.reduce((n, c) => n + c.length, 0) >= 3 * 48_000),
      );
      await Promise.all(listeners.map((l) => l.stop()));
      const after = await scrapeMetrics(origin.url);
      const edgeAfter = await scrapeMetrics(edge.url);
      for (const chunks of pcm) expect(hasTone(concatPcm(chunks).subarray(-48_000), 660)).toBe(true);

      const originRequests =
        after.get('tribune_origin_hls_requests_total')! - before.get('tribune_origin_hls_requests_total')!;
      const edgeRequests =
        edgeAfter.get('tribune_edge_requests_total')! - edgeBefore.get('tribune_edge_requests_total')!;
      // Each listener makes ~2 requests per 200 ms part; the origin sees about one listener's worth.
      expect(edgeRequests).toBeGreaterThan(4 * originRequests);
      expect(edgeAfter.get('tribune_edge_origin_fetches_total')).toBeGreaterThan(0);
    } finally {
      speaker.abruptClose();
    }
  }, 60_000);
});

describe('restarts', () => {
  it("keeps an ended Space's replay, and resumes live Spaces after SIGTERM and SIGKILL", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tribune-restart-'));
    // The same port every time: the hosts' API clients (and their session cookies) carry over.
    const port = String(await freePort());
    const start = (): Promise<TribuneHandle> => startTribune({ dataDir, env: { PORT: port } });
    const speakers: NodeWhipClient[] = [];
    const speak = async (url: string, spaceId: string, token: string, freqHz: number): Promise<void> => {
      const c = new NodeWhipClient({ record: false });
      speakers.push(c);
      await c.publish({
        whipUrl: whipUrlFor(url, spaceId, `tone${freqHz}`),
        token,
        source: new ToneGenerator({ freqHz, amplitude: 0.3 }),
      });
    };
    const lastMsn = async (url: string, id: string): Promise<number> => {
      const text = await (await fetch(`${url}/hls/spaces/${id}/audio.m3u8`)).text();
      return Number([...text.matchAll(/^seg\/(\d+)\.m4s$/gm)].at(-1)?.[1] ?? -1);
    };
    let server = await start();
    try {
      const ended = await createSpace(server.url, 'Ended by its host');
      const live = await createSpace(server.url, 'Live through restarts');
      await speak(server.url, ended.id, ended.hostToken, 440);
      await speak(server.url, live.id, live.hostToken, 660);
      await waitFor(
        '3 segments in both Spaces',
        async () => (await lastMsn(server.url, ended.id)) >= 2 && (await lastMsn(server.url, live.id)) >= 2,
      );
      expect(await ended.end()).toBe(200);
      await replayReady(server.url, ended.id);
      const msn0 = await lastMsn(server.url, live.id);

      // 1. A clean stop (SIGTERM) does not end the live Space.
      await server.stop();
      for (const c of speakers.splice(0)) c.abruptClose();
      server = await start();
      expect((await ended.hostClient.space(ended.id)).state).toBe('ended');
      expect((await live.hostClient.space(live.id)).state).toBe('live');
      const replay = await fetchAllPcm(edgeMasterUrl(server.url, ended.id));
      expect(replay.playlist.ended).toBe(true);
      expect(replay.durationSec).toBeGreaterThanOrEqual(3);
      expect(hasTone(replay.pcm, 440)).toBe(true);
      const decoded = await ffmpegDecode(edgeMasterUrl(server.url, ended.id));
      expect(Math.abs(decoded.length / 48_000 - replay.durationSec)).toBeLessThan(0.5);
      // Its playlist carries on past the restart (no renumbering from 0), and its host publishes
      // again with a fresh token from the same session.
      expect(await lastMsn(server.url, live.id)).toBeGreaterThanOrEqual(msn0);
      await waitFor('the live playlist to carry on', async () => (await lastMsn(server.url, live.id)) > msn0);
      await speak(server.url, live.id, (await live.hostClient.publishToken(live.id)).token, 880);
      await waitFor('the host on stage again', async () =>
        (await connectedOnStage(server.url, live.id)).includes(live.host.id),
      );
      const msn1 = await waitFor('3 more segments', async () => {
        const n = await lastMsn(server.url, live.id);
        return n >= msn0 + 3 ? n : null;
      });

      // 2. A crash (SIGKILL) does not end it either.
      server.child.kill('SIGKILL');
      await new Promise<void>((r) => server.child.once('exit', () => r()));
      for (const c of speakers.splice(0)) c.abruptClose();
      server = await start();
      expect((await live.hostClient.space(live.id)).state).toBe('live');
      expect((await ended.hostClient.space(ended.id)).state).toBe('ended');
      expect(await lastMsn(server.url, live.id)).toBeGreaterThanOrEqual(msn1);
      await waitFor('the live playlist to carry on', async () => (await lastMsn(server.url, live.id)) > msn1);
      await speak(server.url, live.id, (await live.hostClient.publishToken(live.id)).token, 1200);
      await waitFor('the host on stage again', async () =>
        (await connectedOnStage(server.url, live.id)).includes(live.host.id),
      );
      const msn2 = await lastMsn(server.url, live.id);
      await waitFor('3 more segments', async () => (await lastMsn(server.url, live.id)) >= msn2 + 3);

      // Ended by its host, its replay holds audio from before and after both restarts.
      expect(await live.end()).toBe(200);
      await replayReady(server.url, live.id);
      const whole = await fetchAllPcm(edgeMasterUrl(server.url, live.id));
      expect(whole.playlist.ended).toBe(true);
      expect(whole.durationSec).toBeGreaterThanOrEqual(9);
      expect(hasTone(whole.pcm, 660)).toBe(true);
      expect(hasTone(whole.pcm, 880)).toBe(true);
      expect(hasTone(whole.pcm, 1200)).toBe(true);
      const wholeDecoded = await ffmpegDecode(edgeMasterUrl(server.url, live.id));
      expect(Math.abs(wholeDecoded.length / 48_000 - whole.durationSec)).toBeLessThan(0.5);
      // The first replay survived the crash too.
      const again = await fetchAllPcm(edgeMasterUrl(server.url, ended.id));
      expect(again.durationSec).toBeCloseTo(replay.durationSec, 1);
      expect(hasTone(again.pcm, 440)).toBe(true);
    } finally {
      for (const c of speakers) c.abruptClose();
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('several media engines', () => {
  it('an engine crash costs only its own Spaces their speakers; the others never notice', async () => {
    const server = await startTribune({ env: { TRIBUNE_MEDIA_ENGINES: '2' } });
    const speakers: NodeWhipClient[] = [];
    try {
      const engines = execFileSync('pgrep', ['-P', String(server.pid), '-f', 'engine-process'], {
        encoding: 'utf8',
      })
        .trim()
        .split('\n')
        .map(Number);
      expect(engines).toHaveLength(2);
      const spaces = [await createSpace(server.url, 'One'), await createSpace(server.url, 'Two')];
      for (const [i, s] of spaces.entries()) {
        const c = new NodeWhipClient({ record: false });
        speakers.push(c);
        await c.publish({
          whipUrl: whipUrlFor(server.url, s.id, `S${i}`),
          token: s.hostToken,
          source: new ToneGenerator({ freqHz: 500 + 300 * i, amplitude: 0.3 }),
        });
      }
      const listeners = spaces.map((s) => new LlHlsListener({ masterUrl: edgeMasterUrl(server.url, s.id) }));
      const pcm = listeners.map(() => [] as Int16Array[]);
      listeners.forEach((l, i) => {
        l.onPcm = (p) => pcm[i]!.push(p);
        void l.done.catch(() => undefined);
      });
      await Promise.all(listeners.map((l) => l.started));
      const total = (i: number): number => pcm[i]!.reduce((n, c) => n + c.length, 0);
      await waitFor('2 s at both listeners', () => total(0) >= 2 * 48_000 && total(1) >= 2 * 48_000);

      process.kill(engines[0]!, 'SIGKILL');
      const speakersOf = async (id: string): Promise<number> =>
        (await connectedOnStage(server.url, id)).length;
      const counts = await waitFor('one Space to lose its speaker', async () => {
        const c = await Promise.all(spaces.map((s) => speakersOf(s.id)));
        return c.includes(0) ? c : null;
      });
      expect(counts.sort()).toEqual([0, 1]);
      const hit = (await speakersOf(spaces[0]!.id)) === 0 ? 0 : 1;
      const spared = 1 - hit;

      // The spared Space's listener heard no gap; the hit Space plays on (silence) in a fresh engine.
      const at = [total(0), total(1)];
      await waitFor(
        '3 s more at both listeners',
        () => total(0) >= at[0]! + 3 * 48_000 && total(1) >= at[1]! + 3 * 48_000,
        {
          timeoutMs: 20_000,
        },
      );
      await Promise.all(listeners.map((l) => l.stop()));
      const sparedPcm = concatPcm(pcm[spared]!).subarray(at[spared]! - 24_000); // from 0.5 s before the kill
      expect(longestSilenceMs(sparedPcm, 48_000, 20, -40)).toBeLessThan(60);
      expect(hasTone(sparedPcm, 500 + 300 * spared)).toBe(true);
      expect(listeners[hit]!.missedParts).toBe(0);

      // The hit Space takes speakers again.
      const again = new NodeWhipClient({ record: false });
      speakers.push(again);
      await again.publish({
        whipUrl: whipUrlFor(server.url, spaces[hit]!.id, 'Back'),
        token: spaces[hit]!.hostToken,
        source: new ToneGenerator({ freqHz: 1200, amplitude: 0.3 }),
      });
      await waitFor(
        'the hit Space to show its speaker again',
        async () => (await speakersOf(spaces[hit]!.id)) === 1,
      );
      expect(await speakersOf(spaces[spared]!.id)).toBe(1);
    } finally {
      for (const c of speakers) c.abruptClose();
      await server.stop();
    }
  }, 90_000);
});
