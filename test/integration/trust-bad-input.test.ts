/**
 * Bad input to the trust-and-safety API: every case answers a 4xx with a stable code, and a flood
 * of notices does not stop the rest of the service. One real server (trustProxy on, so each test
 * speaks from its own X-Forwarded-For address and the per-address limit of 5 notices an hour only
 * bites where it is meant to), and one origin in this process for the complaint window (its clock,
 * SpaceService.now, is moved 200 days on).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TribuneClient } from '../../src/client/index.js';
import { configFromEnv, loadConfig } from '../../src/config.js';
import { createOrigin, type Origin } from '../../src/origin/app.js';
import type { Receipt, StatementView } from '../../src/trust/api-types.js';
import { createSpace, startTribune, type TestSpace, type TribuneHandle } from '../support/server.js';
import {
  DAY_MS,
  PASSWORD,
  act,
  addSpeaker,
  failure,
  grant,
  noticeBody,
  operatorHandle,
  outcome,
  person,
  raw,
  recordingSpace,
  trustMe,
  type Person,
} from '../support/trust.js';
import type { NodeWhipClient } from '../support/whip-client.js';

let addr = 0;
/** A fresh client address (10.x.y.z) for X-Forwarded-For. */
const nextAddress = (): string => {
  addr++;
  return `10.${(addr >> 16) & 255}.${(addr >> 8) & 255}.${addr & 255}`;
};

/** A client whose requests come from `address()` (called per request) through X-Forwarded-For. */
function via(url: string, address: () => string = nextAddress): TribuneClient {
  return new TribuneClient({
    baseUrl: url,
    cookieJar: true,
    fetch: (input, init) => {
      const headers = new Headers(init?.headers);
      headers.set('x-forwarded-for', address());
      return fetch(input, { ...init, headers });
    },
  });
}

/** POST /api/trust/notices with a raw body; the answer's status and code. */
async function postRaw(
  url: string,
  body: string,
  contentType = 'application/json',
): Promise<{ status: number; code: string }> {
  const res = await fetch(`${url}/api/trust/notices`, {
    method: 'POST',
    headers: { 'content-type': contentType, 'x-forwarded-for': nextAddress() },
    body,
  });
  const j = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
  return { status: res.status, code: j.error?.code ?? '' };
}

const statusCode = (e: { status: number; code: string }): string => `${e.status} ${e.code}`;

