import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { waitFor } from './wait.js';

export const CHROMIUM = '/usr/bin/chromium';

/** Headless Debian Chromium, with the fake microphone fed from `fakeAudioWav` when given. */
export function launchChromium(opts: { fakeAudioWav?: string } = {}): Promise<Browser> {
  const args = [
    '--headless=new',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--autoplay-policy=no-user-gesture-required',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
  ];
  if (opts.fakeAudioWav) args.push(`--use-file-for-fake-audio-capture=${opts.fakeAudioWav}`);
  return chromium.launch({ executablePath: CHROMIUM, args });
}

/**
 * A fresh browser context (its own cookies: one person) whose pages tolerate the `__name` helper
 * that esbuild-based runners (tsx, vitest) may insert into functions passed to page.evaluate.
 */
export async function newContext(browser: Browser): Promise<BrowserContext> {
  const ctx = await browser.newContext();
  await ctx.addInitScript({ content: 'window.__name = (f) => f;' });
  return ctx;
}

/** A page in a fresh context (see newContext). */
export async function newPersonPage(browser: Browser): Promise<Page> {
  return (await newContext(browser)).newPage();
}

/**
 * Gives a browser context the session of a signed-in Node client (TribuneClient with cookieJar), so
 * the page is signed in as that user without going through the sign-up form.
 */
export async function addSessionCookies(
  ctx: BrowserContext,
  baseUrl: string,
  client: { cookieHeader(): string | undefined },
): Promise<void> {
  const header = client.cookieHeader();
  if (!header) throw new Error('addSessionCookies: the client has no cookies (not signed in?)');
  const cookies = header.split('; ').map((pair) => {
    const eq = pair.indexOf('=');
    return { name: pair.slice(0, eq), value: pair.slice(eq + 1), url: baseUrl };
  });
  await ctx.addCookies(cookies);
}

export interface UiAccount {
  handle: string;
  displayName: string;
  password: string;
}

/**
 * On the sign-in page (already shown), switches to "Create an account", fills the form and submits;
 * resolves once the app knows the new user.
 */
export async function signUpOnPage(page: Page, account: UiAccount): Promise<void> {
  await page.getByTestId('signin-form').waitFor();
  await page.getByTestId('signin-toggle').click();
  await page.locator('[data-testid=signin-form][data-mode=signup]').waitFor();
  await page.getByTestId('signin-handle').fill(account.handle);
  await page.getByTestId('signup-display-name').fill(account.displayName);
  await page.getByTestId('signin-password').fill(account.password);
  await page.getByTestId('signin-submit').click();
  await page.waitForFunction((h) => window.__tribune?.user?.handle === h, account.handle, {
    timeout: 15_000,
  });
}

/**
 * Makes sure a player (`live-player`, `replay-player`, `clip-player`) plays: waits until it has
 * settled (playing, or paused with media loaded), presses its Play button if it is paused, and
 * waits for the `playing` state.
 */
export async function pressPlay(page: Page, playerTestId: string, timeoutMs = 30_000): Promise<void> {
  const player = page.getByTestId(playerTestId);
  await player.waitFor({ timeout: timeoutMs });
  await page.waitForFunction(
    () => {
      const t = window.__tribune;
      const m = t?.media;
      return !!m && (t?.player === 'playing' || (t?.player === 'paused' && m.paused && m.readyState >= 1));
    },
    undefined,
    { timeout: timeoutMs },
  );
  const button = player.getByTestId('play-button');
  if ((await button.getAttribute('data-playing')) !== 'true') await button.click();
  await page.locator(`[data-testid=${playerTestId}][data-state=playing]`).waitFor({ timeout: timeoutMs });
}

export interface TapSample {
  t: number;
  /** dB of the strongest bin around each frequency, from an AnalyserNode */
  db: Record<string, number>;
  /** RMS of the window, dBFS */
  rms: number;
  /** media element currentTime (listener taps) */
  ct: number | null;
  /** media element playbackRate (listener taps): hls.js plays faster to catch up after a stall */
  rate: number | null;
}

/** The frequencies the e2e tests tap: the two speakers' tones and two reference bins between them. */
export const TAP_FREQS = [440, 1000, 700, 2500];

/** How far the tone at `f` stands above the off-frequency bins 700 Hz and 2500 Hz (dB). */
export const toneMargin = (s: TapSample, f: number): number => s.db[f]! - Math.max(s.db[700]!, s.db[2500]!);

/**
 * Taps the audio a page hears with Web Audio: the listener's media element (`media`) or a speaker's
 * remote WebRTC stream (`remote`), sampling the spectrum every 50 ms into window.__tap. Installing
 * again (e.g. on the new media element of a replay) stops the previous tap and starts a new list.
 */
