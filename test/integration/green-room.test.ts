/**
 * The green room, against a real server with real WebRTC speakers (Node @roamhq/wrtc): before a
 * scheduled Space starts, its host and a co-host publish and hear each other through the mix-minus,
 * while listeners get nothing (no playlist, no parts, nothing on disk, a `scheduled` state document
 * with no speakers). The start puts the program on HLS within a couple of seconds, on the same WHIP
 * sessions, with a timeline that begins at the start. Who may not join, and what a cancelled Space
 * does to its green room.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TribuneClient } from '../../src/client/index.js';
import { parseFragments } from '../support/fmp4.js';
import { parseMediaPlaylist } from '../support/llhls-client.js';
import { signedInClient, startTribune, whipUrlFor, type TribuneHandle } from '../support/server.js';
import { toneAmplitude } from '../support/spectrum.js';
import { ToneGenerator } from '../support/tone.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient } from '../support/whip-client.js';

const HOST_HZ = 440;
const COHOST_HZ = 1000;
const ON = 0.05; // a 0.3 amplitude tone arrives well above this

/** (arrival time, amplitude of `freq`) per 10 ms frame a speaker receives. */
type Heard = { t: number; amp: number }[];
const hears = (heard: Heard, since: number): boolean => {
  const recent = heard.filter((h) => h.t >= since);
  return recent.length >= 5 && recent.slice(-5).every((h) => h.amp > ON);
};

