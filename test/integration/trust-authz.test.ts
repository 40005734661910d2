/**
 * The trust-and-safety authorization matrix: every /api/trust route × anonymous, a signed-in user,
 * a speaker and the host of the Space the case is about, a moderator, a trusted flagger and an
 * admin, with the expected answer per cell ('ok' or the error code).
 *
 * There are no moderator teams: every moderator (and admin) sees and may act on every case; the
 * only partition is the role itself. A host is never a moderator of cases against their own Space
 * (queue/full → MODERATOR_REQUIRED), but as the affected user follows the case and complains.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TribuneClient } from '../../src/client/index.js';
import type { ComplaintView, ModeratorCaseView, Receipt } from '../../src/trust/api-types.js';
import { startTribune, type TestSpace, type TribuneHandle } from '../support/server.js';
import {
  act,
  addSpeaker,
  anon,
  grant,
  notice,
  operatorHandle,
  outcome,
  person,
  raw,
  recordingSpace,
  type Person,
} from '../support/trust.js';
import type { NodeWhipClient } from '../support/whip-client.js';

type Who = 'anon' | 'user' | 'speaker' | 'host' | 'moderator' | 'flagger' | 'admin';
const WHO: Who[] = ['anon', 'user', 'speaker', 'host', 'moderator', 'flagger', 'admin'];

const ANON = 'SIGN_IN_REQUIRED';
const MOD = 'MODERATOR_REQUIRED';
const ADM = 'ADMIN_REQUIRED';
const NF = 'CASE_NOT_FOUND';
const NO = 'COMPLAINT_NOT_ALLOWED';

const everyone: Record<Who, string> = {
  anon: 'ok',
  user: 'ok',
  speaker: 'ok',
  host: 'ok',
  moderator: 'ok',
  flagger: 'ok',
  admin: 'ok',
};
const signedIn: Record<Who, string> = { ...everyone, anon: ANON };
const moderators: Record<Who, string> = {
  anon: ANON,
  user: MOD,
  speaker: MOD,
  host: MOD,
  moderator: 'ok',
  flagger: MOD,
  admin: 'ok',
};
const admins: Record<Who, string> = {
  anon: ANON,
  user: ADM,
  speaker: ADM,
  host: ADM,
  moderator: ADM,
  flagger: ADM,
  admin: 'ok',
};
/** Only the affected user (the host, for a case about their Space) sees the case without a key. */
const affectedOnly = (other: string): Record<Who, string> => ({
  anon: other,
  user: other,
  speaker: other,
  host: 'ok',
  moderator: other,
  flagger: other,
  admin: other,
});

interface Fx {
  space: TestSpace;
  /** A case about the Space (a logged-out notice on its last 30 s: it has evidence). */
  base: Receipt;
  evidenceId: string;
  /** A statement (label-space by another moderator) on a case about the Space. */
  decided: { caseId: string; statementId: string };
  exportText: string;
}

