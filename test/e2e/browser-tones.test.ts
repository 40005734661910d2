import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installTap, launchChromium, median, readTap, type TapSample } from '../support/browser.js';
import { REPO_ROOT, scrapeMetrics, startTribune, type TribuneHandle } from '../support/server.js';
import { writeToneWav } from '../support/wav.js';

const FREQS = [440, 1000, 700, 2500];
/** How far a tone stands above the off-frequency bins (dB). */
const toneMargin = (s: TapSample, f: number): number => s.db[f]! - Math.max(s.db[700]!, s.db[2500]!);

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
    host = await b1.newPage();
    guest = await b2.newPage();
    listener = await (await b1.newContext()).newPage();
  });

  afterAll(async () => {
    await Promise.all(browsers.map((b) => b.close()));
    await server?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('hosts, invites, publishes, mixes and plays both tones for 20 s without a gap', async () => {
    // The host creates a Space from the home page and goes on stage.
    await host.goto(server.url);
    await host.getByTestId('create-title').fill('E2E tones');
    await host.getByTestId('create-button').click();
    await host.waitForURL(/\/host\//);
    await host.locator('[data-testid=status][data-state=connected]').waitFor({ timeout: 20_000 });
    const invite = await host.getByTestId('invite-link').getAttribute('href');
    const listen = await host.getByTestId('listen-link').getAttribute('href');
    expect(invite).toMatch(/\/join\/[\w-]+\?invite=/);

    // A guest joins as a speaker from the invite link.
    await guest.goto(invite!);
    await guest.getByTestId('join-name').fill('Bob');
    await guest.getByTestId('join-button').click();
    await guest.locator('[data-testid=status][data-state=connected]').waitFor({ timeout: 20_000 });

    // A listener plays the Space through the edge.
    await listener.goto(listen!);
    await listener.locator('[data-testid=status][data-state=playing]').waitFor({ timeout: 30_000 });
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
      installTap(listener, 'media', FREQS),
      installTap(host, 'remote', FREQS),
      installTap(guest, 'remote', FREQS),
    ]);

    // Both speakers show as speaking to the listener.
    await listener
      .locator('[data-testid=speaker-row][data-speaking=true]')
      .nth(1)
      .waitFor({ timeout: 10_000 });

    // Collect 22 s of what everyone hears.
    await listener.waitForFunction(
      () => (window as unknown as { __tap: unknown[] }).__tap.length >= 440,
      undefined,
      {
        timeout: 40_000,
        polling: 500,
      },
    );
    const heard = (await readTap(listener)).slice(40); // the first 2 s may still be buffering
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

    // Each speaker hears the other, not themselves.
    expect(median(atHost.map((s) => toneMargin(s, 1000)))).toBeGreaterThan(20);
    expect(median(atHost.map((s) => toneMargin(s, 440)))).toBeLessThan(6);
    expect(median(atGuest.map((s) => toneMargin(s, 440)))).toBeGreaterThan(20);
    expect(median(atGuest.map((s) => toneMargin(s, 1000)))).toBeLessThan(6);

    // The host mutes: their tone leaves the listener's audio, they stay on stage, and it comes back on unmute.
    const tapLength = async (): Promise<number> => (await readTap(listener)).length;
    const recent = async (from: number): Promise<TapSample[]> => (await readTap(listener)).slice(from);
    await host.getByTestId('mute-button').click();
    await expect.poll(() => host.getByTestId('mute-button').getAttribute('data-muted')).toBe('true');
    let mark = await tapLength();
    await listener.waitForFunction(
      (n) => (window as unknown as { __tap: unknown[] }).__tap.length >= n + 100,
      mark,
    );
    const muted = (await recent(mark)).slice(40); // the last 3 s of a 5 s mute (playback is ~1 s behind)
    expect(median(muted.map((s) => toneMargin(s, 440)))).toBeLessThan(6);
    expect(median(muted.map((s) => toneMargin(s, 1000)))).toBeGreaterThan(20);
    await expect.poll(() => listener.getByTestId('speaker-row').count()).toBe(2);
    await host.getByTestId('mute-button').click();
    mark = await tapLength();
    await listener.waitForFunction(
      (n) => (window as unknown as { __tap: unknown[] }).__tap.length >= n + 60,
      mark,
    );
    expect(median((await recent(mark)).slice(30).map((s) => toneMargin(s, 440)))).toBeGreaterThan(20);

    // The listener page shows a latency figure and the live state.
    const latency = Number(await listener.getByTestId('latency').getAttribute('data-latency'));
    expect(latency).toBeGreaterThan(0);
    const m = await scrapeMetrics(server.url);
    console.log(
      `e2e: hls.js latency at the listener ${latency.toFixed(2)} s; mixer ticks ${m.get('tribune_media_ticks_total')}, late ${m.get('tribune_media_late_ticks_total')}, skipped ${m.get('tribune_media_skipped_ticks_total')}, speaker underruns ${m.get('tribune_media_underruns_total')}`,
    );
  }, 120_000);
});
