/**
 * Admission at a standalone edge process (issue 7): past its capacity the edge hands out tickets
 * (never an error), admits them in arrival order as the cap is raised, with positions that only go
 * down; admitted stream listeners keep every part meanwhile; players without an admission token
 * get 429 + Retry-After once the edge is full; forged, other-Space and replayed tickets and tokens,
 * join floods from one address and missing or forged operator (rehearsal) tokens get stable 4xx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueRehearsalToken, REHEARSAL_HEADER, ticketSigner } from '../../src/edge/admission/tokens.js';
import {
  createSpace,
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

type Admit =
  | {
      admitted: true;
      admission: string;
      expiresAtMs: number;
      renewInMs: number;
      joinWindowMs: number;
      state: string;
    }
  | {
      admitted: false;
      ticket: string;
      position: number;
      waitMs: number | null;
      retryInMs: number;
      state: string;
    };
type ErrorBody = { error: { code: string; message: string } };

const CAP = 20;
const ARRIVALS = 60;

describe('admission at the edge', () => {
  let origin: TribuneHandle;
  let edge: TribuneHandle;
  let space: TestSpace;
  let other: TestSpace;
  let secret: string;
  let operator: Record<string, string>;
  const speaker = new NodeWhipClient({ record: false });
  const streams: StreamClient[] = [];
  const admitUrl = (id: string, q = ''): string => `${edge.url}/hls/spaces/${id}/admit${q}`;

  beforeAll(async () => {
    ({ origin, edge, secret } = await startOriginAndEdge({
      TRIBUNE_EDGE_MAX_LISTENERS: String(CAP),
      TRIBUNE_EDGE_JOINS_PER_SEC: '1000',
      TRIBUNE_EDGE_JOINS_PER_ADDRESS_PER_MINUTE: '30',
    }));
    operator = {
      [REHEARSAL_HEADER]: issueRehearsalToken(Buffer.from(secret, 'utf8'), 600, 'admission test'),
    };
    space = await createSpace(origin.url, 'Crowded');
    other = await createSpace(origin.url, 'Other');
    await speaker.publish({
      whipUrl: whipUrlFor(origin.url, space.id, 'Solo'),
      token: space.hostToken,
      source: new ToneGenerator({ freqHz: 660, amplitude: 0.3 }),
    });
  }, 60_000);

  afterAll(async () => {
    for (const s of streams) s.close();
    speaker.abruptClose();
    closeJsonAgents();
    await edge?.stop();
    await origin?.stop();
  });

  it('admits up to the cap, queues the rest in order with no error, and admits them in order as the cap rises', async () => {
    // 60 listeners arrive together, each from its own address.
    const answers = await Promise.all(
      Array.from({ length: ARRIVALS }, (_, i) =>
        requestJson<Admit>(admitUrl(space.id), { localAddress: `127.0.1.${i + 1}` }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(ARRIVALS).fill(200));
    for (const a of answers) expect(a.headers['cache-control']).toBe('no-store');
    const admitted = answers.filter((a) => a.body.admitted);
    const queued = answers.filter((a) => !a.body.admitted);
    expect(admitted).toHaveLength(CAP);
    expect(queued).toHaveLength(ARRIVALS - CAP);
    // Queued answers carry Retry-After, a ticket, and positions 1..40 (arrival order at the edge).
    const positions = queued.map((a) => (a.body.admitted ? 0 : a.body.position)).sort((x, y) => x - y);
    expect(positions).toEqual(Array.from({ length: ARRIVALS - CAP }, (_, i) => i + 1));
    for (const a of queued) expect(Number(a.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    // The admitted listen (stream mode) with their token; a player without one is refused politely.
    for (const [i, a] of admitted.entries()) {
      if (!a.body.admitted) continue;
      streams.push(
        new StreamClient({
          url: `${edge.url}/hls/spaces/${space.id}/stream.mp4?lid=admitted-${String(i).padStart(4, '0')}&admission=${a.body.admission}`,
          keepBytes: false,
        }),
      );
    }
    expect(await Promise.all(streams.map((s) => s.started))).toEqual(Array(CAP).fill(200));
    const stranger = new StreamClient({
      url: `${edge.url}/hls/spaces/${space.id}/stream.mp4?lid=stranger-0001`,
    });
    expect(await stranger.started).toBe(429);
    await stranger.done;
    expect(stranger.headers['retry-after']).toBeDefined();
    expect((JSON.parse(stranger.errorBody) as ErrorBody).error.code).toBe('ADMISSION_REQUIRED');
    const playlist = await requestJson<ErrorBody>(`${edge.url}/hls/spaces/${space.id}/audio.m3u8`);
    expect(playlist.status).toBe(429);
    expect(playlist.body.error.code).toBe('ADMISSION_REQUIRED');
    expect(playlist.headers['retry-after']).toBeDefined();

    // Tickets keep their place when asked again (a page reload): same ticket, same position.
    const byTicket = new Map<string, { address: string; position: number }>();
    queued.forEach((a) => {
      if (a.body.admitted) return;
      const i = answers.indexOf(a);
      byTicket.set(a.body.ticket, { address: `127.0.1.${i + 1}`, position: a.body.position });
    });
    const ask = async (ticket: string) => {
      const me = byTicket.get(ticket)!;
      const r = await requestJson<Admit>(admitUrl(space.id, `?ticket=${ticket}`), {
        localAddress: me.address,
      });
      expect(r.status).toBe(200);
      if (!r.body.admitted) {
        expect(r.body.ticket).toBe(ticket);
        expect(r.body.position).toBeLessThanOrEqual(me.position); // never goes up
        me.position = r.body.position;
      }
      return r.body;
    };
    for (const t of byTicket.keys()) expect((await ask(t)).admitted).toBe(false);

    // The operator raises the cap by 20: the first 20 tickets in line get in, the others move up by 20.
    const raised = await requestJson<{ limits: { maxListeners: number } }>(
      `${edge.url}/hls/admission/limits`,
      {
        method: 'POST',
        headers: operator,
        body: { maxListeners: CAP + 20 },
      },
    );
    expect(raised.status).toBe(200);
    expect(raised.body.limits.maxListeners).toBe(CAP + 20);
    const before = new Map([...byTicket].map(([t, v]) => [t, v.position]));
    const results = new Map<string, Admit>();
    for (const t of byTicket.keys()) results.set(t, await ask(t));
    for (const [t, r] of results) {
      const was = before.get(t)!;
      if (was <= 20) expect(r.admitted, `position ${was}`).toBe(true);
      else expect(r).toMatchObject({ admitted: false, position: was - 20 });
    }

    // Admitted listeners lost nothing while all this happened: every part, no gap over 1 s.
    await waitFor('2 s more of parts', () => streams.every((s) => s.fragments.length >= 12), {
      timeoutMs: 10_000,
    });
    for (const s of streams) {
      const seq = s.fragments.map((f) => f.sequenceNumber);
      for (let i = 1; i < seq.length; i++) expect(seq[i]).toBe(seq[i - 1] + 1);
      const gaps = s.fragments.slice(1).map((f, i) => f.arrivedAt - s.fragments[i].arrivedAt);
      expect(Math.max(...gaps)).toBeLessThan(1000);
    }
    const stats = await requestJson<{ active: number; waiting: number }>(`${edge.url}/hls/admission`, {
      headers: operator,
    });
    expect(stats.body).toMatchObject({ active: CAP + 20, waiting: ARRIVALS - CAP - 20 });

    // A leaver's place goes to the next in line.
    const leaver = admitted[0].body;
    if (!leaver.admitted) throw new Error('expected an admission');
    const left = await requestJson(`${edge.url}/hls/spaces/${space.id}/leave`, {
      method: 'POST',
      body: { lid: 'leaver-0000001', admission: leaver.admission },
    });
    expect(left.status).toBe(204);
    const next = [...before].find(([, p]) => p === 21)![0];
    expect((await ask(next)).admitted).toBe(true);
  });

  it('refuses bad tickets and tokens, replays, join floods and missing operator tokens with stable codes', async () => {
    const codeOf = async (url: string, opts: Parameters<typeof requestJson>[1] = {}) => {
      const r = await requestJson<ErrorBody>(url, opts);
      return `${r.status} ${r.body?.error?.code ?? ''}`;
    };
    // A fresh arrival from its own address is queued (the edge is full): its ticket is ours to abuse.
    const q = await requestJson<Admit>(admitUrl(space.id), { localAddress: '127.0.3.1' });
    expect(q.body.admitted).toBe(false);
    const ticket = q.body.admitted ? '' : q.body.ticket;
    const forged = ticketSigner(Buffer.from('not the secret')).sign({
      k: 't',
      s: space.id,
      n: 1,
      g: 'x',
      i: Date.now(),
    });
    expect(await codeOf(admitUrl(space.id, `?ticket=${forged}`))).toBe('403 TICKET_INVALID');
    expect(await codeOf(admitUrl(space.id, '?ticket=garbage'))).toBe('403 TICKET_INVALID');
    expect(await codeOf(admitUrl(other.id, `?ticket=${ticket}`))).toBe('403 TICKET_INVALID');
    expect(await codeOf(admitUrl(space.id, `?ticket=a&ticket=b`))).toBe('400 BAD_REQUEST');
    expect(await codeOf(admitUrl(space.id, `?ticket=${'x'.repeat(600)}`))).toBe('400 BAD_REQUEST');
    expect(await codeOf(admitUrl('no-such-space'))).toBe('404 SPACE_NOT_FOUND');
    expect(await codeOf(admitUrl('bad%20id'))).toBe('400 BAD_REQUEST');
    expect(await codeOf(admitUrl(space.id, '?admission=forged.token'))).toBe('403 ADMISSION_INVALID');
    expect(await codeOf(`${edge.url}/hls/spaces/${space.id}/stream.mp4?admission=forged.token`)).toBe(
      '403 ADMISSION_INVALID',
    );
    // Admission tokens are per Space: one for `space` does not open `other`.
    await requestJson(`${edge.url}/hls/admission/limits`, {
      method: 'POST',
      headers: operator,
      body: { maxListeners: 1000 },
    });
    const mine = await requestJson<Admit>(admitUrl(space.id, `?ticket=${ticket}`), {
      localAddress: '127.0.3.1',
    });
    expect(mine.body.admitted).toBe(true);
    const token = mine.body.admitted ? mine.body.admission : '';
    expect(await codeOf(`${edge.url}/hls/spaces/${other.id}/audio.m3u8?admission=${token}`)).toBe(
      '403 ADMISSION_INVALID',
    );
    // The admitted ticket replayed from other addresses: refused; its owner still gets in.
    for (const addr of ['127.0.3.2', '127.0.3.3', '127.0.3.4'])
      expect(await codeOf(admitUrl(space.id, `?ticket=${ticket}`), { localAddress: addr })).toBe(
        '409 TICKET_REPLAYED',
      );
    expect(
      (await requestJson<Admit>(admitUrl(space.id, `?ticket=${ticket}`), { localAddress: '127.0.3.1' })).body
        .admitted,
    ).toBe(true);
    // A flood of joins from one address: 30 a minute, then 429 RATE_LIMITED with Retry-After.
    const flood = await Promise.all(
      Array.from({ length: 40 }, () =>
        requestJson<ErrorBody>(admitUrl(space.id), { localAddress: '127.0.4.1' }),
      ),
    );
    const limited = flood.filter((r) => r.status === 429);
    expect(flood.filter((r) => r.status === 200)).toHaveLength(30);
    expect(limited).toHaveLength(10);
    expect(limited[0].body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited[0].headers['retry-after'])).toBeGreaterThan(0);
    // …without harm to another address.
    expect((await requestJson(admitUrl(space.id), { localAddress: '127.0.4.2' })).status).toBe(200);
    // Operator endpoints: no token, a forged one, an expired one.
    expect(await codeOf(`${edge.url}/hls/rehearsal`)).toBe('401 REHEARSAL_TOKEN_REQUIRED');
    const forgedOp = issueRehearsalToken(Buffer.from('wrong secret'), 600);
    expect(await codeOf(`${edge.url}/hls/rehearsal`, { headers: { [REHEARSAL_HEADER]: forgedOp } })).toBe(
      '403 REHEARSAL_TOKEN_INVALID',
    );
    const expired = issueRehearsalToken(Buffer.from(secret, 'utf8'), 1, '', Date.now() - 10_000);
    expect(await codeOf(`${edge.url}/hls/rehearsal`, { headers: { [REHEARSAL_HEADER]: expired } })).toBe(
      '403 REHEARSAL_TOKEN_EXPIRED',
    );
    expect(
      await codeOf(`${edge.url}/hls/admission/limits`, { method: 'POST', body: { maxListeners: 5 } }),
    ).toBe('401 REHEARSAL_TOKEN_REQUIRED');
    expect(
      await codeOf(`${edge.url}/hls/admission/limits`, {
        method: 'POST',
        headers: operator,
        body: { maxListeners: -1 },
      }),
    ).toBe('400 BAD_REQUEST');
    const ok = await requestJson<{ ok: boolean; edge: string }>(`${edge.url}/hls/rehearsal`, {
      headers: operator,
    });
    expect(ok.status).toBe(200);
    expect(ok.body.ok).toBe(true);
    // The edge is still healthy and serving the admitted.
    expect(streams.every((s) => s.status === 200)).toBe(true);
    expect((await fetch(`${edge.url}/healthz`)).status).toBe(200);
  });
});
