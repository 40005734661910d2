/**
 * Browser glass-to-glass latency: a Node WHIP speaker sends short 1 kHz bursts (silence between);
 * two anonymous listener pages in one headless Chromium play the Space, one in stream mode (the
 * edge's CMAF stream through MediaSource) and one forced to LL-HLS (`?playback=llhls`, hls.js). An
 * AudioWorklet behind each page's <audio> element finds each burst's onset in what the page plays,
 * and maps its audio-context time to the wall clock with getOutputTimestamp() (i.e. when the output
 * device plays it); latency = that - the moment the burst's first frame went to WebRTC at the sender
 * (both `performance.timeOrigin + performance.now()`, the same machine clock).
 *
 * `npx tsx bench/run.ts --phases browser [--json]`; needs the built web app (`npm run build`).
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Browser, Page } from 'playwright-core';
import { Mp4BoxSplitter } from '../src/web/playback/mp4Boxes.js';
import { launchChromium, pressPlay } from '../test/support/browser.js';
import { parseFragments, parseInit } from '../test/support/fmp4.js';
import { OpusPcmDecoder } from '../test/support/llhls-client.js';
import { REPO_ROOT, createSpace, startTribune, whipUrlFor } from '../test/support/server.js';
import { OnsetDetector } from '../test/support/spectrum.js';
import { ToneGenerator, type BurstMark } from '../test/support/tone.js';
import { waitFor } from '../test/support/wait.js';
import { NodeWhipClient } from '../test/support/whip-client.js';

export interface BrowserLatencyOptions {
  /** A running Tribune (its built-in edge serves the pages); else the phase starts its own. */
  url?: string;
  /** Number of bursts (default 20). */
  bursts?: number;
  /**
   * Burst period (default 2000 ms, +-100 ms of jitter so onsets fall anywhere in a 200 ms part). An
   * onset is matched to the burst before it, so the period must exceed the slowest mode's latency
   * (LL-HLS: about 1.5 s glass to glass).
   */
  periodMs?: number;
  /** Burst length (default 100 ms). */
  burstMs?: number;
  log?: (...a: unknown[]) => void;
}

export interface ModeLatency {
  p50: number;
  p95: number;
  /** bursts matched to an onset */
  n: number;
  min: number;
  max: number;
  /** every matched delay, ms, in burst order */
  values: number[];
}

export interface BrowserLatencyResult {
  stream: ModeLatency;
  llhls: ModeLatency;
  /**
   * At the same time, a Node client of the same stream (no player): burst sent -> the fragment
   * holding its onset arrives. What the pipeline before the player costs; stream - delivery is the
   * player's share (fragment duration, cushion, decoding, output).
   */
  delivery: ModeLatency;
  /** Median over bursts of (stream page - delivery), ms. */
  streamPlayerShareP50: number;
  bursts: number;
}

/** Node client of the edge's stream: arrival time (epoch ms) of every burst onset in what it receives. */
class DeliveryProbe {
  readonly onsets: number[] = [];
  private readonly ac = new AbortController();
  private readonly done: Promise<void>;

  constructor(url: string) {
    this.done = this.run(url).catch(() => undefined);
  }

  private async run(url: string): Promise<void> {
    const res = await fetch(url, { signal: this.ac.signal });
    const splitter = new Mp4BoxSplitter();
    const dec = new OpusPcmDecoder();
    const det = new OnsetDetector({ freq: TONE_HZ, threshold: ONSET_THRESHOLD });
    let init: ReturnType<typeof parseInit> | undefined;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const t = performance.timeOrigin + performance.now();
      const run = splitter.push(new Uint8Array(chunk));
      if (!run) continue;
      if (run.init) init = parseInit(run.bytes);
      for (const f of parseFragments(run.bytes, init))
        if (det.push(dec.decode(f.samples.map((x) => x.data)), t)) this.onsets.push(t);
    }
  }

  async stop(): Promise<void> {
    this.ac.abort();
    await this.done;
  }
}

const TONE_HZ = 1000;
const JITTER_MS = 100;
/** Sample amplitude (full scale 1) that marks an onset; the burst is sent at 0.5, silence is 0. */
const ONSET_THRESHOLD = 0.05;

/**
 * The AudioWorklet: rising edge of the signal (first sample above the threshold after >= 100 ms
 * below half of it), posted as the audio-context time of that sample.
 */
