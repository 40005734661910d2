/**
 * Issue 9 at a standalone edge process in front of an origin process (real HTTP, real media):
 * - a flood from one address gets fast 429s while an admitted stream listener keeps every part,
 *   its own playlist requests (charged to its admission) stay 200, and another address is served;
 *   the classifier labels it an attack on the console within 10 s;
 * - operators only: the console and its switches (401 signed out, 403 OPERATOR_REQUIRED);
 * - under-attack mode: newcomers get a proof-of-work challenge; a solved one admits; forged,
 *   replayed, other-Space and absurd-difficulty attempts get stable 4xx; token holders are never
 *   challenged; token-less players are refused; a challenge flood is cut by the address limit;
 *   the no-JavaScript path waits, then admits with a cookie the stream accepts;
 * - brownout drill: tier 1 refuses reaction posts (503 BROWNOUT), tier 3 queues new joins while the
 *   admitted listener keeps playing;
 * - the public status document is signed; a forged copy is refused;
 * - the per-address connection cap.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TribuneClient, ApiError } from '../../src/client/index.js';
import { issueRehearsalToken, REHEARSAL_HEADER } from '../../src/edge/admission/tokens.js';
import { powPrefix, powThreshold } from '../../src/edge/defence/pow.js';
import {
  createSpace,
  signedInClient,
  startOriginAndEdge,
  whipUrlFor,
  type TestSpace,
  type TribuneHandle,
} from '../support/server.js';
import { closeJsonAgents, requestJson } from '../support/http-json.js';
import { StreamClient } from '../support/stream-client.js';
import { ToneGenerator } from '../support/tone.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient } from '../support/whip-client.js';

type ErrorBody = { error: { code: string; message: string } };
type Challenge = { token: string; difficulty: number; targetMs: number; expiresAtMs: number };

/** Finds the answer the edge checks (the edge's own rule: pow.ts). */
function solve(ch: { token: string; difficulty: number }): string {
  const limit = powThreshold(ch.difficulty);
  for (let i = 0; ; i++) if (powPrefix(ch.token, String(i)) <= limit) return String(i);
}

const OPERATOR = 'opsadmin';

const until = <T>(check: () => T | Promise<T>, timeoutMs: number, what: string) =>
  waitFor(what, check, { timeoutMs });

async function signUp(url: string, handle: string): Promise<TribuneClient> {
  const c = new TribuneClient({ baseUrl: url, cookieJar: true });
  await c.signUp({ handle, displayName: handle, password: 'correct horse battery' });
  return c;
}

async function apiError(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    return err as ApiError;
  }
  throw new Error('expected an error');
}

/** `n` GETs of `url` from `localAddress` over `parallel` keep-alive connections; status counts and when the first 429 came. */
async function burst(
  url: string,
  n: number,
  opts: { localAddress?: string; parallel?: number } = {},
): Promise<{ statuses: Map<number, number>; first429Ms: number | null }> {
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: opts.parallel ?? 16,
    localAddress: opts.localAddress,
  });
  const statuses = new Map<number, number>();
  const t0 = performance.now();
  let first429Ms: number | null = null;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      const status = await new Promise<number>((resolve) => {
        const req = http.get(url, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', () => resolve(0));
      });
      if (status === 429 && first429Ms === null) first429Ms = performance.now() - t0;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: opts.parallel ?? 16 }, worker));
  agent.destroy();
  return { statuses, first429Ms };
}

