/**
 * Issue 3's bad input, against a real server: each case gets a clear 4xx with a stable code, and
 * a bystander Space keeps running.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, TribuneClient } from '../../src/client/index.js';
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

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof ApiError) return `${err.status} ${err.code}`;
    throw err;
  }
}

async function raw(url: string, init: RequestInit): Promise<string> {
  const res = await fetch(url, init);
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
  return `${res.status} ${body.error?.code}`;
}

describe('Spaces: bad input', () => {
  let server: TribuneHandle;
  let bystander: TestSpace;
  let speaker: NodeWhipClient;

  beforeAll(async () => {
    server = await startTribune({ env: { TRIBUNE_CREATE_SPACE_PER_MINUTE: '1000' } });
    bystander = await createSpace(server.url, 'Bystander');
    speaker = new NodeWhipClient({ record: false });
    await speaker.publish({
      whipUrl: whipUrlFor(server.url, bystander.id, 'Host'),
      token: bystander.hostToken,
      source: new ToneGenerator({ freqHz: 440, amplitude: 0.3 }),
    });
  }, 60_000);

  afterAll(async () => {
    speaker?.abruptClose();
    await server?.stop();
  });

  it('oversized or empty titles and descriptions, unknown fields: 400 BAD_REQUEST', async () => {
    const c = await signedInClient(server.url, 'titles');
    expect(await code(c.createSpace({ title: 'x'.repeat(121) }))).toBe('400 BAD_REQUEST');
    expect(await code(c.createSpace({ title: '' }))).toBe('400 BAD_REQUEST');
    expect(await code(c.createSpace({ title: '   ' }))).toBe('400 BAD_REQUEST');
    expect(await code(c.createSpace({ title: 'ok', description: 'd'.repeat(1001) }))).toBe('400 BAD_REQUEST');
    expect(await code(c.createSpace({ title: 'ok', hostId: 'me' } as never))).toBe('400 BAD_REQUEST');
    expect(await code(c.request('POST', '/api/spaces', { title: 'x'.repeat(20_000) }))).toBe(
      '413 BODY_TOO_LARGE',
    );
  });

  it('scheduling in the past or beyond 14 days: 400 SCHEDULE_OUT_OF_RANGE; malformed dates 400', async () => {
    const c = await signedInClient(server.url, 'sched');
    const at = (ms: number) => new Date(Date.now() + ms).toISOString();
    expect(await code(c.createSpace({ title: 'past', scheduledFor: at(-60_000) }))).toBe(
      '400 SCHEDULE_OUT_OF_RANGE',
    );
    expect(await code(c.createSpace({ title: 'far', scheduledFor: at(15 * 86_400_000) }))).toBe(
      '400 SCHEDULE_OUT_OF_RANGE',
    );
    expect(await code(c.createSpace({ title: 'bad', scheduledFor: 'tomorrow' }))).toBe('400 BAD_REQUEST');
    expect(await code(c.createSpace({ title: 'ok', scheduledFor: at(13 * 86_400_000) }))).toBe('ok');
  });

  it('a 3rd co-host and an 11th speaker: 409 COHOSTS_FULL / SPEAKERS_FULL', async () => {
    const space = await createSpace(server.url, 'Full stage');
    await space.stageTokens(12); // 2 co-hosts + 10 speakers
    const late = await signedInClient(server.url, 'late');
    const { token } = await space.hostClient.inviteLink(space.id);
    expect(await code(late.acceptInvite(space.id, token))).toBe('409 SPEAKERS_FULL');
    await late.requestToSpeak(space.id);
    const lateId = (await late.me()).user!.id;
    expect(await code(space.hostClient.approveRequest(space.id, lateId))).toBe('409 SPEAKERS_FULL');
    const p = await space.hostClient.participants(space.id);
    const aSpeaker = p.members.find((m) => m.role === 'speaker')!;
    expect(await code(space.hostClient.setRole(space.id, aSpeaker.user.id, 'cohost'))).toBe(
      '409 COHOSTS_FULL',
    );
    expect(
      (await space.hostClient.participants(space.id)).members.filter((m) => m.role === 'speaker'),
    ).toHaveLength(10);
  });

  it('clip ranges outside the recording: 400 CLIP_OUT_OF_RANGE; over 30 s: 400 BAD_REQUEST', async () => {
    await waitFor('a few seconds recorded', async () => {
      const text = await (await fetch(`${server.url}/hls/spaces/${bystander.id}/audio.m3u8`)).text();
      return (text.match(/#EXTINF/g) ?? []).length >= 3;
    });
    expect(await code(bystander.hostClient.createClip(bystander.id, { startSec: 0, durationSec: 2 }))).toBe(
      'ok',
    );
    expect(
      await code(bystander.hostClient.createClip(bystander.id, { startSec: 3600, durationSec: 10 })),
    ).toBe('400 CLIP_OUT_OF_RANGE');
    expect(await code(bystander.hostClient.createClip(bystander.id, { durationSec: 31 }))).toBe(
      '400 BAD_REQUEST',
    );
    expect(await code(bystander.hostClient.createClip(bystander.id, { startSec: -1 }))).toBe(
      '400 BAD_REQUEST',
    );
    expect(await code(bystander.hostClient.clip('nope'))).toBe('404 CLIP_NOT_FOUND');
  });

  it('duplicate sign-ups: 409 HANDLE_TAKEN; malformed handles and short passwords: 400', async () => {
    const a = new TribuneClient({ baseUrl: server.url, cookieJar: true });
    expect(await code(a.signUp({ handle: 'dup_user', displayName: 'A', password: 'long enough pw' }))).toBe(
      'ok',
    );
    const b = new TribuneClient({ baseUrl: server.url, cookieJar: true });
    expect(await code(b.signUp({ handle: 'dup_user', displayName: 'B', password: 'long enough pw' }))).toBe(
      '409 HANDLE_TAKEN',
    );
    expect(
      await code(b.signUp({ handle: 'Bad Handle!', displayName: 'B', password: 'long enough pw' })),
    ).toBe('400 BAD_REQUEST');
    expect(await code(b.signUp({ handle: 'shortpw', displayName: 'B', password: 'short' }))).toBe(
      '400 BAD_REQUEST',
    );
  });

  it('bad or forged session cookies: 401 SESSION_INVALID; never a crash', async () => {
    const me = await signedInClient(server.url, 'cookie');
    const csrf = me.csrfToken()!;
    for (const cookie of [
      'tribune_session=garbage',
      `tribune_session=${'A'.repeat(43)}`,
      'tribune_session=%ZZ%',
      `tribune_session=${'x'.repeat(5000)}`,
    ]) {
      const got = await raw(`${server.url}/api/spaces`, {
        method: 'POST',
        headers: {
          cookie: `${cookie}; tribune_csrf=${csrf}`,
          'x-csrf-token': csrf,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ title: 'forged' }),
      });
      expect(got, cookie.slice(0, 30)).toBe('401 SESSION_INVALID');
    }
  });

  it('CSRF on state-changing routes: 403 CSRF_FAILED without the matching header', async () => {
    const me = await signedInClient(server.url, 'csrf');
    const cookie = me.cookieHeader()!;
    const post = (headers: Record<string, string>) =>
      raw(`${server.url}/api/spaces/${bystander.id}/end`, {
        method: 'POST',
        headers: { cookie, ...headers },
      });
    expect(await post({})).toBe('403 CSRF_FAILED');
    expect(await post({ 'x-csrf-token': 'wrong' })).toBe('403 CSRF_FAILED');
    const hostCookie = bystander.hostClient.cookieHeader()!;
    expect(
      await raw(`${server.url}/api/spaces/${bystander.id}/end`, {
        method: 'POST',
        headers: { cookie: hostCookie },
      }),
    ).toBe('403 CSRF_FAILED');
    expect((await bystander.hostClient.space(bystander.id)).state).toBe('live');
  });

  it('repeated failed sign-ins are slowed: 429 SIGNIN_THROTTLED with Retry-After, even for the right password', async () => {
    const owner = new TribuneClient({ baseUrl: server.url, cookieJar: true });
    await owner.signUp({ handle: 'victim_acct', displayName: 'V', password: 'the real password' });
    const attacker = new TribuneClient({ baseUrl: server.url, cookieJar: true });
    const codes: string[] = [];
    for (let i = 0; i < 6; i++)
      codes.push(await code(attacker.signIn({ handle: 'victim_acct', password: `guess ${i} xx` })));
    expect(codes.slice(0, 5)).toEqual(Array(5).fill('401 BAD_CREDENTIALS'));
    expect(codes[5]).toBe('429 SIGNIN_THROTTLED');
    const err = await attacker
      .signIn({ handle: 'victim_acct', password: 'the real password' })
      .catch((e: ApiError) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('SIGNIN_THROTTLED');
    expect((err as ApiError).retryAfterSec).toBeGreaterThan(0);
  });

  it('bad ids and unknown Spaces: 400 / 404 with stable codes', async () => {
    const c = await signedInClient(server.url, 'ids');
    expect(await code(c.space('no-such-space'))).toBe('404 SPACE_NOT_FOUND');
    expect(await code(c.space('bad id!'))).toBe('400 BAD_REQUEST');
    expect(await code(c.requestToSpeak('x'.repeat(65)))).toBe('400 BAD_REQUEST');
    expect(await code(c.setRole(bystander.id, 'nobody', 'speaker'))).toBe('403 FORBIDDEN');
    expect(await code(bystander.hostClient.setRole(bystander.id, 'nobody', 'speaker'))).toBe(
      '404 USER_NOT_FOUND',
    );
  });

  it('forged or foreign invite tokens: 403; subscribing to a live Space: 409; bad transfer target: 404', async () => {
    const c = await signedInClient(server.url, 'invitee');
    expect(await code(c.acceptInvite(bystander.id, 'forged.token'))).toBe('403 FORBIDDEN');
    const other = await createSpace(server.url, 'Other');
    const { token } = await other.hostClient.inviteLink(other.id);
    expect(await code(c.acceptInvite(bystander.id, token))).toBe('403 FORBIDDEN');
    expect(await code(c.acceptInvite(bystander.id, 'x'.repeat(600)))).toBe('400 BAD_REQUEST');
    expect(await code(c.subscribe(bystander.id))).toBe('409 SPACE_NOT_SCHEDULED');
    expect(await code(bystander.hostClient.transferHost(bystander.id, (await c.me()).user!.id))).toBe(
      '404 NOT_A_MEMBER',
    );
    expect((await c.space(bystander.id)).me?.role).toBe('listener');
  });

  it('left the bystander Space live, with its speaker connected', async () => {
    expect((await bystander.hostClient.space(bystander.id)).state).toBe('live');
    const p = await bystander.hostClient.participants(bystander.id);
    expect(p.members.find((m) => m.role === 'host')?.connected).toBe(true);
  });
});
