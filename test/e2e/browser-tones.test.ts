import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  installTap,
  launchChromium,
  median,
  newPersonPage,
  pressPlay,
  readTap,
  signUpOnPage,
  TAP_FREQS,
  tapLength,
  toneMargin,
  waitForTapLength,
  waitForTones,
} from '../support/browser.js';
import { REPO_ROOT, scrapeMetrics, startTribune, type TribuneHandle } from '../support/server.js';
import { writeToneWav } from '../support/wav.js';

const PASSWORD = 'correct horse battery';

describe('end to end in Chromium: two speakers, one listener, through the edge', () => {
  let server: TribuneHandle;
  let tmp: string;
  const browsers: Browser[] = [];
  let host: Page;
  let guest: Page;
  let listener: Page;

  beforeAll(async () => {
    if (!existsSync(path.join(REPO_ROOT, 'dist/web/index.html')))
      throw new Error('web app not built: run `npm run build`');
    tmp = await mkdtemp(path.join(os.tmpdir(), 'tribune-e2e-'));
    await writeToneWav(path.join(tmp, 'a440.wav'), { freqHz: 440, seconds: 10, amplitude: 0.4 });
    await writeToneWav(path.join(tmp, 'a1000.wav'), { freqHz: 1000, seconds: 10, amplitude: 0.4 });
    server = await startTribune();
    // The fake microphone is per browser, so each speaker needs its own; the listener shares the
    // host's browser (it never opens the microphone), which keeps the test light on 2 cores.
    const [b1, b2] = await Promise.all([
      launchChromium({ fakeAudioWav: path.join(tmp, 'a440.wav') }),
      launchChromium({ fakeAudioWav: path.join(tmp, 'a1000.wav') }),
    ]);
    browsers.push(b1, b2);
    host = await newPersonPage(b1);
    guest = await newPersonPage(b2);
    listener = await newPersonPage(b1);
  });

  afterAll(async () => {
    await Promise.all(browsers.map((b) => b.close()));
    await server?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('hosts, invites, publishes, mixes and plays both tones for 20 s without a gap', async () => {
    // The host signs up (from "Start a Space"), creates a live Space on /new and goes on stage.
    await host.goto(server.url);
    await host.getByTestId('start-space').click();
    await host.waitForURL(/\/signin\?next=/);
    await signUpOnPage(host, { handle: 'alice_host', displayName: 'Alice', password: PASSWORD });
    await host.waitForURL(/\/new$/);
    await host.getByTestId('create-title').fill('E2E tones');
    await host.getByTestId('create-submit').click();
    await host.waitForURL(/\/s\/[\w-]+$/);
    const spaceUrl = host.url();
    await host.locator('[data-testid=space-page][data-state=live][data-role=host]').waitFor();
    await host.locator('[data-testid=stage-card][data-phase=connected]').waitFor({ timeout: 20_000 });

    // The host hands out an invite link.
    await host.getByTestId('invite-link-button').click();
    const invite = await host.getByTestId('invite-url').getAttribute('href');
    expect(invite).toMatch(/\/join\/[\w-]+\?invite=/);

    // A guest opens it, signs up on the way, and lands on stage.
    await guest.goto(invite!);
    await guest.waitForURL(/\/signin\?next=/);
    await signUpOnPage(guest, { handle: 'bob_guest', displayName: 'Bob', password: PASSWORD });
    await guest.waitForURL(spaceUrl);
    await guest.locator('[data-testid=space-page][data-role=speaker]').waitFor();
    await guest.locator('[data-testid=stage-card][data-phase=connected]').waitFor({ timeout: 20_000 });

    // An anonymous listener opens the Space and plays it through the edge with hls.js (low latency):
    // LL-HLS forced with ?playback=llhls, since the live player's default where MediaSource plays
    // Opus is the edge's CMAF stream (test/e2e/stream-playback.test.ts covers that mode).
    await listener.goto(`${spaceUrl}?playback=llhls`);
    await listener.locator('[data-testid=space-page][data-role=none]').waitFor();
    await pressPlay(listener, 'live-player');
    const hlsSetup = await listener.evaluate(() => {
      const h = window.__tribune?.hls;
      return { lowLatency: h?.config.lowLatencyMode, url: h?.url ?? '' };
    });
    expect(hlsSetup.lowLatency).toBe(true);
    expect(new URL(hlsSetup.url).pathname).toMatch(/^\/hls\/spaces\/[\w-]+\/master\.m3u8$/);

    const hlsLog: string[] = [];
    listener.on('console', (m) => hlsLog.push(m.text()));
    await listener.evaluate(() => {
      const w = window as unknown as {
        __tribune: {
          hls?: {
            on(
              e: string,
              f: (
                e: string,
                d: { details?: string; fatal?: boolean; frag?: { sn: unknown }; part?: { index: number } },
              ) => void,
            ): void;
          };
        };
      };
      const t0 = performance.now();
      for (const ev of ['hlsError', 'hlsFragBuffered']) {
        w.__tribune.hls?.on(ev, (_e, d) =>
          console.log(
            `${((performance.now() - t0) / 1000).toFixed(2)} ${ev} ${d.details ?? ''} ${d.frag?.sn ?? ''}.${d.part?.index ?? ''}`,
          ),
        );
      }
    });
    await Promise.all([
      installTap(listener, 'media', TAP_FREQS),
      installTap(host, 'remote', TAP_FREQS),
      installTap(guest, 'remote', TAP_FREQS),
    ]);

    // Both speakers show as speaking to the listener.
    await listener
      .locator('[data-testid=speaker-tile][data-speaking=true]')
      .nth(1)
      .waitFor({ timeout: 10_000 });
    await expect.poll(() => listener.getByTestId('speaker-tile').count()).toBe(2);

    // Collect 22 s of what everyone hears.
    // The first 2 s may still be buffering (on a loaded machine up to 4 s): the 20 s measured start
    // at the first window with sound from 2 s on, which must come by 4 s.
    await waitForTapLength(listener, 480, 40_000);
    const tap = await readTap(listener);
    const first = tap.findIndex((s, i) => i >= 40 && s.rms > -40);
    expect(first).toBeGreaterThanOrEqual(40);
    expect(first).toBeLessThanOrEqual(80);
    const heard = tap.slice(first, first + 400);
    const atHost = (await readTap(host)).slice(20);
    const atGuest = (await readTap(guest)).slice(20);

    if (process.env.TRIBUNE_E2E_DUMP) {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(process.env.TRIBUNE_E2E_DUMP, JSON.stringify({ heard, atHost, atGuest, hlsLog }));
    }
    // The listener hears both tones...
    expect(median(heard.map((s) => toneMargin(s, 440)))).toBeGreaterThan(20);
    expect(median(heard.map((s) => toneMargin(s, 1000)))).toBeGreaterThan(20);
    // ...for 20 s without a gap: every 50 ms window has sound, and playback time advances steadily.
    const span = heard.at(-1)!.t - heard[0]!.t;
    expect(span).toBeGreaterThanOrEqual(19_500);
    expect(Math.min(...heard.map((s) => s.rms))).toBeGreaterThan(-40);
    const played = heard.at(-1)!.ct! - heard[0]!.ct!;
    expect(played).toBeGreaterThan((span / 1000) * 0.97);

    // Each speaker hears the other (their mix-minus over WebRTC), not themselves.
    expect(median(atHost.map((s) => toneMargin(s, 1000)))).toBeGreaterThan(20);
    expect(median(atHost.map((s) => toneMargin(s, 440)))).toBeLessThan(6);
    expect(median(atGuest.map((s) => toneMargin(s, 440)))).toBeGreaterThan(20);
    expect(median(atGuest.map((s) => toneMargin(s, 1000)))).toBeLessThan(6);

    // The host mutes themselves: their tone leaves the listener's audio, they stay on stage (shown
    // muted), and it comes back on unmute.
    await host.getByTestId('mute-button').click();
    await expect.poll(() => host.getByTestId('mute-button').getAttribute('data-muted')).toBe('true');
    await waitForTones(listener, 'the host muted at the listener', {
      present: [1000],
      absent: [440],
      window: 30,
      timeoutMs: 10_000,
    });
    const mark = await tapLength(listener);
    await waitForTapLength(listener, mark + 40, 10_000);
    const muted = await readTap(listener, mark);
    expect(median(muted.map((s) => toneMargin(s, 440)))).toBeLessThan(6);
    expect(median(muted.map((s) => toneMargin(s, 1000)))).toBeGreaterThan(20);
    await expect.poll(() => listener.getByTestId('speaker-tile').count()).toBe(2);
    await listener.locator('[data-testid=speaker-tile][data-role=host][data-muted=true]').waitFor();
    await host.getByTestId('mute-button').click();
    await expect.poll(() => host.getByTestId('mute-button').getAttribute('data-muted')).toBe('false');
    await waitForTones(listener, 'the host unmuted at the listener', {
      present: [440, 1000],
      window: 30,
      timeoutMs: 10_000,
    });

    // The listener page shows a latency figure (hls.js, behind the live edge).
    await listener.waitForFunction(() => (window.__tribune?.latency ?? 0) > 0);
    const latency = Number(await listener.getByTestId('latency').getAttribute('data-latency'));
    expect(latency).toBeGreaterThan(0);
    expect(latency).toBeLessThan(6);
    const m = await scrapeMetrics(server.url);
    console.log(
      `e2e: hls.js latency at the listener ${latency.toFixed(2)} s; mixer ticks ${m.get('tribune_media_ticks_total')}, late ${m.get('tribune_media_late_ticks_total')}, skipped ${m.get('tribune_media_skipped_ticks_total')}, speaker underruns ${m.get('tribune_media_underruns_total')}`,
    );
  }, 150_000);
});
