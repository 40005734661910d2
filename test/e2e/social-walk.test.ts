/**
 * A follower's walk in real Chromium, on a desktop (1280×800) and a phone (390×844) screen:
 * follow a host on their profile; the host schedules a Space and the follower is notified in the
 * app; the follower opens the host's profile from the Space's header and subscribes (and copies the
 * link: "Link copied" is announced); the Space starts (a Node WHIP speaker sends a 1 kHz tone) and
 * the follower's home shows it live under "From people you follow" with a listener count; the
 * embeddable player, in an <iframe> of a page on another site, plays it; its volume control turns
 * the level down; search finds it by the host's name; the speakers' list reads speaking and muted.
 * Every button, link and input on the pages visited has an accessible name, and no page logs a
 * console error over the whole walk.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser, BrowserContext, Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TribuneClient } from '../../src/client/index.js';
import {
  addSessionCookies,
  installTap,
  launchChromium,
  median,
  newContext,
  pressPlay,
  readTapTail,
  TAP_FREQS,
  textWithoutButtons,
  waitForTones,
} from '../support/browser.js';
import {
  REPO_ROOT,
  signedInClient,
  startTribune,
  whipUrlFor,
  type TribuneHandle,
} from '../support/server.js';
import { ToneGenerator } from '../support/tone.js';
import { NodeWhipClient } from '../support/whip-client.js';

const TONE_HZ = 1000;
const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
];

/**
 * The controls on a page (or frame) without an accessible name: aria-label, aria-labelledby, a
 * <label>, the text a screen reader reads (aria-hidden subtrees left out), or a title. Controls
 * hidden from everyone (display:none, or aria-hidden and out of the tab order) are skipped.
 */
async function unnamedControls(target: Page | Frame): Promise<string[]> {
  return target.locator('button, a, input, select').evaluateAll((els) => {
    const spoken = (n: Node): string => {
      if (n.nodeType === Node.TEXT_NODE) return n.textContent ?? '';
      if (!(n instanceof Element) || n.getAttribute('aria-hidden') === 'true') return '';
      return [...n.childNodes].map(spoken).join('');
    };
    const bad: string[] = [];
    for (const el of els as HTMLElement[]) {
      const style = getComputedStyle(el);
      if (style.display === 'none' || style.visibility === 'hidden') continue;
      if (el.closest('[aria-hidden="true"]') && el.tabIndex < 0) continue;
      let name = el.getAttribute('aria-label')?.trim() ?? '';
      const by = el.getAttribute('aria-labelledby');
      if (!name && by)
        name = by
          .split(/\s+/)
          .map((id) => document.getElementById(id)?.textContent ?? '')
          .join(' ')
          .trim();
      const labels = (el as HTMLInputElement).labels;
      if (!name && labels?.length)
        name = [...labels]
          .map((l) => l.textContent ?? '')
          .join(' ')
          .trim();
      if (!name && el.tagName !== 'INPUT' && el.tagName !== 'SELECT') name = spoken(el).trim();
      if (!name) name = el.getAttribute('title')?.trim() ?? '';
      if (!name) bad.push(el.outerHTML.slice(0, 160));
    }
    return bad;
  });
}

/** Median level (dB) of the tone over the tap's last `n` samples. */
async function toneLevel(target: Page, n = 30): Promise<number> {
  return median((await readTapTail(target, n)).map((s) => s.db[TONE_HZ]!));
}