export async function installTap(page: Page, target: 'media' | 'remote', freqs: number[]): Promise<void> {
  await page.waitForFunction(
    (t) => {
      const w = window as unknown as { __tribune?: { media?: unknown; remoteStream?: unknown } };
      return t === 'media' ? !!w.__tribune?.media : !!w.__tribune?.remoteStream;
    },
    target,
    { timeout: 20_000 },
  );
  await page.evaluate(
    async ({ target, freqs }) => {
      const w = window as unknown as {
        __tribune: { media?: HTMLMediaElement; remoteStream?: MediaStream };
        __tap: unknown[];
        __tapStop?: () => void;
      };
      w.__tapStop?.();
      const ctx = new AudioContext();
      await ctx.resume();
      const media = target === 'media' ? (w.__tribune.media ?? null) : null;
      const src = media
        ? ctx.createMediaElementSource(media)
        : ctx.createMediaStreamSource(w.__tribune.remoteStream!);
      const an = ctx.createAnalyser();
      an.fftSize = 4096;
      an.smoothingTimeConstant = 0;
      src.connect(an);
      if (media) an.connect(ctx.destination); // keep the element audible
      const freq = new Float32Array(an.frequencyBinCount);
      const time = new Float32Array(an.fftSize);
      const binHz = ctx.sampleRate / an.fftSize;
      const level = (f: number): number => {
        const i = Math.round(f / binHz);
        return Math.max(freq[i - 1] ?? -200, freq[i] ?? -200, freq[i + 1] ?? -200);
      };
      const tap: unknown[] = [];
      w.__tap = tap;
      const timer = setInterval(() => {
        an.getFloatFrequencyData(freq);
        an.getFloatTimeDomainData(time);
        let s = 0;
        for (const x of time) s += x * x;
        const db: Record<string, number> = {};
        for (const f of freqs) db[f] = level(f);
        tap.push({
          t: performance.now(),
          db,
          rms: 10 * Math.log10(s / time.length + 1e-12),
          ct: media ? media.currentTime : null,
          rate: media ? media.playbackRate : null,
        });
      }, 50);
      w.__tapStop = () => {
        clearInterval(timer);
        void ctx.close();
      };
    },
    { target, freqs },
  );
}

/** The tap's samples from index `from` on. */
export async function readTap(page: Page, from = 0): Promise<TapSample[]> {
  return page.evaluate((n) => (window as unknown as { __tap: TapSample[] }).__tap.slice(n), from);
}

/** How many samples the tap holds. */
export async function tapLength(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { __tap: unknown[] }).__tap.length);
}

/** The last `n` samples of the tap. */
export async function readTapTail(page: Page, n: number): Promise<TapSample[]> {
  return page.evaluate((k) => (window as unknown as { __tap: TapSample[] }).__tap.slice(-k), n);
}

/** Waits until the tap holds at least `n` samples (50 ms each). */
export async function waitForTapLength(page: Page, n: number, timeoutMs = 60_000): Promise<void> {
  await page.waitForFunction((k) => (window as unknown as { __tap: unknown[] }).__tap.length >= k, n, {
    timeout: timeoutMs,
    polling: 250,
  });
}

export interface ToneExpectation {
  /** tones whose median margin over the window must exceed `presentDb` */
  present?: number[];
  /** tones whose median margin over the window must stay below `absentDb` */
  absent?: number[];
  /** window: the last this many samples (default 40, i.e. 2 s) */
  window?: number;
  presentDb?: number;
  absentDb?: number;
  timeoutMs?: number;
}

/** Median margin per tapped tone over a list of samples (for messages). */
export function describeTones(samples: TapSample[], freqs = [440, 1000]): string {
  return freqs.map((f) => `${f} Hz ${median(samples.map((s) => toneMargin(s, f))).toFixed(1)} dB`).join(', ');
}

/** Does a window of samples match the expectation? */
export function tonesMatch(samples: TapSample[], e: ToneExpectation): boolean {
  const win = e.window ?? 40;
  if (samples.length < win) return false;
  const m = (f: number): number => median(samples.map((s) => toneMargin(s, f)));
  return (
    (e.present ?? []).every((f) => m(f) > (e.presentDb ?? 20)) &&
    (e.absent ?? []).every((f) => m(f) < (e.absentDb ?? 6))
  );
}

/**
 * Waits until the last `window` samples of the page's tap have the `present` tones and lack the
 * `absent` ones (median margins); returns that window. The error says what was heard last.
 */
export async function waitForTones(page: Page, what: string, e: ToneExpectation): Promise<TapSample[]> {
  const win = e.window ?? 40;
  let last: TapSample[] = [];
  try {
    return await waitFor(
      what,
      async () => {
        last = await readTapTail(page, win);
        return tonesMatch(last, e) ? last : null;
      },
      { timeoutMs: e.timeoutMs ?? 20_000, intervalMs: 250 },
    );
  } catch (err) {
    throw new Error(
      `${(err as Error).message}; last ${last.length} samples: ${describeTones(last)}, rms ${median(last.map((s) => s.rms)).toFixed(1)} dBFS`,
      { cause: err },
    );
  }
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};

/**
 * What a tile says, without its controls: the element's text with its buttons left out (a screen
 * reader reads the tile, then each button by its own name), whitespace collapsed.
 */
export async function textWithoutButtons(locator: Locator): Promise<string> {
  const text = await locator.evaluate((el) => {
    const copy = el.cloneNode(true) as HTMLElement;
    for (const b of copy.querySelectorAll('button')) b.remove();
    return copy.textContent ?? '';
  });
  return text.replace(/\s+/g, ' ').trim();
}
