import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
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

describe('origin and edge as separate processes', () => {
  const handles: TribuneHandle[] = [];
  afterAll(async () => {
    for (const h of handles.reverse()) await h.stop();
  });

  it('listeners play through a standalone edge; identical requests reach the origin once', async () => {
    const edgePort = await freePort();
    const origin = await startTribune({
      args: ['origin'],
      env: { TRIBUNE_PUBLIC_EDGE_URL: `http://127.0.0.1:${edgePort}` },
    });
    handles.push(origin);
    const edge = await startTribune({
      args: ['edge', '--origin', origin.url],
      env: { PORT: String(edgePort) },
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
  it('keeps replays across a clean restart and rebuilds them after a crash', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tribune-restart-'));
    try {
      let server = await startTribune({ dataDir });
      const clean = await createSpace(server.url, 'Ends cleanly');
      const crashed = await createSpace(server.url, 'Cut off by a crash');
      const speakers = [new NodeWhipClient({ record: false }), new NodeWhipClient({ record: false })];
      await speakers[0]!.publish({
        whipUrl: whipUrlFor(server.url, clean.id, 'A'),
        token: clean.hostToken,
        source: new ToneGenerator({ freqHz: 440, amplitude: 0.3 }),
      });
      await speakers[1]!.publish({
        whipUrl: whipUrlFor(server.url, crashed.id, 'B'),
        token: crashed.hostToken,
        source: new ToneGenerator({ freqHz: 880, amplitude: 0.3 }),
      });
      const segments = async (id: string): Promise<number> =>
        ((await (await fetch(`${server.url}/hls/spaces/${id}/audio.m3u8`)).text()).match(/^seg\//gm) ?? [])
          .length;
      await waitFor(
        '3 segments in both Spaces',
        async () => (await segments(clean.id)) >= 3 && (await segments(crashed.id)) >= 3,
      );
      const end = await fetch(`${server.url}/api/spaces/${clean.id}/end`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${clean.hostToken}` },
      });
      expect(end.status).toBe(200);
      // Crash: no graceful shutdown, the second Space is still live.
      server.child.kill('SIGKILL');
      await new Promise<void>((r) => server.child.once('exit', () => r()));
      for (const s of speakers) s.abruptClose();

      server = await startTribune({ dataDir });
      try {
        const list = (await (await fetch(`${server.url}/api/spaces`)).json()) as {
          spaces: { id: string; state: string }[];
        };
        expect(list.spaces.find((s) => s.id === clean.id)?.state).toBe('ended');
        expect(list.spaces.find((s) => s.id === crashed.id)?.state).toBe('ended');
        const a = await fetchAllPcm(edgeMasterUrl(server.url, clean.id));
        const b = await fetchAllPcm(edgeMasterUrl(server.url, crashed.id));
        expect(a.durationSec).toBeGreaterThanOrEqual(3);
        expect(b.durationSec).toBeGreaterThanOrEqual(3);
        expect(hasTone(a.pcm, 440)).toBe(true);
        expect(hasTone(b.pcm, 880)).toBe(true);
      } finally {
        await server.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
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
        ((await (await fetch(`${server.url}/api/spaces/${id}`)).json()) as { speakers: unknown[] }).speakers
          .length;
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
      expect(await speakersOf(spaces[hit]!.id)).toBe(1);
    } finally {
      for (const c of speakers) c.abruptClose();
      await server.stop();
    }
  }, 90_000);
});