/** 'ok' or `${status} ${code}` of a failed call. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    const e = err as { status?: number; code?: string };
    return `${e.status} ${e.code}`;
  }
}

const inAnHour = (): string => new Date(Date.now() + 3_600_000).toISOString();

describe('the green room', () => {
  let server: TribuneHandle;
  let host: TribuneClient;
  let cohost: TribuneClient;
  let spaceId = '';
  /** Another scheduled Space nobody joins: what listeners get for a scheduled Space today. */
  let controlId = '';
  let hostWhip: NodeWhipClient;
  let cohostWhip: NodeWhipClient;
  const hostHeard: Heard = [];
  const cohostHeard: Heard = [];
  const states: string[] = [];
  const clients: NodeWhipClient[] = [];

  const get = async (p: string): Promise<{ status: number; text: string; bytes: Uint8Array }> => {
    const res = await fetch(`${server.url}${p}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    return { status: res.status, text: Buffer.from(bytes).toString(), bytes };
  };
  const publish = (c: NodeWhipClient, id: string, token: string, freqHz: number) =>
    c.publish({
      whipUrl: whipUrlFor(server.url, id, 'x'),
      token,
      source: new ToneGenerator({ freqHz, amplitude: 0.3 }),
    });
  /** A signed-in user put on stage through an invite (and made co-host when asked). */
  const onStage = async (id: string, asCohost: boolean): Promise<{ c: TribuneClient; userId: string }> => {
    const c = await signedInClient(server.url, 'guest');
    await c.acceptInvite(id, (await host.inviteLink(id)).token);
    const userId = (await c.me()).user!.id;
    if (asCohost) await host.setRole(id, userId, 'cohost');
    return { c, userId };
  };

  beforeAll(async () => {
    server = await startTribune();
    host = await signedInClient(server.url, 'host');
    const space = await host.createSpace({ title: 'Green room', scheduledFor: inAnHour() });
    spaceId = space.id;
    controlId = (await host.createSpace({ title: 'Nobody in it', scheduledFor: inAnHour() })).id;
    cohost = (await onStage(spaceId, true)).c;
    hostWhip = new NodeWhipClient({
      record: false,
      onFrame: (pcm, t) => hostHeard.push({ t, amp: toneAmplitude(pcm, COHOST_HZ) }),
    });
    cohostWhip = new NodeWhipClient({
      record: false,
      onFrame: (pcm, t) => cohostHeard.push({ t, amp: toneAmplitude(pcm, HOST_HZ) }),
    });
    clients.push(hostWhip, cohostWhip);
    hostWhip.pc.addEventListener('connectionstatechange', () => states.push(hostWhip.pc.connectionState));
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.abruptClose();
    await server?.stop();
  });

  it('lets the stage hear each other before the start, and gives listeners nothing', async () => {
    expect((await host.space(spaceId)).state).toBe('scheduled');
    await publish(hostWhip, spaceId, (await host.publishToken(spaceId)).token, HOST_HZ);
    await publish(cohostWhip, spaceId, (await cohost.publishToken(spaceId)).token, COHOST_HZ);
    await waitFor('the co-host to hear the host', () => hears(cohostHeard, 0), { timeoutMs: 15_000 });
    await waitFor('the host to hear the co-host', () => hears(hostHeard, 0), { timeoutMs: 15_000 });

    // Hosts see who is in the green room.
    const p = await host.participants(spaceId);
    expect(
      p.members
        .filter((m) => m.connected)
        .map((m) => m.role)
        .sort(),
    ).toEqual(['cohost', 'host']);

    // Listeners: the Space is scheduled, with nobody on stage, and has no media at all, exactly as a
    // scheduled Space nobody joined; the edge and the origin agree, and nothing was written to disk.
    await new Promise((r) => setTimeout(r, 1_000)); // a second of green room: parts would exist by now
    for (const prefix of ['/hls/spaces', '/origin/spaces']) {
      const doc = JSON.parse((await get(`${prefix}/${spaceId}/state.json`)).text) as {
        state: string;
        speakers: unknown[];
      };
      expect(doc).toMatchObject({ state: 'scheduled', speakers: [] });
      for (const file of ['master.m3u8', 'audio.m3u8', 'init.mp4', 'part/0.0.m4s', 'seg/0.m4s']) {
        const [green, control] = await Promise.all([
          get(`${prefix}/${spaceId}/${file}`),
          get(`${prefix}/${controlId}/${file}`),
        ]);
        expect(green.status, `${prefix}/…/${file}`).toBe(control.status);
        expect(green.status).toBeGreaterThanOrEqual(400);
      }
    }
    expect(existsSync(path.join(server.dataDir, 'spaces', spaceId))).toBe(false);
  }, 60_000);

  it('puts the program live at the start, on the same WHIP sessions, with its timeline from the start', async () => {
    const hostLocation = hostWhip.location!;
    const t0 = Date.now();
    const t0perf = performance.now();
    expect((await host.start(spaceId)).state).toBe('live');
    const playlist = await waitFor(
      'the first part on the origin',
      async () => {
        const r = await get(`/origin/spaces/${spaceId}/audio.m3u8`);
        return r.status === 200 && r.text.includes('#EXT-X-PART:') ? r.text : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 20 },
    );
    const firstPartMs = Date.now() - t0;
    console.log(`green room → live: first HLS part ${firstPartMs} ms after the start request`);
    expect(firstPartMs).toBeLessThan(2_000);

    // The timeline begins at the start: media sequence 0, the first part's decode time 0, stamped
    // after the start was asked for.
    const pl = parseMediaPlaylist(playlist);
    expect(pl.mediaSequence).toBe(0);
    const pdt = /#EXT-X-PROGRAM-DATE-TIME:(\S+)/.exec(playlist)?.[1];
    expect(Date.parse(pdt!)).toBeGreaterThanOrEqual(t0 - 5);
    const first = await get(`/origin/spaces/${spaceId}/${pl.parts[0]!.uri}`);
    expect(first.status).toBe(200);
    expect(parseFragments(first.bytes)[0]?.baseMediaDecodeTime).toBe(0);

    // The edge serves it too, and the state document is live with both speakers connected.
    await waitFor(
      'the playlist at the edge',
      async () => (await get(`/hls/spaces/${spaceId}/audio.m3u8`)).text.includes('#EXT-X-PART:'),
      { timeoutMs: 3_000 },
    );
    const doc = await waitFor('a live state document', async () => {
      const d = JSON.parse((await get(`/hls/spaces/${spaceId}/state.json`)).text) as {
        state: string;
        speakers: { role: string; connected: boolean }[];
      };
      return d.state === 'live' && d.speakers.every((s) => s.connected) ? d : undefined;
    });
    expect(doc.speakers.map((s) => s.role).sort()).toEqual(['cohost', 'host']);

    // No reconnect: the peer stayed connected, the co-host kept hearing the host without a gap,
    // and the session made in the green room is the one the server still knows.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(states.filter((s) => s !== 'connected' && s !== 'connecting' && s !== 'new')).toEqual([]);
    expect(hostWhip.pc.connectionState).toBe('connected');
    const around = cohostHeard.filter((h) => h.t >= t0perf - 1_000);
    let worstGap = 0;
    for (let i = 1; i < around.length; i++) worstGap = Math.max(worstGap, around[i]!.t - around[i - 1]!.t);
    expect(worstGap).toBeLessThan(300);
    expect(hears(cohostHeard, t0perf + 500)).toBe(true);
    const res = await fetch(hostLocation, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${(await host.publishToken(spaceId)).token}` },
    });
    expect(res.status).toBe(200);
    await host.end(spaceId);
  }, 60_000);

  it('keeps listeners and strangers out, with catalogued codes', async () => {
    const id = (await host.createSpace({ title: 'Guarded', scheduledFor: inAnHour() })).id;
    const listener = await signedInClient(server.url, 'listener');
    expect(await outcome(listener.publishToken(id))).toBe('403 FORBIDDEN');
    expect(await outcome(new TribuneClient({ baseUrl: server.url }).publishToken(id))).toBe(
      '401 SIGN_IN_REQUIRED',
    );
    const whip = async (token: string): Promise<string> => {
      const c = new NodeWhipClient({ record: false });
      clients.push(c);
      const r = await outcome(publish(c, id, token, 300));
      c.abruptClose();
      return r;
    };
    expect(await whip('')).toBe('401 UNAUTHORIZED');
    expect(await whip('forged.token')).toBe('401 UNAUTHORIZED');
    // The host's token for another Space does not open this one's green room.
    expect(await whip((await host.publishToken(controlId)).token)).toBe('403 FORBIDDEN');

    // A speaker demoted in the green room is cut off, and their token no longer gets them in.
    const guest = await onStage(id, false);
    const token = (await guest.c.publishToken(id)).token;
    const g = new NodeWhipClient({ record: false });
    clients.push(g);
    await publish(g, id, token, 300);
    // Nobody else may end their session.
    const other = await fetch(g.location!, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${(await host.publishToken(id)).token}` },
    });
    expect(other.status).toBe(404);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('SPEAKER_NOT_FOUND');
    await host.setRole(id, guest.userId, 'listener');
    const p = await host.participants(id);
    expect(p.members.find((m) => m.user.id === guest.userId)).toMatchObject({ connected: false });
    expect(await whip(token)).toBe('403 FORBIDDEN');
    g.abruptClose();
  }, 60_000);

  it('closes the green room when a scheduled Space is ended before it starts', async () => {
    const id = (await host.createSpace({ title: 'Called off', scheduledFor: inAnHour() })).id;
    const token = (await host.publishToken(id)).token;
    const c = new NodeWhipClient({ record: false });
    clients.push(c);
    await publish(c, id, token, HOST_HZ);
    expect((await host.participants(id)).members.find((m) => m.role === 'host')?.connected).toBe(true);
    const ended = await host.end(id);
    expect(ended).toMatchObject({ state: 'ended', replay: { state: 'none' } });
    // The server closed the session: the old resource is gone, and nobody can publish any more.
    const del = await fetch(c.location!, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } });
    expect(del.status).toBe(404);
    const again = new NodeWhipClient({ record: false });
    clients.push(again);
    expect(await outcome(publish(again, id, token, HOST_HZ))).toBe('409 SPACE_NOT_LIVE');
    expect(await outcome(host.publishToken(id))).toBe('409 SPACE_NOT_LIVE');
    expect(existsSync(path.join(server.dataDir, 'spaces', id))).toBe(false);
    c.abruptClose();
  }, 60_000);
});
