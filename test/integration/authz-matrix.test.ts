/**
 * The authorization matrix: every Spaces route × every role (anonymous, listener, speaker,
 * co-host, host, and the host of another Space), against a real server. Each row runs on a fresh
 * Space so an allowed call cannot change what the next role sees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, TribuneClient } from '../../src/client/index.js';
import { signedInClient, startTribune, type TribuneHandle } from '../support/server.js';

type Who = 'anon' | 'listener' | 'speaker' | 'cohost' | 'host' | 'other';
const WHO: Who[] = ['anon', 'listener', 'speaker', 'cohost', 'host', 'other'];

interface Ctx {
  id: string;
  ids: Record<Exclude<Who, 'anon'>, string>;
  c: Record<Who, TribuneClient>;
}

let server: TribuneHandle;
let clients: Record<Who, TribuneClient>;
let ids: Record<Exclude<Who, 'anon'>, string>;
let othersSpaceId = '';

/** A fresh live Space hosted by `host`, with `speaker` and `cohost` on stage and `listener` asking to speak. */
async function fixture(opts: { scheduled?: boolean; requireSignIn?: boolean } = {}): Promise<Ctx> {
  const c = clients;
  const space = await c.host.createSpace({
    title: 'Matrix',
    requireSignIn: opts.requireSignIn,
    scheduledFor: opts.scheduled ? new Date(Date.now() + 3600_000).toISOString() : undefined,
  });
  if (!opts.scheduled) {
    const { token } = await c.host.inviteLink(space.id);
    await c.speaker.acceptInvite(space.id, token);
    await c.cohost.acceptInvite(space.id, token);
    await c.host.setRole(space.id, ids.cohost, 'cohost');
    await c.listener.requestToSpeak(space.id);
  }
  return { id: space.id, ids, c };
}

/** 'ok' or the error code the call failed with. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof ApiError) return err.code;
    throw err;
  }
}

type Row = [
  name: string,
  expected: Record<Who, string>,
  call: (x: Ctx, who: Who) => Promise<unknown>,
  fx?: Parameters<typeof fixture>[0],
];

const ANON = 'SIGN_IN_REQUIRED';
const NO = 'FORBIDDEN';
/** Only the host may. */
const hostOnly = (hostResult = 'ok'): Record<Who, string> => ({
  anon: ANON,
  listener: NO,
  speaker: NO,
  cohost: NO,
  host: hostResult,
  other: NO,
});
/** Host and co-hosts may. */
const moderators: Record<Who, string> = {
  anon: ANON,
  listener: NO,
  speaker: NO,
  cohost: 'ok',
  host: 'ok',
  other: NO,
};
const signedIn: Record<Who, string> = {
  anon: ANON,
  listener: 'ok',
  speaker: 'ok',
  cohost: 'ok',
  host: 'ok',
  other: 'ok',
};
const everyone: Record<Who, string> = {
  anon: 'ok',
  listener: 'ok',
  speaker: 'ok',
  cohost: 'ok',
  host: 'ok',
  other: 'ok',
};

