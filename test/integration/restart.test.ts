/**
 * Restart: SIGKILL the server mid-Space and start it again on the same data dir. Everything the
 * API acknowledged is still there (accounts, sessions, roles, mutes, blocks, requests,
 * subscriptions, clips), and the live Space is live again: its speaker reconnects with a fresh
 * token from the same session, and its playlist carries on.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/client/index.js';
import {
  createSpace,
  signedInClient,
  startTribune,
  tokenUserId,
  whipUrlFor,
  type TribuneHandle,
} from '../support/server.js';
import { ToneGenerator } from '../support/tone.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient } from '../support/whip-client.js';

const mediaSequence = async (url: string): Promise<number> => {
  const text = await (await fetch(url)).text();
  const m = /#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text);
  const segs = (text.match(/#EXTINF/g) ?? []).length;
  return m ? Number(m[1]) + segs : -1;
};

/** Pids of the processes whose parent is `pid` (the media engines of a server). */
const childPids = (pid: number): number[] =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);

/** Live (non-zombie) processes started with this data dir in their environment: a server and its engines. */
const processesOf = (dataDir: string): number[] =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const alive = !readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
        return (
          alive &&
          readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(`TRIBUNE_DATA_DIR=${dataDir}`)
        );
      } catch {
        return false;
      }
    })
    .map(Number);

describe('restart mid-Space', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tribune-restart-'));
  let server: TribuneHandle | undefined;
  const clients: NodeWhipClient[] = [];

  afterAll(async () => {
    for (const c of clients) c.abruptClose();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loses nothing acknowledged, and the live Space resumes', async () => {
    server = await startTribune({ dataDir });
    const url = server.url;
    const space = await createSpace(url, 'Survives a crash');
    const scheduled = await space.hostClient.createSpace({
      title: 'Later',
      scheduledFor: new Date(Date.now() + 86_400_000).toISOString(),
    });
    const [cohostToken, speakerToken] = await space.stageTokens(2); // a co-host, then a speaker
    void cohostToken;
    const speakerId = tokenUserId(speakerToken);
    await space.hostClient.mute(space.id, speakerId, { muted: true, lock: true });
    const asker = await signedInClient(url, 'asker');
    await asker.requestToSpeak(space.id);
    await asker.subscribe(scheduled.id);
    const troll = await signedInClient(url, 'troll');
    const trollId = (await troll.me()).user!.id;
    await space.hostClient.remove(space.id, trollId);

    const host = new NodeWhipClient({ record: false });
    clients.push(host);
    await host.publish({
      whipUrl: whipUrlFor(url, space.id, 'Host'),
      token: space.hostToken,
      source: new ToneGenerator({ freqHz: 440, amplitude: 0.3 }),
    });
    const playlist = `${url}/hls/spaces/${space.id}/audio.m3u8`;
    await waitFor('3 segments', async () => (await mediaSequence(playlist)) >= 3);
    const clip = await asker.createClip(space.id, { durationSec: 2 });
    const before = await mediaSequence(playlist);
    const participantsBefore = await space.hostClient.participants(space.id);

    // Crash: no chance to flush or say goodbye. The media engines must not outlive their server.
    const engines = childPids(server.pid);
    expect(engines.length).toBeGreaterThan(0);
    server.child.kill('SIGKILL');
    await new Promise((r) => server!.child.once('exit', r));
    await waitFor(
      'the orphaned media engines to exit',
      () =>
        engines.every(
          (p) =>
            !existsSync(`/proc/${p}/cmdline`) ||
            readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.startsWith('Z'),
        ),
      { timeoutMs: 10_000 },
    );
    host.abruptClose();
    server = await startTribune({ dataDir, env: { PORT: String(server.port) } });

    // Sessions survived: the same cookies still work.
    expect((await space.hostClient.me()).user?.id).toBeTruthy();
    expect((await asker.space(space.id)).me).toMatchObject({ role: 'listener', requested: true });
    expect((await asker.space(scheduled.id)).me?.subscribed).toBe(true);
    expect((await space.hostClient.space(scheduled.id)).state).toBe('scheduled');
    await expect(troll.listen(space.id)).rejects.toMatchObject({
      code: 'BLOCKED',
    } satisfies Partial<ApiError>);
    const after = await space.hostClient.participants(space.id);
    const roles = (p: typeof after) =>
      p.members.map((m) => `${m.user.handle}:${m.role}:${m.hostMuted}:${m.unmuteLocked}:${m.blocked}`).sort();
    expect(roles(after)).toEqual(roles(participantsBefore));
    expect(after.requests.map((r) => r.user.id)).toEqual(participantsBefore.requests.map((r) => r.user.id));
    expect((await asker.clip(clip.id)).durationSec).toBe(clip.durationSec);
    const clipPlaylist = await fetch(`${url}${clip.playbackUrl}`);
    expect(clipPlaylist.status).toBe(200);
    expect(await clipPlaylist.text()).toMatch(/#EXT-X-ENDLIST/);

    // The Space is live again and its speaker reconnects with a fresh token from the same session.
    const view = await space.hostClient.space(space.id);
    expect(view.state).toBe('live');
    const again = new NodeWhipClient({ record: false });
    clients.push(again);
    const { token } = await space.hostClient.publishToken(space.id);
    await again.publish({
      whipUrl: whipUrlFor(url, space.id, 'Host'),
      token,
      source: new ToneGenerator({ freqHz: 440, amplitude: 0.3 }),
    });
    await waitFor(
      'the playlist to carry on past the crash',
      async () => (await mediaSequence(playlist)) > before + 2,
      { timeoutMs: 20_000 },
    );
    const p = await space.hostClient.participants(space.id);
    expect(p.members.find((m) => m.role === 'host')?.connected).toBe(true);

    // A clean stop takes every engine with it, including any started while it was stopping.
    await server.stop();
    server = undefined;
    await waitFor('no process of this server left', () => processesOf(dataDir).length === 0, {
      timeoutMs: 10_000,
    });
  }, 120_000);
});
