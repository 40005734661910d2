/**
 * Notices and cases end to end (EU DSA Art. 16, 17, 20, 22, 23, 15) against one real server: a
 * logged-out notice on a live Space with recorded audio (a WHIP speaker publishing a tone), following
 * the case (key, email), the moderators' queue and evidence, trusted-flagger priority, notes,
 * unfounded notices pausing the notifier, complaints and reversals, and the transparency report.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  CaseFollowView,
  CaseSummary,
  ComplaintView,
  ModeratorCaseView,
  Receipt,
  StatementView,
  TransparencyReport,
} from '../../src/trust/api-types.js';
import { startTribune, type TestSpace, type TribuneHandle } from '../support/server.js';
import {
  EXPLANATION,
  act,
  addSpeaker,
  anon,
  failure,
  followByKey,
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
import type { NodeWhipClient } from '../support/whip-client.js';

describe('notices, cases, complaints and the report', () => {
  let server: TribuneHandle;
  let admin: Person;
  let mod1: Person;
  let mod2: Person;
  let flagger: Person;
  let space: TestSpace;
  let whip: NodeWhipClient;
  let receipt: Receipt;
  const from = new Date(Date.now() - 3_600_000).toISOString();
  /** Counted for the transparency report. */
  const sent = { notices: 0, flagger: 0, upheld: 0, reversals: 0, complaints: 0 };

  const queue = (who: Person, status = 'open') =>
    who.c.request<CaseSummary[]>('GET', `/api/trust/queue?status=${status}`);
  const full = (who: Person, id: string) =>
    who.c.request<ModeratorCaseView>('GET', `/api/trust/cases/${id}/full`);
  const counted = async <T>(p: Promise<T>, tf = false): Promise<T> => {
    const r = await p;
    sent.notices++;
    if (tf) sent.flagger++;
    return r;
  };

  beforeAll(async () => {
    const opHandle = operatorHandle('flow');
    server = await startTribune({
      env: {
        TRIBUNE_OPERATORS: opHandle,
        TRIBUNE_NOTICES_PER_ADDRESS_PER_HOUR: '10000',
        TRIBUNE_NOTICES_PER_ACCOUNT_PER_HOUR: '10000',
      },
    });
    admin = await person(server.url, 'Admin', opHandle);
    [mod1, mod2, flagger] = await Promise.all([
      person(server.url, 'Mod One'),
      person(server.url, 'Mod Two'),
      person(server.url, 'Flagger'),
    ]);
    await grant(admin.c, mod1, 'moderator');
    await grant(admin.c, mod2, 'moderator');
    await grant(admin.c, flagger, 'trusted-flagger', 'HateAid e.V.');
    ({ space, whip } = await recordingSpace(server.url, 'Live with audio', 4));
  }, 90_000);

  afterAll(async () => {
    whip?.abruptClose();
    await server?.stop();
  });

  it('a logged-out notice on the last 30 s of a live Space gets a receipt with the kept range', async () => {
    receipt = await counted(notice(anon(server.url), { kind: 'space', spaceId: space.id, lastSec: 30 }));
    expect(receipt.caseId).toMatch(/^case_[A-Za-z0-9]+$/);
    expect(receipt.followUrl).toBe(`/cases/${receipt.caseId}?key=${receipt.followKey}`);
    expect(receipt.followKey.length).toBeGreaterThanOrEqual(20);
    expect(receipt.evidence).not.toBeNull();
    const { startSec, endSec } = receipt.evidence!;
    console.log(`evidence kept for lastSec 30 after ~4 s of audio: ${startSec}–${endSec} s`);
    expect(startSec).toBeGreaterThanOrEqual(0);
    expect(endSec).toBeGreaterThan(startSec);
    expect(endSec - startSec).toBeLessThanOrEqual(30);
  });

  it('follows the case by key; a wrong or forged key, or another case id, is 404 CASE_NOT_FOUND', async () => {
    const v = await followByKey(anon(server.url), receipt);
    expect(v).toMatchObject({
      caseId: receipt.caseId,
      viewer: 'notifier',
      status: 'open',
      outcome: 'pending',
    });
    expect(v.subject).toMatchObject({ kind: 'space', spaceId: space.id, spaceState: 'live' });
    // The follow view never names the notifier.
    expect(JSON.stringify(v)).not.toContain('nora.notifier@example.org');
    for (const key of [
      receipt.followKey.slice(0, -1) + (receipt.followKey.endsWith('A') ? 'B' : 'A'),
      randomBytes(18).toString('base64url'),
      '',
    ]) {
      const e = await failure(followByKey(anon(server.url), receipt, key));
      expect([e.status, e.code], key).toEqual([404, 'CASE_NOT_FOUND']);
    }
    const forgedId = `case_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
    const e = await failure(
      anon(server.url).request('GET', `/api/trust/cases/${forgedId}?key=${receipt.followKey}`),
    );
    expect([e.status, e.code]).toEqual([404, 'CASE_NOT_FOUND']);
    // A signed-in stranger is no better off.
    const stranger = await person(server.url, 'stranger');
    expect(await outcome(stranger.c.request('GET', `/api/trust/cases/${receipt.caseId}`))).toBe(
      'CASE_NOT_FOUND',
    );
  });

  it('follows the case by email (POST /api/trust/follow), and only with that email', async () => {
    const a = anon(server.url);
    const v = await a.request<CaseFollowView>('POST', '/api/trust/follow', {
      caseId: receipt.caseId,
      email: 'Nora.Notifier@Example.org',
    });
    expect(v).toMatchObject({ caseId: receipt.caseId, viewer: 'notifier' });
    for (const email of ['someone@example.org', 'nora.notifier@example.com']) {
      const e = await failure(a.request('POST', '/api/trust/follow', { caseId: receipt.caseId, email }));
      expect([e.status, e.code]).toEqual([404, 'CASE_NOT_FOUND']);
    }
  });

  it('a moderator sees the case in the queue and in full, and plays the kept evidence', async () => {
    const q = await queue(mod1);
    const item = q.find((c) => c.id === receipt.caseId);
    expect(item).toMatchObject({ source: 'notice', status: 'open', priority: 1 });
    const f = await full(mod1, receipt.caseId);
    expect(f.notice).toMatchObject({
      explanation: EXPLANATION,
      email: 'nora.notifier@example.org',
      notifier: null,
      trustedFlagger: null,
    });
    expect(f.live).toBe(true);
    expect(f.evidence).toHaveLength(1);
    const ev = f.evidence[0];
    expect(ev).toMatchObject({ startSec: receipt.evidence!.startSec, endSec: receipt.evidence!.endSec });
    expect(ev.copyStartSec).toBeLessThanOrEqual(ev.startSec);
    expect(ev.url).toBe(`/api/trust/evidence/${ev.id}/clip.m3u8`);
    const pl = await raw(server.url, ev.url, { as: mod1.c });
    expect(pl.status).toBe(200);
    expect(pl.headers.get('content-type')).toMatch(/mpegurl/);
    expect(pl.headers.get('cache-control')).toMatch(/no-store/);
    const text = await pl.text();
    expect(text).toContain('#EXT-X-ENDLIST');
    const seg = /^(seg\/\d+\.m4s)$/m.exec(text)?.[1];
    expect(seg, text).toBeDefined();
    const base = ev.url.slice(0, ev.url.lastIndexOf('/') + 1);
    for (const file of ['init.mp4', seg!]) {
      const r = await raw(server.url, base + file, { as: mod1.c });
      expect(r.status, file).toBe(200);
      expect((await r.arrayBuffer()).byteLength, file).toBeGreaterThan(0);
    }
    // Not for anyone else.
    expect((await raw(server.url, ev.url)).status).toBe(401);
    expect((await raw(server.url, ev.url, { as: flagger.c })).status).toBe(403);
  });

  it('a trusted flagger’s notice after 20 ordinary ones is at the top of the queue within 1 s', async () => {
    const a = anon(server.url);
    for (let i = 0; i < 20; i++)
      await counted(
        notice(
          a,
          { kind: 'space', spaceId: space.id },
          { email: `crowd${i}@example.org`, name: `Crowd ${i}` },
        ),
      );
    const t0 = performance.now(); // from sending the notice
    const r = await counted(
      notice(
        flagger.c,
        { kind: 'space', spaceId: space.id },
        { name: 'HateAid desk', email: 'desk@hateaid.example' },
      ),
      true,
    );
    let top: CaseSummary | undefined;
    while (performance.now() - t0 < 5_000) {
      top = (await queue(mod1))[0];
      if (top?.id === r.caseId) break;
    }
    const ms = performance.now() - t0;
    console.log(
      `trusted flagger's notice at the top of the queue after ${ms.toFixed(1)} ms (20 ordinary notices before it)`,
    );
    expect(top?.id).toBe(r.caseId);
    expect(top).toMatchObject({ source: 'trusted-flagger', priority: 3 });
    expect(ms).toBeLessThan(1000);
    const f = await full(mod1, r.caseId);
    expect(f.notice?.trustedFlagger).toBe('HateAid e.V.');
    expect(f.notice?.notifier?.id).toBe(flagger.id);
  });

  it('notes: the notifier’s follow view shows only the public ones, unsigned', async () => {
    const post = (text: string, visibility: 'internal' | 'public') =>
      mod1.c.request('POST', `/api/trust/cases/${receipt.caseId}/notes`, { text, visibility });
    await post('Internal: the host has two earlier warnings.', 'internal');
    await post('We are reviewing the audio you reported.', 'public');
    const v = await followByKey(anon(server.url), receipt);
    expect(v.publicNotes.map((n) => n.text)).toEqual(['We are reviewing the audio you reported.']);
    expect(v.publicNotes[0].author).toBeNull();
    expect(JSON.stringify(v)).not.toContain('earlier warnings');
    const f = await full(mod2, receipt.caseId);
    expect(f.notes.map((n) => [n.visibility, n.author?.id])).toEqual([
      ['internal', mod1.id],
      ['public', mod1.id],
    ]);
  });

  it('three manifestly unfounded notices pause the notifier (4th: 403 NOTIFIER_PAUSED)', async () => {
    const a = anon(server.url);
    const email = 'serial.reporter@example.org';
    for (let i = 0; i < 3; i++) {
      const r = await counted(notice(a, { kind: 'space', spaceId: space.id }, { email }));
      await mod1.c.request('POST', `/api/trust/cases/${r.caseId}/resolve`, {
        text: 'Nothing against the rules here.',
        unfounded: true,
      });
    }
    const e = await failure(notice(a, { kind: 'space', spaceId: space.id }, { email }));
    expect([e.status, e.code]).toEqual([403, 'NOTIFIER_PAUSED']);
    // Another notifier is not affected.
    expect(
      await outcome(counted(notice(a, { kind: 'space', spaceId: space.id }, { email: 'fair@example.org' }))),
    ).toBe('ok');
  });

  it('complaints: the affected user complains, another moderator upholds, the restriction is lifted', async () => {
    const speaker = await addSpeaker(server.url, space, 'complainer');
    const notifier = await person(server.url, 'notifier');
    const r = await counted(notice(notifier.c, { kind: 'speaker', spaceId: space.id, userId: speaker.id }));
    const s = await act(mod1.c, r.caseId, 'remove-speaker');
    const blocked = async () =>
      (await space.hostClient.participants(space.id)).members.find((m) => m.user.id === speaker.id)?.blocked;
    expect(await blocked()).toBe(true);

    // The affected user sees it and may complain.
    const me = await trustMe(speaker.c);
    expect(me.decisions.find((d) => d.id === s.id)?.canComplain).toBe(true);
    const k = await speaker.c.request<ComplaintView>('POST', `/api/trust/cases/${r.caseId}/complaints`, {
      text: 'I only quoted what someone else said, to criticise it.',
      statementId: s.id,
    });
    sent.complaints++;
    expect(k).toMatchObject({ caseId: r.caseId, statementId: s.id, by: 'affected', state: 'open' });
    expect((await full(mod2, r.caseId)).openComplaints).toBe(1);
    // Pending: no second complaint offered, in /me and on the case page; the queue counts it once.
    expect((await trustMe(speaker.c)).decisions.find((d) => d.id === s.id)?.canComplain).toBe(false);
    const asAffected = await speaker.c.request<{ statements: { id: string; canComplain: boolean }[] }>(
      'GET',
      `/api/trust/cases/${r.caseId}`,
    );
    expect(asAffected.statements.find((x) => x.id === s.id)?.canComplain).toBe(false);
    const listed = (
      await mod2.c.request<{ id: string; openComplaints: number }[]>('GET', '/api/trust/queue?status=open')
    ).find((x) => x.id === r.caseId);
    expect(listed?.openComplaints).toBe(1);

    // Art. 20(6): not the moderator who decided.
    const same = await failure(
      mod1.c.request('POST', `/api/trust/complaints/${k.id}/decide`, {
        uphold: true,
        text: 'I was wrong about this one.',
      }),
    );
    expect([same.status, same.code]).toEqual([409, 'SAME_DECIDER']);
    const decided = await mod2.c.request<ComplaintView>('POST', `/api/trust/complaints/${k.id}/decide`, {
      uphold: true,
      text: 'The quote was used to criticise it: no violation.',
    });
    sent.upheld++;
    sent.reversals++;
    expect(decided).toMatchObject({
      state: 'upheld',
      decisionText: 'The quote was used to criticise it: no violation.',
    });
    expect(
      await outcome(
        mod2.c.request('POST', `/api/trust/complaints/${k.id}/decide`, {
          uphold: false,
          text: 'second thoughts here',
        }),
      ),
    ).toBe('COMPLAINT_DECIDED');

    expect(await blocked()).toBe(false);
    const f = await full(mod2, r.caseId);
    expect(f.outcome).toBe('reversed');
    const rev = f.statements.find((x: StatementView) => x.reverses === s.id);
    expect(rev).toBeDefined();
    expect(rev!.restriction).toBe('remove-speaker');
    expect(rev!.summary).toMatch(/reversed/);

    // Both sides see it: the notifier (signed in, no key needed) and the affected user.
    const nv = await notifier.c.request<CaseFollowView>('GET', `/api/trust/cases/${r.caseId}`);
    expect(nv).toMatchObject({ viewer: 'notifier', outcome: 'reversed' });
    expect(nv.statements.map((x) => x.reverses)).toContain(s.id);
    expect(nv.complaints).toEqual([]); // the affected user's complaint is not the notifier's business
    const av = await speaker.c.request<CaseFollowView>('GET', `/api/trust/cases/${r.caseId}`);
    expect(av).toMatchObject({ viewer: 'affected', outcome: 'reversed' });
    expect(av.complaints.map((x) => x.state)).toEqual(['upheld']);
    const me2 = await trustMe(speaker.c);
    expect(me2.decisions.find((d) => d.reverses === s.id)).toBeDefined();
    expect(me2.decisions.find((d) => d.id === s.id)?.canComplain).toBe(false);
    expect((await trustMe(notifier.c)).notices.find((n) => n.caseId === r.caseId)?.outcome).toBe('reversed');
  });

  it('a notifier complains of inaction after a no-action decision; strangers may not complain', async () => {
    const a = anon(server.url);
    const r = await counted(
      notice(a, { kind: 'space', spaceId: space.id }, { email: 'inaction@example.org' }),
    );
    expect(
      await outcome(
        a.request('POST', `/api/trust/cases/${r.caseId}/complaints`, {
          text: 'Nothing was decided yet, hurry.',
          key: r.followKey,
        }),
      ),
    ).toBe('COMPLAINT_NOT_ALLOWED');
    await mod1.c.request('POST', `/api/trust/cases/${r.caseId}/resolve`, {
      text: 'Within the rules.',
      unfounded: false,
    });
    const v = await followByKey(a, r);
    expect(v.outcome).toBe('no-action');
    expect(v.canComplainUntil).not.toBeNull();
    const k = await a.request<ComplaintView>('POST', `/api/trust/cases/${r.caseId}/complaints`, {
      text: 'The speaker clearly incites violence at 1:20.',
      key: r.followKey,
    });
    sent.complaints++;
    expect(k).toMatchObject({ by: 'notifier', statementId: null, state: 'open' });
    expect((await followByKey(a, r)).complaints.map((x) => x.id)).toEqual([k.id]);
    // A notifier who lost the link complains with the case number and the email they gave (the
    // open complaint is the same one); a wrong address may not.
    const byEmail = await anon(server.url).request<ComplaintView>(
      'POST',
      `/api/trust/cases/${r.caseId}/complaints`,
      {
        text: 'Same complaint, from the follow-by-email page.',
        email: 'INACTION@example.org',
      },
    );
    expect(byEmail.id).toBe(k.id);
    expect(
      await outcome(
        anon(server.url).request('POST', `/api/trust/cases/${r.caseId}/complaints`, {
          text: 'Not my case but let me try.',
          email: 'someone@example.org',
        }),
      ),
    ).toBe('COMPLAINT_NOT_ALLOWED');

    // Someone else's case: a signed-in stranger, or a wrong key.
    const stranger = await person(server.url, 'stranger');
    const e = await failure(
      stranger.c.request('POST', `/api/trust/cases/${r.caseId}/complaints`, {
        text: 'I also want to complain here.',
      }),
    );
    expect([e.status, e.code]).toEqual([403, 'COMPLAINT_NOT_ALLOWED']);
    expect(
      await outcome(
        a.request('POST', `/api/trust/cases/${r.caseId}/complaints`, {
          text: 'I also want to complain here.',
          key: 'not-the-key',
        }),
      ),
    ).toBe('COMPLAINT_NOT_ALLOWED');
    // Decided by another moderator (rejected).
    const d = await mod2.c.request<ComplaintView>('POST', `/api/trust/complaints/${k.id}/decide`, {
      uphold: false,
      text: 'Reviewed again: no incitement.',
    });
    expect(d.state).toBe('rejected');
  });

  it('the transparency report and its CSV reflect the counts', async () => {
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const q = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
    const r = await mod1.c.request<TransparencyReport>('GET', `/api/trust/report?${q}`);
    console.log(
      `report: ${JSON.stringify({ notices: r.notices.total, tf: r.notices.trustedFlagger, complaints: r.complaints, paused: r.suspensions.notifiersPaused })}`,
    );
    expect(r.notices.total).toBe(sent.notices);
    expect(r.notices.trustedFlagger).toBe(sent.flagger);
    expect(r.notices.byCategory.reduce((n, c) => n + c.total, 0)).toBe(sent.notices);
    expect(r.complaints).toMatchObject({
      total: sent.complaints,
      upheld: sent.upheld,
      rejected: 1,
      open: 0,
      reversals: sent.reversals,
    });
    expect(r.suspensions.notifiersPaused).toBe(1);
    expect(r.automation.statements).toBe(2); // the removal and its reversal
    const csv = await raw(server.url, `/api/trust/report.csv?${q}`, { as: mod1.c });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const text = await csv.text();
    const table = (name: string): string[] => {
      const lines = text.split('\r\n');
      const i = lines.indexOf(`# table: ${name}`);
      return lines.slice(i + 1, i + 3);
    };
    expect(table('notices_total')[1].split(',').slice(0, 2)).toEqual([
      String(sent.notices),
      String(sent.flagger),
    ]);
    const [head, row] = table('complaints');
    const cells = Object.fromEntries(head.split(',').map((h, i) => [h, row.split(',')[i]]));
    expect(cells).toMatchObject({ received: String(sent.complaints), upheld: '1', reversals: '1' });
    // Anyone else: refused.
    expect(await outcome(flagger.c.request('GET', `/api/trust/report?${q}`))).toBe('MODERATOR_REQUIRED');
  });
});
