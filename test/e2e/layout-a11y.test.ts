/**
 * Layout and screen-reader fixes from a newcomer's walk (issue 11, flaws 4 and 5, in part): on a
 * 390 px phone all eight reaction buttons fit on screen; the header reads "Start a Space" with single
 * spaces; reaction buttons and counts name their emoji for screen readers. No console error.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSessionCookies, launchChromium, newContext, textWithoutButtons } from '../support/browser.js';
import {
  createSpace,
  signedInClient,
  startTribune,
  type TestSpace,
  type TribuneHandle,
} from '../support/server.js';

describe('layout and accessible names', () => {
  let server: TribuneHandle;
  let browser: Browser;
  let space: TestSpace;

  beforeAll(async () => {
    server = await startTribune();
    browser = await launchChromium();
    space = await createSpace(server.url, 'Layout check');
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('fits the reaction bar on a 390 px phone and names every reaction', async () => {
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${server.url}/s/${space.id}?playback=llhls`);
    const buttons = page.getByTestId('reaction-button');
    await expect.poll(() => buttons.count()).toBe(8);
    for (let i = 0; i < 8; i++) {
      const box = await buttons.nth(i).boundingBox();
      expect(box, `reaction button ${i + 1}`).not.toBeNull();
      expect(box!.x).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width, `reaction button ${i + 1} inside the screen`).toBeLessThanOrEqual(390);
      const name = await buttons.nth(i).getAttribute('aria-label');
      expect(name).toMatch(/^React [a-z ]+$/); // a word, not the emoji alone
    }
    // A reaction's count reads as "fire: 1", not a bare number.
    await page.getByRole('button', { name: 'React fire' }).click();
    const count = page.locator('[data-testid=reaction-count][data-emoji="🔥"]');
    await count.waitFor({ timeout: 15_000 });
    expect((await count.textContent())?.replace(/\s+/g, ' ').trim()).toMatch(/^🔥 fire: \d+$/);
    expect(errors).toEqual([]);
    await ctx.close();
  }, 60_000);

  it('reads out who on stage is speaking or muted', async () => {
    await space.hostClient.muteSelf(space.id, true);
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    await page.goto(`${server.url}/s/${space.id}?playback=llhls`);
    const tile = page.locator('[data-testid=speaker-tile][data-role=host]');
    await page
      .locator('[data-testid=speaker-tile][data-role=host][data-muted=true]')
      .waitFor({ timeout: 15_000 });
    // The tile's own words (its Report button is read separately, by its own name).
    expect(await textWithoutButtons(tile)).toMatch(/, not speaking, muted$/);
    await space.hostClient.muteSelf(space.id, false);
    await page
      .locator('[data-testid=speaker-tile][data-role=host][data-muted=false]')
      .waitFor({ timeout: 15_000 });
    expect(await textWithoutButtons(tile)).toMatch(/, not speaking$/);
    await ctx.close();
  }, 60_000);

  it('shows your own name on your stage tile whole, on a desktop and on a phone', async () => {
    const hannah = await signedInClient(server.url, 'Hannah Host');
    const mine = await hannah.createSpace({ title: 'Names' });
    for (const viewport of [
      { width: 1280, height: 800 },
      { width: 390, height: 844 },
    ]) {
      const ctx = await newContext(browser);
      await addSessionCookies(ctx, server.url, hannah);
      const page = await ctx.newPage();
      await page.setViewportSize(viewport);
      await page.goto(`${server.url}/s/${mine.id}`);
      const name = page.locator('[data-testid=speaker-tile][data-role=host] .speaker-name');
      await name.waitFor({ timeout: 15_000 });
      await expect.poll(() => name.textContent()).toBe('Hannah Host (you)');
      const fits = await name.evaluate(
        (el) => el.scrollWidth <= el.clientWidth + 1 && el.scrollHeight <= el.clientHeight + 1,
      );
      expect(fits, `name cut at ${viewport.width} px`).toBe(true);
      await ctx.close();
    }
  }, 60_000);

  it('reads "Start a Space" with single spaces on a desktop', async () => {
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(server.url);
    const start = page.getByTestId('start-space');
    await start.waitFor();
    expect(await start.innerText()).toMatch(/^\+\s?Start a Space$/);
    const [plus, label] = await start.evaluate((el) => {
      const spans = [...el.children].map((c) => c.getBoundingClientRect());
      return spans.map((r) => ({ left: r.left, right: r.right }));
    });
    // One gap between "+" and the label, and the label's own words a single space apart.
    expect(label!.left - plus!.right).toBeLessThan(12);
    expect(await start.evaluate((el) => el.textContent)).not.toMatch(/\s{2,}|\u00a0/);
    await ctx.close();
  }, 30_000);
});
