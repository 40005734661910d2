/**
 * The waiting room in real Chromium (issue 7): the edge of a one-process Tribune takes 1 listener;
 * two Node listeners take the place and a ticket ahead, so the page lands in line at position 3. It
 * shows its position (announced politely), keeps it across a reload, sees it fall as the operator
 * raises the capacity, and then plays the Space's tone, with no console error on the way.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueRehearsalToken, REHEARSAL_HEADER } from '../../src/edge/admission/tokens.js';
import {
  installTap,
  launchChromium,
  newContext,
  pressPlay,
  TAP_FREQS,
  waitForTones,
} from '../support/browser.js';
import { closeJsonAgents, requestJson } from '../support/http-json.js';
import { createSpace, REPO_ROOT, startTribune, whipUrlFor, type TribuneHandle } from '../support/server.js';
import { ToneGenerator } from '../support/tone.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient } from '../support/whip-client.js';

const TONE_HZ = 1000;

describe('waiting room in Chromium', () => {
  let server: TribuneHandle;
  let browser: Browser;
  let talker: NodeWhipClient;
  let spaceId: string;
  let operator: Record<string, string>;

  beforeAll(async () => {
    if (!existsSync(path.join(REPO_ROOT, 'dist/web/index.html')))
      throw new Error('web app not built: run `npm run build`');
    const secret = randomBytes(24).toString('hex');
    [server, browser] = await Promise.all([
      startTribune({ env: { TRIBUNE_TOKEN_SECRET: secret, TRIBUNE_EDGE_MAX_LISTENERS: '1' } }),
      launchChromium(),
    ]);
    operator = { [REHEARSAL_HEADER]: issueRehearsalToken(Buffer.from(secret, 'utf8'), 600) };
    const space = await createSpace(server.url, 'waiting room e2e');
    spaceId = space.id;
    talker = new NodeWhipClient({ record: false, receive: false });
    await talker.publish({
      whipUrl: whipUrlFor(server.url, space.id, 'talker'),
      token: space.hostToken,
      source: new ToneGenerator({ freqHz: TONE_HZ, amplitude: 0.4 }),
    });
  }, 60_000);

  afterAll(async () => {
    closeJsonAgents();
    await talker?.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
  });

  it('shows a falling position, keeps it across a reload, then plays the Space', async () => {
    const admit = `${server.url}/hls/spaces/${spaceId}/admit`;
    const first = await requestJson<{ admitted: boolean }>(admit, { localAddress: '127.0.0.2' });
    expect(first.body.admitted).toBe(true);
    const second = await requestJson<{ admitted: boolean; position: number }>(admit, {
      localAddress: '127.0.0.3',
    });
    expect(second.body).toMatchObject({ admitted: false, position: 1 });
    const third = await requestJson<{ admitted: boolean; position: number }>(admit, {
      localAddress: '127.0.0.4',
    });
    expect(third.body).toMatchObject({ admitted: false, position: 2 });

    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
    });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.url}/s/${spaceId}`);
    const card = page.locator('[data-testid=queue-card]');
    await card.waitFor();
    expect(await card.getAttribute('role')).toBe('status');
    expect(await card.getAttribute('aria-live')).toBe('polite');
    await expect.poll(() => card.getAttribute('data-position')).toBe('3');
    expect(await page.locator('[data-testid=queue-position]').textContent()).toBe('3');
    expect(await page.locator('[data-testid=live-player]').count()).toBe(0);

    // A reload keeps the place (the ticket is kept by the page).
    await page.reload();
    await page.locator('[data-testid=queue-card][data-position="3"]').waitFor();
    const stats = await requestJson<{ issued: number }>(`${server.url}/hls/admission`, { headers: operator });
    expect(stats.body.issued).toBe(3);

    // Positions seen from here on: they only go down.
    const seen: number[] = [];
    const record = setInterval(() => {
      void card
        .getAttribute('data-position', { timeout: 200 })
        .then((p) => {
          if (p && seen[seen.length - 1] !== Number(p)) seen.push(Number(p));
        })
        .catch(() => undefined);
    }, 100);
    const raise = (maxListeners: number) =>
      requestJson(`${server.url}/hls/admission/limits`, {
        method: 'POST',
        headers: operator,
        body: { maxListeners },
      });
    expect((await raise(3)).status).toBe(200); // two places: the two Node tickets ahead
    await page.locator('[data-testid=queue-card][data-position="1"]').waitFor({ timeout: 20_000 });
    expect((await raise(4)).status).toBe(200); // the page's own place
    await page.locator('[data-testid=live-player]').waitFor({ timeout: 20_000 });
    clearInterval(record);
    expect(seen[0]).toBe(3);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeLessThan(seen[i - 1]);

    await pressPlay(page, 'live-player');
    await installTap(page, 'media', TAP_FREQS);
    await waitForTones(page, 'the tone after the queue', { present: [TONE_HZ], window: 20 });
    const admission = await page.evaluate(
      () => (window as unknown as { __tribune: { admission?: { kind: string } } }).__tribune.admission?.kind,
    );
    expect(admission).toBe('admitted');
    await waitFor('the stats to count the page', async () => {
      const s = await requestJson<{ active: number }>(`${server.url}/hls/admission`, { headers: operator });
      return s.body.active >= 2;
    });
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
