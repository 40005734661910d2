/**
 * A Space's life over time, against a real server with short clocks: reminders (in the app and
 * through the operator's signed webhook) when a scheduled Space starts, the host-absent auto-end,
 * replay trimming and deletion, and retention deleting expired replays from disk.
 */
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSpace,
  signedInClient,
  startTribune,
  whipUrlFor,
  type TribuneHandle,
} from '../support/server.js';
import { ToneGenerator } from '../support/tone.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient } from '../support/whip-client.js';

const SECRET = 'lifecycle-test-secret';

describe('Space lifecycle over time', () => {
  let server: TribuneHandle;
  let hook: http.Server;
  const deliveries: { body: string; signature: string | undefined }[] = [];
  const clients: NodeWhipClient[] = [];

  beforeAll(async () => {
    let failFirst = true;
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        // The first delivery fails: the outbox must retry it.
        if (failFirst) {
          failFirst = false;
          res.writeHead(503).end();
          return;
        }
        deliveries.push({ body, signature: req.headers['x-tribune-signature'] as string | undefined });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    server = await startTribune({
      env: {
        TRIBUNE_TOKEN_SECRET: SECRET,
        TRIBUNE_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
        TRIBUNE_HOST_ABSENT_END_SEC: '3',
        // 8 s, so the retention test can watch a replay expire
        TRIBUNE_REPLAY_RETENTION_DAYS: String(8 / 86_400),
      },
    });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.abruptClose();
    await server?.stop();
    hook?.close();
  });

  it('reminds subscribers in the app and through the signed webhook when a scheduled Space starts', async () => {
    const host = await signedInClient(server.url, 'sched_host');
    const fan = await signedInClient(server.url, 'fan');
    const space = await host.createSpace({
      title: 'Tomorrow, early',
      scheduledFor: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(space.state).toBe('scheduled');
    await fan.subscribe(space.id);
    expect((await fan.notifications()).notifications).toHaveLength(0);
    const events = new AbortController();
    // the host keeps the page open, so the auto-end does not apply
    void fetch(`${server.url}/api/spaces/${space.id}/events`, {
      headers: { cookie: host.cookieHeader()! },
      signal: events.signal,
    }).catch(() => undefined);
    expect((await host.start(space.id)).state).toBe('live');
    const n = (await fan.notifications()).notifications;
    expect(n).toHaveLength(1);
    expect(n[0]).toMatchObject({ kind: 'space-started', spaceId: space.id, spaceTitle: 'Tomorrow, early' });
    await waitFor('the webhook (retried after a 503)', () => deliveries.length > 0, { timeoutMs: 10_000 });
    const d = deliveries[0];
    const payload = JSON.parse(d.body) as { type: string; spaceId: string; subscribers: string[] };
    expect(payload).toMatchObject({ type: 'space.started', spaceId: space.id });
    expect(payload.subscribers).toEqual([(await fan.me()).user!.id]);
    expect(d.signature).toBe(`sha256=${createHmac('sha256', SECRET).update(d.body).digest('hex')}`);
    events.abort();
    await host.end(space.id);
  });

  it('ends a live Space whose host is gone for the configured time, and keeps one whose host is there', async () => {
    const gone = await createSpace(server.url, 'Host walked away');
    const present = await createSpace(server.url, 'Host on stage');
    const c = new NodeWhipClient({ record: false });
    clients.push(c);
    await c.publish({
      whipUrl: whipUrlFor(server.url, present.id, 'Host'),
      token: present.hostToken,
      source: new ToneGenerator({ freqHz: 440, amplitude: 0.2 }),
    });
    const t0 = Date.now();
    await waitFor(
      'the abandoned Space to end',
      async () => (await gone.hostClient.space(gone.id)).state === 'ended',
      {
        timeoutMs: 15_000,
      },
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2_000);
    expect((await present.hostClient.space(present.id)).state).toBe('live');
  });

  it('trims and deletes a replay; retention deletes expired replays from disk; clips outlive them', async () => {
    const space = await createSpace(server.url, 'Recorded');
    const c = new NodeWhipClient({ record: false });
    clients.push(c);
    await c.publish({
      whipUrl: whipUrlFor(server.url, space.id, 'Host'),
      token: space.hostToken,
      source: new ToneGenerator({ freqHz: 440, amplitude: 0.3 }),
    });
    const playlist = `${server.url}/hls/spaces/${space.id}/audio.m3u8`;
    await waitFor(
      '4 s recorded',
      async () => ((await (await fetch(playlist)).text()).match(/#EXTINF/g) ?? []).length >= 4,
    );
    const ended = await space.hostClient.end(space.id);
    c.abruptClose();
    expect(ended.replay.state).toBe('available');
    const full = ended.replay.durationSec!;
    expect(full).toBeGreaterThanOrEqual(4);
    const clip = await space.hostClient.createClip(space.id, { startSec: 1, durationSec: 2 });
    await expect(space.hostClient.trimReplay(space.id, full + 5)).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      status: 400,
    });
    const trimmed = await space.hostClient.trimReplay(space.id, 2);
    expect(trimmed.replay.trimStartSec).toBe(2);
    expect(trimmed.replay.durationSec!).toBeLessThanOrEqual(full - 2 + 1e-6);
    // Edges cache a replay's playlist for 5 s: the trim shows within that.
    const segments = Math.ceil(trimmed.replay.durationSec! - 1e-6);
    const vod = await waitFor('the trimmed playlist at the edge', async () => {
      const text = await (await fetch(playlist)).text();
      return (text.match(/#EXTINF/g) ?? []).length === segments ? text : undefined;
    });
    expect(vod).toMatch(/#EXT-X-ENDLIST/);

    const dir = path.join(server.dataDir, 'spaces', space.id);
    expect(existsSync(dir)).toBe(true);
    await waitFor(
      'retention to expire the replay',
      async () => (await space.hostClient.space(space.id)).replay.state === 'expired',
      {
        timeoutMs: 20_000,
      },
    );
    expect(existsSync(dir)).toBe(false);
    expect((await fetch(playlist)).status).toBe(404);
    // the clip is a copy
    const clipPlaylist = await fetch(`${server.url}${clip.playbackUrl}`);
    expect(clipPlaylist.status).toBe(200);

    const other = await createSpace(server.url, 'Deleted by host');
    const c2 = new NodeWhipClient({ record: false });
    clients.push(c2);
    await c2.publish({
      whipUrl: whipUrlFor(server.url, other.id, 'Host'),
      token: other.hostToken,
      source: new ToneGenerator({ freqHz: 440, amplitude: 0.3 }),
    });
    const p2 = `${server.url}/hls/spaces/${other.id}/audio.m3u8`;
    await waitFor(
      '2 s recorded',
      async () => ((await (await fetch(p2)).text()).match(/#EXTINF/g) ?? []).length >= 2,
    );
    await other.hostClient.end(other.id);
    c2.abruptClose();
    await other.hostClient.deleteReplay(other.id);
    expect((await other.hostClient.space(other.id)).replay.state).toBe('deleted');
    expect(existsSync(path.join(server.dataDir, 'spaces', other.id))).toBe(false);
    await expect(other.hostClient.createClip(other.id, { startSec: 0 })).rejects.toMatchObject({
      code: 'REPLAY_NOT_AVAILABLE',
    });
  }, 90_000);
});
