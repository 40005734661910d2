/**
 * A clip carries its Space's access rule (issue 11, flaw 7): a clip made in a Space that requires
 * sign-in is refused to anonymous callers at the API (401 SIGN_IN_REQUIRED) and at the edge
 * (401 LISTEN_TOKEN_REQUIRED, cache HITs included), plays with the Space's listen token, and is
 * never stored by a shared cache; clips of open Spaces stay public.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSpace,
  signedInClient,
  startTribune,
  whipUrlFor,
  type TestSpace,
  type TribuneHandle,
} from '../support/server.js';
import { ToneGenerator } from '../support/tone.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient } from '../support/whip-client.js';

describe('clips of Spaces that require sign-in', () => {
  let server: TribuneHandle;
  let closed: TestSpace;
  let open: TestSpace;
  const speakers: NodeWhipClient[] = [];

  const publish = async (space: TestSpace): Promise<void> => {
    const c = new NodeWhipClient({ record: false });
    speakers.push(c);
    await c.publish({
      whipUrl: whipUrlFor(server.url, space.id, 'Solo'),
      token: space.hostToken,
      source: new ToneGenerator({ freqHz: 440, amplitude: 0.3 }),
    });
  };
  const segments = async (space: TestSpace, token?: string): Promise<number> => {
    const res = await fetch(`${server.url}/hls/spaces/${space.id}/audio.m3u8`, {
      headers: token ? { 'x-tribune-listen-token': token } : {},
    });
    return ((await res.text()).match(/#EXTINF/g) ?? []).length;
  };

  beforeAll(async () => {
    server = await startTribune();
    closed = await createSpace(server.url, 'Members only', { requireSignIn: true });
    open = await createSpace(server.url, 'Open to all');
    await Promise.all([publish(closed), publish(open)]);
    const { token } = await closed.hostClient.listen(closed.id);
    await waitFor('3 s of the closed Space', async () => (await segments(closed, token!)) >= 3);
    await waitFor('3 s of the open Space', async () => (await segments(open)) >= 3);
  }, 60_000);

  afterAll(async () => {
    speakers.forEach((s) => s.abruptClose());
    await server?.stop();
  });

  it('refuses an anonymous caller at the API and at the edge, and plays with a listen token', async () => {
    const clip = await closed.hostClient.createClip(closed.id, { durationSec: 2 });
    expect(clip.token).toEqual(expect.any(String));
    const api = await fetch(`${server.url}/api/clips/${clip.id}`);
    expect(api.status).toBe(401);
    expect(await api.json()).toMatchObject({ error: { code: 'SIGN_IN_REQUIRED' } });

    const files = ['clip.m3u8', 'init.mp4', 'seg/0.m4s'];
    const get = (file: string, headers: Record<string, string> = {}) =>
      fetch(`${server.url}/hls/clips/${clip.id}/${file}`, { headers });
    // With the token: plays, served private (no shared cache may keep it).
    for (const f of files) {
      const res = await get(f, { 'x-tribune-listen-token': clip.token! });
      expect(res.status, f).toBe(200);
      expect(res.headers.get('cache-control')).toMatch(/^private/);
      await res.arrayBuffer();
    }
    // Without one, or with another Space's: refused, though the edge now holds the files (HITs).
    const other = (await open.hostClient.listen(open.id)).token;
    for (const f of files) {
      const tries: Record<string, string>[] = [{}, { 'x-tribune-listen-token': other ?? 'forged.token' }];
      for (const headers of tries) {
        const res = await get(f, headers);
        expect(res.status, f).toBe(401);
        expect(await res.json()).toMatchObject({ error: { code: 'LISTEN_TOKEN_REQUIRED' } });
      }
    }

    // Any signed-in listener gets the clip with a token of its own.
    const someone = await signedInClient(server.url, 'listener');
    const view = await someone.clip(clip.id);
    expect(view.token).toEqual(expect.any(String));
    expect((await get('clip.m3u8', { 'x-tribune-listen-token': view.token! })).status).toBe(200);
  }, 30_000);

  it('keeps clips of open Spaces public', async () => {
    const clip = await open.hostClient.createClip(open.id, { durationSec: 2 });
    expect(clip.token).toBeNull();
    const api = await fetch(`${server.url}/api/clips/${clip.id}`);
    expect(api.status).toBe(200);
    const res = await fetch(`${server.url}/hls/clips/${clip.id}/clip.m3u8`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/public/);
  }, 30_000);
});
