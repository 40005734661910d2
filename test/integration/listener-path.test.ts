/**
 * "A listener path without the origin": an origin process and a standalone edge process, with
 * TRIBUNE_PUBLIC_EDGE_URL pointing at the edge. The edge is the one public host: it serves the web
 * app's shell, the public Space view (`/hls/spaces/:id/view.json`), the live state and the media,
 * and passes `/api` and `/whip` through to the origin. An anonymous listener opening `/s/:id` in
 * Chromium must send nothing to the origin, directly or through the edge's pass-through.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { SpaceView } from '../../src/client/index.js';
import {
  addSessionCookies,
  launchChromium,
  newContext,
  newPersonPage,
  pressPlay,
} from '../support/browser.js';
import {
  createSpace,
  freePort,
  scrapeMetrics,
  signedInClient,
  startTribune,
  whipUrlFor,
  type TribuneHandle,
} from '../support/server.js';
import { ToneGenerator } from '../support/tone.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient } from '../support/whip-client.js';

/** GETs `url` as fast as `concurrency` keep-alive loops can for `ms`; answers per second (all must be 200). */
async function rate(url: string, ms: number, concurrency = 16): Promise<{ perSec: number; non200: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const until = Date.now() + ms;
  let ok = 0;
  let non200 = 0;
  const once = (): Promise<void> =>
    new Promise((resolve, reject) => {
      http
        .get(url, { agent }, (res) => {
          if (res.statusCode === 200) ok++;
          else non200++;
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    });
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) await once();
    }),
  );
  const elapsed = (Date.now() - t0) / 1000;
  agent.destroy();
  return { perSec: Math.round(ok / elapsed), non200 };
}

const metric = (m: Map<string, number>, name: string): number => m.get(name) ?? 0;

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** `rate` plus the serving process's CPU per answer (µs). */
async function measure(url: string, pid: number): Promise<{ perSec: number; non200: number; cpuUs: number }> {
  const cpu0 = cpuSeconds(pid);
  const r = await rate(url, 3000);
  const cpu = cpuSeconds(pid) - cpu0;
  return { ...r, cpuUs: Math.round((cpu * 1e6) / Math.max(1, r.perSec * 3)) };
}