describe('a follower walks through profiles, notifications, live cards, the embed and the volume', () => {
  let server: TribuneHandle;
  let browser: Browser;
  /** Another site (another host name and port) that embeds the player. */
  let site: http.Server;
  let siteUrl: string;
  const talkers: NodeWhipClient[] = [];

  beforeAll(async () => {
    if (!existsSync(path.join(REPO_ROOT, 'dist/web/index.html')))
      throw new Error('web app not built: run `npm run build`');
    site = http.createServer((req, res) => {
      const src = new URL(req.url ?? '/', 'http://x').searchParams.get('src') ?? '';
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A blog</title></head>` +
          `<body><h1>My blog</h1><iframe id="player" src="${src.replace(/"/g, '&quot;')}" ` +
          `title="Tribune player" width="100%" height="260" allow="autoplay" style="border:0"></iframe></body></html>`,
      );
    });
    await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
    // `localhost` vs the server's 127.0.0.1: another site, not just another origin.
    siteUrl = `http://localhost:${(site.address() as AddressInfo).port}`;
    [server, browser] = await Promise.all([startTribune(), launchChromium()]);
  }, 60_000);

  afterAll(async () => {
    for (const t of talkers) await t.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
    site?.close();
  });

  for (const viewport of VIEWPORTS) {
    it(`on a ${viewport.width}×${viewport.height} screen`, async () => {
      const t0 = Date.now();
      const steps: string[] = [];
      const step = (name: string): void => {
        steps.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      };
      const errors: string[] = [];
      const unnamed: string[] = [];
      const host: TribuneClient = await signedInClient(server.url, 'Hannah Host');
      const follower: TribuneClient = await signedInClient(server.url, 'Fay Follower');
      const hostHandle = (await host.me()).user!.handle;

      const ctx: BrowserContext = await newContext(browser);
      await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
      await addSessionCookies(ctx, server.url, follower);
      const watch = (p: Page, name: string): void => {
        p.on('console', (m) => {
          if (m.type() === 'error') errors.push(`${name}: ${m.text()}`);
        });
        p.on('pageerror', (e) => errors.push(`${name} pageerror: ${e.message}`));
      };
      const page = await ctx.newPage();
      await page.setViewportSize(viewport);
      watch(page, 'app');
      const checkNames = async (target: Page | Frame, where: string): Promise<void> => {
        for (const html of await unnamedControls(target)) unnamed.push(`${where}: ${html}`);
      };

      try {
        // ---- 1. Follow the host on their profile: a toggle named "Follow Hannah Host".
        await page.goto(`${server.url}/u/${hostHandle}`);
        await page.getByTestId('profile-page').waitFor();
        const follow = page.getByRole('button', { name: 'Follow Hannah Host' });
        await expect(follow.getAttribute('aria-pressed')).resolves.toBe('false');
        await follow.click();
        await page.locator('[data-testid=follow-button][aria-pressed=true]').waitFor();
        await expect(page.getByTestId('profile-followers').textContent()).resolves.toMatch(/^1 follower$/);
        await checkNames(page, 'profile');
        step('followed');

        // ---- 2. The host schedules a Space; the follower is notified in the app.
        const title = `Walk ${viewport.width}: rust, go; and more`;
        const space = await host.createSpace({
          title,
          description: 'A walk through the app',
          scheduledFor: new Date(Date.now() + 3600_000).toISOString(),
        });
        await page.goto(server.url);
        await page.getByTestId('notifications-badge').waitFor({ timeout: 20_000 });
        await page.getByTestId('notifications-button').click();
        const item = page.locator(
          `[data-testid=notification-item][data-kind=host-scheduled][data-space-id="${space.id}"]`,
        );
        await item.waitFor();
        await expect(item.textContent()).resolves.toContain(`Hannah Host scheduled ${title}`);
        await checkNames(page, 'home');
        step('notified');

        // ---- 3. From the notification to the Space, then the host's profile from its header; subscribe.
        await item.click();
        await page.locator(`[data-testid=space-page][data-state=scheduled]`).waitFor();
        await page.getByTestId('copy-link').click();
        await expect.poll(() => page.getByTestId('copy-link-status').textContent()).toBe('Link copied');
        expect(await page.getByTestId('copy-link-status').getAttribute('aria-live')).toBe('polite');
        const ics = await page.getByTestId('add-to-calendar').getAttribute('href');
        const cal = await fetch(new URL(ics!, server.url));
        expect(cal.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
        expect(await cal.text()).toContain('SUMMARY:Walk');
        await checkNames(page, 'space (scheduled)');
        await page.getByTestId('space-host-link').click();
        await page.locator(`[data-testid=profile-page][data-handle="${hostHandle}"]`).waitFor();
        const card = page.locator(
          `[data-testid=profile-scheduled] [data-testid=space-card][data-space-id="${space.id}"]`,
        );
        await card.getByTestId('subscribe').click();
        await card.locator('[data-testid=unsubscribe][aria-pressed=true]').waitFor();
        expect((await follower.space(space.id)).me?.subscribed).toBe(true);
        step('subscribed');

        // ---- 4. The Space starts, with a speaker's tone.
        await host.start(space.id);
        const talker = new NodeWhipClient({ record: false, receive: false });
        talkers.push(talker);
        await talker.publish({
          whipUrl: whipUrlFor(server.url, space.id, 'Hannah'),
          token: (await host.publishToken(space.id)).token,
          source: new ToneGenerator({ freqHz: TONE_HZ, amplitude: 0.4 }),
        });
        step('started');

        // ---- 5. The follower's home shows it live, with a count and the stage's avatars.
        await page.goto(server.url);
        const liveCard = page.locator(
          `[data-testid=followed-list] [data-testid=space-card][data-space-id="${space.id}"][data-state=live]`,
        );
        await liveCard.waitFor({ timeout: 20_000 });
        await expect(liveCard.getByTestId('card-listeners').getAttribute('data-count')).resolves.toMatch(
          /^\d+$/,
        );
        await liveCard.locator(`[data-testid=card-speaker][data-handle="${hostHandle}"]`).waitFor();
        // Subscribed, so the start is a reminder ("… started").
        await page.getByTestId('notifications-button').click();
        await page
          .locator(`[data-testid=notification-item][data-kind=space-started][data-space-id="${space.id}"]`)
          .waitFor({ timeout: 20_000 });
        await checkNames(page, 'home (live)');
        step('home live');

        // ---- 6. The embed, framed by another site, plays it.
        const embedder = await ctx.newPage();
        await embedder.setViewportSize(viewport);
        watch(embedder, 'embedding site');
        await embedder.goto(`${siteUrl}/?src=${encodeURIComponent(`${server.url}/embed/${space.id}`)}`);
        await embedder.frameLocator('#player').getByTestId('embed-page').waitFor({ timeout: 15_000 });
        const frame = embedder.frames().find((f) => f.url().includes(`/embed/${space.id}`))!;
        expect(frame).toBeTruthy();
        await frame.locator('[data-testid=embed-page][data-state=live]').waitFor({ timeout: 15_000 });
        await expect(frame.getByTestId('embed-title').textContent()).resolves.toBe(title);
        const player = frame as unknown as Page; // the tap helpers use what Page and Frame share
        await pressPlay(player, 'live-player');
        await installTap(player, 'media', TAP_FREQS);
        await waitForTones(player, 'the tone in the embedded player', { present: [TONE_HZ], window: 20 });
        await checkNames(frame, 'embed');
        step('embed plays');

        // ---- 7. The volume control turns it down: the tapped level drops (10% = -20 dB).
        const loud = await toneLevel(player);
        const volume = frame.getByTestId('volume');
        await expect(volume.getAttribute('aria-label')).resolves.toBe('Volume');
        await volume.focus();
        await volume.press('Home'); // 0
        for (let i = 0; i < 10; i++) await volume.press('ArrowRight'); // 10
        await expect.poll(() => frame.evaluate(() => window.__tribune?.media?.volume)).toBeCloseTo(0.1, 2);
        await expect
          .poll(async () => loud - (await toneLevel(player, 20)), { timeout: 10_000 })
          .toBeGreaterThan(12);
        step('volume');

        // The embed is a listener: the follower's home counts it.
        await expect
          .poll(
            async () => {
              await page.goto(server.url);
              const c = page.locator(
                `[data-testid=followed-list] [data-space-id="${space.id}"] [data-testid=card-listeners]`,
              );
              await c.waitFor();
              return Number(await c.getAttribute('data-count'));
            },
            { timeout: 20_000, interval: 1000 },
          )
          .toBeGreaterThanOrEqual(1);
        step('counted');

        // ---- 8. Search finds it by the host's name, from the header's search box.
        const search = page.getByRole('searchbox', { name: 'Search Spaces' });
        await search.fill('hannah walk');
        await search.press('Enter');
        await page.waitForURL(/\/search\?q=hannah(\+|%20)walk$/);
        await page.locator(`[data-testid=search-results] [data-space-id="${space.id}"]`).waitFor();
        await checkNames(page, 'search');
        step('searched');

        // ---- 9. The speakers' list reads speaking, then muted.
        await page.goto(`${server.url}/s/${space.id}`);
        const tile = page.locator(`[data-testid=speaker-tile][data-handle="${hostHandle}"]`);
        await page
          .locator(`[data-testid=speaker-tile][data-handle="${hostHandle}"][data-speaking=true]`)
          .waitFor({ timeout: 20_000 });
        // The tile's own words (its Report button is read separately, by its own name).
        const said = (): Promise<string> => textWithoutButtons(tile);
        expect(await said()).toMatch(/, speaking$/);
        await host.muteSelf(space.id, true);
        await page
          .locator(`[data-testid=speaker-tile][data-handle="${hostHandle}"][data-muted=true]`)
          .waitFor({ timeout: 15_000 });
        expect(await said()).toMatch(/, not speaking, muted$/);
        await checkNames(page, 'space (live)');
        step('speakers read');

        await host.end(space.id);
        expect(unnamed).toEqual([]);
        expect(errors).toEqual([]);
      } finally {
        console.log(`social walk ${viewport.width}×${viewport.height}: ${steps.join(', ')}`);
        await ctx.close();
      }
    }, 180_000);
  }

  it('says why a private Space, or an ended one without a replay, cannot play in an embed', async () => {
    const host = await signedInClient(server.url, 'Private Host');
    const members = await host.createSpace({ title: 'Members only', requireSignIn: true });
    const silent = await host.createSpace({ title: 'Nothing recorded' });
    await host.end(silent.id);
    // A live Space records (silence) from its start: on a busy machine a few parts may exist by the
    // end, and then there is a replay. Delete it, so the Space is "ended without a replay" for sure.
    await host.deleteReplay(silent.id).catch(() => undefined);
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    try {
      for (const [id, code, text] of [
        [members.id, 'EMBED_NOT_AVAILABLE', /for members/],
        [silent.id, 'REPLAY_NOT_AVAILABLE', /no replay/],
      ] as const) {
        await page.goto(`${siteUrl}/?src=${encodeURIComponent(`${server.url}/embed/${id}`)}`);
        const message = page.frameLocator('#player').getByTestId('embed-unavailable');
        await message.waitFor({ timeout: 15_000 });
        expect(await message.getAttribute('data-code')).toBe(code);
        expect(await message.textContent()).toMatch(text);
        expect(await page.frameLocator('#player').getByTestId('live-player').count()).toBe(0);
      }
      expect(errors).toEqual([]);
    } finally {
      await ctx.close();
    }
  }, 60_000);
});
