import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, type TribuneClient } from '../../src/client/index.js';
import type { LiveDoc } from '../../src/live/types.js';
import { loadSecret, TokenSigner } from '../../src/origin/tokens.js';
import {
  createSpace,
  edgeMasterUrl,
  signedInClient,
  startTribune,
  whipUrlFor,
  type TestSpace,
  type TribuneHandle,
} from '../support/server.js';
import { ToneGenerator } from '../support/tone.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient, WhipError } from '../support/whip-client.js';
import { CHROME_OFFER } from '../fixtures/sdp.js';

interface ErrorBody {
  error: { code: string; message: string };
}

/** The user a WHIP publish token was issued to (its `u` claim). */
const userOfToken = (token: string): string =>
  (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { u: string }).u;

/** What a promise settles to, as `status code` ("ok" when it resolves). */
const outcome = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: { status?: number; code?: string }) => `${e.status} ${e.code}`,
  );

/** Every bad input gets a 4xx with a stable code, and never harms another Space. */
describe('bad input on the origin and the edge', () => {
  let server: TribuneHandle;
  let victim: TestSpace;
  let other: TestSpace;
  let bystander: NodeWhipClient;
  /** Everyone publishing on the full stage of `other` (set up by the seat-limit case). */
  const stage: NodeWhipClient[] = [];
  let stageIds: string[] = [];

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
  const liveDoc = async (s: TestSpace): Promise<LiveDoc> => {
    const res = await fetch(`${server.url}/hls/spaces/${s.id}/state.json`);
    if (res.status !== 200) throw new Error(`state.json -> ${res.status}`);
    return (await res.json()) as LiveDoc;
  };
  /** User ids connected on stage, from the live state document. */
  const connected = async (s: TestSpace): Promise<string[]> =>
    (await liveDoc(s)).speakers
      .filter((sp) => sp.connected)
      .map((sp) => sp.userId)
      .sort();
  /** Signs tokens as the server does (its secret: configured, or kept in its data dir). */
  const serverSigner = async (): Promise<TokenSigner> =>
    new TokenSigner(await loadSecret(process.env.TRIBUNE_TOKEN_SECRET || '', server.dataDir));
  const playlistMsn = async (s: TestSpace): Promise<number> => {
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
    for (const c of stage) c.abruptClose();
    await server?.stop();
  });

  it('refuses malformed and hostile SDP with SDP_INVALID', async () => {
    // SDP is checked after the token and the user's place on stage: the host's token passes both.
    const auth = { Authorization: `Bearer ${other.hostToken}` };
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
    // SDP is checked after the token and the user's place on stage: the host's token passes both.
    const auth = { Authorization: `Bearer ${other.hostToken}` };
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
    // A genuine token of a user who is not on stage in this Space (checked at offer time).
    const signer = await serverSigner();
    const i = Math.floor(Date.now() / 1000);
    const listener = await signedInClient(server.url, 'listener');
    const listenerId = (await listener.me()).user!.id;
    const offStage = signer.sign({ s: other.id, r: 'publish', u: listenerId, i, e: i + 600 });
    await expectError(
      await whip(other.id, CHROME_OFFER, { Authorization: `Bearer ${offStage}` }),
      403,
      'FORBIDDEN',
    );
    expect(await outcome(listener.publishToken(other.id))).toBe('403 FORBIDDEN');
    // Only the host ends a Space: not the host of another Space, not a listener, not anonymous.
    expect(await outcome(victim.hostClient.end(other.id))).toBe('403 FORBIDDEN');
    expect(await outcome(listener.end(other.id))).toBe('403 FORBIDDEN');
    const anonymous = await fetch(`${server.url}/api/spaces/${other.id}/end`, { method: 'POST' });
    await expectError(anonymous, 401, 'SIGN_IN_REQUIRED');
    const bearerOnly = await fetch(`${server.url}/api/spaces/${other.id}/end`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${other.hostToken}` },
    });
    await expectError(bearerOnly, 401, 'SIGN_IN_REQUIRED');
    expect((await other.hostClient.space(other.id)).state).toBe('live');
  });

  it('answers unknown Spaces and sessions with 404, bad ids with 400', async () => {
    // The token is checked first: one for another Space is refused before the Space is looked up.
    await expectError(
      await whip('nope', CHROME_OFFER, { Authorization: `Bearer ${other.hostToken}` }),
      403,
      'FORBIDDEN',
    );
    // A validly signed token naming a Space that does not exist reaches the control plane: 404.
    const signer = await serverSigner();
    const i = Math.floor(Date.now() / 1000);
    const ghost = signer.sign({ s: 'nope', r: 'publish', u: other.host.id, i, e: i + 600 });
    await expectError(
      await whip('nope', CHROME_OFFER, { Authorization: `Bearer ${ghost}` }),
      404,
      'SPACE_NOT_FOUND',
    );
    await expectError(await whip('bad%20id!', CHROME_OFFER), 400, 'BAD_REQUEST');
    await expectError(await fetch(`${server.url}/api/spaces/nope`), 404, 'SPACE_NOT_FOUND');
    await expectError(await fetch(`${server.url}/hls/spaces/nope/audio.m3u8`), 404, 'SPACE_NOT_FOUND');
    await expectError(await fetch(`${server.url}/hls/spaces/x/evil.txt`), 404, 'NOT_FOUND');
    const del = await fetch(`${server.url}/whip/${other.id}/nosuchspeaker`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${other.hostToken}` },
    });
    await expectError(del, 404, 'SPEAKER_NOT_FOUND');
    const patch = await fetch(`${server.url}/whip/${other.id}/x`, { method: 'PATCH', body: 'a=candidate:1' });
    await expectError(patch, 405, 'METHOD_NOT_ALLOWED');
  });

  it('validates the JSON API', async () => {
    // Signed in (session cookie + CSRF header), so what is refused is the body itself.
    const client = await signedInClient(server.url, 'validator');
    const post = (body: string, type = 'application/json'): Promise<Response> =>
      fetch(`${server.url}/api/spaces`, {
        method: 'POST',
        headers: {
          'Content-Type': type,
          cookie: client.cookieHeader()!,
          'x-csrf-token': client.csrfToken()!,
        },
        body,
      });
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
    // A well-formed body still needs a signed-in user, and a session cookie needs its CSRF header.
    const anonymous = await fetch(`${server.url}/api/spaces`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: 'anonymous' }),
    });
    await expectError(anonymous, 401, 'SIGN_IN_REQUIRED');
    const noCsrf = await fetch(`${server.url}/api/spaces`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', cookie: client.cookieHeader()! },
      body: JSON.stringify({ title: 'forged' }),
    });
    await expectError(noCsrf, 403, 'CSRF_FAILED');
  });

  it('seats 13 on stage and refuses a 14th with SPEAKERS_FULL, a 3rd co-host with COHOSTS_FULL', async () => {
    // A full stage: the host, 2 co-hosts and 10 speakers, all publishing.
    const tokens = [other.hostToken, ...(await other.stageTokens(12))];
    const ids = tokens.map(userOfToken);
    const publish = async (token: string, name: string, freqHz: number): Promise<NodeWhipClient> => {
      const c = new NodeWhipClient({ record: false });
      stage.push(c);
      await c.publish({
        whipUrl: whipUrlFor(server.url, other.id, name),
        token,
        source: new ToneGenerator({ freqHz, amplitude: 0.05 }),
      });
      return c;
    };
    for (const [i, token] of tokens.entries()) await publish(token, `S${i}`, 300 + 50 * i);
    await waitFor(
      'all 13 connected on stage',
      async () => (await connected(other)).join() === [...ids].sort().join(),
    );
    const roles = (await other.hostClient.participants(other.id)).members.map((m) => m.role);
    expect(roles.filter((r) => r === 'host')).toHaveLength(1);
    expect(roles.filter((r) => r === 'cohost')).toHaveLength(2);
    expect(roles.filter((r) => r === 'speaker')).toHaveLength(10);

    // A 14th person cannot get on stage: not by invite, not by an approved request.
    const { token: invite } = await other.hostClient.inviteLink(other.id);
    const fourteenth = await signedInClient(server.url, 'fourteenth');
    const fourteenthId = (await fourteenth.me()).user!.id;
    const refused = await fourteenth.acceptInvite(other.id, invite).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(409);
    expect((refused as ApiError).code).toBe('SPEAKERS_FULL');
    const asker = await signedInClient(server.url, 'asker');
    await asker.requestToSpeak(other.id);
    const askerId = (await asker.me()).user!.id;
    expect(await outcome(other.hostClient.approveRequest(other.id, askerId))).toBe('409 SPEAKERS_FULL');
    // Nor can a speaker become a 3rd co-host.
    expect(await outcome(other.hostClient.setRole(other.id, ids[3]!, 'cohost'))).toBe('409 COHOSTS_FULL');
    // Neither of them may publish.
    expect(await outcome(fourteenth.publishToken(other.id))).toBe('403 FORBIDDEN');
    expect(await outcome(asker.publishToken(other.id))).toBe('403 FORBIDDEN');
    expect((await asker.space(other.id)).me).toMatchObject({ role: 'listener', requested: true });

    // A seat frees up when a speaker leaves (WHIP DELETE, then back to listening).
    const leaving = ids[12]!;
    expect(await stage[12]!.close()).toBe(200);
    await other.hostClient.setRole(other.id, leaving, 'listener');
    // Their token no longer allows publishing: the role is checked at offer time.
    const stale = await new NodeWhipClient({ record: false })
      .publish({
        whipUrl: whipUrlFor(server.url, other.id, 'S12'),
        token: tokens[12]!,
        source: new ToneGenerator({ freqHz: 990 }),
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(stale).toBeInstanceOf(WhipError);
    expect((stale as WhipError).status).toBe(403);
    expect((stale as WhipError).code).toBe('FORBIDDEN');
    await fourteenth.acceptInvite(other.id, invite);
    await publish((await fourteenth.publishToken(other.id)).token, 'S13', 990);
    const expected = [...ids.slice(0, 12), fourteenthId].sort();
    await waitFor(
      'the 14th person on stage in the freed seat',
      async () => (await connected(other)).join() === expected.join(),
    );
    expect((await liveDoc(other)).speakers.map((sp) => sp.userId)).not.toContain(leaving);
    stageIds = expected;
  }, 90_000);

  it('lets a user reconnect on a full stage: the new session replaces their own', async () => {
    expect(stageIds).toHaveLength(13);
    try {
      const again = new NodeWhipClient({ record: false });
      stage.push(again);
      await again.publish({
        whipUrl: whipUrlFor(server.url, other.id, 'S0 again'),
        token: other.hostToken,
        source: new ToneGenerator({ freqHz: 300, amplitude: 0.05 }),
      });
      await waitFor(
        'the full stage still connected after the reconnect',
        async () => (await connected(other)).join() === stageIds.join(),
      );
      const members = (await other.hostClient.participants(other.id)).members;
      expect(members.filter((m) => m.connected)).toHaveLength(13);
    } finally {
      for (const c of stage.splice(0)) c.abruptClose();
    }
  }, 30_000);

  it('left the other Space untouched: its audio kept flowing and its speaker stayed', async () => {
    const before = await playlistMsn(victim);
    await waitFor(
      'two more segments in the victim Space',
      async () => (await playlistMsn(victim)) >= before + 2,
    );
    const doc = await liveDoc(victim);
    expect(doc.state).toBe('live');
    expect(doc.speakers.map((sp) => [sp.userId, sp.role, sp.connected])).toEqual([
      [victim.host.id, 'host', true],
    ]);
    expect((await victim.hostClient.space(victim.id)).state).toBe('live');
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('rate-limits Space creation and WHIP offers per client address, without harming other clients', async () => {
    // A signed-in client floods from 127.0.0.1.
    const flooder = await signedInClient(server.url, 'flooder');
    const flood: (number | ApiError)[] = [];
    for (let i = 0; i < 25; i++) {
      flood.push(
        await flooder.createSpace({ title: 'flood' }).then(
          () => 201,
          (e: unknown) => {
            if (!(e instanceof ApiError)) throw e;
            return e;
          },
        ),
      );
    }
    const limited = flood.filter((r): r is ApiError => r instanceof ApiError);
    expect(flood.filter((r) => r === 201).length).toBeLessThanOrEqual(20);
    expect(limited.length).toBeGreaterThanOrEqual(5);
    for (const e of limited) expect([e.status, e.code]).toEqual([429, 'RATE_LIMITED']);
    expect(limited[0]!.retryAfterSec).toBeGreaterThan(0);
    // Another address is not affected (a signed-in user creating from 127.0.0.2).
    const neighbour = await signedInClient(server.url, 'neighbour');
    expect((await createFrom('127.0.0.2', neighbour)).status).toBe(201);

    // WHIP: a tokenless flood turns into fast 429s once over the limit.
    const statuses: number[] = [];
    for (let i = 0; i < 70; i++) statuses.push((await whip(other.id, CHROME_OFFER)).status);
    expect(statuses.at(-1)).toBe(429);
    expect(new Set(statuses)).toEqual(new Set([401, 429]));
    // The victim Space's speaker is still there.
    expect(await connected(victim)).toEqual([victim.host.id]);
  });
});

/** POST /api/spaces from a given local address, with a signed-in client's cookies and CSRF header. */
function createFrom(localAddress: string, client: TribuneClient): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ title: 'from elsewhere' });
    const req = http.request(
      `${client.baseUrl}/api/spaces`,
      {
        method: 'POST',
        localAddress,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          cookie: client.cookieHeader() ?? '',
          'x-csrf-token': client.csrfToken() ?? '',
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