describe('authorization of every /api/trust route', () => {
  let server: TribuneHandle;
  let whip: NodeWhipClient;
  let fx: Fx;
  let people: Record<Exclude<Who, 'anon'>, Person>;
  /** Another moderator who takes the decisions complaints are about (so `moderator` may review them). */
  let decider: Person;
  const client = (w: Who): TribuneClient => (w === 'anon' ? anon(server.url) : people[w].c);

  const newCase = (): Promise<Receipt> => notice(anon(server.url), { kind: 'space', spaceId: fx.space.id });
  const openComplaint = async (): Promise<string> => {
    const r = await newCase();
    const s = await act(decider.c, r.caseId, 'label-space');
    const k = await people.host.c.request<ComplaintView>('POST', `/api/trust/cases/${r.caseId}/complaints`, {
      text: 'The label is unfair to my Space.',
      statementId: s.id,
    });
    return k.id;
  };
  /** GETs of files (evidence, CSV, export): 'ok' on 200, else the error code. */
  const fileOutcome = async (w: Who, path: string): Promise<string> => {
    const res = await raw(server.url, path, w === 'anon' ? {} : { as: people[w].c });
    if (res.status === 200) {
      await res.arrayBuffer();
      return 'ok';
    }
    return ((await res.json()) as { error: { code: string } }).error.code;
  };

  beforeAll(async () => {
    const opHandle = operatorHandle('authz');
    server = await startTribune({
      env: {
        TRIBUNE_OPERATORS: opHandle,
        TRIBUNE_NOTICES_PER_ADDRESS_PER_HOUR: '100000',
        TRIBUNE_NOTICES_PER_ACCOUNT_PER_HOUR: '100000',
      },
    });
    const admin = await person(server.url, 'Admin', opHandle);
    const rec = await recordingSpace(server.url, 'Authz Space', 3);
    whip = rec.whip;
    const space = rec.space;
    const [user, moderator, flagger, d] = await Promise.all([
      person(server.url, 'user'),
      person(server.url, 'moderator'),
      person(server.url, 'flagger'),
      person(server.url, 'decider'),
    ]);
    decider = d;
    const speaker = await addSpeaker(server.url, space, 'speaker');
    const host: Person = { c: space.hostClient, id: space.host.id, handle: space.host.handle };
    people = { user, speaker, host, moderator, flagger, admin };
    await grant(admin.c, moderator, 'moderator');
    await grant(admin.c, decider, 'moderator');
    await grant(admin.c, flagger, 'trusted-flagger', 'Flaggers Inc.');
    const base = await notice(anon(server.url), { kind: 'space', spaceId: space.id, lastSec: 30 });
    const full = await moderator.c.request<ModeratorCaseView>('GET', `/api/trust/cases/${base.caseId}/full`);
    const r = await notice(anon(server.url), { kind: 'space', spaceId: space.id });
    const s = await act(decider.c, r.caseId, 'label-space');
    const exp = await raw(server.url, '/api/trust/statements/export', { as: admin.c });
    fx = {
      space,
      base,
      evidenceId: full.evidence[0].id,
      decided: { caseId: r.caseId, statementId: s.id },
      exportText: await exp.text(),
    };
  }, 90_000);

  afterAll(async () => {
    whip?.abruptClose();
    await server?.stop();
  });

  type Row = [name: string, expected: Record<Who, string>, call: (w: Who) => Promise<string>];
  const api = (method: 'GET' | 'POST' | 'DELETE', path: () => string, body?: () => unknown) => (w: Who) =>
    outcome(client(w).request(method, path(), body?.()));

  const ROWS: Row[] = [
    // ------------------------------------------------------------ anyone
    ['POST /notices', everyone, (w) => outcome(notice(client(w), { kind: 'space', spaceId: fx.space.id }))],
    ['GET /cases/:id (no key)', affectedOnly(NF), api('GET', () => `/api/trust/cases/${fx.base.caseId}`)],
    [
      'GET /cases/:id?key= (the receipt key)',
      everyone,
      api('GET', () => `/api/trust/cases/${fx.base.caseId}?key=${fx.base.followKey}`),
    ],
    [
      'GET /cases/:id?key= (forged key)',
      affectedOnly(NF),
      api('GET', () => `/api/trust/cases/${fx.base.caseId}?key=forged-key-123`),
    ],
    [
      'POST /follow (the notice email)',
      everyone,
      api(
        'POST',
        () => '/api/trust/follow',
        () => ({ caseId: fx.base.caseId, email: 'nora.notifier@example.org' }),
      ),
    ],
    [
      'POST /follow (another email)',
      Object.fromEntries(WHO.map((w) => [w, NF])) as Record<Who, string>,
      api(
        'POST',
        () => '/api/trust/follow',
        () => ({ caseId: fx.base.caseId, email: 'x@example.org' }),
      ),
    ],
    [
      'POST /cases/:id/complaints (about a statement)',
      affectedOnly(NO),
      api(
        'POST',
        () => `/api/trust/cases/${fx.decided.caseId}/complaints`,
        () => ({ text: 'This label is not deserved.', statementId: fx.decided.statementId }),
      ),
    ],
    [
      'POST /cases/:id/complaints (inaction, no key)',
      Object.fromEntries(WHO.map((w) => [w, NO])) as Record<Who, string>,
      api(
        'POST',
        () => `/api/trust/cases/${fx.base.caseId}/complaints`,
        () => ({ text: 'Please act on this notice.' }),
      ),
    ],
    [
      'POST /statements/verify',
      everyone,
      async (w) => {
        const res = await raw(server.url, '/api/trust/statements/verify', {
          method: 'POST',
          body: fx.exportText,
          headers: { 'content-type': 'application/x-ndjson' },
          ...(w === 'anon' ? {} : { as: people[w].c }),
        });
        return res.status === 200 ? 'ok' : ((await res.json()) as { error: { code: string } }).error.code;
      },
    ],
    // ------------------------------------------------------------ signed in
    ['GET /me', signedIn, api('GET', () => '/api/trust/me')],
    // ------------------------------------------------------------ moderators
    ['GET /queue', moderators, api('GET', () => '/api/trust/queue')],
    ['GET /queue?status=closed', moderators, api('GET', () => '/api/trust/queue?status=closed')],
    ['GET /cases/:id/full', moderators, api('GET', () => `/api/trust/cases/${fx.base.caseId}/full`)],
    [
      'GET /cases/:id/full (unknown id)',
      { ...moderators, moderator: NF, admin: NF },
      api('GET', () => '/api/trust/cases/case_doesnotexist0000/full'),
    ],
    [
      'POST /cases (own initiative)',
      moderators,
      api(
        'POST',
        () => '/api/trust/cases',
        () => ({ subject: { kind: 'space', spaceId: fx.space.id }, category: 'STATEMENT_CATEGORY_VIOLENCE' }),
      ),
    ],
    [
      'POST /cases/:id/assign',
      moderators,
      api(
        'POST',
        () => `/api/trust/cases/${fx.base.caseId}/assign`,
        () => ({ userId: people.moderator.id }),
      ),
    ],
    [
      'POST /cases/:id/escalate',
      moderators,
      async (w) =>
        outcome(client(w).request('POST', `/api/trust/cases/${(await newCase()).caseId}/escalate`)),
    ],
    [
      'POST /cases/:id/notes',
      moderators,
      api(
        'POST',
        () => `/api/trust/cases/${fx.base.caseId}/notes`,
        () => ({ text: 'looked at it', visibility: 'internal' }),
      ),
    ],
    [
      'POST /cases/:id/actions',
      moderators,
      async (w) => outcome(act(client(w), (await newCase()).caseId, 'label-space')),
    ],
    [
      'POST /cases/:id/resolve',
      moderators,
      async (w) =>
        outcome(
          client(w).request('POST', `/api/trust/cases/${(await newCase()).caseId}/resolve`, {
            text: 'no violation',
            unfounded: false,
          }),
        ),
    ],
    [
      'POST /complaints/:id/decide',
      moderators,
      async (w) =>
        outcome(
          client(w).request('POST', `/api/trust/complaints/${await openComplaint()}/decide`, {
            uphold: false,
            text: 'Reviewed again, it stays.',
          }),
        ),
    ],
    [
      'GET /evidence/:id/clip.m3u8',
      moderators,
      (w) => fileOutcome(w, `/api/trust/evidence/${fx.evidenceId}/clip.m3u8`),
    ],
    [
      'GET /evidence/:id/init.mp4',
      moderators,
      (w) => fileOutcome(w, `/api/trust/evidence/${fx.evidenceId}/init.mp4`),
    ],
    ['GET /report', moderators, api('GET', () => '/api/trust/report')],
    ['GET /report.csv', moderators, (w) => fileOutcome(w, '/api/trust/report.csv')],
    // ------------------------------------------------------------ admins
    ['GET /roles', admins, api('GET', () => '/api/trust/roles')],
    [
      'POST /roles',
      admins,
      api(
        'POST',
        () => '/api/trust/roles',
        () => ({ handle: people.user.handle, role: 'moderator' }),
      ),
    ],
    [
      'DELETE /roles',
      admins,
      api(
        'DELETE',
        () => '/api/trust/roles',
        () => ({ handle: people.user.handle, role: 'moderator' }),
      ),
    ],
    ['GET /statements/export', admins, (w) => fileOutcome(w, '/api/trust/statements/export')],
    ['GET /tdb', admins, api('GET', () => '/api/trust/tdb')],
  ];

  it.each(ROWS)('%s', async (_name, expected, call) => {
    const got: Record<string, string> = {};
    // One role at a time: POST /roles then DELETE /roles for `user` must not change the next cell.
    for (const w of WHO) {
      got[w] = await call(w);
      if (_name === 'POST /roles' && got[w] === 'ok')
        await people.admin.c.request('DELETE', '/api/trust/roles', {
          handle: people.user.handle,
          role: 'moderator',
        });
    }
    expect(got).toEqual(expected);
  });

  it('a host is not a moderator of cases against their own Space, even with the case id', async () => {
    const host = people.host.c;
    expect(await outcome(host.request('GET', `/api/trust/cases/${fx.base.caseId}/full`))).toBe(MOD);
    expect(await outcome(host.request('GET', '/api/trust/queue'))).toBe(MOD);
    expect(await outcome(act(host, fx.base.caseId, 'hide-space'))).toBe(MOD);
    // ...but as the affected user they follow it (without the notifier's identity) and see their statements.
    const v = await host.request<{ viewer: string; statements: { id: string }[] }>(
      'GET',
      `/api/trust/cases/${fx.decided.caseId}`,
    );
    expect(v.viewer).toBe('affected');
    expect(v.statements.map((s) => s.id)).toContain(fx.decided.statementId);
    expect(JSON.stringify(v)).not.toContain('nora.notifier@example.org');
  });

  it('a moderator who hosts a Space (or is the affected user) does not see or decide its cases', async () => {
    const m = people.moderator;
    const own = await m.c.createSpace({ title: 'A moderator’s own Space' });
    const r = await notice(anon(server.url), { kind: 'space', spaceId: own.id });
    const got = {
      queue: (await m.c.request<{ id: string }[]>('GET', '/api/trust/queue')).some((c) => c.id === r.caseId),
      full: await outcome(m.c.request('GET', `/api/trust/cases/${r.caseId}/full`)),
      act: await outcome(act(m.c, r.caseId, 'hide-space')),
      resolve: await outcome(
        m.c.request('POST', `/api/trust/cases/${r.caseId}/resolve`, { text: 'fine by me', unfounded: true }),
      ),
    };
    console.log(`a moderator on a case about their own Space: ${JSON.stringify(got)}`);
    expect(got).toEqual({ queue: false, full: NF, act: NF, resolve: NF });
    // Another moderator does.
    expect(await outcome(decider.c.request('GET', `/api/trust/cases/${r.caseId}/full`))).toBe('ok');
    await m.c.end(own.id);
  });
});