describe('a listener path without the origin', () => {
  const handles: TribuneHandle[] = [];
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
    for (const h of handles.reverse()) await h.stop();
  });

  it('an anonymous listener gets the app, the Space, its state and its audio from the edge alone', async () => {
    const edgePort = await freePort();
    const secret = randomBytes(32).toString('hex');
    const origin = await startTribune({
      args: ['origin'],
      env: {
        TRIBUNE_PUBLIC_EDGE_URL: `http://127.0.0.1:${edgePort}`,
        TRIBUNE_TOKEN_SECRET: secret,
        // Clients reach the origin's API through the edge: take their address from X-Forwarded-For.
        TRIBUNE_TRUST_PROXY: 'true',
      },
    });
    handles.push(origin);
    const edge = await startTribune({
      args: ['edge', '--origin', origin.url],
      env: { PORT: String(edgePort), TRIBUNE_TOKEN_SECRET: secret },
    });
    handles.push(edge);

    // Everything a host does, through the edge: sign up, create, publish over WHIP.
    const space = await createSpace(edge.url, 'Listener path');
    expect(space.state).toBe('live');
    const speaker = new NodeWhipClient({ record: false });
    await speaker.publish({
      whipUrl: whipUrlFor(edge.url, space.id, 'Host'),
      token: space.hostToken,
      source: new ToneGenerator({ freqHz: 660, amplitude: 0.3 }),
    });

    try {
      // The origin's public view: caller-independent, relative edge URLs, shareable for a second.
      const direct = await fetch(`${origin.url}/origin/spaces/${space.id}/view.json`);
      expect(direct.status).toBe(200);
      expect(direct.headers.get('cache-control')).toBe('public, max-age=1');
      const view = (await direct.json()) as SpaceView;
      expect(view).toMatchObject({
        id: space.id,
        title: 'Listener path',
        state: 'live',
        requireSignIn: false,
        me: null,
        playbackUrl: `/hls/spaces/${space.id}/master.m3u8`,
        stateUrl: `/hls/spaces/${space.id}/state.json`,
      });
      const missing = await fetch(`${origin.url}/origin/spaces/nope/view.json`);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('SPACE_NOT_FOUND');

      // The same through the edge.
      const viaEdge = await fetch(`${edge.url}/hls/spaces/${space.id}/view.json`);
      expect(viaEdge.status).toBe(200);
      expect(((await viaEdge.json()) as SpaceView).playbackUrl).toBe(view.playbackUrl);

      // The app shell from the edge: index.html for SPA routes, revalidated; hashed assets immutable.
      const page0 = await fetch(`${edge.url}/s/${space.id}`);
      expect(page0.status).toBe(200);
      expect(page0.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page0.headers.get('cache-control')).toBe('no-cache');
      const html = await page0.text();
      const asset = /(?:src|href)="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
      expect(asset).toBeDefined();
      const js = await fetch(`${edge.url}${asset}`);
      expect(js.status).toBe(200);
      expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      await js.arrayBuffer();
      const revalidated = await fetch(`${edge.url}/s/${space.id}`, {
        headers: { 'if-none-match': page0.headers.get('etag')! },
      });
      expect(revalidated.status).toBe(304);

      // A signed-in user's server-sent events stream through the edge's pass-through.
      const ac = new AbortController();
      const sse = await fetch(`${edge.url}/api/spaces/${space.id}/events`, {
        headers: { cookie: space.hostClient.cookieHeader()!, accept: 'text/event-stream' },
        signal: ac.signal,
      });
      expect(sse.status).toBe(200);
      expect(sse.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const first = await sse.body!.getReader().read();
      expect(new TextDecoder().decode(first.value)).toMatch(/event: /);
      ac.abort();

      // --- the anonymous listener's page
      browser = await launchChromium();
      const page = await newPersonPage(browser);
      const requests: { url: URL; method: string }[] = [];
      page.on('request', (r) => requests.push({ url: new URL(r.url()), method: r.method() }));
      const originBefore = await scrapeMetrics(origin.url);
      const edgeBefore = await scrapeMetrics(edge.url);

      await page.goto(`${edge.url}/s/${space.id}`);
      await page.locator('[data-testid=space-page][data-state=live]').waitFor({ timeout: 20_000 });
      const spacePath = `/hls/spaces/${space.id}/`;
      const isMedia = (u: URL): boolean =>
        u.pathname.startsWith(spacePath) &&
        !/\/(?:state|view|listeners)\.json$|\/(?:leave|reactions)$/.test(u.pathname);
      await waitFor(
        'the state document and the media from the edge',
        () =>
          requests.some((r) => r.url.pathname === `${spacePath}state.json`) &&
          requests.some((r) => isMedia(r.url)),
        { timeoutMs: 20_000 },
      );
      let playing = false;
      try {
        await pressPlay(page, 'live-player', 20_000);
        playing = true;
      } catch (err) {
        console.warn(
          `listener-path: the player did not report playing: ${(err as Error).message.split('\n')[0]}`,
        );
      }
      // The listener list, scrolled into view, comes from the edge too (listeners.json, cached there).
      await page.locator('[data-testid=listeners-section]').scrollIntoViewIfNeeded();
      await waitFor('the listener list from the edge', () =>
        requests.some((r) => r.url.pathname === `${spacePath}listeners.json`),
      );
      await page.locator('[data-testid=listeners-total]').waitFor();
      await new Promise((r) => setTimeout(r, 2000)); // a few more state polls and media fetches
      const originAfter = await scrapeMetrics(origin.url);
      const edgeAfter = await scrapeMetrics(edge.url);

      const edgeHost = new URL(edge.url).host;
      const originHost = new URL(origin.url).host;
      const summary = requests.map((r) => `${r.method} ${r.url.host}${r.url.pathname}`);
      // Nothing went to the origin's host, and nothing went to the origin through the edge.
      expect(summary.filter((s) => s.includes(originHost))).toEqual([]);
      expect(requests.filter((r) => r.url.protocol.startsWith('http') && r.url.host !== edgeHost)).toEqual(
        [],
      );
      expect(summary.filter((s) => /^\S+ [^/]+\/(?:api|whip|origin)(?:\/|$)/.test(s))).toEqual([]);
      expect(requests.some((r) => r.url.pathname === `${spacePath}view.json`)).toBe(true);
      expect(
        metric(edgeAfter, 'tribune_edge_api_proxy_requests_total') -
          metric(edgeBefore, 'tribune_edge_api_proxy_requests_total'),
      ).toBe(0);
      // The origin answered only the edge: its cache fills and its live reports (once a second).
      const delta = (name: string, after: Map<string, number>, before: Map<string, number>): number =>
        metric(after, name) - metric(before, name);
      const originHls = delta('tribune_origin_hls_requests_total', originAfter, originBefore);
      const edgeFills = delta('tribune_edge_origin_fetches_total', edgeAfter, edgeBefore);
      const edgeReports =
        delta('tribune_edge_reports_sent_total', edgeAfter, edgeBefore) +
        delta('tribune_edge_report_failures_total', edgeAfter, edgeBefore);
      // The scrapes are not atomic: allow for the requests of a moment in flight at either end.
      expect(originHls).toBeLessThanOrEqual(edgeFills + edgeReports + 5);
      console.log(
        `listener-path: ${requests.length} page requests, all to the edge; playing=${playing}; ` +
          `origin /origin requests ${originHls} (edge cache fills ${edgeFills}, reports ${edgeReports}); ` +
          `paths: ${[...new Set(requests.map((r) => r.url.pathname.replace(space.id, ':id').replace(/\d+/g, 'N')))].join(' ')}`,
      );

      // --- a signed-in listener on the same host: the API through the edge's pass-through, as before
      const fan = await signedInClient(edge.url, 'fan');
      const ctx = await newContext(browser);
      await addSessionCookies(ctx, edge.url, fan);
      const signedIn = await ctx.newPage();
      const apiCalls: string[] = [];
      signedIn.on('request', (r) => {
        const u = new URL(r.url());
        if (u.pathname.startsWith('/api/')) apiCalls.push(`${r.method()} ${u.host}${u.pathname}`);
      });
      await signedIn.goto(`${edge.url}/s/${space.id}`);
      await signedIn
        .locator('[data-testid=space-page][data-state=live][data-role=listener]')
        .waitFor({ timeout: 20_000 });
      await signedIn.waitForFunction(() => typeof window.__tribune?.listenToken === 'string', undefined, {
        timeout: 10_000,
      });
      expect(apiCalls).toContain(`GET ${edgeHost}/api/auth/me`);
      expect(apiCalls).toContain(`GET ${edgeHost}/api/spaces/${space.id}`);
      expect(apiCalls).toContain(`POST ${edgeHost}/api/spaces/${space.id}/listen`);
      expect(apiCalls.filter((c) => !c.includes(edgeHost))).toEqual([]);
      await ctx.close();

      // --- an anonymous visitor of a members-only Space: the page says to sign in, plays nothing
      const members = await space.hostClient.createSpace({ title: 'Members only', requireSignIn: true });
      const gated = await newPersonPage(browser);
      const gatedRequests: URL[] = [];
      gated.on('request', (r) => gatedRequests.push(new URL(r.url())));
      await gated.goto(`${edge.url}/s/${members.id}`);
      await gated.getByTestId('signin-gate').waitFor({ timeout: 20_000 });
      expect(gatedRequests.filter((u) => u.host !== edgeHost)).toEqual([]);
      expect(
        gatedRequests.filter((u) => /\/(?:master|audio)\.m3u8$|\/stream\.mp4$/.test(u.pathname)),
      ).toEqual([]);
      // The edge serves the view of a members-only Space without a token (it is not secret).
      expect(gatedRequests.filter((u) => /^\/(?:api|whip|origin)(?:\/|$)/.test(u.pathname))).toEqual([]);
      expect(gatedRequests.some((u) => u.pathname === `/hls/spaces/${members.id}/view.json`)).toBe(true);
      await gated.context().close();

      // --- how fast: the edge's cached public view vs the origin's API view of the same Space
      // (The client loop shares the 2 cores: the rates are bounded by it; CPU per answer is not.)
      const edgeView = await measure(`${edge.url}/hls/spaces/${space.id}/view.json`, edge.pid);
      const originApi = await measure(`${origin.url}/api/spaces/${space.id}`, origin.pid);
      console.log(
        `listener-path: GET /hls/spaces/:id/view.json on the edge ${edgeView.perSec}/s, ` +
          `${edgeView.cpuUs} µs edge CPU per answer; GET /api/spaces/:id on the origin ` +
          `${originApi.perSec}/s, ${originApi.cpuUs} µs origin CPU per answer ` +
          `(16 keep-alive connections, 3 s each)`,
      );
      expect(edgeView.non200).toBe(0);
      expect(originApi.non200).toBe(0);
      expect(edgeView.perSec).toBeGreaterThan(0);
    } finally {
      speaker.abruptClose();
    }
  }, 120_000);
});
