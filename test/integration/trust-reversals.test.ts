/**
 * Reversals (Art. 20): every restriction that can be undone is undone by an upheld complaint, each
 * undoing only what its own statement did — a platform mute the host cannot lift before, lifted
 * after the Space ended; a Space restriction from a speaker's case addressed to (and complained
 * about by) the host; one strike of two; a suspension. A reversed statement takes no second
 * complaint, and guessing a notifier's email address is bounded per case.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpaceView } from '../../src/api/schemas.js';
import type { ComplaintView, StatementView, TrustMe } from '../../src/trust/api-types.js';
import { createSpace, startTribune, type TribuneHandle } from '../support/server.js';
import {
  act,
  addSpeaker,
  anon,
  grant,
  notice,
  operatorHandle,
  outcome,
  person,
  trustMe,
  type Person,
} from '../support/trust.js';

describe('reversals undo what their statement did', () => {
  let server: TribuneHandle;
  let mod1: Person;
  let mod2: Person;

  beforeAll(async () => {
    const admin = operatorHandle('rev');
    server = await startTribune({ env: { TRIBUNE_OPERATORS: admin } });
    const a = await person(server.url, 'Admin', admin);
    mod1 = await person(server.url, 'Mod one');
    mod2 = await person(server.url, 'Mod two');
    await grant(a.c, mod1, 'moderator');
    await grant(a.c, mod2, 'moderator');
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  /** The affected user complains about `s`; moderator 2 upholds it. */
  async function reverse(who: Person, s: StatementView): Promise<void> {
    const k = await who.c.request<ComplaintView>('POST', `/api/trust/cases/${s.caseId}/complaints`, {
      text: 'Please look again at the whole context of this.',
      statementId: s.id,
    });
    await mod2.c.request('POST', `/api/trust/complaints/${k.id}/decide`, {
      uphold: true,
      text: 'On review the content did not break the rules.',
    });
  }

  it('a platform mute holds against the host, and is lifted after the Space ended', async () => {
    const space = await createSpace(server.url, 'Muted');
    const speaker = await addSpeaker(server.url, space, 'muted');
    const r = await notice(anon(server.url), { kind: 'speaker', spaceId: space.id, userId: speaker.id });
    const s = await act(mod1.c, r.caseId, 'mute-speaker');
    // Neither the host nor the speaker can lift it; moving them off stage and back does not either.
    expect(await outcome(space.hostClient.mute(space.id, speaker.id, { muted: false }))).toBe('FORBIDDEN');
    expect(await outcome(speaker.c.muteSelf(space.id, false))).toBe('FORCE_MUTED');
    await space.hostClient.setRole(space.id, speaker.id, 'listener');
    await space.hostClient.setRole(space.id, speaker.id, 'speaker');
    const held = (await space.hostClient.participants(space.id)).members.find(
      (m) => m.user.id === speaker.id,
    );
    expect(held).toMatchObject({ hostMuted: true, unmuteLocked: true });
    // The Space ends; the complaint is upheld afterwards: the reversal still goes through.
    await space.end();
    await reverse(speaker, s);
    const me = await trustMe(speaker.c);
    expect(me.decisions.find((d) => d.reverses === s.id)).toBeTruthy();
    const m = (await space.hostClient.participants(space.id)).members.find((x) => x.user.id === speaker.id);
    expect(m).toMatchObject({ hostMuted: false, unmuteLocked: false });
  });

  it("a Space restriction from a speaker's case is the host's to complain about; lifting one leaves the other", async () => {
    const space = await createSpace(server.url, 'Hidden and labelled');
    const speaker = await addSpeaker(server.url, space, 'reported');
    const r = await notice(anon(server.url), { kind: 'speaker', spaceId: space.id, userId: speaker.id });
    const hide = await act(mod1.c, r.caseId, 'hide-space');
    const label = await act(mod1.c, r.caseId, 'label-space');
    const hostId = space.host.id;
    // Addressed to the host: in their /me, not the speaker's; the speaker cannot complain about it.
    expect((await trustMe(space.hostClient)).decisions.map((d) => d.id)).toEqual(
      expect.arrayContaining([hide.id, label.id]),
    );
    expect((await trustMe(speaker.c)).decisions.map((d) => d.id)).not.toContain(hide.id);
    expect(
      await outcome(
        speaker.c.request('POST', `/api/trust/cases/${r.caseId}/complaints`, {
          text: 'Not even my Space, but let me try.',
          statementId: hide.id,
        }),
      ),
    ).toBe('COMPLAINT_NOT_ALLOWED');
    const listed = async (): Promise<boolean> =>
      (await anon(server.url).listSpaces('live')).spaces.some((x) => x.id === space.id);
    expect(await listed()).toBe(false);
    // A second case hides it too: lifting the first leaves it hidden, lifting both shows it.
    const r2 = await notice(anon(server.url), { kind: 'space', spaceId: space.id });
    const hide2 = await act(mod1.c, r2.caseId, 'hide-space');
    const host: Person = { c: space.hostClient, id: hostId, handle: space.host.handle };
    await reverse(host, hide);
    expect(await listed()).toBe(false);
    await reverse(host, hide2);
    expect(await listed()).toBe(true);
    // The label (its own statement) stays until its own reversal.
    expect((await anon(server.url).request<SpaceView>('GET', `/api/spaces/${space.id}`)).label).toBe(
      'Contains disputed claims',
    );
    // A reversed statement takes no second complaint.
    expect(
      await outcome(
        space.hostClient.request('POST', `/api/trust/cases/${r.caseId}/complaints`, {
          text: 'Once more, with feeling.',
          statementId: hide.id,
        }),
      ),
    ).toBe('COMPLAINT_DECIDED');
    await reverse(host, label);
    expect((await anon(server.url).request<SpaceView>('GET', `/api/spaces/${space.id}`)).label).toBeNull();
  });

  it('one strike of two is lifted; a suspension is lifted; terminations too', async () => {
    const user = await person(server.url, 'striker');
    const r1 = await notice(anon(server.url), { kind: 'account', userId: user.id });
    const r2 = await notice(anon(server.url), { kind: 'account', userId: user.id });
    const w1 = await act(mod1.c, r1.caseId, 'warn-account');
    await act(mod1.c, r2.caseId, 'warn-account');
    expect((await trustMe(user.c)).account.strikes).toBe(2);
    await reverse(user, w1);
    expect((await trustMe(user.c)).account.strikes).toBe(1);

    const r3 = await notice(anon(server.url), { kind: 'account', userId: user.id });
    const sus = await act(mod1.c, r3.caseId, 'suspend-account', { durationHours: 24 });
    expect(await outcome(user.c.createSpace({ title: 'blocked' }))).toBe('ACCOUNT_SUSPENDED');
    await reverse(user, sus);
    const me: TrustMe = await trustMe(user.c);
    expect(me.account.state).toBe('ok');
    expect(await outcome(user.c.createSpace({ title: 'allowed again' }))).toBe('ok');

    const r4 = await notice(anon(server.url), { kind: 'account', userId: user.id });
    const term = await act(mod1.c, r4.caseId, 'terminate-account');
    expect(await outcome(user.c.createSpace({ title: 'blocked' }))).toBe('ACCOUNT_SUSPENDED');
    await reverse(user, term);
    expect(await outcome(user.c.createSpace({ title: 'allowed again' }))).toBe('ok');
  });

  it('bounds guesses of a notifier’s email address per case (RATE_LIMITED)', async () => {
    const space = await createSpace(server.url, 'Guessing');
    const r = await notice(anon(server.url), { kind: 'space', spaceId: space.id });
    const codes: string[] = [];
    for (let i = 0; i < 22; i++)
      codes.push(
        await outcome(
          anon(server.url).request('POST', '/api/trust/follow', {
            caseId: r.caseId,
            email: `guess${i}@example.org`,
          }),
        ),
      );
    expect(codes.slice(0, 20).every((c) => c === 'CASE_NOT_FOUND')).toBe(true);
    expect(codes.slice(20)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
  });
});
