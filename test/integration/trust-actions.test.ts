/**
 * Every restriction a moderator can apply (RESTRICTIONS in src/trust/model.ts), end to end against a
 * real server with the Transparency Database submitter on (sandbox) pointed at a local fake:
 * each gets a 201 statement of reasons with every Art. 17(3) element, takes effect at once, shows
 * in the affected user's /api/trust/me, is on the verifiable statements export, and reaches the
 * (fake) database without personal data, its puid the case id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatementView, TdbStatus } from '../../src/trust/api-types.js';
import { RESTRICTIONS, type Restriction } from '../../src/trust/model.js';
import { tdbPuid } from '../../src/trust/tdb.js';
import { startFakeTdb, type FakeTdb } from '../support/fake-tdb.js';
import {
  createSpace,
  startTribune,
  whipUrlFor,
  type TestSpace,
  type TribuneHandle,
} from '../support/server.js';
import { ToneGenerator } from '../support/tone.js';
import {
  EXPLANATION,
  act,
  actionBody,
  addSpeaker,
  anon,
  expectArt17,
  failure,
  grant,
  notice,
  operatorHandle,
  outcome,
  person,
  raw,
  recordingSpace,
  trustMe,
  type Person,
} from '../support/trust.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient, WhipError } from '../support/whip-client.js';

describe('every restriction, applied by a moderator', () => {
  let server: TribuneHandle;
  let fake: FakeTdb;
  let admin: Person;
  let mod: Person;
  const whips: NodeWhipClient[] = [];
  /** What was decided, per restriction: the statement and the affected account. */
  const done = new Map<Restriction, { s: StatementView; affected: Person }>();
  /** Strings that must never reach the Transparency Database. */
  const personal = new Set<string>(['nora.notifier@example.org', 'Nora Notifier']);
  const remember = (...people: Person[]): void => {
    for (const p of people) {
      personal.add(p.handle);
      personal.add(p.id);
    }
  };

  beforeAll(async () => {
    fake = await startFakeTdb({ token: 'sandbox-token-123' });
    const opHandle = operatorHandle('act');
    server = await startTribune({
      env: {
        TRIBUNE_OPERATORS: opHandle,
        TRIBUNE_TDB_MODE: 'sandbox',
        TRIBUNE_TDB_URL: fake.url,
        TRIBUNE_TDB_TOKEN: fake.token,
        TRIBUNE_TDB_FLUSH_MS: '500',
        TRIBUNE_NOTICES_PER_ADDRESS_PER_HOUR: '10000',
      },
      readyTimeoutMs: 30_000,
    });
    admin = await person(server.url, 'Admin', opHandle);
    mod = await person(server.url, 'Moderator');
    await grant(admin.c, mod, 'moderator');
    remember(admin, mod);
  }, 60_000);

  afterAll(async () => {
    for (const w of whips) w.abruptClose();
    await server?.stop();
    await fake?.close();
  });

  const record = (r: Restriction, s: StatementView, affected: Person): void => {
    done.set(r, { s, affected });
  };
  const hostOf = (space: TestSpace): Person => ({
    c: space.hostClient,
    id: space.host.id,
    handle: space.host.handle,
  });

  it('mute-speaker and remove-speaker: in force when the call returns (timed)', async () => {
    const space = await createSpace(server.url, 'Live debate');
    const host = hostOf(space);
    const loud = await addSpeaker(server.url, space, 'loud');
    const rude = await addSpeaker(server.url, space, 'rude');
    remember(host, loud, rude);
    const a = anon(server.url);

    // The notice names the speaker by @handle and carries the notifier's address: neither may reach the database.
    const r1 = await notice(
      a,
      { kind: 'speaker', spaceId: space.id, userId: loud.id },
      {
        explanation: `${EXPLANATION} It is @${loud.handle}; write to me at nora.notifier@example.org.`,
      },
    );
    let t0 = performance.now();
    const mute = await act(mod.c, r1.caseId, 'mute-speaker');
    const muteMs = performance.now() - t0;
    console.log(`POST actions mute-speaker: ${muteMs.toFixed(1)} ms`);
    expect(muteMs).toBeLessThan(1000);
    expectArt17(mute, { restriction: 'mute-speaker', caseId: r1.caseId, facts: EXPLANATION });
    expect(mute.sourceType).toBe('SOURCE_ARTICLE_16');
    const p = await space.hostClient.participants(space.id);
    expect(p.members.find((m) => m.user.id === loud.id)).toMatchObject({
      hostMuted: true,
      unmuteLocked: true,
    });
    expect(await outcome(loud.c.muteSelf(space.id, false))).toBe('FORCE_MUTED');
    record('mute-speaker', mute, loud);

    const r2 = await notice(a, { kind: 'speaker', spaceId: space.id, userId: rude.id });
    t0 = performance.now();
    const remove = await act(mod.c, r2.caseId, 'remove-speaker');
    const removeMs = performance.now() - t0;
    console.log(`POST actions remove-speaker: ${removeMs.toFixed(1)} ms`);
    expect(removeMs).toBeLessThan(1000);
    expectArt17(remove, { restriction: 'remove-speaker', caseId: r2.caseId, facts: EXPLANATION });
    const p2 = await space.hostClient.participants(space.id);
    expect(p2.members.find((m) => m.user.id === rude.id)).toMatchObject({ blocked: true, role: 'listener' });
    const back = await outcome(rude.c.publishToken(space.id));
    console.log(`removed speaker asking for a publish token again: ${back}`);
    expect(['BLOCKED', 'FORBIDDEN']).toContain(back);
    record('remove-speaker', remove, rude);
  }, 60_000);

  it('end-space: the Space ends (timed, < 1 s), on a legal ground', async () => {
    const space = await createSpace(server.url, 'To be ended');
    const host = hostOf(space);
    remember(host);
    const r = await notice(anon(server.url), { kind: 'space', spaceId: space.id });
    const t0 = performance.now();
    const s = await act(mod.c, r.caseId, 'end-space', {
      ground: 'DECISION_GROUND_ILLEGAL_CONTENT',
      legalGround: '§130 StGB (incitement to hatred)',
      termsGround: undefined,
    });
    const ms = performance.now() - t0;
    console.log(`POST actions end-space: ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(1000);
    expectArt17(s, { restriction: 'end-space', caseId: r.caseId, facts: EXPLANATION, illegal: true });
    expect((await anon(server.url).space(space.id)).state).toBe('ended');
    record('end-space', s, host);
  }, 30_000);

  it('hide-space, label-space, geo-restrict-space (own initiative) and remove-replay on a live Space', async () => {
    const space = await createSpace(server.url, 'Moderated in place');
    const host = hostOf(space);
    remember(host);
    const open = () =>
      mod.c.request<{ id: string; source: string }>('POST', '/api/trust/cases', {
        subject: { kind: 'space', spaceId: space.id },
        category: 'STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS',
      });

    const listed = async () => (await anon(server.url).listSpaces()).spaces.some((x) => x.id === space.id);
    expect(await listed()).toBe(true);
    const c1 = await open();
    expect(c1.source).toBe('own-initiative');
    const hide = await act(mod.c, c1.id, 'hide-space');
    expectArt17(hide, {
      restriction: 'hide-space',
      caseId: c1.id,
      facts: 'Found by our moderators on their own initiative.',
    });
    expect(hide.sourceType).toBe('SOURCE_VOLUNTARY');
    expect(await listed()).toBe(false);
    // Hidden from listings, not gone: the page still answers.
    expect((await anon(server.url).space(space.id)).state).toBe('live');
    record('hide-space', hide, host);

    const c2 = await open();
    const label = await act(mod.c, c2.id, 'label-space');
    expectArt17(label, { restriction: 'label-space', caseId: c2.id });
    expect(label.label).toBe('Contains disputed claims');
    expect((await anon(server.url).space(space.id)).label).toBe('Contains disputed claims');
    record('label-space', label, host);

    const c3 = await open();
    const geo = await act(mod.c, c3.id, 'geo-restrict-space');
    expectArt17(geo, { restriction: 'geo-restrict-space', caseId: c3.id });
    expect(geo.countries).toEqual(['DE', 'US']);
    // Only EU countries are in the territorial scope (US is not); the edge itself: geo-restriction.test.ts.
    expect(geo.territorialScope).toEqual(['DE']);
    record('geo-restrict-space', geo, host);

    // remove-replay on a Space that has no replay (still live): not applicable.
    const c4 = await open();
    const e = await failure(act(mod.c, c4.id, 'remove-replay'));
    expect([e.status, e.code]).toEqual([409, 'ACTION_NOT_APPLICABLE']);
    // Live-only restrictions do not fit a whole Space / a non-speaker subject.
    expect(await outcome(act(mod.c, c4.id, 'mute-speaker'))).toBe('ACTION_NOT_APPLICABLE');
  }, 30_000);

  it('remove-clip and remove-replay on a Space with recorded audio', async () => {
    const { space, whip } = await recordingSpace(server.url, 'Recorded show', 4);
    whips.push(whip);
    const host = hostOf(space);
    remember(host);
    const clip = await space.hostClient.createClip(space.id, { durationSec: 2 });
    expect((await anon(server.url).clip(clip.id)).id).toBe(clip.id);

    const rc = await notice(
      anon(server.url),
      { kind: 'clip', clipId: clip.id },
      { category: 'STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS' },
    );
    const s = await act(mod.c, rc.caseId, 'remove-clip');
    expectArt17(s, { restriction: 'remove-clip', caseId: rc.caseId, facts: EXPLANATION });
    expect(s.category).toBe('STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS');
    const gone = await failure(anon(server.url).clip(clip.id));
    expect([gone.status, gone.code]).toEqual([404, 'CLIP_NOT_FOUND']);
    record('remove-clip', s, host);

    const ended = await space.hostClient.end(space.id);
    whip.abruptClose();
    expect(ended.replay.state).toBe('available');
    const rr = await notice(anon(server.url), { kind: 'space', spaceId: space.id, startSec: 0, endSec: 2 });
    expect(rr.evidence).not.toBeNull();
    const t0 = performance.now();
    const s2 = await act(mod.c, rr.caseId, 'remove-replay');
    console.log(`POST actions remove-replay: ${(performance.now() - t0).toFixed(1)} ms`);
    expectArt17(s2, { restriction: 'remove-replay', caseId: rr.caseId, facts: 'Reported range: 0–2 s' });
    expect(s2.facts).toMatch(/kept as evidence/);
    const after = await anon(server.url).space(space.id);
    expect(after.replay.state).not.toBe('available');
    console.log(`replay state after remove-replay: ${after.replay.state}`);
    record('remove-replay', s2, host);
  }, 60_000);

  it('warn-account, suspend-account and terminate-account', async () => {
    const warned = await person(server.url, 'warned');
    const suspended = await person(server.url, 'suspended');
    const terminated = await person(server.url, 'terminated');
    remember(warned, suspended, terminated);
    const a = anon(server.url);

    const rw = await notice(
      a,
      { kind: 'account', userId: warned.id },
      { category: 'STATEMENT_CATEGORY_SCAMS_AND_FRAUD' },
    );
    const w = await act(mod.c, rw.caseId, 'warn-account');
    expectArt17(w, { restriction: 'warn-account', caseId: rw.caseId, facts: EXPLANATION });
    const wm = await trustMe(warned.c);
    expect(wm.account).toMatchObject({ state: 'ok', strikes: 1 });
    expect(await outcome(warned.c.createSpace({ title: 'still allowed' }))).toBe('ok');
    record('warn-account', w, warned);

    const rs = await notice(a, { kind: 'account', userId: suspended.id });
    const s = await act(mod.c, rs.caseId, 'suspend-account');
    expectArt17(s, {
      restriction: 'suspend-account',
      caseId: rs.caseId,
      facts: EXPLANATION,
      suspension: true,
    });
    expect(Date.parse(s.endsAt!) - Date.parse(s.at)).toBe(48 * 3_600_000);
    const e = await failure(suspended.c.createSpace({ title: 'not allowed' }));
    expect([e.status, e.code]).toEqual([403, 'ACCOUNT_SUSPENDED']);
    const sm = await trustMe(suspended.c);
    expect(sm.account.state).toBe('suspended');
    expect(sm.account.until).toBe(s.endsAt);
    expect(sm.decisions.map((d) => d.id)).toContain(s.id);
    record('suspend-account', s, suspended);

    const rt = await notice(a, { kind: 'account', userId: terminated.id });
    const t = await act(mod.c, rt.caseId, 'terminate-account');
    expectArt17(t, { restriction: 'terminate-account', caseId: rt.caseId, facts: EXPLANATION });
    expect(t.endsAt).toBeNull();
    const te = await failure(terminated.c.createSpace({ title: 'not allowed' }));
    expect([te.status, te.code]).toEqual([403, 'ACCOUNT_SUSPENDED']);
    const tm = await trustMe(terminated.c);
    expect(tm.account.state).toBe('terminated');
    expect(tm.decisions[0]?.id).toBe(t.id);
    record('terminate-account', t, terminated);
  }, 30_000);

  it('a suspended speaker leaves every live stage at once and cannot publish again with a token they hold', async () => {
    const space = await createSpace(server.url, 'Suspension on stage');
    const speaker = await addSpeaker(server.url, space, 'onstage');
    remember(speaker);
    const whip = new NodeWhipClient({ record: false });
    whips.push(whip);
    const { token } = await speaker.c.publishToken(space.id);
    await whip.publish({
      whipUrl: whipUrlFor(server.url, space.id, 'On stage'),
      token,
      source: new ToneGenerator({ freqHz: 550, amplitude: 0.3 }),
      waitConnected: true,
    });
    const connected = async (): Promise<boolean | undefined> =>
      (await space.hostClient.participants(space.id)).members.find((m) => m.user.id === speaker.id)
        ?.connected;
    await waitFor('the speaker connected', async () => (await connected()) === true, { timeoutMs: 10_000 });
    const spare = (await speaker.c.publishToken(space.id)).token;
    const r = await notice(anon(server.url), { kind: 'account', userId: speaker.id });
    await act(mod.c, r.caseId, 'suspend-account', { durationHours: 2 });
    expect(await connected()).toBe(false);
    const again = new NodeWhipClient({ record: false });
    whips.push(again);
    const err = await again
      .publish({
        whipUrl: whipUrlFor(server.url, space.id, 'On stage'),
        token: spare,
        source: new ToneGenerator({ freqHz: 550, amplitude: 0.3 }),
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(WhipError);
    expect([(err as WhipError).status, (err as WhipError).code]).toEqual([403, 'ACCOUNT_SUSPENDED']);
  });

  it('every restriction was covered and each statement is in the affected user’s /api/trust/me', async () => {
    expect([...done.keys()].sort()).toEqual([...RESTRICTIONS].sort());
    for (const [r, { s, affected }] of done) {
      const me = await trustMe(affected.c);
      const mine = me.decisions.find((d) => d.id === s.id);
      expect(mine, r).toBeDefined();
      expect(mine!.restriction).toBe(r);
      expect(mine!.canComplain, r).toBe(true);
    }
  });

  it('the export verifies (application/x-ndjson) and holds every statement', async () => {
    const res = await raw(server.url, '/api/trust/statements/export', { as: admin.c });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const text = await res.text();
    const lines = text.trimEnd().split('\n');
    const ids = lines.map((l) => (JSON.parse(l) as { id: string }).id);
    for (const { s } of done.values()) expect(ids).toContain(s.id);
    const v = await raw(server.url, '/api/trust/statements/verify', {
      method: 'POST',
      body: text,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(v.status).toBe(200);
    const body = (await v.json()) as { ok: boolean; count: number; failure: unknown; head: string };
    expect(body).toMatchObject({ ok: true, count: lines.length, failure: null });
    expect(body.head).toBe((JSON.parse(lines.at(-1)!) as { hash: string }).hash);
  });

  it('the Transparency Database receives each statement, puid = case id, audio, no personal data', async () => {
    const t0 = Date.now();
    await waitFor(
      'every statement in the fake Transparency Database',
      () => [...done.values()].every(({ s }) => fake.stored.has(tdbPuid(s.caseId))),
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    console.log(
      `Transparency Database had all ${done.size} statements ${Date.now() - t0} ms after the last action (flush every 0.5 s)`,
    );
    for (const [r, { s }] of done) {
      const p = fake.stored.get(tdbPuid(s.caseId))!;
      expect(p.puid, r).toBe(s.caseId);
      expect(p.content_type, r).toContain('CONTENT_TYPE_AUDIO');
      expect(p.category, r).toBe(s.category);
      const { uuid: _u, created_at: _c, ...sent } = p;
      const json = JSON.stringify(sent);
      for (const secret of personal)
        expect(json.includes(secret), `${r}: ${secret} sent to the database`).toBe(false);
    }
    // Every request was authenticated and accepted.
    expect(fake.posts().every((q) => q.auth === `Bearer ${fake.token}` && q.status === 201)).toBe(true);
    // The outbox drains (statements of other tests in this file included) and nothing failed.
    let st: TdbStatus | undefined;
    await waitFor(
      'the outbox drained',
      async () => {
        st = await admin.c.request<TdbStatus>('GET', '/api/trust/tdb');
        return st.pending === 0;
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    expect(st).toMatchObject({ mode: 'sandbox', failed: 0, pending: 0 });
    expect(st!.sent).toBeGreaterThanOrEqual(done.size);
  }, 45_000);

  it('an action body is checked against its restriction (ACTION_INVALID)', async () => {
    const u = await person(server.url, 'x');
    const r = await notice(anon(server.url), { kind: 'account', userId: u.id });
    const cases: [string, Parameters<typeof actionBody>[1]][] = [
      ['suspend without duration', { restriction: 'suspend-account', durationHours: undefined }],
      ['illegal without legal ground', { ground: 'DECISION_GROUND_ILLEGAL_CONTENT' }],
      ['short explanation', { explanation: 'bad' }],
    ];
    for (const [what, over] of cases) {
      const body = { ...actionBody('warn-account'), ...over };
      expect(await outcome(mod.c.request('POST', `/api/trust/cases/${r.caseId}/actions`, body)), what).toBe(
        'ACTION_INVALID',
      );
    }
    const geo = await failure(
      mod.c.request('POST', `/api/trust/cases/${r.caseId}/actions`, actionBody('geo-restrict-space')),
    );
    expect(geo.code).toBe('ACTION_NOT_APPLICABLE'); // an account case has no Space
  });
});