describe('bad input to /api/trust', () => {
  let server: TribuneHandle;
  let admin: Person;
  let mod: Person;
  let live: TestSpace;
  let other: TestSpace;
  let whip: NodeWhipClient;
  let recorded: TestSpace;
  const notice = (
    subject: Parameters<typeof noticeBody>[0],
    over: Parameters<typeof noticeBody>[1] = {},
    c = via(server.url),
  ) => c.request<Receipt>('POST', '/api/trust/notices', noticeBody(subject, over));

  beforeAll(async () => {
    const opHandle = operatorHandle('bad');
    server = await startTribune({
      env: {
        TRIBUNE_OPERATORS: opHandle,
        TRIBUNE_TRUST_PROXY: 'true',
        TRIBUNE_NOTICES_PER_ADDRESS_PER_HOUR: '5',
        TRIBUNE_NOTICES_PER_ACCOUNT_PER_HOUR: '3',
      },
    });
    admin = await person(server.url, 'Admin', opHandle);
    mod = await person(server.url, 'Moderator');
    await grant(admin.c, mod, 'moderator');
    live = await createSpace(server.url, 'Flooded');
    other = await createSpace(server.url, 'Bystander');
    ({ space: recorded, whip } = await recordingSpace(server.url, 'Recorded', 4));
  }, 90_000);

  afterAll(async () => {
    whip?.abruptClose();
    await server?.stop();
  });

  it('a flood from one address: 5 notices, then 429 NOTICE_RATE_LIMITED; other Spaces keep answering', async () => {
    const ip = nextAddress();
    const flooder = via(server.url, () => ip);
    const got: string[] = [];
    for (let i = 0; i < 8; i++)
      got.push(
        await outcome(notice({ kind: 'space', spaceId: live.id }, { email: `f${i}@example.org` }, flooder)),
      );
    expect(got).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', ...Array(3).fill('NOTICE_RATE_LIMITED')]);
    const e = await failure(notice({ kind: 'space', spaceId: other.id }, {}, flooder));
    expect(e.status).toBe(429);
    // A malformed notice is refused for what it is, before the limit is counted.
    expect(
      await outcome(notice({ kind: 'space', spaceId: live.id }, { goodFaith: false as true }, flooder)),
    ).toBe('NOTICE_INVALID');

    // The rest of the service answers: the other Space's API and page, its stream, other notifiers.
    const t0 = performance.now();
    expect((await via(server.url).space(other.id)).state).toBe('live');
    const page = await fetch(`${server.url}/s/${other.id}`);
    console.log(`other Space's page during the flood: HTTP ${page.status}`);
    expect(page.status).toBe(200);
    await page.arrayBuffer();
    expect((await fetch(`${server.url}/hls/spaces/${other.id}/state.json`)).status).toBe(200);
    expect(await outcome(notice({ kind: 'space', spaceId: other.id }))).toBe('ok');
    expect(await outcome(notice({ kind: 'space', spaceId: live.id }))).toBe('ok');
    console.log(
      `other Space's API, page, state and a notice from another address: ${(performance.now() - t0).toFixed(1)} ms`,
    );
  });

  it('a flood from one account over many addresses: 3 notices, then NOTICE_RATE_LIMITED (checked after the address)', async () => {
    const p = await person(server.url, 'flooder');
    const c = via(server.url);
    await c.signIn({ handle: p.handle, password: PASSWORD });
    const got: string[] = [];
    for (let i = 0; i < 5; i++) got.push(await outcome(notice({ kind: 'space', spaceId: live.id }, {}, c)));
    expect(got).toEqual(['ok', 'ok', 'ok', 'NOTICE_RATE_LIMITED', 'NOTICE_RATE_LIMITED']);
    const e = await failure(notice({ kind: 'space', spaceId: live.id }, {}, c));
    expect(e.message).toMatch(/account/);
    // Logged out from a fresh address the same person is not limited (limits are per address and per account).
    expect(await outcome(notice({ kind: 'space', spaceId: live.id }))).toBe('ok');
  });

  it('body too large (>16 KiB) → 413 BODY_TOO_LARGE; malformed JSON → 400', async () => {
    const big = JSON.stringify(
      noticeBody({ kind: 'space', spaceId: live.id }, { explanation: 'x'.repeat(17 * 1024) }),
    );
    expect(statusCode(await postRaw(server.url, big))).toBe('413 BODY_TOO_LARGE');
    const bad = await postRaw(server.url, '{"subject": {"kind": "space",');
    console.log(`malformed JSON: ${statusCode(bad)}`);
    expect(statusCode(bad)).toBe('400 BAD_REQUEST');
    const notObject = await postRaw(server.url, '"a string"');
    expect(notObject.status).toBe(400);
    const form = await postRaw(server.url, 'a=b', 'application/x-www-form-urlencoded');
    console.log(`form-encoded notice: ${statusCode(form)}`);
    expect(statusCode(form)).toBe('415 UNSUPPORTED_MEDIA_TYPE');
  });

  it('missing Art. 16 elements and unknown values: NOTICE_INVALID (meaning) or BAD_REQUEST (shape)', async () => {
    const s = { kind: 'space' as const, spaceId: live.id };
    const cases: [string, Record<string, unknown>, string][] = [
      ['no email', { email: undefined }, '400 NOTICE_INVALID'],
      ['malformed email', { email: 'not-an-address' }, '400 NOTICE_INVALID'],
      ['no name', { name: undefined }, '400 NOTICE_INVALID'],
      ['good faith false', { goodFaith: false }, '400 NOTICE_INVALID'],
      ['good faith missing', { goodFaith: undefined }, '400 BAD_REQUEST'],
      ['short explanation', { explanation: 'bad' }, '400 NOTICE_INVALID'],
      ['blank explanation', { explanation: '            ' }, '400 NOTICE_INVALID'],
      ['explanation over 4000', { explanation: 'y'.repeat(4001) }, '400 BAD_REQUEST'],
      ['unknown category', { category: 'STATEMENT_CATEGORY_POLITICS' }, '400 BAD_REQUEST'],
      ['removed category', { category: 'STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE' }, '400 BAD_REQUEST'],
      ['unknown field', { extra: 1 }, '400 BAD_REQUEST'],
      ['unknown subject kind', { subject: { kind: 'tweet', spaceId: live.id } }, '400 BAD_REQUEST'],
      ['speaker without userId', { subject: { kind: 'speaker', spaceId: live.id } }, '400 NOTICE_INVALID'],
      ['space without spaceId', { subject: { kind: 'space' } }, '400 NOTICE_INVALID'],
      ['malformed spaceId', { subject: { kind: 'space', spaceId: '../etc' } }, '400 BAD_REQUEST'],
      ['unknown Space', { subject: { kind: 'space', spaceId: 'nosuchspace123' } }, '404 SPACE_NOT_FOUND'],
      [
        'not a member',
        { subject: { kind: 'speaker', spaceId: live.id, userId: mod.id } },
        '404 NOT_A_MEMBER',
      ],
      ['unknown user', { subject: { kind: 'account', userId: 'nosuchuser123' } }, '404 USER_NOT_FOUND'],
    ];
    const got: Record<string, string> = {};
    for (const [what, over] of cases) {
      const e = await failure(
        via(server.url).request('POST', '/api/trust/notices', { ...noticeBody(s), ...over }),
      );
      got[what] = `${e.status} ${e.code}`;
    }
    console.log(`notice validation codes: ${JSON.stringify(got)}`);
    expect(got).toEqual(Object.fromEntries(cases.map(([w, , c]) => [w, c])));
    // Protection of minors: name and email may be left out (Art. 16(2)(c)).
    expect(
      await outcome(
        notice(s, { category: 'STATEMENT_CATEGORY_PROTECTION_OF_MINORS', name: undefined, email: undefined }),
      ),
    ).toBe('ok');
  });

  it('time ranges outside the recording, and ranges on a scheduled Space: RANGE_OUT_OF_RECORDING', async () => {
    const s = { kind: 'space' as const, spaceId: recorded.id };
    const cases: [string, Record<string, number>, string][] = [
      ['after the end', { startSec: 1000, endSec: 1010 }, 'RANGE_OUT_OF_RECORDING'],
      ['before the start', { startSec: -20, endSec: -10 }, 'RANGE_OUT_OF_RECORDING'],
      ['reversed', { startSec: 3, endSec: 1 }, 'RANGE_OUT_OF_RECORDING'],
      ['empty', { startSec: 2, endSec: 2 }, 'RANGE_OUT_OF_RECORDING'],
      ['longer than kept (300 s)', { lastSec: 301 }, 'RANGE_OUT_OF_RECORDING'],
      ['lastSec zero', { lastSec: 0 }, 'RANGE_OUT_OF_RECORDING'],
      ['start only', { startSec: 1 }, 'RANGE_OUT_OF_RECORDING'],
      ['both lastSec and a range', { lastSec: 10, startSec: 0, endSec: 2 }, 'BAD_REQUEST'],
    ];
    const got: Record<string, string> = {};
    for (const [what, range] of cases) got[what] = await outcome(notice({ ...s, ...range }));
    expect(got).toEqual(Object.fromEntries(cases.map(([w, , c]) => [w, c])));
    // Within the recording it is fine.
    expect((await notice({ ...s, startSec: 0, endSec: 2 })).evidence).toMatchObject({
      startSec: 0,
      endSec: 2,
    });

    const scheduled = await live.hostClient.createSpace({
      title: 'Later',
      scheduledFor: new Date(Date.now() + 86_400_000).toISOString(),
    });
    const e = await failure(notice({ kind: 'space', spaceId: scheduled.id, lastSec: 30 }));
    expect([e.status, e.code]).toEqual([400, 'RANGE_OUT_OF_RECORDING']);
    expect(await outcome(notice({ kind: 'space', spaceId: scheduled.id, startSec: 0, endSec: 5 }))).toBe(
      'RANGE_OUT_OF_RECORDING',
    );
    // A notice about the scheduled Space itself (no range) is fine.
    expect(await outcome(notice({ kind: 'space', spaceId: scheduled.id }))).toBe('ok');
  });

  it('reports on deleted content: a clip removed by a moderator → CLIP_NOT_FOUND, a replay deleted by its host → CONTENT_GONE', async () => {
    const clip = await recorded.hostClient.createClip(recorded.id, { durationSec: 2 });
    const r = await notice({ kind: 'clip', clipId: clip.id });
    await act(mod.c, r.caseId, 'remove-clip');
    const e = await failure(notice({ kind: 'clip', clipId: clip.id }));
    expect([e.status, e.code]).toEqual([404, 'CLIP_NOT_FOUND']);
    // Acting on it again: the clip is gone.
    expect(await outcome(act(mod.c, r.caseId, 'remove-clip'))).toBe('CONTENT_GONE');

    await recorded.hostClient.end(recorded.id);
    whip.abruptClose();
    expect(await outcome(notice({ kind: 'space', spaceId: recorded.id, startSec: 0, endSec: 2 }))).toBe('ok');
    expect(await outcome(notice({ kind: 'space', spaceId: recorded.id, lastSec: 10 }))).toBe(
      'NOTICE_INVALID',
    ); // lastSec is for live Spaces
    await recorded.hostClient.deleteReplay(recorded.id);
    const g = await failure(notice({ kind: 'space', spaceId: recorded.id, startSec: 0, endSec: 2 }));
    expect([g.status, g.code]).toEqual([410, 'CONTENT_GONE']);
  }, 30_000);

  it('bad ids: traversal and over-long ids → 400, a random well-formed id → 404 CASE_NOT_FOUND', async () => {
    const get = async (p: string): Promise<string> => {
      const res = await fetch(`${server.url}${p}`);
      const j = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
      return `${res.status} ${j.error?.code ?? ''}`;
    };
    const got = {
      traversal: await get('/api/trust/cases/..%2F'),
      traversalFull: await get('/api/trust/cases/..%2F..%2Fetc/full'),
      dotdot: await get('/api/trust/cases/..'),
      overLong: await get(`/api/trust/cases/case_${'a'.repeat(64)}`),
      overLongKey: await get(`/api/trust/cases/case_abc?key=${'k'.repeat(65)}`),
      evidence: await get('/api/trust/evidence/..%2F..%2F/clip.m3u8'),
      random: await get(
        `/api/trust/cases/case_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`,
      ),
    };
    console.log(`bad ids: ${JSON.stringify(got)}`);
    expect(got.traversal).toBe('400 BAD_REQUEST');
    expect(got.dotdot).toBe('404 NOT_FOUND'); // `..` is resolved before routing: no such route
    expect(got.traversalFull).toBe('400 BAD_REQUEST');
    expect(got.overLong).toBe('400 BAD_REQUEST');
    expect(got.overLongKey).toBe('400 BAD_REQUEST');
    expect(got.evidence).toBe('400 BAD_REQUEST');
    expect(got.random).toBe('404 CASE_NOT_FOUND');
    // The follow-by-email and complaint routes take ids the same way.
    expect(
      await outcome(
        via(server.url).request('POST', '/api/trust/follow', { caseId: '../x', email: 'a@b.cd' }),
      ),
    ).toBe('BAD_REQUEST');
    expect(
      await outcome(
        via(server.url).request('POST', `/api/trust/cases/${'z'.repeat(65)}/complaints`, {
          text: 'long enough text',
        }),
      ),
    ).toBe('BAD_REQUEST');
  });

  it('forged case links: a real id with a forged key is 404 CASE_NOT_FOUND, like an unknown id', async () => {
    const r = await notice({ kind: 'space', spaceId: live.id });
    const c = via(server.url);
    expect(await outcome(c.request('GET', `/api/trust/cases/${r.caseId}?key=${r.followKey}`))).toBe('ok');
    const forged = randomBytes(18).toString('base64url');
    const e = await failure(c.request('GET', `/api/trust/cases/${r.caseId}?key=${forged}`));
    expect([e.status, e.code]).toEqual([404, 'CASE_NOT_FOUND']);
    const unknown = await failure(
      c.request('GET', `/api/trust/cases/case_${forged.slice(0, 16)}?key=${r.followKey}`),
    );
    expect([unknown.status, unknown.code, unknown.message]).toEqual([404, 'CASE_NOT_FOUND', e.message]);
    // A complaint with a forged key is no better.
    await mod.c.request('POST', `/api/trust/cases/${r.caseId}/resolve`, {
      text: 'not a violation',
      unfounded: false,
    });
    expect(
      await outcome(
        c.request('POST', `/api/trust/cases/${r.caseId}/complaints`, {
          text: 'Please look again at it.',
          key: forged,
        }),
      ),
    ).toBe('COMPLAINT_NOT_ALLOWED');
  });

  it('complaints on someone else’s case → 403 COMPLAINT_NOT_ALLOWED; bad complaint bodies → 400', async () => {
    const speaker = await addSpeaker(server.url, live, 'speaker');
    const r = await notice({ kind: 'speaker', spaceId: live.id, userId: speaker.id });
    const s = await act(mod.c, r.caseId, 'mute-speaker');
    const stranger = await person(server.url, 'stranger');
    const e = await failure(
      stranger.c.request('POST', `/api/trust/cases/${r.caseId}/complaints`, {
        text: 'Unmute them, please, now.',
        statementId: s.id,
      }),
    );
    expect([e.status, e.code]).toEqual([403, 'COMPLAINT_NOT_ALLOWED']);
    // The host of the Space is not the affected user of a speaker's case either.
    expect(
      await outcome(
        live.hostClient.request('POST', `/api/trust/cases/${r.caseId}/complaints`, {
          text: 'Unmute my speaker, please.',
          statementId: s.id,
        }),
      ),
    ).toBe('COMPLAINT_NOT_ALLOWED');
    // The affected user: a statement of another case, a too-short text.
    const other = await notice({ kind: 'space', spaceId: live.id });
    const s2 = await act(mod.c, other.caseId, 'label-space');
    expect(
      await outcome(
        speaker.c.request('POST', `/api/trust/cases/${r.caseId}/complaints`, {
          text: 'Not my statement at all.',
          statementId: s2.id,
        }),
      ),
    ).toBe('COMPLAINT_NOT_ALLOWED');
    expect(
      await outcome(
        speaker.c.request('POST', `/api/trust/cases/${r.caseId}/complaints`, {
          text: 'short',
          statementId: s.id,
        }),
      ),
    ).toBe('BAD_REQUEST');
    expect(
      await outcome(
        speaker.c.request('POST', `/api/trust/cases/${r.caseId}/complaints`, {
          text: 'I was quoting someone, honestly.',
          statementId: s.id,
        }),
      ),
    ).toBe('ok');
  });

  it('a tampered export → 422 STATEMENT_CHAIN_BROKEN naming the line; a verify body that is not text → 400', async () => {
    // At least three statements on the chain.
    for (let i = 0; i < 3; i++) {
      const u = await person(server.url, `warned${i}`);
      await act(mod.c, (await notice({ kind: 'account', userId: u.id })).caseId, 'warn-account');
    }
    const text = await (await raw(server.url, '/api/trust/statements/export', { as: admin.c })).text();
    const lines = text.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    const verify = async (
      body: string,
      type = 'application/x-ndjson',
    ): Promise<{ status: number; code?: string; message?: string; ok?: boolean }> => {
      const res = await raw(server.url, '/api/trust/statements/verify', {
        method: 'POST',
        body,
        headers: { 'content-type': type },
      });
      const j = (await res.json()) as { ok?: boolean; error?: { code: string; message: string } };
      return { status: res.status, code: j.error?.code, message: j.error?.message, ok: j.ok };
    };
    expect(await verify(text)).toMatchObject({ status: 200, ok: true });

    // An edited field on line 2.
    const edited = [...lines];
    const l2 = JSON.parse(edited[1]) as StatementView;
    edited[1] = JSON.stringify({ ...l2, explanation: `${l2.explanation} (edited)` });
    const e1 = await verify(`${edited.join('\n')}\n`);
    console.log(`edited line 2: ${e1.status} ${e1.code}: ${e1.message}`);
    expect([e1.status, e1.code]).toEqual([422, 'STATEMENT_CHAIN_BROKEN']);
    expect(e1.message).toMatch(/\bline 2\b/);

    // Line 2 deleted: line 2 is now the third statement, whose seq and prevHash do not follow.
    const cut = lines.filter((_, i) => i !== 1);
    const e2 = await verify(`${cut.join('\n')}\n`);
    console.log(`deleted line 2: ${e2.status} ${e2.code}: ${e2.message}`);
    expect([e2.status, e2.code]).toEqual([422, 'STATEMENT_CHAIN_BROKEN']);
    expect(e2.message).toMatch(/\bline 2\b/);

    // A garbage line.
    const e3 = await verify(`${lines[0]}\nnot json\n`);
    expect([e3.status, e3.code]).toEqual([422, 'STATEMENT_CHAIN_BROKEN']);
    expect(e3.message).toMatch(/\bline 2\b/);

    // Not text: a JSON object, or bytes.
    const j = await verify(JSON.stringify({ statements: lines }), 'application/json');
    expect([j.status, j.code]).toEqual([400, 'BAD_REQUEST']);
    const bin = await raw(server.url, '/api/trust/statements/verify', {
      method: 'POST',
      body: new Uint8Array([0, 1, 2, 255]),
      headers: { 'content-type': 'application/octet-stream' },
    });
    console.log(`verify with application/octet-stream: ${bin.status}`);
    expect(bin.status).toBe(415);
    expect(((await bin.json()) as { error: { code: string } }).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    // An empty log (no restriction yet) is a valid export of nothing.
    const empty = await verify('');
    console.log(`verify with an empty body: ${empty.status} ${empty.code ?? ''} ok=${empty.ok}`);
    expect(empty).toMatchObject({ status: 200, ok: true });
  });

  it('report periods and evidence ids: REPORT_RANGE_INVALID, EVIDENCE_NOT_FOUND', async () => {
    const code = async (p: string): Promise<string> => {
      const res = await raw(server.url, p, { as: mod.c });
      return `${res.status} ${((await res.json()) as { error?: { code: string } }).error?.code ?? 'ok'}`;
    };
    expect(await code('/api/trust/report?from=2026-02-30')).toBe('400 REPORT_RANGE_INVALID');
    expect(await code('/api/trust/report?from=2026-06-01&to=2026-01-01')).toBe('400 REPORT_RANGE_INVALID');
    expect(await code('/api/trust/report?from=2020-01-01&to=2026-01-01')).toBe('400 REPORT_RANGE_INVALID');
    expect(await code('/api/trust/report.csv?from=yesterday')).toBe('400 REPORT_RANGE_INVALID');
    expect(await code('/api/trust/report?from=2026-01-01&to=2026-02-01')).toBe('200 ok');
    expect(await code('/api/trust/evidence/ev_abcdefghijklmnop/clip.m3u8')).toBe('404 EVIDENCE_NOT_FOUND');
    expect(await code('/api/trust/evidence/ev_abcdefghijklmnop/..%2F..%2Fsecret')).toBe(
      '404 EVIDENCE_NOT_FOUND',
    );
  });
});

describe('complaints after the 6-month window (an origin in this process, its clock moved on)', () => {
  let dataDir: string;
  let origin: Origin;
  let url: string;
  const realNow = (): number => Date.now();

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'tribune-trust-window-'));
    const opHandle = operatorHandle('win');
    const config = loadConfig(
      configFromEnv({
        TRIBUNE_SIGNUP_PER_MINUTE: '100000',
        TRIBUNE_EDGE_RATE_PER_ADDRESS: '0',
        TRIBUNE_EDGE_CONNECTIONS_PER_ADDRESS: '0',
        TRIBUNE_OPERATORS: opHandle,
      }),
      { port: 0, host: '127.0.0.1', dataDir, logLevel: 'warn' },
    );
    origin = await createOrigin(config, { embeddedEdge: true });
    url = (await origin.listen()).replace('localhost', '127.0.0.1');
  }, 60_000);

  afterAll(async () => {
    if (origin) (origin.svc as unknown as { now: () => number }).now = realNow;
    await origin?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('COMPLAINT_WINDOW_CLOSED 200 days after the decision, for the affected user and for a notifier', async () => {
    const admin = await person(url, 'Admin', operatorHandle('win'));
    const mod = await person(url, 'Moderator');
    await grant(admin.c, mod, 'moderator');
    const user = await person(url, 'warned');
    const a = new TribuneClient({ baseUrl: url, cookieJar: true });
    const r = await a.request<Receipt>(
      'POST',
      '/api/trust/notices',
      noticeBody({ kind: 'account', userId: user.id }),
    );
    const s = await act(mod.c, r.caseId, 'warn-account');
    const r2 = await a.request<Receipt>(
      'POST',
      '/api/trust/notices',
      noticeBody({ kind: 'account', userId: user.id }, { email: 'other@example.org' }),
    );
    await mod.c.request('POST', `/api/trust/cases/${r2.caseId}/resolve`, {
      text: 'no violation here',
      unfounded: false,
    });

    (origin.svc as unknown as { now: () => number }).now = () => realNow() + 200 * DAY_MS;
    const e = await failure(
      user.c.request('POST', `/api/trust/cases/${r.caseId}/complaints`, {
        text: 'I disagree with this warning.',
        statementId: s.id,
      }),
    );
    expect([e.status, e.code]).toEqual([409, 'COMPLAINT_WINDOW_CLOSED']);
    const me = await trustMe(user.c);
    expect(me.decisions.find((d) => d.id === s.id)?.canComplain).toBe(false);
    expect(me.account.strikes).toBe(0); // strikes expire after 90 days
    const n = await failure(
      a.request('POST', `/api/trust/cases/${r2.caseId}/complaints`, {
        text: 'Please act on my notice.',
        key: r2.followKey,
      }),
    );
    expect([n.status, n.code]).toEqual([409, 'COMPLAINT_WINDOW_CLOSED']);
    const v = await a.request<{ canComplainUntil: string | null }>(
      'GET',
      `/api/trust/cases/${r2.caseId}?key=${r2.followKey}`,
    );
    expect(v.canComplainUntil).toBeNull();

    // 182 days on, it was still open.
    (origin.svc as unknown as { now: () => number }).now = () => realNow() + 182 * DAY_MS;
    expect(
      await outcome(
        user.c.request('POST', `/api/trust/cases/${r.caseId}/complaints`, {
          text: 'I disagree with this warning.',
          statementId: s.id,
        }),
      ),
    ).toBe('ok');
  }, 30_000);
});