describe('attack defences at the edge', () => {
  let origin: TribuneHandle;
  let edge: TribuneHandle;
  let space: TestSpace;
  let other: TestSpace;
  let operator: TribuneClient;
  let mallory: TribuneClient;
  /** The operator's rehearsal token header (the edge's own admission stats). */
  let rehearsal: Record<string, string>;
  const speaker = new NodeWhipClient({ record: false });
  let slowBody: net.Socket;
  let slowAnswer = '';
  let slowClosed: Promise<void>;
  let slowStarted = 0;
  let slowTimer: NodeJS.Timeout | undefined;
  const streams: StreamClient[] = [];
  const admitUrl = (id: string, q = ''): string => `${edge.url}/hls/spaces/${id}/admit${q}`;

  beforeAll(async () => {
    let secret: string;
    ({ origin, edge, secret } = await startOriginAndEdge(
      {
        TRIBUNE_EDGE_RATE_PER_ADDRESS: '50',
        TRIBUNE_EDGE_BURST_PER_ADDRESS: '100',
        TRIBUNE_EDGE_CONNECTIONS_PER_ADDRESS: '40',
        TRIBUNE_NOJS_DELAY_MS: '1500',
        TRIBUNE_EDGE_JOINS_PER_ADDRESS_PER_MINUTE: '1000',
      },
      { TRIBUNE_OPERATORS: OPERATOR },
    ));
    rehearsal = { [REHEARSAL_HEADER]: issueRehearsalToken(Buffer.from(secret, 'utf8'), 600, 'attack test') };
    space = await createSpace(origin.url, 'Under fire');
    other = await createSpace(origin.url, 'Bystander');
    await speaker.publish({
      whipUrl: whipUrlFor(origin.url, space.id, 'Solo'),
      token: space.hostToken,
      source: new ToneGenerator({ freqHz: 660, amplitude: 0.3 }),
    });
    operator = await signUp(origin.url, OPERATOR);
    mallory = await signedInClient(origin.url, 'mallory');
    // A body that never finishes (slowloris on the body): checked by the last test.
    slowBody = net.connect(Number(new URL(edge.url).port), '127.0.0.70');
    slowBody.setEncoding('latin1');
    slowBody.on('data', (d: string) => (slowAnswer += d));
    slowBody.on('error', () => undefined);
    slowClosed = new Promise((resolve) => slowBody.on('close', () => resolve()));
    slowBody.write(
      `POST /hls/spaces/${space.id}/reactions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{`,
    );
    slowStarted = Date.now();
    slowTimer = setInterval(() => slowBody.write(' '), 1000);
  }, 60_000);

  afterAll(async () => {
    clearInterval(slowTimer);
    slowBody?.destroy();
    for (const s of streams) s.close();
    speaker.abruptClose();
    closeJsonAgents();
    await edge?.stop();
    await origin?.stop();
  });

  const admitFrom = async (localAddress: string, id = space.id, q = '') =>
    requestJson<
      { admitted: boolean; admission?: string; ticket?: string; challenge?: Challenge } & ErrorBody
    >(admitUrl(id, q), { localAddress });

  it('only operators reach the console and its switches', async () => {
    expect(await operator.request('GET', '/api/ops/access')).toEqual({ operator: true });
    expect(await mallory.request('GET', '/api/ops/access')).toEqual({ operator: false });
    const anon = new TribuneClient({ baseUrl: origin.url, cookieJar: true });
    expect((await apiError(anon.request('GET', '/api/ops/defence'))).code).toBe('SIGN_IN_REQUIRED');
    expect((await apiError(mallory.request('GET', '/api/ops/defence'))).code).toBe('OPERATOR_REQUIRED');
    const e = await apiError(mallory.request('POST', '/api/ops/defence/mode', { mode: 'on' }));
    expect([e.status, e.code]).toEqual([403, 'OPERATOR_REQUIRED']);
    const e2 = await apiError(anon.request('POST', '/api/ops/defence/mode', { mode: 'on' }));
    expect(e2.status).toBeGreaterThanOrEqual(401);
    expect(e2.status).toBeLessThan(404);
    const ov = await operator.request<{ mode: string; underAttack: boolean }>('GET', '/api/ops/defence');
    expect([ov.mode, ov.underAttack]).toEqual(['off', false]);
    expect((await apiError(operator.request('POST', '/api/ops/defence/mode', { mode: 'max' }))).code).toBe(
      'BAD_REQUEST',
    );
  });

  it('floods from one address get 429 within a second; an admitted listener keeps playing', async () => {
    const a = await admitFrom('127.0.0.1');
    expect(a.status).toBe(200);
    expect(a.body.admitted).toBe(true);
    const listener = new StreamClient({
      url: `${edge.url}/hls/spaces/${space.id}/stream.mp4?lid=attacked-listener&admission=${a.body.admission}`,
      keepBytes: false,
    });
    streams.push(listener);
    expect(await listener.started).toBe(200);
    await until(() => listener.fragments.length >= 5, 15_000, 'the listener plays');
    const before = listener.fragments.length;
    // The flood: tokenless requests from the listener's own address, then from another.
    const flood = await burst(`${edge.url}/hls/spaces/${space.id}/state.json`, 3000, {
      localAddress: '127.0.0.1',
    });
    expect(flood.statuses.get(429) ?? 0).toBeGreaterThan(2000);
    expect(flood.first429Ms).not.toBeNull();
    expect(flood.first429Ms!).toBeLessThan(1000);
    // The admitted player's own requests are charged to its admission, not to the flooded address.
    const own = await requestJson(
      `${edge.url}/hls/spaces/${space.id}/state.json?admission=${encodeURIComponent(a.body.admission!)}`,
      { localAddress: '127.0.0.1' },
    );
    expect(own.status).toBe(200);
    // Another address is not harmed.
    expect(
      (await requestJson(`${edge.url}/hls/spaces/${space.id}/state.json`, { localAddress: '127.0.0.2' }))
        .status,
    ).toBe(200);
    await until(() => listener.fragments.length >= before + 10, 15_000, 'the listener goes on');
    expect(listener.maxGapMs()).toBeLessThan(1000);
    expect(listener.missing()).toBe(0);
  }, 60_000);

  it('the console labels a sustained one-address flood an attack within 10 s, with evidence', async () => {
    // From normal (the earlier flood's label has to pass first), so the label is this flood's.
    await until(
      async () =>
        (await operator.request<{ verdict: { verdict: string } }>('GET', '/api/ops/defence')).verdict
          .verdict === 'normal',
      30_000,
      'verdict normal again',
    );
    const t0 = Date.now();
    let sinceMs = 0;
    let label = '';
    let evidence: { feature: string; points: string }[] = [];
    const stop = { done: false };
    const flooding = (async () => {
      while (!stop.done)
        await burst(`${edge.url}/hls/spaces/${space.id}/state.json`, 800, { localAddress: '127.0.0.5' });
    })();
    try {
      await until(
        async () => {
          const ov = await operator.request<{
            verdict: { verdict: string; sinceMs: number; evidence: typeof evidence };
          }>('GET', '/api/ops/defence');
          label = ov.verdict.verdict;
          evidence = ov.verdict.evidence;
          sinceMs = ov.verdict.sinceMs;
          return label === 'attack';
        },
        15_000,
        'verdict attack',
      );
    } finally {
      stop.done = true;
      await flooding;
    }
    expect(Date.now() - t0).toBeLessThan(12_000);
    expect(sinceMs).toBeGreaterThanOrEqual(t0 - 1000); // this flood's label (origin and test share a clock)
    expect(evidence.some((e) => e.points === 'attack')).toBe(true);
    const metrics = await (await fetch(`${origin.url}/metrics`)).text();
    expect(metrics).toMatch(/tribune_defence_verdict\{verdict="attack"\} 1/);
  }, 60_000);

  it('the public status document is signed; a forged copy is refused', async () => {
    const s = await requestJson<{ document: Record<string, unknown>; signature: string; publicKey: string }>(
      `${origin.url}/api/status`,
    );
    expect(s.status).toBe(200);
    expect(typeof s.body.document.verdict).toBe('string');
    const ok = await requestJson(`${origin.url}/api/status/verify`, {
      method: 'POST',
      body: { document: s.body.document, signature: s.body.signature },
    });
    expect([ok.status, ok.body]).toEqual([200, { valid: true }]);
    const forged = await requestJson<ErrorBody>(`${origin.url}/api/status/verify`, {
      method: 'POST',
      body: {
        document: { ...s.body.document, verdict: 'normal', underAttack: false },
        signature: s.body.signature,
      },
    });
    expect([forged.status, forged.body.error.code]).toEqual([400, 'STATUS_SIGNATURE_INVALID']);
    const key = await requestJson<{ publicKey: string }>(`${origin.url}/api/status/key`);
    expect(key.body.publicKey).toBe(s.body.publicKey);
  });

  it('under-attack mode: newcomers prove work, token holders never do, bad proofs get stable 4xx', async () => {
    const holder = await admitFrom('127.0.0.20');
    expect(holder.body.admitted).toBe(true);
    await operator.request('POST', '/api/ops/defence/mode', { mode: 'on' });
    // The edge learns it with its next report's answer (about a second).
    let ch: Challenge | undefined;
    await until(
      async () => {
        const r = await admitFrom('127.0.0.21');
        ch = r.body.challenge;
        return r.status === 200 && r.body.admitted === false && ch !== undefined;
      },
      10_000,
      'a challenge',
    );
    expect(ch!.difficulty).toBeGreaterThan(0);
    // A holder renews without a challenge.
    const renewed = await admitFrom(
      '127.0.0.20',
      space.id,
      `?admission=${encodeURIComponent(holder.body.admission!)}`,
    );
    expect([renewed.status, renewed.body.admitted]).toEqual([200, true]);
    // A token whose place was given back is no way around the challenge from another address;
    // the address it was issued to (a page reloading) renews without one.
    const left = await requestJson(`${edge.url}/hls/spaces/${space.id}/leave`, {
      method: 'POST',
      localAddress: '127.0.0.20',
      body: { lid: 'holder-page-01', admission: renewed.body.admission },
    });
    expect(left.status).toBeLessThan(300);
    const passedOn = await admitFrom(
      '127.0.0.25',
      space.id,
      `?admission=${encodeURIComponent(renewed.body.admission!)}`,
    );
    expect([passedOn.status, passedOn.body.admitted, typeof passedOn.body.challenge]).toEqual([
      200,
      false,
      'object',
    ]);
    const reload = await admitFrom(
      '127.0.0.20',
      space.id,
      `?admission=${encodeURIComponent(renewed.body.admission!)}`,
    );
    expect([reload.status, reload.body.admitted]).toEqual([200, true]);
    // A token-less player is not let in implicitly.
    const tokenless = await requestJson<ErrorBody>(
      `${edge.url}/hls/spaces/${space.id}/stream.mp4?lid=notoken-0001`,
      {
        localAddress: '127.0.0.22',
      },
    );
    expect([tokenless.status, tokenless.body.error.code]).toEqual([429, 'ADMISSION_REQUIRED']);
    // Bad proofs.
    const answer = solve(ch!);
    const forgedToken = ch!.token.slice(0, 10) + (ch!.token[10] === 'A' ? 'B' : 'A') + ch!.token.slice(11);
    const forged = await admitFrom(
      '127.0.0.21',
      space.id,
      `?challenge=${encodeURIComponent(forgedToken)}&answer=${answer}`,
    );
    expect([forged.status, forged.body.error.code]).toEqual([400, 'POW_INVALID']);
    const wrongSpace = await admitFrom(
      '127.0.0.21',
      other.id,
      `?challenge=${encodeURIComponent(ch!.token)}&answer=${answer}`,
    );
    expect(wrongSpace.body.error.code).toBe('POW_WRONG_SPACE');
    const lazy = await admitFrom(
      '127.0.0.21',
      space.id,
      `?challenge=${encodeURIComponent(ch!.token)}&answer=x`,
    );
    expect(lazy.body.error.code).toBe('POW_INVALID');
    const absurd = await admitFrom('127.0.0.21', space.id, '?rate=1e300');
    expect([absurd.status, absurd.body.error.code]).toEqual([400, 'POW_BAD_DIFFICULTY']);
    // The right proof admits, once.
    const good = await admitFrom(
      '127.0.0.21',
      space.id,
      `?challenge=${encodeURIComponent(ch!.token)}&answer=${answer}`,
    );
    expect([good.status, good.body.admitted]).toEqual([200, true]);
    const replay = await admitFrom(
      '127.0.0.23',
      space.id,
      `?challenge=${encodeURIComponent(ch!.token)}&answer=${answer}`,
    );
    expect([replay.status, replay.body.error.code]).toEqual([409, 'POW_REPLAYED']);
    // Another challenge's answer does not meet this one.
    const ch2 = (await admitFrom('127.0.0.24')).body.challenge!;
    const cross = await admitFrom(
      '127.0.0.24',
      space.id,
      `?challenge=${encodeURIComponent(ch2.token)}&answer=${answer}`,
    );
    expect(cross.status).toBe(400);
    expect(['POW_INSUFFICIENT', 'POW_INVALID']).toContain(cross.body.error.code);
  }, 60_000);

  it('a challenge flood from one address is cut by the address limit; others still get challenges', async () => {
    const flood = await burst(admitUrl(space.id), 600, { localAddress: '127.0.0.30', parallel: 8 });
    expect(flood.statuses.get(429) ?? 0).toBeGreaterThan(300);
    const r = await admitFrom('127.0.0.31');
    expect(r.status).toBe(200);
    expect(r.body.challenge).toBeDefined();
  }, 60_000);

  it('without JavaScript: a wait page, then a place with a cookie the stream accepts', async () => {
    const page = `${edge.url}/hls/spaces/${space.id}/nojs`;
    const issuedAt = Date.now();
    const first = await requestJson<string>(page, { localAddress: '127.0.0.40' });
    expect(first.status).toBe(200);
    expect(String(first.headers['content-type'])).toMatch(/text\/html/);
    expect(first.body).not.toMatch(/<script/i);
    const next = /url=(nojs\?pass=[^"']+)/.exec(first.body)?.[1];
    expect(next).toBeDefined();
    const passUrl = `${edge.url}/hls/spaces/${space.id}/${next!.replace(/&amp;/g, '&')}`;
    // Too early: the same wait page again, no place.
    const early = await requestJson<string>(passUrl, { localAddress: '127.0.0.40' });
    expect(early.status).toBe(200);
    expect(early.headers['set-cookie']).toBeUndefined();
    // The page's refresh, done by hand: the same pass until its delay (1.5 s here) has passed.
    let listen = early;
    await until(
      async () => {
        listen = await requestJson<string>(passUrl, { localAddress: '127.0.0.40' });
        return /<audio[^>]+src="stream\.mp4"/.test(listen.body);
      },
      5000,
      'the pass is ready',
    );
    expect(Date.now() - issuedAt).toBeGreaterThanOrEqual(1500);
    expect(listen.status).toBe(200);
    const cookie = String(listen.headers['set-cookie']).split(';')[0]!;
    expect(cookie).toMatch(/^tribune_admission=/);
    const s = new StreamClient({
      url: `${edge.url}/hls/spaces/${space.id}/stream.mp4?lid=nojs-listener-1`,
      headers: { cookie },
      localAddress: '127.0.0.40',
      keepBytes: false,
    });
    streams.push(s);
    expect(await s.started).toBe(200);
    await until(() => s.fragments.length >= 3, 15_000, 'the no-JS listener plays');
    // A forged pass is refused with a stable code; a used one is good once; a pass twice is bad.
    const bad = await requestJson<ErrorBody>(`${page}?pass=abc.def`, { localAddress: '127.0.0.41' });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'POW_INVALID']);
    const reused = await requestJson<ErrorBody>(passUrl, { localAddress: '127.0.0.42' });
    expect([reused.status, reused.body.error.code]).toEqual([409, 'POW_REPLAYED']);
    const twice = await requestJson<ErrorBody>(`${passUrl}&pass=x`, { localAddress: '127.0.0.43' });
    expect([twice.status, twice.body.error.code]).toEqual([400, 'BAD_REQUEST']);
  }, 60_000);

  it('brownout drill: tier 1 refuses reactions, tier 3 queues new joins, audio never stops', async () => {
    await operator.request('POST', '/api/ops/defence/mode', { mode: 'off' });
    const ov = await operator.request<{ edges: { edgeId: string }[] }>('GET', '/api/ops/defence');
    expect(ov.edges.length).toBe(1);
    const edgeId = ov.edges[0]!.edgeId;
    const listener = streams[0]!;
    const before = listener.fragments.length;
    await operator.request('POST', `/api/ops/defence/edges/${encodeURIComponent(edgeId)}/tier-floor`, {
      tier: 1,
    });
    await until(
      async () => {
        const r = await requestJson<ErrorBody>(`${edge.url}/hls/spaces/${space.id}/reactions`, {
          method: 'POST',
          localAddress: '127.0.0.50',
          body: { emoji: '👏' },
        });
        return r.status === 503 && r.body.error.code === 'BROWNOUT';
      },
      10_000,
      'reactions shed at tier 1',
    );
    await operator.request('POST', `/api/ops/defence/edges/${encodeURIComponent(edgeId)}/tier-floor`, {
      tier: 3,
    });
    await until(
      async () => {
        const r = await admitFrom('127.0.0.51');
        return r.status === 200 && r.body.admitted === false && typeof r.body.ticket === 'string';
      },
      10_000,
      'new joins queued at tier 3',
    );
    const m = await (await fetch(`${edge.url}/metrics`)).text();
    expect(m).toMatch(/tribune_edge_brownout_tier 3/);
    await operator.request('POST', `/api/ops/defence/edges/${encodeURIComponent(edgeId)}/tier-floor`, {
      tier: 0,
    });
    await until(async () => (await admitFrom('127.0.0.52')).body.admitted === true, 10_000, 'joins again');
    expect(listener.fragments.length).toBeGreaterThan(before);
    expect(listener.maxGapMs()).toBeLessThan(1000);
    // A non-operator cannot run the drill.
    const e = await apiError(
      mallory.request('POST', `/api/ops/defence/edges/${encodeURIComponent(edgeId)}/tier-floor`, { tier: 3 }),
    );
    expect(e.code).toBe('OPERATOR_REQUIRED');
  }, 60_000);

  it('operator routes refuse bad input with stable codes; capacity is set and given back', async () => {
    const ov = await operator.request<{ edges: { edgeId: string; limits: { maxListeners: number } }[] }>(
      'GET',
      '/api/ops/defence',
    );
    const edgeId = encodeURIComponent(ov.edges[0]!.edgeId);
    const own = ov.edges[0]!.limits.maxListeners;
    const code = async (p: Promise<unknown>) => {
      const e = await apiError(p);
      return [e.status, e.code];
    };
    expect(
      await code(
        operator.request('POST', '/api/ops/defence/edges/nobody/limits', { maxListeners: 1, joinsPerSec: 1 }),
      ),
    ).toEqual([404, 'NOT_FOUND']);
    expect(
      await code(operator.request('POST', '/api/ops/defence/edges/bad%20id!/tier-floor', { tier: 1 })),
    ).toEqual([400, 'BAD_REQUEST']);
    expect(
      await code(
        operator.request('POST', `/api/ops/defence/edges/${edgeId}/limits`, {
          maxListeners: -5,
          joinsPerSec: 1,
        }),
      ),
    ).toEqual([400, 'BAD_REQUEST']);
    expect(
      await code(operator.request('POST', `/api/ops/defence/edges/${edgeId}/limits`, { maxListeners: 5 })),
    ).toEqual([400, 'BAD_REQUEST']);
    expect(
      await code(operator.request('POST', `/api/ops/defence/edges/${edgeId}/tier-floor`, { tier: 7 })),
    ).toEqual([400, 'BAD_REQUEST']);
    expect(await code(mallory.request('DELETE', `/api/ops/defence/edges/${edgeId}/limits`))).toEqual([
      403,
      'OPERATOR_REQUIRED',
    ]);
    // Set, seen by the edge (its admission stats), then given back.
    await operator.request('POST', `/api/ops/defence/edges/${edgeId}/limits`, {
      maxListeners: 777,
      joinsPerSec: 77,
    });
    const stats = async () =>
      (
        await requestJson<{ limits: { maxListeners: number } }>(`${edge.url}/hls/admission`, {
          headers: rehearsal,
        })
      ).body.limits.maxListeners;
    await until(async () => (await stats()) === 777, 10_000, 'the edge applies the operator capacity');
    await operator.request('DELETE', `/api/ops/defence/edges/${edgeId}/limits`);
    await until(async () => (await stats()) === own, 10_000, 'the edge back to its own capacity');
    // The public check of a status copy: odd bodies are 400, a huge one 413.
    const verify = (body: unknown) =>
      requestJson<ErrorBody>(`${origin.url}/api/status/verify`, { method: 'POST', body });
    expect((await verify({ document: [], signature: 'x' })).status).toBe(400);
    expect((await verify({ document: {} })).status).toBe(400);
    const huge = await verify({ document: { pad: 'x'.repeat(64 * 1024) }, signature: 'x' });
    expect([huge.status, huge.body.error.code]).toEqual([413, 'BODY_TOO_LARGE']);
  });

  it('caps concurrent connections per address', async () => {
    const port = Number(new URL(edge.url).port);
    const sockets: net.Socket[] = [];
    const answers: string[] = [];
    try {
      for (let i = 0; i < 45; i++) {
        const s = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.60' });
        s.setEncoding('latin1');
        s.on('data', (d: string) => answers.push(d));
        s.on('error', () => undefined);
        sockets.push(s);
        await new Promise<void>((r) => s.once('connect', () => r()));
      }
      await until(() => answers.filter((a) => a.startsWith('HTTP/1.1 429')).length >= 5, 5000, 'refusals');
      expect(answers.join('')).toMatch(/too many connections/);
      // Another address still connects and is served.
      const ok = await requestJson(`${edge.url}/hls/spaces/${space.id}/view.json`, {
        localAddress: '127.0.0.61',
      });
      expect(ok.status).toBe(200);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('a request body that trickles in is cut with 408 REQUEST_TIMEOUT (slowloris on the body)', async () => {
    await slowClosed;
    clearInterval(slowTimer);
    expect(slowAnswer).toMatch(/^HTTP\/1\.1 408/);
    expect(slowAnswer).toContain('"REQUEST_TIMEOUT"');
    const took = Date.now() - slowStarted;
    expect(took).toBeGreaterThan(14_000);
    expect(took).toBeLessThan(20_000);
  }, 30_000);
});
