/**
 * DSA notice and action, end to end in Chromium with real audio: a logged-out listener reports a
 * live speaker with a time range; a moderator finds the case (with the kept evidence), listens live
 * from the console and removes the speaker — the speaker's tone leaves the mix; the speaker sees the
 * statement of reasons at once and complains; another moderator upholds the complaint, which
 * reverses the removal, and both sides see it. No console error on any page.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TribuneClient } from '../../src/client/index.js';
import {
  addSessionCookies,
  installTap,
  launchChromium,
  newContext,
  pressPlay,
  TAP_FREQS,
  waitForTones,
} from '../support/browser.js';
import { REPO_ROOT, signedInClient, startTribune, type TribuneHandle } from '../support/server.js';
import { writeToneWav } from '../support/wav.js';

const PASSWORD = 'correct horse battery';
const ADMIN = 'dsa_admin';

async function account(url: string, handle: string, displayName: string): Promise<TribuneClient> {
  const c = new TribuneClient({ baseUrl: url, cookieJar: true });
  await c.signUp({ handle, displayName, password: PASSWORD });
  return c;
}

describe('end to end in Chromium: report, remove, complain, reverse (DSA)', () => {
  let server: TribuneHandle;
  let tmp: string;
  const browsers: Browser[] = [];
  const errors: string[] = [];

  /** A page signed in as `client` (or anonymous), whose console errors fail the test. */
  async function personPage(browser: Browser, client?: TribuneClient): Promise<Page> {
    const ctx: BrowserContext = await newContext(browser);
    if (client) await addSessionCookies(ctx, server.url, client);
    const page = await ctx.newPage();
    const who = client ? 'signed-in page' : 'anonymous page';
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`${who}: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`${who}: ${String(e)}`));
    return page;
  }

  beforeAll(async () => {
    if (!existsSync(path.join(REPO_ROOT, 'dist/web/index.html')))
      throw new Error('web app not built: run `npm run build`');
    tmp = await mkdtemp(path.join(os.tmpdir(), 'tribune-dsa-'));
    await writeToneWav(path.join(tmp, 'a440.wav'), { freqHz: 440, seconds: 10, amplitude: 0.4 });
    await writeToneWav(path.join(tmp, 'a1000.wav'), { freqHz: 1000, seconds: 10, amplitude: 0.4 });
    server = await startTribune({ env: { TRIBUNE_OPERATORS: ADMIN } });
    const [b1, b2] = await Promise.all([
      launchChromium({ fakeAudioWav: path.join(tmp, 'a440.wav') }),
      launchChromium({ fakeAudioWav: path.join(tmp, 'a1000.wav') }),
    ]);
    browsers.push(b1, b2);
  });

  afterAll(async () => {
    await Promise.all(browsers.map((b) => b.close()));
    await server?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('a logged-out report leads to a removal with its statement, a complaint and a reversal', async () => {
    const [b1, b2] = browsers as [Browser, Browser];
    // Operators: an admin (from the config) grants two moderators.
    const admin = await account(server.url, ADMIN, 'Admin');
    const mod1 = await account(server.url, 'dsa_mod_one', 'Mona Moderator');
    const mod2 = await account(server.url, 'dsa_mod_two', 'Max Moderator');
    for (const handle of ['dsa_mod_one', 'dsa_mod_two'])
      await admin.request('POST', '/api/trust/roles', { handle, role: 'moderator' });

    // A live Space: the host (440 Hz) and a speaker, Bob (1000 Hz), both on stage in their browsers.
    const hostClient = await signedInClient(server.url, 'Alice');
    const space = await hostClient.createSpace({ title: 'DSA walk' });
    const { token } = await hostClient.inviteLink(space.id);
    const bob = await account(server.url, 'dsa_bob', 'Bob');
    await bob.acceptInvite(space.id, token);
    const spaceUrl = `${server.url}/s/${space.id}`;
    const host = await personPage(b1, hostClient);
    const speaker = await personPage(b2, bob);
    await host.goto(spaceUrl);
    await host.locator('[data-testid=stage-card][data-phase=connected]').waitFor({ timeout: 20_000 });
    await speaker.goto(spaceUrl);
    await speaker.locator('[data-testid=space-page][data-role=speaker]').waitFor();
    await speaker.locator('[data-testid=stage-card][data-phase=connected]').waitFor({ timeout: 20_000 });

    // A listener who is not signed in hears both tones (LL-HLS through the edge).
    const listener = await personPage(b1);
    await listener.goto(`${spaceUrl}?playback=llhls`);
    await pressPlay(listener, 'live-player');
    await installTap(listener, 'media', TAP_FREQS);
    await waitForTones(listener, 'both speakers at the listener', {
      present: [440, 1000],
      timeoutMs: 20_000,
    });

    // ...and reports Bob: one click on the speaker, the form, one click to send.
    await listener.getByRole('button', { name: 'Report Bob' }).click();
    const dialog = listener.getByRole('dialog', { name: 'Report' });
    await expect.poll(() => dialog.getByTestId('report-speaker').textContent()).toContain('Bob');
    await dialog.getByLabel('Time range').selectOption('30');
    await dialog.getByLabel('Category').selectOption('STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH');
    await dialog.getByLabel('Explanation').fill('The speaker calls for violence against a named group.');
    await dialog.getByLabel('Your name').fill('Lee Listener');
    await dialog.getByLabel('Your email').fill('lee@example.org');
    await dialog.getByRole('checkbox').check();
    const sentAt = Date.now();
    await dialog.getByRole('button', { name: 'Send report' }).click();
    await dialog.getByRole('heading', { name: 'Report received' }).waitFor();
    console.log(`e2e dsa: receipt shown ${Date.now() - sentAt} ms after Send report`);
    const caseId = (await dialog.getByTestId('receipt-case-id').textContent())!.trim();
    expect(caseId).toMatch(/^case_/);
    const followHref = await dialog.getByRole('link', { name: 'Open the case page' }).getAttribute('href');
    expect(followHref).toContain(`/cases/${caseId}?key=`);

    // Moderator 1 finds it in the queue, with the kept evidence and its reported range.
    const m1 = await personPage(b1, mod1);
    await m1.goto(`${server.url}/moderation`);
    await m1.getByRole('heading', { name: 'Moderation queue' }).waitFor();
    await m1
      .getByRole('button', { name: `Open case ${caseId}` })
      .or(m1.getByRole('link', { name: `Open case ${caseId}` }))
      .click();
    await m1.locator(`[data-testid=case][data-case-id="${caseId}"]`).waitFor();
    await expect
      .poll(() => m1.getByTestId('reported-range').first().textContent())
      .toContain('Reported range');
    await expect.poll(() => m1.getByTestId('notice-explanation').textContent()).toContain('violence');

    // Listens live from the console: the moderator's player plays both tones.
    await m1.getByRole('button', { name: 'Listen live' }).click();
    // The case page has two players (the evidence, the live Space): drive and tap the live one.
    const live = m1.getByTestId('listen-live').getByTestId('live-player');
    await live.waitFor();
    const play = live.getByTestId('play-button');
    await expect
      .poll(
        async () => {
          if ((await play.getAttribute('data-playing')) !== 'true') await play.click().catch(() => undefined);
          return live.getAttribute('data-state');
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe('playing');
    await m1.evaluate(() => {
      const t = window.__tribune as { media?: HTMLMediaElement };
      t.media = document.querySelector<HTMLAudioElement>(
        '[data-testid=listen-live] [data-testid=player-media]',
      )!;
    });
    await installTap(m1, 'media', TAP_FREQS);
    await waitForTones(m1, 'both speakers in the console', { present: [440, 1000], timeoutMs: 20_000 });

    // Removes Bob, on the terms.
    const form = m1.getByTestId('action-form');
    await form.getByLabel('Restriction').selectOption('remove-speaker');
    await form.getByTestId('ground-terms').check();
    await form.getByLabel('Terms ground').fill('Terms §4.2: calls for violence');
    await form.getByLabel('Explanation').fill('The speaker called for violence against a group of people.');
    await form.getByRole('button', { name: 'Apply' }).click();
    await m1.getByTestId('action-result').waitFor();

    // Bob's tone leaves the mix, at the listener and in the console; the host's stays.
    await waitForTones(listener, 'Bob removed, at the listener', {
      present: [440],
      absent: [1000],
      timeoutMs: 15_000,
    });
    await waitForTones(m1, 'Bob removed, in the console', {
      present: [440],
      absent: [1000],
      timeoutMs: 15_000,
    });

    // Bob sees the statement of reasons at once, follows it and complains.
    const alert = speaker.getByRole('alert').filter({ hasText: 'A moderator restricted you' });
    await alert.waitFor({ timeout: 10_000 });
    await alert.getByRole('link', { name: 'See the statement of reasons and complain' }).click();
    await speaker.waitForURL(/\/decisions/);
    const statement = speaker.locator('article, section').filter({ hasText: 'Terms §4.2' }).first();
    await statement.waitFor();
    await expect.poll(() => statement.textContent()).toContain('You were removed from the Space');
    await speaker
      .getByLabel('Your complaint')
      .fill('I quoted a historical speech to condemn it; listen to the whole part.');
    await speaker.getByRole('button', { name: 'Send complaint' }).click();
    await speaker
      .getByText(/complaint (was )?(sent|received)/i)
      .first()
      .waitFor();

    // The moderator who decided is not offered the decision (Art. 20: another person decides)...
    await m1.getByTestId('complaint-not-mine').waitFor({ timeout: 15_000 });
    expect(await m1.getByRole('button', { name: 'Uphold and reverse' }).count()).toBe(0);
    // ...another moderator upholds it.
    const m2 = await personPage(b1, mod2);
    await m2.goto(`${server.url}/moderation/cases/${caseId}`);
    const complaint = m2.getByTestId('complaint').first();
    await complaint.waitFor();
    await complaint
      .getByLabel('Decision reasons')
      .fill('Context shows the quote was condemned, not endorsed.');
    await complaint.getByRole('button', { name: 'Uphold and reverse' }).click();
    await m2.locator('[data-testid=complaint][data-state=upheld]').waitFor();
    await m2.locator('[data-testid=case-status][data-outcome=reversed]').waitFor();

    // Both sides are told: Bob's decisions page shows the reversal, and the notifier's case page
    // (the receipt's link, still logged out) shows the outcome.
    await speaker.reload();
    await speaker
      .getByText(/reversed/i)
      .first()
      .waitFor();
    await listener.goto(`${server.url}${followHref}`);
    await listener
      .getByText(/reversed/i)
      .first()
      .waitFor();

    // The reversal let Bob back: he can go on stage again (the block is lifted).
    const view = await bob.request<{ me: { blocked: boolean } }>('GET', `/api/spaces/${space.id}`);
    expect(view.me.blocked).toBe(false);

    expect(errors).toEqual([]);
  }, 240_000);
});