const WORKLET = `
class OnsetTap extends AudioWorkletProcessor {
  constructor() { super(); this.armed = true; this.quiet = 0; }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (!ch) return true;
    const th = ${ONSET_THRESHOLD};
    if (this.armed) {
      for (let i = 0; i < ch.length; i++) {
        if (Math.abs(ch[i]) > th) {
          this.port.postMessage(currentTime + i / sampleRate);
          this.armed = false;
          this.quiet = 0;
          break;
        }
      }
    } else {
      let peak = 0;
      for (let i = 0; i < ch.length; i++) peak = Math.max(peak, Math.abs(ch[i]));
      if (peak < th / 2) { this.quiet += ch.length; if (this.quiet >= sampleRate * 0.1) this.armed = true; }
      else this.quiet = 0;
    }
    return true;
  }
}
registerProcessor('onset-tap', OnsetTap);
`;

/** Puts the onset tap behind the page's media element; onsets go to window.__onsets (epoch ms). */
async function installOnsetTap(page: Page): Promise<void> {
  await page.waitForFunction(() => !!window.__tribune?.media, undefined, { timeout: 20_000 });
  await page.evaluate(async (code) => {
    const w = window as unknown as { __onsets: number[]; __tribune: { media: HTMLMediaElement } };
    const ctx = new AudioContext({ latencyHint: 'interactive' });
    await ctx.resume();
    await ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })));
    const src = ctx.createMediaElementSource(w.__tribune.media);
    const tap = new AudioWorkletNode(ctx, 'onset-tap', { numberOfOutputs: 0 });
    src.connect(tap);
    src.connect(ctx.destination); // keep the element playing (and audible)
    w.__onsets = [];
    tap.port.onmessage = (e: MessageEvent<number>) => {
      // context time -> when the device outputs it -> wall clock
      const ts = ctx.getOutputTimestamp();
      const perf = (ts.performanceTime ?? 0) + (e.data - (ts.contextTime ?? 0)) * 1000;
      w.__onsets.push(performance.timeOrigin + perf);
    };
  }, WORKLET);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * Burst i takes the first onset in [start_i, start_i+1): its delay, or undefined. With `floors` (when
 * each burst reached the Node stream client), the window is [floor_i, floor_i+1) instead (less a
 * little slack for that client's own event loop): a page cannot play a burst before it arrived, so a
 * slow page's onset is matched to its own burst even when it comes after the next one was sent.
 */
function perBurst(
  bursts: readonly number[],
  onsets: readonly number[],
  periodMs: number,
  floors?: readonly (number | undefined)[],
): (number | undefined)[] {
  const SLACK_MS = 50;
  return bursts.map((start, i) => {
    const f = floors?.[i];
    const fNext = floors?.[i + 1];
    const from = f !== undefined ? start + f - SLACK_MS : start;
    const to =
      f !== undefined && fNext !== undefined
        ? bursts[i + 1]! + fNext - SLACK_MS
        : (bursts[i + 1] ?? start + periodMs - JITTER_MS);
    const hit = onsets.find((t) => t >= from && t < to);
    return hit === undefined ? undefined : hit - start;
  });
}

function summarize(delays: readonly (number | undefined)[]): ModeLatency {
  const values = delays.filter((v): v is number => v !== undefined);
  const s = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    n: s.length,
    min: s[0] ?? NaN,
    max: s.at(-1) ?? NaN,
    values,
  };
}

