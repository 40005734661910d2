import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSpace,
  edgeMasterUrl,
  startTribune,
  whipUrlFor,
  type CreatedSpace,
  type TribuneHandle,
} from '../support/server.js';
import { ToneGenerator } from '../support/tone.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient, WhipError } from '../support/whip-client.js';
import { CHROME_OFFER } from '../fixtures/sdp.js';

interface ErrorBody {
  error: { code: string; message: string };
}

/** Every bad input gets a 4xx with a stable code, and never harms another Space. */
describe('bad input on the origin and the edge', () => {
  let server: TribuneHandle;
  let victim: CreatedSpace;
  let other: CreatedSpace;
  let bystander: NodeWhipClient;

  const whip = (
    spaceId: string,
    body: string | Blob,
    headers: Record<string, string> = {},
  ): Promise<Response> =>
    fetch(`${server.url}/whip/${spaceId}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', ...headers },
      body,
    });
  const expectError = async (res: Response, status: number, code: string): Promise<void> => {
    expect(res.status).toBe(status);
    expect(((await res.json()) as ErrorBody).error.code).toBe(code);
  };
  const playlistMsn = async (s: CreatedSpace): Promise<number> => {
    const text = await (
      await fetch(edgeMasterUrl(server.url, s.id).replace('master.m3u8', 'audio.m3u8'))
    ).text();
    const segs = [...text.matchAll(/^seg\/(\d+)\.m4s$/gm)];
    return Number(segs.at(-1)?.[1] ?? -1);
  };

  beforeAll(async () => {
    server = await startTribune();
    victim = await createSpace(server.url, 'Victim');
    other = await createSpace(server.url, 'Target of abuse');
    bystander = new NodeWhipClient();
    await bystander.publish({
      whipUrl: whipUrlFor(server.url, victim.id, 'Bystander'),
      token: victim.hostToken,
      source: new ToneGenerator({ freqHz: 440, amplitude: 0.3 }),
    });
  });

  afterAll(async () => {
    bystander?.abruptClose();
    await server?.stop();
  });

  it('refuses malformed and hostile SDP with SDP_INVALID', async () => {
    const auth = { Authorization: `Bearer ${other.inviteToken}` };
    await expectError(await whip(other.id, 'not sdp at all', auth), 400, 'SDP_INVALID');
    await expectError(await whip(other.id, '', auth), 400, 'SDP_INVALID');
    await expectError(
      await whip(other.id, new Blob([Uint8Array.of(0xff, 0, 1, 2, 3)]), auth),
      400,
      'SDP_INVALID',
    );
    await expectError(
      await whip(other.id, CHROME_OFFER.replace('s=-', `s=${'A'.repeat(6000)}`), auth),
      400,
      'SDP_INVALID',
    );
    await expectError(
      await whip(other.id, CHROME_OFFER.replace(/a=fingerprint:.*\r\n/, ''), auth),
      400,
      'SDP_INVALID',
    );
    await expectError(
      await whip(other.id, CHROME_OFFER.replace('m=audio 9', 'm=audio 0'), auth),
      400,
      'SDP_NO_AUDIO',
    );
    // Structurally fine, semantically wrong: it passes our checks and libwebrtc refuses it.
    await expectError(
      await whip(other.id, CHROME_OFFER.replace('a=setup:actpass', 'a=setup:bogus'), auth),
      400,
      'SDP_INVALID',
    );
    await expectError(
      await whip(other.id, CHROME_OFFER.replace('a=mid:0', 'a=mid:0\r\na=mid:1'), auth),
      400,
      'SDP_INVALID',
    );
  });

  it('refuses an offer over the size limit, and the wrong content type', async () => {
    const auth = { Authorization: `Bearer ${other.inviteToken}` };
    await expectError(
      await whip(other.id, 'v=0\r\n' + 'a=x\r\n'.repeat(20_000), auth),
      413,
      'BODY_TOO_LARGE',
    );
    await expectError(
      await whip(other.id, CHROME_OFFER, { ...auth, 'Content-Type': 'text/plain' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('refuses missing, forged and foreign tokens', async () => {
    await expectError(await whip(other.id, CHROME_OFFER), 401, 'UNAUTHORIZED');
    await expectError(
      await whip(other.id, CHROME_OFFER, { Authorization: 'Bearer abc.def' }),
      401,
      'UNAUTHORIZED',
    );
    const [body] = other.hostToken.split('.');
    await expectError(
      await whip(other.id, CHROME_OFFER, { Authorization: `Bearer ${body}.AAAA` }),
      401,
      'UNAUTHORIZED',
    );
    await expectError(
      await whip(other.id, CHROME_OFFER, { Authorization: `Bearer ${victim.hostToken}` }),
      403,
      'FORBIDDEN',
    );
    const end = await fetch(`${server.url}/api/spaces/${other.id}/end`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${other.inviteToken}` },
    });
    await expectError(end, 403, 'FORBIDDEN');
  });

  it('answers unknown Spaces and sessions with 404, bad ids with 400', async () => {
    await expectError(
      await whip('nope', CHROME_OFFER, { Authorization: `Bearer ${other.inviteToken}` }),
      404,
      'SPACE_NOT_FOUND',
    );
    await expectError(await whip('bad%20id!', CHROME_OFFER), 400, 'BAD_REQUEST');
    await expectError(await fetch(`${server.url}/api/spaces/nope`), 404, 'SPACE_NOT_FOUND');
    await expectError(await fetch(`${server.url}/hls/spaces/nope/audio.m3u8`), 404, 'SPACE_NOT_FOUND');
    await expectError(await fetch(`${server.url}/hls/spaces/x/evil.txt`), 404, 'NOT_FOUND');
    const del = await fetch(`${server.url}/whip/${other.id}/nosuchspeaker`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${other.inviteToken}` },
    });
    await expectError(del, 404, 'SPEAKER_NOT_FOUND');
    const patch = await fetch(`${server.url}/whip/${other.id}/x`, { method: 'PATCH', body: 'a=candidate:1' });
    await expectError(patch, 405, 'METHOD_NOT_ALLOWED');
  });

  it('validates the JSON API', async () => {
    const post = (body: string, type = 'application/json'): Promise<Response> =>
      fetch(`${server.url}/api/spaces`, { method: 'POST', headers: { 'Content-Type': type }, body });
    await expectError(await post(JSON.stringify({ title: 'x'.repeat(121) })), 400, 'BAD_REQUEST');
    await expectError(await post(JSON.stringify({ title: '   ' })), 400, 'BAD_REQUEST');
    await expectError(await post('{"title":'), 400, 'BAD_REQUEST');
    await expectError(await post(JSON.stringify({ title: 'a', admin: true })), 400, 'BAD_REQUEST');
    await expectError(await post(JSON.stringify({ title: 'x'.repeat(100_000) })), 413, 'BODY_TOO_LARGE');
    await expectError(
      await post('title=x', 'application/x-www-form-urlencoded'),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('refuses a 14th speaker with SPACE_FULL', async () => {
    const clients: NodeWhipClient[] = [];
    try {
      for (let i = 0; i < 13; i++) {
        const c = new NodeWhipClient({ record: false });
        clients.push(c);
        await c.publish({
          whipUrl: whipUrlFor(server.url, other.id, `S${i}`),
          token: i === 0 ? other.hostToken : other.inviteToken,
          source: new ToneGenerator({ freqHz: 300 + 50 * i, amplitude: 0.05 }),
        });
      }
      const fourteenth = new NodeWhipClient({ record: false });
      const err = await fourteenth
        .publish({
          whipUrl: whipUrlFor(server.url, other.id, 'S13'),
          token: other.inviteToken,
          source: new ToneGenerator({ freqHz: 990 }),
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(WhipError);
      expect((err as WhipError).status).toBe(409);
      expect((err as WhipError).code).toBe('SPACE_FULL');
      // A seat frees up when someone leaves.
      expect(await clients.pop()!.close()).toBe(200);
      const again = new NodeWhipClient({ record: false });
      clients.push(again);
      await again.publish({
        whipUrl: whipUrlFor(server.url, other.id, 'S13'),
        token: other.inviteToken,
        source: new ToneGenerator({ freqHz: 990 }),
      });
    } finally {
      for (const c of clients) c.abruptClose();
    }
  }, 90_000);

  it('left the other Space untouched: its audio kept flowing and its speaker stayed', async () => {
    const before = await playlistMsn(victim);
    await waitFor(
      'two more segments in the victim Space',
      async () => (await playlistMsn(victim)) >= before + 2,
    );
    const view = (await (await fetch(`${server.url}/api/spaces/${victim.id}`)).json()) as {
      speakers: { name: string }[];
    };
    expect(view.speakers.map((s) => s.name)).toEqual(['Bystander']);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('rate-limits Space creation and WHIP offers per client address, without harming other clients', async () => {
    const createFrom = (
      localAddress: string,
    ): Promise<{ status: number; body: string; retryAfter?: string }> =>
      new Promise((resolve, reject) => {
        const body = JSON.stringify({ title: 'flood' });
        const req = http.request(
          `${server.url}/api/spaces`,
          {
            method: 'POST',
            localAddress,
            headers: { 'Content-Type': 'application/json', 'Content-Length': body.length },
          },
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () =>
              resolve({
                status: res.statusCode!,
                body: text,
                retryAfter: res.headers['retry-after'] as string,
              }),
            );
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const flood = [];
    for (let i = 0; i < 25; i++) flood.push(await createFrom('127.0.0.1'));
    const limited = flood.filter((r) => r.status === 429);
    expect(flood.filter((r) => r.status === 201).length).toBeLessThanOrEqual(20);
    expect(limited.length).toBeGreaterThanOrEqual(5);
    expect((JSON.parse(limited[0]!.body) as ErrorBody).error.code).toBe('RATE_LIMITED');
    expect(Number(limited[0]!.retryAfter)).toBeGreaterThan(0);
    // Another address is not affected.
    expect((await createFrom('127.0.0.2')).status).toBe(201);

    // WHIP: a tokenless flood turns into fast 429s once over the limit.
    const statuses: number[] = [];
    for (let i = 0; i < 70; i++) statuses.push((await whip(other.id, CHROME_OFFER)).status);
    expect(statuses.at(-1)).toBe(429);
    expect(new Set(statuses)).toEqual(new Set([401, 429]));
    // The victim Space's speaker is still there.
    const view = (await (await fetch(`${server.url}/api/spaces/${victim.id}`)).json()) as {
      speakers: unknown[];
    };
    expect(view.speakers).toHaveLength(1);
  });
});
