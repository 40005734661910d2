/**
 * The player's controls and the live page's loose ends (issue 11), in Chromium on a desktop
 * (1280×800, the stream engine) and a phone (390×844, LL-HLS through hls.js), with a Node WHIP host
 * sending a steady 1 kHz tone:
 * - the volume slider sets the level a listener hears (tapped from the media element), the mute
 *   toggle silences it and says so (aria-pressed, "Mute"/"Unmute"), both fit the screen, and the
 *   level is remembered after a reload;
 * - every control on the live page has an accessible name (Chromium's own accessibility tree);
 * - a reaction's request finishes (its reply is read) instead of staying pending (flaw 6);
 * - the Listeners section names signed-in listeners and counts the anonymous ones;
 * - the replay player has the same volume control;
 * - no console error anywhere.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  addSessionCookies,
  installTap,
  launchChromium,
  median,
  newContext,
  pressPlay,
  readTap,
  TAP_FREQS,
  toneMargin,
  tapLength,
  waitForTapLength,
  waitForTones,
} from '../support/browser.js';
import {
  createSpace,
  REPO_ROOT,
  signedInClient,
  startTribune,
  whipUrlFor,
  type TestSpace,
  type TribuneHandle,
} from '../support/server.js';
import { ToneGenerator } from '../support/tone.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient } from '../support/whip-client.js';

const TONE_HZ = 1000;
const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800, query: '', mode: 'stream' },
  { name: 'phone', width: 390, height: 844, query: '?playback=llhls', mode: 'llhls' },
] as const;
/** Roles that are controls: each needs a name. */
const CONTROL_ROLES = new Set([
  'button',
  'link',
  'slider',
  'textbox',
  'searchbox',
  'checkbox',
  'radio',
  'switch',
  'combobox',
  'listbox',
  'spinbutton',
  'menuitem',
  'tab',
]);

interface Watched {
  page: Page;
  ctx: BrowserContext;
  errors: string[];
}

/** Every context a test opened: closed after it, pass or fail (an open page keeps listening). */
const contexts: BrowserContext[] = [];

async function openPage(browser: Browser, viewport: { width: number; height: number }): Promise<Watched> {
  const ctx = await newContext(browser);
  contexts.push(ctx);
  const page = await ctx.newPage();
  await page.setViewportSize(viewport);
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  return { page, ctx, errors };
}

/** Controls (by Chromium's accessibility tree) that have no accessible name. */
async function unnamedControls(ctx: BrowserContext, page: Page): Promise<string[]> {
  const cdp = await ctx.newCDPSession(page);
  const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as {
    nodes: Array<{ ignored: boolean; role?: { value?: string }; name?: { value?: string } }>;
  };
  await cdp.detach();
  return nodes
    .filter(
      (n) => !n.ignored && CONTROL_ROLES.has(String(n.role?.value)) && !String(n.name?.value ?? '').trim(),
    )
    .map((n) => String(n.role?.value));
}

const WINDOW = 20;

/**
 * The tone's level (dB, median) over the first window of WINDOW tap samples taken after now in
 * which the tone is clearly there (20 dB over the reference bins: a margin the volume does not
 * change), so that a player's stall on this shared machine (silence) is not taken for a change of
 * volume.
 */
async function toneLevel(page: Page, what: string): Promise<number> {
  const from = await tapLength(page);
  return waitFor(
    what,
    async () => {
      const tap = await readTap(page, from);
      for (let i = 0; i + WINDOW <= tap.length; i++) {
        const win = tap.slice(i, i + WINDOW);
        // Only at normal speed: catching up after a stall (hls.js plays up to 1.5x) time-stretches
        // the tone and moves its level in the bin.
        if (win.some((x) => x.rate !== null && x.rate !== 1)) continue;
        if (median(win.map((x) => toneMargin(x, TONE_HZ))) > 20)
          return median(win.map((x) => x.db[TONE_HZ]!));
      }
      return null;
    },
    { timeoutMs: 15_000, intervalMs: 250 },
  );
}

/** The loudest the tone got over the next WINDOW tap samples (dB). */
async function tonePeak(page: Page): Promise<number> {
  const from = await tapLength(page);
  await waitForTapLength(page, from + WINDOW, 10_000);
  return Math.max(...(await readTap(page, from)).map((x) => x.db[TONE_HZ]!));
}