export async function browserLatencyPhase(opts: BrowserLatencyOptions = {}): Promise<BrowserLatencyResult> {
  const log = opts.log ?? (() => undefined);
  const bursts = opts.bursts ?? 20;
  const periodMs = opts.periodMs ?? 2000;
  const burstMs = opts.burstMs ?? 100;
  if (!existsSync(path.join(REPO_ROOT, 'dist/web/index.html')))
    throw new Error('browser phase: the web app is not built (npm run build)');
  const own = opts.url
    ? undefined
    : await startTribune({
        env: { TRIBUNE_WHIP_PER_MINUTE: '100000', TRIBUNE_CREATE_SPACE_PER_MINUTE: '1000' },
      });
  const url = opts.url ?? own!.url;
  const tone = new ToneGenerator({ freqHz: TONE_HZ, amplitude: 0.5, continuous: false });
  const talker = new NodeWhipClient({ record: false, receive: false });
  let browser: Browser | undefined;
  let probe: DeliveryProbe | undefined;
  try {
    const space = await createSpace(url, 'bench browser latency');
    probe = new DeliveryProbe(`${url}/hls/spaces/${space.id}/stream.mp4?lid=bench-delivery-probe`);
    // The pages start first (they play the Space's silence), so the speaker's WebRTC connection does
    // not start under the CPU load of a browser starting: the server's receive jitter buffer would
    // adapt to that and add latency for a while.
    browser = await launchChromium();
    const pages: Record<'stream' | 'llhls', Page> = {
      stream: await browser.newPage(),
      llhls: await browser.newPage(),
    };
    for (const [mode, page] of Object.entries(pages)) {
      page.on('pageerror', (e) => log(`browser ${mode} page error: ${e.message}`));
      await page.goto(`${url}/s/${space.id}${mode === 'llhls' ? '?playback=llhls' : ''}`);
      await pressPlay(page, 'live-player');
      const actual = await page.evaluate(() => window.__tribune?.playbackMode);
      if (actual !== mode) throw new Error(`browser phase: the ${mode} page plays in mode ${String(actual)}`);
      await installOnsetTap(page);
    }
    await talker.publish({
      whipUrl: whipUrlFor(url, space.id, 'talker'),
      token: space.hostToken,
      source: tone,
    });
    const positions = () =>
      Promise.all(
        Object.values(pages).map((p) => p.evaluate(() => window.__tribune?.media?.currentTime ?? 0)),
      );
    const joinedAt = await positions();
    // Both players 3 s further (hls.js settles at its live edge meanwhile).
    await waitFor(
      'both players 3 s into the speaker',
      async () => {
        const st = await Promise.all(
          Object.values(pages).map((p) =>
            p.evaluate(() => ({
              ct: window.__tribune?.media?.currentTime ?? 0,
              lat: window.__tribune?.latency,
            })),
          ),
        );
        return st.every((s, i) => s.ct > joinedAt[i]! + 3 && typeof s.lat === 'number');
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    log(`browser: both pages playing; ${bursts} bursts of ${burstMs} ms every ${periodMs} ms`);
    let next = performance.now();
    for (let i = 0; i < bursts; i++) {
      tone.startBurst(burstMs);
      next += periodMs + (Math.random() * 2 - 1) * JITTER_MS;
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
    }
    const sent = tone.bursts.map((b: BurstMark) => performance.timeOrigin + b.startMs);
    const lastSent = sent.at(-1) ?? 0;
    await waitFor(
      'the last burst at both pages',
      async () => {
        const got = await Promise.all(
          Object.values(pages).map((p) =>
            p.evaluate(() => (window as unknown as { __onsets: number[] }).__onsets),
          ),
        );
        return got.every((o) => o.some((t) => t > lastSent)) || Date.now() > lastSent + periodMs;
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    const read = (p: Page) => p.evaluate(() => (window as unknown as { __onsets: number[] }).__onsets);
    const deliveryDelays = perBurst(sent, probe.onsets, periodMs);
    const streamDelays = perBurst(sent, await read(pages.stream), periodMs, deliveryDelays);
    const shares = streamDelays
      .map((d, i) => (d === undefined || deliveryDelays[i] === undefined ? undefined : d - deliveryDelays[i]))
      .filter((v): v is number => v !== undefined)
      .sort((a, b) => a - b);
    const result: BrowserLatencyResult = {
      stream: summarize(streamDelays),
      llhls: summarize(perBurst(sent, await read(pages.llhls), periodMs, deliveryDelays)),
      delivery: summarize(deliveryDelays),
      streamPlayerShareP50: percentile(shares, 50),
      bursts: sent.length,
    };
    const stats = await pages.stream.evaluate(() => window.__tribune?.stream);
    log(
      `browser: stream page: ${stats?.connects} connection(s), ${stats?.fragments} fragments, ${stats?.stalls} stall(s), cushion ${stats?.cushion.toFixed(2)} s, ${stats?.jumps} jump(s), ${stats?.trims} back-buffer trim(s)`,
    );
    log(`browser: stream ${result.stream.values.map((v) => v.toFixed(0)).join(' ')}`);
    log(`browser: llhls ${result.llhls.values.map((v) => v.toFixed(0)).join(' ')}`);
    log(`browser: delivery ${result.delivery.values.map((v) => v.toFixed(0)).join(' ')}`);
    if (result.delivery.p95 > 1000)
      log(
        `browser: WARNING the pipeline before the player was disturbed (delivery p95 ${result.delivery.p95.toFixed(0)} ms; machine load ${os.loadavg()[0]!.toFixed(1)}): these figures measure the machine, not the player`,
      );
    return result;
  } finally {
    await probe?.stop();
    await browser?.close().catch(() => undefined);
    await talker.close().catch(() => undefined);
    await own?.stop();
  }
}
