/**
 * Geo-restriction (EU DSA moderation) end to end: an origin in this process with its built-in edge
 * (so the test can call `svc.setBlockedCountries` as the trust service does), trustProxy on, and
 * listeners claiming an address with X-Forwarded-For from 127.0.0.1. A Space closed to DE answers
 * every listener request from a German address 451 GEO_RESTRICTED, serves US and loopback
 * listeners, and serves the German address again within 3 s of the restriction being lifted.
 *
 * Addresses (placed by the geoip-country data, see test/unit/edge-geo.test.ts): 193.99.144.80 DE,
 * 2a00:1450:4001::1 DE, 8.8.8.8 US.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv, loadConfig } from '../../src/config.js';
import { createOrigin, type Origin } from '../../src/origin/app.js';
import { createSpace, type TestSpace } from '../support/server.js';
import { waitFor } from '../support/wait.js';

const DE = '193.99.144.80';
const DE6 = '2a00:1450:4001::1';
const US = '8.8.8.8';

describe('geo-restriction of a live Space', () => {
  let dataDir: string;
  let origin: Origin;
  let url: string;
  let space: TestSpace;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'tribune-geo-'));
    const config = loadConfig(
      configFromEnv({
        // as test/support/server.ts: many requests from one address are not a flood here
        TRIBUNE_SIGNUP_PER_MINUTE: '100000',
        TRIBUNE_EDGE_RATE_PER_ADDRESS: '0',
        TRIBUNE_EDGE_CONNECTIONS_PER_ADDRESS: '0',
      }),
      { port: 0, host: '127.0.0.1', dataDir, trustProxy: true, logLevel: 'warn' },
    );
    origin = await createOrigin(config, { embeddedEdge: true });
    const address = await origin.listen();
    url = address.replace('localhost', '127.0.0.1');
    space = await createSpace(url, 'geo');
    expect(space.state).toBe('live');
  }, 60_000);

  afterAll(async () => {
    await space?.end();
    await origin?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** A listener request as from `from` (undefined: plainly from 127.0.0.1). */
  const get = async (
    file: string,
    from: string | undefined,
    method = 'GET',
  ): Promise<{ status: number; code?: string }> => {
    const res = await fetch(`${url}/hls/spaces/${space.id}/${file}`, {
      method,
      headers: from ? { 'x-forwarded-for': from } : {},
      signal: AbortSignal.timeout(10_000),
    });
    let code: string | undefined;
    if (res.status >= 400 && method === 'GET')
      code = ((await res.json()) as { error?: { code?: string } }).error?.code;
    else await res.body?.cancel();
    return { status: res.status, code };
  };

  /** What a listener asks for: the state doc, the playlists, the init, admit and the stream. */
  const FILES: [string, string][] = [
    ['state.json', 'GET'],
    ['master.m3u8', 'GET'],
    ['audio.m3u8', 'GET'],
    ['init.mp4', 'GET'],
    ['admit', 'GET'],
    ['stream.mp4', 'HEAD'],
  ];

  it('refuses a restricted country 451 GEO_RESTRICTED and serves the others', async () => {
    // Before any restriction everyone is served.
    for (const [file, method] of FILES) expect((await get(file, DE, method)).status, file).toBeLessThan(300);

    // A German stream listener connected before the restriction...
    const streamEnded = new Promise<number>((resolve, reject) => {
      http
        .get(`${url}/hls/spaces/${space.id}/stream.mp4`, { headers: { 'x-forwarded-for': DE } }, (res) => {
          if (res.statusCode !== 200) reject(new Error(`stream answered ${res.statusCode}`));
          res.resume();
          res.once('close', () => resolve(Date.now()));
        })
        .once('error', () => resolve(Date.now()));
    });
    await waitFor('the stream listener to join', async () => {
      const m = await (await fetch(`${url}/metrics`)).text();
      return /tribune_edge_stream_listeners 1\b/.test(m);
    });

    origin.svc.setBlockedCountries(space.id, ['DE']);
    expect(origin.svc.blockedCountries(space.id)).toEqual(['DE']);
    const t0 = Date.now();
    await waitFor(
      'the edge to learn the restriction',
      async () => (await get('audio.m3u8', DE)).status === 451,
      {
        timeoutMs: 3_000,
      },
    );
    const applied = Date.now() - t0;
    console.log(`geo-restriction applied at the edge after ${applied} ms`);
    // ...is cut once the edge learns it (its feed reloads the playlist every part).
    const cut = (await streamEnded) - t0;
    console.log(`German stream listener cut after ${cut} ms`);
    expect(cut).toBeLessThan(3_000);

    for (const [file, method] of FILES) {
      const r = await get(file, DE, method);
      expect(r.status, file).toBe(451);
      if (method === 'GET') expect(r.code, file).toBe('GEO_RESTRICTED');
      expect((await get(file, DE6, method)).status, `${file} (IPv6)`).toBe(451);
      expect((await get(file, US, method)).status, `${file} (US)`).toBeLessThan(300);
      expect((await get(file, undefined, method)).status, `${file} (loopback)`).toBeLessThan(300);
    }
  }, 60_000);

  it('serves the country again within 3 s of the restriction being lifted', async () => {
    expect((await get('state.json', DE)).status).toBe(451);
    origin.svc.setBlockedCountries(space.id, []);
    const t0 = Date.now();
    // Only the refused listener asks: the edge must still notice the lift on its own.
    await waitFor(
      'the edge to learn the lift',
      async () =>
        (await get('audio.m3u8', DE)).status === 200 && (await get('state.json', DE)).status === 200,
      { timeoutMs: 3_000, intervalMs: 50 },
    );
    const lifted = Date.now() - t0;
    console.log(`geo-restriction lifted at the edge after ${lifted} ms`);
    expect(lifted).toBeLessThan(3_000);
    for (const [file, method] of FILES) expect((await get(file, DE, method)).status, file).toBeLessThan(300);
  }, 30_000);
});