const ROWS: Row[] = [
  ['GET /spaces/:id', everyone, (x, w) => x.c[w].space(x.id)],
  ['POST /spaces', signedIn, (x, w) => x.c[w].createSpace({ title: 'mine' })],
  ['POST /spaces/:id/end', hostOnly(), (x, w) => x.c[w].end(x.id)],
  ['POST /spaces/:id/start (already live)', hostOnly('SPACE_NOT_SCHEDULED'), (x, w) => x.c[w].start(x.id)],
  ['POST /spaces/:id/start (scheduled)', hostOnly(), (x, w) => x.c[w].start(x.id), { scheduled: true }],
  ['POST /spaces/:id/subscribe (scheduled)', signedIn, (x, w) => x.c[w].subscribe(x.id), { scheduled: true }],
  ['POST /spaces/:id/listen (public)', everyone, (x, w) => x.c[w].listen(x.id)],
  [
    'POST /spaces/:id/listen (sign-in required)',
    { ...everyone, anon: ANON },
    (x, w) => x.c[w].listen(x.id),
    { requireSignIn: true },
  ],
  [
    'POST /spaces/:id/publish-token',
    { anon: ANON, listener: NO, speaker: 'ok', cohost: 'ok', host: 'ok', other: NO },
    (x, w) => x.c[w].publishToken(x.id),
  ],
  // A scheduled fixture has nobody on stage but the host: only they may join the green room.
  [
    'POST /spaces/:id/publish-token (scheduled: the green room)',
    hostOnly(),
    (x, w) => x.c[w].publishToken(x.id),
    { scheduled: true },
  ],
  [
    'POST /spaces/:id/me/mute (scheduled)',
    hostOnly(),
    (x, w) => x.c[w].muteSelf(x.id, true),
    { scheduled: true },
  ],
  ['GET /spaces/:id/participants', moderators, (x, w) => x.c[w].participants(x.id)],
  ['GET /spaces/:id/listeners (public)', everyone, (x, w) => x.c[w].listeners(x.id)],
  [
    'GET /spaces/:id/listeners (sign-in required)',
    { ...everyone, anon: ANON },
    (x, w) => x.c[w].listeners(x.id),
    { requireSignIn: true },
  ],
  ['POST /spaces/:id/invites', moderators, (x, w) => x.c[w].inviteLink(x.id)],
  [
    'POST /spaces/:id/requests',
    {
      anon: ANON,
      listener: 'ok',
      speaker: 'BAD_REQUEST',
      cohost: 'BAD_REQUEST',
      host: 'BAD_REQUEST',
      other: 'ok',
    },
    (x, w) => x.c[w].requestToSpeak(x.id),
  ],
  [
    'POST /spaces/:id/requests/:listener/approve',
    moderators,
    (x, w) => x.c[w].approveRequest(x.id, x.ids.listener),
  ],
  [
    'POST /spaces/:id/requests/:listener/deny',
    moderators,
    (x, w) => x.c[w].denyRequest(x.id, x.ids.listener),
  ],
  [
    'a listener promotes themselves to speaker',
    { ...moderators, listener: NO },
    (x, w) => x.c[w].setRole(x.id, x.ids.listener, 'speaker'),
  ],
  [
    'POST /members/:speaker/role listener',
    { ...moderators, speaker: NO },
    (x, w) => x.c[w].setRole(x.id, x.ids.speaker, 'listener'),
  ],
  ['POST /members/:speaker/role cohost', hostOnly(), (x, w) => x.c[w].setRole(x.id, x.ids.speaker, 'cohost')],
  [
    'POST /members/:cohost/role listener',
    hostOnly(),
    (x, w) => x.c[w].setRole(x.id, x.ids.cohost, 'listener'),
  ],
  [
    'POST /members/:speaker/mute (lock)',
    moderators,
    (x, w) => x.c[w].mute(x.id, x.ids.speaker, { muted: true, lock: true }),
  ],
  [
    'POST /members/:host/mute',
    { ...moderators, cohost: NO, host: NO },
    (x, w) => x.c[w].mute(x.id, x.ids.host, { muted: true }),
  ],
  ['POST /members/:speaker/remove', moderators, (x, w) => x.c[w].remove(x.id, x.ids.speaker)],
  [
    'POST /members/:host/remove',
    { ...moderators, cohost: NO, host: NO },
    (x, w) => x.c[w].remove(x.id, x.ids.host),
  ],
  ['POST /members/:cohost/remove', hostOnly(), (x, w) => x.c[w].remove(x.id, x.ids.cohost)],
  [
    'POST /spaces/:id/transfer to the speaker',
    { ...hostOnly(), speaker: NO },
    (x, w) => x.c[w].transferHost(x.id, x.ids.speaker),
  ],
  [
    'POST /spaces/:id/me/mute',
    { anon: ANON, listener: NO, speaker: 'ok', cohost: 'ok', host: 'ok', other: NO },
    (x, w) => x.c[w].muteSelf(x.id, true),
  ],
  [
    'POST /spaces/:id/me/leave-stage',
    {
      anon: ANON,
      listener: 'BAD_REQUEST',
      speaker: 'ok',
      cohost: 'ok',
      host: 'BAD_REQUEST',
      other: 'BAD_REQUEST',
    },
    (x, w) => x.c[w].leaveStage(x.id),
  ],
  [
    'DELETE /spaces/:id/replay (live: no replay yet)',
    hostOnly('REPLAY_NOT_AVAILABLE'),
    (x, w) => x.c[w].deleteReplay(x.id),
  ],
  [
    'POST /spaces/:id/replay/trim (live: no replay yet)',
    hostOnly('REPLAY_NOT_AVAILABLE'),
    (x, w) => x.c[w].trimReplay(x.id, 5),
  ],
  [
    'POST /spaces/:id/clips (sign-in required, nothing recorded yet)',
    {
      ...everyone,
      anon: ANON,
      listener: 'CLIP_OUT_OF_RANGE',
      speaker: 'CLIP_OUT_OF_RANGE',
      cohost: 'CLIP_OUT_OF_RANGE',
      host: 'CLIP_OUT_OF_RANGE',
      other: 'CLIP_OUT_OF_RANGE',
    },
    (x, w) => x.c[w].createClip(x.id),
    { requireSignIn: true },
  ],
  ['GET /me/notifications', signedIn, (x, w) => x.c[w].notifications()],
];

