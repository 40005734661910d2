/**
 * The green room in Chromium, the host on a 390 px phone: before a scheduled Space starts, the host
 * and a co-host join the green room and hear each other's tone (their fake microphones) through
 * the mix-minus; a listener waiting on the page gets the lobby and no audio. The host starts: the
 * same WHIP sessions go live (no reconnect) and the waiting listener hears both. No console error.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

const HOST_HZ = 440;
const COHOST_HZ = 1000;

describe('the green room in Chromium', () => {
  let server: TribuneHandle;
  let tmp: string;
  const browsers: Browser[] = [];
  const errors: string[] = [];

  const watch = (p: Page, who: string): Page => {
    p.on('console', (m) => {
      if (m.type() === 'error') errors.push(`${who}: ${m.text()}`);
    });
    p.on('pageerror', (e) => errors.push(`${who}: ${String(e)}`));
    return p;
  };
  const session = (p: Page) =>
    p.evaluate(() => ({ speakerId: window.__tribune?.speakerId, publishes: window.__tribune?.publishes }));

  beforeAll(async () => {
    if (!existsSync(path.join(REPO_ROOT, 'dist/web/index.html')))
      throw new Error('web app not built: run `npm run build`');
    tmp = await mkdtemp(path.join(os.tmpdir(), 'tribune-e2e-'));
    await writeToneWav(path.join(tmp, 'host.wav'), { freqHz: HOST_HZ, seconds: 10, amplitude: 0.4 });
    await writeToneWav(path.join(tmp, 'cohost.wav'), { freqHz: COHOST_HZ, seconds: 10, amplitude: 0.4 });
    server = await startTribune();
    browsers.push(
      ...(await Promise.all([
        launchChromium({ fakeAudioWav: path.join(tmp, 'host.wav') }),
        launchChromium({ fakeAudioWav: path.join(tmp, 'cohost.wav') }),
      ])),
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.all(browsers.map((b) => b.close()));
    await server?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('lets the stage rehearse before the start, unheard, then goes live on the same sessions', async () => {
    const [b1, b2] = browsers as [Browser, Browser];
    const hostClient = await signedInClient(server.url, 'Gina Host');
    const cohostClient = await signedInClient(server.url, 'Cole Cohost');
    const space = await hostClient.createSpace({
      title: 'Rehearsed',
      scheduledFor: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await cohostClient.acceptInvite(space.id, (await hostClient.inviteLink(space.id)).token);
    await hostClient.setRole(space.id, (await cohostClient.me()).user!.id, 'cohost');
    const url = `${server.url}/s/${space.id}`;

    const hostCtx = await newContext(b1);
    await addSessionCookies(hostCtx, server.url, hostClient);
    const host = watch(await hostCtx.newPage(), 'host');
    await host.setViewportSize({ width: 390, height: 844 });
    const cohostCtx = await newContext(b2);
    await addSessionCookies(cohostCtx, server.url, cohostClient);
    const cohost = watch(await cohostCtx.newPage(), 'cohost');
    const listener = watch(await (await newContext(b1)).newPage(), 'listener');
    await Promise.all([host.goto(url), cohost.goto(url), listener.goto(`${url}?playback=llhls`)]);
    for (const p of [host, cohost, listener])
      await p.locator('[data-testid=space-page][data-state=scheduled]').waitFor();

    // ---- Both join the green room (a toggle with an accessible name; its state is read out).
    for (const p of [host, cohost]) {
      const join = p.getByRole('button', { name: 'Join the green room' });
      await expect(join.getAttribute('aria-pressed')).resolves.toBe('false');
      await join.click();
      await p.locator('[data-testid=green-room-card][data-phase=connected]').waitFor({ timeout: 20_000 });
      await expect(join.getAttribute('aria-pressed')).resolves.toBe('true');
      await expect
        .poll(() => p.getByTestId('green-room-status').textContent())
        .toBe('In the green room, mic on');
    }
    // They hear each other.
    await installTap(cohost, 'remote', TAP_FREQS);
    await waitForTones(cohost, 'the host in the co-host’s green room', { present: [HOST_HZ] });
    await installTap(host, 'remote', TAP_FREQS);
    await waitForTones(host, 'the co-host in the host’s green room', { present: [COHOST_HZ] });
    // The host sees who else is in, and everything fits a 390 px phone.
    await expect
      .poll(() => host.getByTestId('green-room-others').textContent(), { timeout: 10_000 })
      .toContain('Cole Cohost (Co-host)');
    for (const id of ['green-room-card', 'green-room-join', 'mute-button', 'start-now']) {
      const box = await host.getByTestId(id).boundingBox();
      expect(box, id).not.toBeNull();
      expect(box!.x).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width, `${id} inside the screen`).toBeLessThanOrEqual(390);
    }
    expect(await host.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    // Muting is announced.
    await host.getByTestId('mute-button').click();
    await expect
      .poll(() => host.getByTestId('green-room-status').textContent())
      .toBe('In the green room, muted');
    await host.getByTestId('mute-button').click();
    await expect
      .poll(() => host.getByTestId('green-room-status').textContent())
      .toBe('In the green room, mic on');

    // ---- The listener waits in the lobby: no green room, no player, nobody on stage.
    await listener.getByTestId('countdown').waitFor();
    expect(await listener.getByTestId('green-room-card').count()).toBe(0);
    expect(await listener.getByTestId('live-player').count()).toBe(0);
    expect(await listener.evaluate(() => window.__tribune?.doc?.speakers.length ?? 0)).toBe(0);
    const before = { host: await session(host), cohost: await session(cohost) };
    expect(before.host).toMatchObject({ publishes: 1 });
    expect(before.cohost).toMatchObject({ publishes: 1 });

    // ---- Start: the stage goes live on the same sessions; the waiting listener hears both.
    await host.getByTestId('start-now').click();
    for (const p of [host, cohost]) {
      await p.locator('[data-testid=space-page][data-state=live]').waitFor({ timeout: 15_000 });
      await p.locator('[data-testid=stage-card][data-phase=connected]').waitFor({ timeout: 15_000 });
    }
    await listener.locator('[data-testid=space-page][data-state=live]').waitFor({ timeout: 15_000 });
    await pressPlay(listener, 'live-player');
    await installTap(listener, 'media', TAP_FREQS);
    await waitForTones(listener, 'both speakers at the listener', {
      present: [HOST_HZ, COHOST_HZ],
      timeoutMs: 20_000,
    });
    expect(await session(host)).toEqual(before.host);
    expect(await session(cohost)).toEqual(before.cohost);
    expect(errors).toEqual([]);
  }, 120_000);
});
