import { chromium, type Browser, type Page } from 'playwright-core';

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

export interface TapSample {
  t: number;
  /** dB of the strongest bin around each frequency, from an AnalyserNode */
  db: Record<string, number>;
  /** RMS of the window, dBFS */
  rms: number;
  /** media element currentTime (listener taps) */
  ct: number | null;
}

/**
 * Taps the audio a page hears with Web Audio: the listener's media element (`media`) or a speaker's
 * remote WebRTC stream (`remote`), sampling the spectrum every 50 ms into window.__tap.
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
      };
      const ctx = new AudioContext();
      await ctx.resume();
      const media = w.__tribune.media ?? null;
      const src =
        target === 'media' && media
          ? ctx.createMediaElementSource(media)
          : ctx.createMediaStreamSource(w.__tribune.remoteStream!);
      const an = ctx.createAnalyser();
      an.fftSize = 4096;
      an.smoothingTimeConstant = 0;
      src.connect(an);
      if (target === 'media') an.connect(ctx.destination); // keep the element audible
      const freq = new Float32Array(an.frequencyBinCount);
      const time = new Float32Array(an.fftSize);
      const binHz = ctx.sampleRate / an.fftSize;
      const level = (f: number): number => {
        const i = Math.round(f / binHz);
        return Math.max(freq[i - 1] ?? -200, freq[i] ?? -200, freq[i + 1] ?? -200);
      };
      w.__tap = [];
      setInterval(() => {
        an.getFloatFrequencyData(freq);
        an.getFloatTimeDomainData(time);
        let s = 0;
        for (const x of time) s += x * x;
        const db: Record<string, number> = {};
        for (const f of freqs) db[f] = level(f);
        w.__tap.push({
          t: performance.now(),
          db,
          rms: 10 * Math.log10(s / time.length + 1e-12),
          ct: media ? media.currentTime : null,
        });
      }, 50);
    },
    { target, freqs },
  );
}

export async function readTap(page: Page): Promise<TapSample[]> {
  return page.evaluate(() => (window as unknown as { __tap: TapSample[] }).__tap.slice());
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};
