/**
 * A Space's life in real Chromium: scheduled on /new, rehearsed in the green room, started, a
 * listener asks to speak and is approved, heard by another listener (spectrum of the fake
 * microphones' tones), muted and removed by the host; reactions, the listener count, a clip of the live Space, and the replay after the end.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TribuneClient } from '../../src/client/index.js';
import {
  addSessionCookies,
  installTap,
  launchChromium,
  median,
  newContext,
  pressPlay,
  readTap,
  TAP_FREQS,
  tapLength,
  toneMargin,
  waitForTapLength,
  waitForTones,
} from '../support/browser.js';
import { REPO_ROOT, signedInClient, startTribune, type TribuneHandle } from '../support/server.js';
import { writeToneWav } from '../support/wav.js';

const HOST_HZ = 440;
const SPEAKER_HZ = 1000;

describe('Space lifecycle in Chromium: schedule, start, request, mute, remove, react, count, clip, replay', () => {
  let server: TribuneHandle;
  let tmp: string;
  const browsers: Browser[] = [];
  let hostClient: TribuneClient;
  let speakerClient: TribuneClient;
  let host: Page;
  let speaker: Page;
  const whipErrors: string[] = [];
  /** Three listeners, each its own context (its own listener id): l1 taps the audio. */
  let l1: Page;
  let l2: Page;
  let l3: Page;
  let l2ctx: BrowserContext;

  beforeAll(async () => {
    if (!existsSync(path.join(REPO_ROOT, 'dist/web/index.html')))
      throw new Error('web app not built: run `npm run build`');
    tmp = await mkdtemp(path.join(os.tmpdir(), 'tribune-e2e-'));
    await writeToneWav(path.join(tmp, 'host.wav'), { freqHz: HOST_HZ, seconds: 10, amplitude: 0.4 });
    await writeToneWav(path.join(tmp, 'speaker.wav'), { freqHz: SPEAKER_HZ, seconds: 10, amplitude: 0.4 });
    server = await startTribune();
    // Each microphone needs its own browser; the listeners (no microphone) share the host's.
    const [b1, b2] = await Promise.all([
      launchChromium({ fakeAudioWav: path.join(tmp, 'host.wav') }),
      launchChromium({ fakeAudioWav: path.join(tmp, 'speaker.wav') }),
    ]);
    browsers.push(b1, b2);
    // Signing up is covered by browser-tones: here the host and the future speaker get their
    // sessions from Node clients.
    [hostClient, speakerClient] = await Promise.all([
      signedInClient(server.url, 'hostess'),
      signedInClient(server.url, 'speaker'),
    ]);
    const hostCtx = await newContext(b1);
    await addSessionCookies(hostCtx, server.url, hostClient);
    host = await hostCtx.newPage();
    const speakerCtx = await newContext(b2);
    await addSessionCookies(speakerCtx, server.url, speakerClient);
    speaker = await speakerCtx.newPage();
    // Leaving the stage must not ask the server for what it has already closed (a 404 on the way out).
    for (const p of [host, speaker])
      p.on('response', (r) => {
        if (new URL(r.url()).pathname.startsWith('/whip/') && r.status() >= 400)
          whipErrors.push(`${r.request().method()} ${r.url()} -> ${r.status()}`);
      });
    l2ctx = await newContext(b1);
    [l1, l2, l3] = await Promise.all([
      newContext(b1).then((c) => c.newPage()),
      l2ctx.newPage(),
      newContext(b1).then((c) => c.newPage()),
    ]);
  });

  afterAll(async () => {
    await Promise.all(browsers.map((b) => b.close()));
    await server?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('runs a Space from schedule to replay', async () => {
    const t0 = Date.now();
    const steps: string[] = [];
    const step = (name: string): void => {
      steps.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    };
    const speakerHandle = (await speakerClient.me()).user!.handle;
    const tile = (p: Page): ReturnType<Page['locator']> =>
      p.locator(`[data-testid=speaker-tile][data-handle=${speakerHandle}]`);

    // ---- 1. The host schedules a Space for later on /new, then starts it.
    await host.goto(`${server.url}/new`);
    await host.getByTestId('create-title').fill('Lifecycle');
    await host.getByTestId('create-schedule').check();
    // Two hours ahead, in the browser's local time (what datetime-local speaks).
    const when = await host.evaluate(() => {
      const d = new Date(Date.now() + 2 * 3600_000);
      const p = (n: number): string => String(n).padStart(2, '0');
      return {
        local: `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`,
        ms: d.getTime(),
      };
    });
    await host.getByTestId('create-scheduled-for').fill(when.local);
    await expect(host.getByTestId('create-submit').textContent()).resolves.toContain('Schedule');
    await host.getByTestId('create-submit').click();
    await host.waitForURL(/\/s\/[\w-]+$/);
    const spaceUrl = host.url();
    const spaceId = new URL(spaceUrl).pathname.split('/').at(-1)!;
    await host.locator('[data-testid=space-page][data-state=scheduled]').waitFor();
    await host.getByTestId('countdown').waitFor();
    const scheduled = await hostClient.space(spaceId);
    expect(scheduled.state).toBe('scheduled');
    expect(Math.abs(new Date(scheduled.scheduledFor!).getTime() - when.ms)).toBeLessThan(60_000);

    // A listener already waits on the scheduled Space's page: it starts playing by itself later.
    await l1.goto(spaceUrl);
    await l1.locator('[data-testid=space-page][data-state=scheduled]').waitFor();
    expect(await l1.getByTestId('start-now').count()).toBe(0);
    step('scheduled');

    // The host checks their microphone in the green room first; the waiting listener sees none of it.
    await host.getByRole('button', { name: 'Join the green room' }).click();
    await host.locator('[data-testid=green-room-card][data-phase=connected]').waitFor({ timeout: 20_000 });
    const greenRoomSession = await host.evaluate(() => window.__tribune?.speakerId);
    expect(greenRoomSession).toBeTruthy();
    expect(await l1.getByTestId('green-room-card').count()).toBe(0);
    step('green room');

    await host.getByTestId('start-now').click();
    await host.locator('[data-testid=space-page][data-state=live][data-role=host]').waitFor();
    await host.locator('[data-testid=stage-card][data-phase=connected]').waitFor({ timeout: 20_000 });
    // The start kept the green room's WHIP session: no second publish.
    expect(await host.evaluate(() => [window.__tribune?.speakerId, window.__tribune?.publishes])).toEqual([
      greenRoomSession,
      1,
    ]);
    await l1.locator('[data-testid=space-page][data-state=live]').waitFor({ timeout: 15_000 });
    await pressPlay(l1, 'live-player');
    await installTap(l1, 'media', TAP_FREQS);
    await waitForTones(l1, 'the host heard by the waiting listener', { present: [HOST_HZ], window: 20 });
    await Promise.all([l2.goto(spaceUrl), l3.goto(spaceUrl)]);
    step('started');

    // ---- 2. A signed-in listener asks to speak; the host approves from the request row.
    await speaker.goto(spaceUrl);
    await speaker.locator('[data-testid=space-page][data-state=live]').waitFor();
    expect(['none', 'listener']).toContain(await speaker.getByTestId('space-page').getAttribute('data-role'));
    await speaker.getByTestId('request-to-speak').click();
    await speaker.getByTestId('request-pending').waitFor();
    const request = host.locator(`[data-testid=request-row][data-handle=${speakerHandle}]`);
    await request.waitFor({ timeout: 10_000 });
    await request.getByTestId('request-approve').click();
    await speaker.locator('[data-testid=space-page][data-role=speaker]').waitFor({ timeout: 10_000 });
    await speaker.locator('[data-testid=stage-card][data-phase=connected]').waitFor({ timeout: 20_000 });
    expect(await request.count()).toBe(0);
    step('approved');

    // ---- 3. The new speaker's tone reaches another listener, next to the host's.
    await tile(l1).waitFor({ timeout: 10_000 });
    await waitForTones(l1, "the new speaker's tone at the listener", {
      present: [HOST_HZ, SPEAKER_HZ],
      timeoutMs: 20_000,
    });
    step('heard');

    // ---- 4. The host mutes the speaker: their tone leaves the listener's audio, the host's stays.
    const memberRow = host.locator(`[data-testid=member-row][data-handle=${speakerHandle}]`);
    await memberRow.getByTestId('member-mute').click();
    await host
      .locator(`[data-testid=member-row][data-handle=${speakerHandle}][data-host-muted=true]`)
      .waitFor();
    await speaker.getByTestId('host-muted-notice').waitFor({ timeout: 10_000 });
    await expect(speaker.getByTestId('mute-button').getAttribute('data-muted')).resolves.toBe('true');
    await l1
      .locator(`[data-testid=speaker-tile][data-handle=${speakerHandle}][data-muted=true]`)
      .waitFor({ timeout: 10_000 });
    await waitForTones(l1, 'the muted speaker gone from the listener', {
      present: [HOST_HZ],
      absent: [SPEAKER_HZ],
      window: 30,
      timeoutMs: 15_000,
    });
    const mark = await tapLength(l1);
    await waitForTapLength(l1, mark + 40, 10_000);
    const muted = await readTap(l1, mark);
    expect(median(muted.map((s) => toneMargin(s, SPEAKER_HZ)))).toBeLessThan(6);
    expect(median(muted.map((s) => toneMargin(s, HOST_HZ)))).toBeGreaterThan(20);
    step('muted');

    // ---- 5. The host removes them: off stage, and gone from everyone's stage.
    // Remove blocks them too, so it asks first (as End and Make host do); nothing happens until confirmed.
    await memberRow.getByTestId('member-remove').click();
    await memberRow.getByTestId('member-remove-confirm').waitFor();
    expect(await speaker.getByTestId('blocked').count()).toBe(0);
    await memberRow.getByTestId('member-remove-confirm').click();
    await speaker.getByTestId('blocked').waitFor({ timeout: 10_000 });
    expect(await speaker.getByTestId('stage-card').count()).toBe(0);
    await speaker.waitForFunction(() => window.__tribune?.onStage === false && !window.__tribune?.publishing);
    await expect.poll(() => memberRow.count(), { timeout: 10_000 }).toBe(0);
    for (const p of [l1, l2, l3]) await expect.poll(() => tile(p).count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => l1.getByTestId('speaker-tile').count()).toBe(1);
    step('removed');

    // ---- 6. A listener reacts; another listener sees it float up and counted.
    const fire = '🔥';
    const floated = l3
      .locator(`[data-testid=reaction-float][data-emoji="${fire}"]`)
      .waitFor({ state: 'attached', timeout: 15_000 });
    await l2.locator(`[data-testid=reaction-button][data-emoji="${fire}"]`).click();
    await floated;
    const counted = l3.locator(`[data-testid=reaction-count][data-emoji="${fire}"]`);
    await counted.waitFor({ timeout: 10_000 });
    await expect(counted.getAttribute('data-count')).resolves.toBe('1');
    await l1.locator(`[data-testid=reaction-count][data-emoji="${fire}"][data-count="1"]`).waitFor();
    step('reacted');

    // ---- 7. Three listener pages are open (host on stage, removed speaker blocked): everyone sees 3.
    for (const p of [l1, l2, l3, host])
      await expect.poll(() => p.getByTestId('listener-count').textContent(), { timeout: 15_000 }).toBe('3');
    await expect
      .poll(() => host.getByTestId('participants-listener-count').textContent(), { timeout: 10_000 })
      .toBe('3');
    step('counted');

    // ---- 8. A listener clips the live Space; the clip page plays it, with the host's tone.
    await l2.getByTestId('clip-button').click();
    const clipHref = await l2.getByTestId('clip-link').getAttribute('href', { timeout: 15_000 });
    expect(new URL(clipHref!).pathname).toMatch(/^\/clip\/[\w-]+$/);
    const clipPage = await l2ctx.newPage();
    await clipPage.goto(clipHref!);
    await clipPage.getByTestId('clip-page').waitFor({ timeout: 10_000 });
    const clipView = await clipPage.evaluate(() => window.__tribune?.clip);
    expect(clipView?.spaceId).toBe(spaceId);
    expect(clipView?.durationSec).toBeGreaterThan(5);
    await installTap(clipPage, 'media', TAP_FREQS);
    await pressPlay(clipPage, 'clip-player');
    await waitForTones(clipPage, "the host's tone in the clip", {
      present: [HOST_HZ],
      window: 30,
      timeoutMs: 15_000,
    });
    const clipTap = await readTap(clipPage);
    expect(clipTap.at(-1)!.ct! - clipTap[0]!.ct!).toBeGreaterThan(1);
    await clipPage.close();
    step('clipped');

    // ---- 9. The host ends the Space; its replay plays on the Space page.
    await host.getByTestId('end-space').click();
    await host.getByTestId('end-space-confirm').click();
    await host.locator('[data-testid=space-page][data-state=ended]').waitFor({ timeout: 10_000 });
    await l1.locator('[data-testid=space-page][data-state=ended]').waitFor({ timeout: 15_000 });
    await l1
      .locator('[data-testid=replay-section][data-replay-state=available]')
      .waitFor({ timeout: 15_000 });
    await l1.waitForFunction(() => window.__tribune?.playerKind === 'replay' && !!window.__tribune.media);
    await installTap(l1, 'media', TAP_FREQS);
    await pressPlay(l1, 'replay-player');
    await waitForTones(l1, "the host's tone in the replay", {
      present: [HOST_HZ],
      window: 30,
      timeoutMs: 15_000,
    });
    const replayTap = await readTap(l1);
    expect(replayTap.at(-1)!.ct! - replayTap[0]!.ct!).toBeGreaterThan(1);
    await expect(l1.getByTestId('replay-player').getAttribute('data-state')).resolves.toBe('playing');
    step('replayed');
    // Removal and the end closed both WHIP sessions on the server: no DELETE got a 404.
    expect(whipErrors).toEqual([]);
    console.log(`e2e lifecycle: ${steps.join(', ')}`);
  }, 170_000);
});