async function expectInside(page: Page, testId: string, width: number): Promise<void> {
  const box = await page.getByTestId(testId).boundingBox();
  expect(box, testId).not.toBeNull();
  expect(box!.x, `${testId} left edge`).toBeGreaterThanOrEqual(0);
  expect(box!.x + box!.width, `${testId} inside a ${width} px screen`).toBeLessThanOrEqual(width);
}

const mediaState = (page: Page) =>
  page.evaluate(() => {
    const m = window.__tribune?.media;
    return m ? { volume: m.volume, muted: m.muted } : null;
  });

describe('player controls, accessible names and reactions in Chromium (issue 11)', () => {
  let server: TribuneHandle;
  let browser: Browser;
  let talker: NodeWhipClient;
  let space: TestSpace;
  let spaceUrl: string;

  beforeAll(async () => {
    if (!existsSync(path.join(REPO_ROOT, 'dist/web/index.html')))
      throw new Error('web app not built: run `npm run build`');
    [server, browser] = await Promise.all([startTribune(), launchChromium()]);
    space = await createSpace(server.url, 'Controls');
    talker = new NodeWhipClient({ record: false, receive: false });
    await talker.publish({
      whipUrl: whipUrlFor(server.url, space.id, 'talker'),
      token: space.hostToken,
      source: new ToneGenerator({ freqHz: TONE_HZ, amplitude: 0.4 }),
    });
    spaceUrl = `${server.url}/s/${space.id}`;
  }, 60_000);

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close().catch(() => undefined)));
  });

  afterAll(async () => {
    await talker?.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
  });

  for (const vp of VIEWPORTS) {
    it(`${vp.name} (${vp.width}×${vp.height}, ${vp.mode}): volume and mute change the level, every control is named, reactions finish`, async () => {
      const { page, ctx, errors } = await openPage(browser, vp);
      await page.goto(spaceUrl + vp.query);
      await pressPlay(page, 'live-player');
      expect(await page.evaluate(() => window.__tribune?.playbackMode)).toBe(vp.mode);

      const volume = page.getByTestId('live-player').getByTestId('volume');
      const mute = page.getByTestId('live-player').getByRole('button', { name: 'Mute' });
      expect(await volume.getAttribute('aria-label')).toBe('Volume');
      expect([await volume.getAttribute('min'), await volume.getAttribute('max')]).toEqual(['0', '100']);
      await expectInside(page, 'volume', vp.width);
      await expectInside(page, 'volume-mute', vp.width);
      expect(await mute.getAttribute('aria-pressed')).toBe('false');

      // The tone at full volume, then at 10 %: about 20 dB lower at the media element's output.
      await installTap(page, 'media', TAP_FREQS);
      await waitForTones(page, 'the tone at full volume', { present: [TONE_HZ], window: 20 });
      const full = await toneLevel(page, 'the tone at full volume');
      await volume.fill('10');
      await page.waitForFunction(() => Math.abs((window.__tribune?.media?.volume ?? 1) - 0.1) < 1e-6);
      await page.waitForTimeout(300);
      const low = await toneLevel(page, 'the tone at 10 %');
      console.log(
        `player-controls ${vp.name}: tone ${full.toFixed(1)} dB at 100 %, ${low.toFixed(1)} dB at 10 %`,
      );
      expect(full - low).toBeGreaterThan(14);
      expect(full - low).toBeLessThan(26);

      // Mute: silence, and the button says what it does now.
      await mute.click();
      const unmute = page.getByTestId('live-player').getByRole('button', { name: 'Unmute' });
      expect(await unmute.getAttribute('aria-pressed')).toBe('true');
      expect(await mediaState(page)).toEqual({ volume: expect.closeTo(0.1, 5) as number, muted: true });
      await page.waitForTimeout(300);
      expect(await tonePeak(page)).toBeLessThan(low - 40);
      await unmute.click();
      expect(await mute.getAttribute('aria-pressed')).toBe('false');
      await page.waitForTimeout(300);
      expect(Math.abs((await toneLevel(page, 'the tone unmuted at 10 %')) - low)).toBeLessThan(6);

      // A reaction's request finishes (its reply is read), none stays pending.
      const pending = new Set<Request>();
      page.on('request', (r) => void (r.url().includes('/reactions') && pending.add(r)));
      page.on('requestfinished', (r) => void pending.delete(r));
      page.on('requestfailed', (r) => void pending.delete(r));
      const finished = page.waitForEvent('requestfinished', {
        predicate: (r) => r.url().includes('/reactions'),
        timeout: 5_000,
      });
      await page.getByRole('button', { name: 'React fire' }).click();
      await finished;
      await page.waitForTimeout(500);
      expect(pending.size, 'reaction requests still pending').toBe(0);

      // The Listeners section: this page is one of the anonymous listeners.
      await page.getByTestId('listeners-section').scrollIntoViewIfNeeded();
      await page.locator('[data-testid=listeners-section][data-loaded=true]').waitFor({ timeout: 10_000 });
      await expect
        .poll(async () => Number(await page.getByTestId('listeners-anonymous').getAttribute('data-count')), {
          timeout: 10_000,
        })
        .toBeGreaterThanOrEqual(1);

      expect(await unnamedControls(ctx, page)).toEqual([]);

      // Remembered: after a reload the player starts at 10 %.
      await page.reload();
      await page.getByTestId('live-player').getByTestId('volume').waitFor({ timeout: 20_000 });
      expect(await page.getByTestId('volume').inputValue()).toBe('10');
      await page.waitForFunction(() => Math.abs((window.__tribune?.media?.volume ?? 1) - 0.1) < 1e-6);
      expect(errors).toEqual([]);
    }, 90_000);
  }

  it('lists a signed-in listener by name and counts the anonymous one', async () => {
    const fan = await signedInClient(server.url, 'Fiona Fan');
    const fanHandle = (await fan.me()).user!.handle;
    const anon = await openPage(browser, { width: 1280, height: 800 });
    const fanPage = await openPage(browser, { width: 390, height: 844 });
    await addSessionCookies(fanPage.ctx, server.url, fan);
    await anon.page.goto(`${spaceUrl}?playback=llhls`);
    await fanPage.page.goto(`${spaceUrl}?playback=llhls`);
    await fanPage.page.locator('[data-testid=space-page][data-state=live]').waitFor();
    await fanPage.page.getByTestId('listeners-section').scrollIntoViewIfNeeded();
    const item = fanPage.page.locator(`[data-testid=listener-item][data-handle=${fanHandle}]`);
    await item.waitFor({ timeout: 15_000 });
    expect((await item.textContent())?.trim()).toMatch(/Fiona Fan$/);
    // The anonymous page (and no one from the tests before, once the edge forgot them).
    await expect
      .poll(() => fanPage.page.getByTestId('listeners-anonymous').textContent(), { timeout: 20_000 })
      .toBe('and 1 other listening anonymously');
    expect(await unnamedControls(fanPage.ctx, fanPage.page)).toEqual([]);
    expect([...anon.errors, ...fanPage.errors]).toEqual([]);
  }, 60_000);

  it('gives the replay player the same volume control (phone)', async () => {
    await talker.close().catch(() => undefined);
    await space.hostClient.end(space.id);
    // The edges' copy of the Space's public view lives 1 s: open the page once it says ended.
    await waitFor('the public view to say ended', async () => {
      const res = await fetch(`${server.url}/hls/spaces/${space.id}/view.json`);
      return ((await res.json()) as { state?: string }).state === 'ended';
    });
    const { page, ctx, errors } = await openPage(browser, { width: 390, height: 844 });
    await page.goto(spaceUrl);
    await page
      .locator('[data-testid=replay-section][data-replay-state=available]')
      .waitFor({ timeout: 20_000 });
    const player = page.getByTestId('replay-player');
    await player.getByTestId('volume').waitFor({ timeout: 20_000 });
    await expectInside(page, 'volume', 390);
    await expectInside(page, 'volume-mute', 390);
    await page.waitForFunction(() => !!window.__tribune?.media);
    await player.getByTestId('volume').fill('35');
    await expect
      .poll(() => mediaState(page))
      .toEqual({ volume: expect.closeTo(0.35, 5) as number, muted: false });
    await player.getByRole('button', { name: 'Mute' }).click();
    await expect
      .poll(() => mediaState(page))
      .toEqual({ volume: expect.closeTo(0.35, 5) as number, muted: true });
    expect(await player.getByRole('button', { name: 'Unmute' }).getAttribute('aria-pressed')).toBe('true');
    expect(await unnamedControls(ctx, page)).toEqual([]);
    expect(errors).toEqual([]);
  }, 60_000);
});