beforeAll(async () => {
  server = await startTribune({ env: { TRIBUNE_CREATE_SPACE_PER_MINUTE: '100000' } });
  const named = async (w: Exclude<Who, 'anon'>) => signedInClient(server.url, w);
  clients = {
    anon: new TribuneClient({ baseUrl: server.url, cookieJar: true }),
    listener: await named('listener'),
    speaker: await named('speaker'),
    cohost: await named('cohost'),
    host: await named('host'),
    other: await named('other'),
  };
  ids = {} as typeof ids;
  for (const w of WHO) if (w !== 'anon') ids[w] = (await clients[w].me()).user!.id;
  othersSpaceId = (await clients.other.createSpace({ title: "Other's Space" })).id; // `other` hosts one
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

describe('authorization matrix (route × role)', () => {
  for (const [name, expected, call, fx] of ROWS) {
    it(name, async () => {
      const got: Record<string, string> = {};
      for (const who of WHO) {
        const x = await fixture(fx);
        got[who] = await outcome(call(x, who));
      }
      expect(got).toEqual(expected);
    });
  }

  it('cross-Space: another host cannot use their own publish token here, nor end, mute or remove here', async () => {
    const x = await fixture();
    const { token } = await clients.other.publishToken(othersSpaceId);
    const res = await fetch(`${server.url}/whip/${x.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` },
      body: 'v=0\r\n',
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN');
    expect(await outcome(clients.other.end(x.id))).toBe(NO);
    expect(await outcome(clients.other.mute(x.id, ids.speaker, { muted: true }))).toBe(NO);
    expect(await outcome(clients.other.remove(x.id, ids.listener))).toBe(NO);
    expect((await clients.host.space(x.id)).state).toBe('live');
  });

  it('a force-muted speaker cannot unmute themselves, and a listener cannot unmute them', async () => {
    const x = await fixture();
    await clients.cohost.mute(x.id, ids.speaker, { muted: true, lock: true });
    expect(await outcome(clients.speaker.muteSelf(x.id, false))).toBe('FORCE_MUTED');
    expect(await outcome(clients.listener.mute(x.id, ids.speaker, { muted: false }))).toBe(NO);
    expect((await clients.speaker.space(x.id)).me).toMatchObject({ hostMuted: true, unmuteLocked: true });
    await clients.host.mute(x.id, ids.speaker, { muted: false });
    expect(await outcome(clients.speaker.muteSelf(x.id, false))).toBe('ok');
  });

  it('a removed user is blocked: no listening, no request, no way back on stage by invite', async () => {
    const x = await fixture();
    const { token } = await clients.host.inviteLink(x.id);
    await clients.host.remove(x.id, ids.speaker);
    expect(await outcome(clients.speaker.listen(x.id))).toBe('BLOCKED');
    expect(await outcome(clients.speaker.requestToSpeak(x.id))).toBe('BLOCKED');
    expect(await outcome(clients.speaker.acceptInvite(x.id, token))).toBe('BLOCKED');
    expect(await outcome(clients.speaker.publishToken(x.id))).toBe('BLOCKED');
  });

  it('the server-sent event stream needs an account', async () => {
    const x = await fixture();
    const anon = await fetch(`${server.url}/api/spaces/${x.id}/events`);
    expect(anon.status).toBe(401);
    const ac = new AbortController();
    const res = await fetch(`${server.url}/api/spaces/${x.id}/events`, {
      headers: { cookie: clients.listener.cookieHeader()! },
      signal: ac.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: me')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toMatch(/"role":"listener"/);
    ac.abort();
  });

  it('serves an OpenAPI 3 document that lists every API route with its request schemas', async () => {
    const doc = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { requestBody?: unknown; parameters?: unknown[]; responses?: unknown }>
      >;
    };
    expect(doc.openapi).toMatch(/^3\./);
    const ops = Object.entries(doc.paths).flatMap(([p, m]) =>
      Object.keys(m).map((x) => `${x.toUpperCase()} ${p}`),
    );
    for (const op of [
      'POST /api/auth/signup',
      'POST /api/auth/signin',
      'POST /api/spaces',
      'GET /api/spaces/{id}',
      'POST /api/spaces/{id}/requests/{userId}/approve',
      'POST /api/spaces/{id}/members/{userId}/mute',
      'POST /api/spaces/{id}/clips',
      'DELETE /api/spaces/{id}/replay',
      'GET /api/spaces/{id}/events',
      'GET /api/spaces/{id}/listeners',
    ])
      expect(ops).toContain(op);
    const create = doc.paths['/api/spaces'].post;
    expect(JSON.stringify(create.requestBody)).toContain('"maxLength":120');
    expect(create.responses).toHaveProperty('201');
  });
});
