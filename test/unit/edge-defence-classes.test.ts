/**
 * The edge's telemetry classes each request by how it was answered, including answers that come
 * after an origin load: a made-up Space's 404 is an unknown path (not a served control request),
 * a flood past the address limit is refused, a cached object without a token is token-less media.
 */
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { DEFAULTS } from '../../src/config.js';
import { EdgeCache } from '../../src/edge/cache.js';
import { EdgeDefence } from '../../src/edge/defence/shield.js';
import { createEdgeHandler, type HotResponse } from '../../src/edge/hot.js';
import type { OriginLoader } from '../../src/edge/origin-loader.js';

class FakeRes {
  statusCode = 200;
  headersSent = false;
  writableEnded = false;
  destroyed = false;
  socket = null;
  private closers: (() => void)[] = [];
  writeHead(status: number): this {
    this.statusCode = status;
    this.headersSent = true;
    return this;
  }
  end(): void {
    this.writableEnded = true;
    for (const f of this.closers.splice(0)) f();
  }
  flushHeaders(): void {}
  once(_e: 'close', f: () => void): this {
    this.closers.push(f);
    return this;
  }
  removeListener(_e: 'close', f: () => void): this {
    this.closers = this.closers.filter((x) => x !== f);
    return this;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

const loader: OriginLoader = {
  fetch: async (path) =>
    path.includes('/known/state.json')
      ? {
          status: 200,
          headers: { contentType: 'application/json', cacheControl: 'public, max-age=1' },
          body: Buffer.from(JSON.stringify({ v: Number(/v=(\d+)/.exec(path)?.[1] ?? 0) + 1, state: 'live' })),
        }
      : path.includes('/known/')
        ? {
            status: 200,
            headers: { contentType: 'audio/mp4', cacheControl: 'public, max-age=3600' },
            body: Buffer.alloc(100),
          }
        : {
            status: 404,
            headers: { contentType: 'application/json', cacheControl: 'no-store' },
            body: Buffer.from('{"error":{"code":"SPACE_NOT_FOUND"}}'),
          },
};

function edge(perAddressRate = 0) {
  const defence = new EdgeDefence({
    ...DEFAULTS.edge.defence,
    perAddressRate,
    perAddressBurst: 5,
    brownout: 'off',
    secret: Buffer.from('s'),
  });
  const h = createEdgeHandler({
    loader,
    cache: new EdgeCache({ maxBytes: 1e6 }),
    registry: new Registry(),
    defence,
  });
  const get = async (url: string, address = '10.0.0.1'): Promise<FakeRes> => {
    const res = new FakeRes();
    h.handle(
      { url, method: 'GET', headers: {}, socket: { remoteAddress: address } } as never,
      res as unknown as HotResponse,
    );
    for (let i = 0; i < 50 && !res.writableEnded; i++) await new Promise((r) => setImmediate(r));
    return res;
  };
  return { defence, get, close: () => h.close() };
}

describe('edge telemetry classes', () => {
  it('a made-up Space answered 404 after the origin load is an unknown path', async () => {
    const e = edge();
    for (let i = 0; i < 5; i++)
      expect((await e.get(`/hls/spaces/madeUp${i}xyz/state.json`)).statusCode).toBe(404);
    const w = e.defence.window(Date.now());
    expect(w.classes.unknown_path).toBe(5);
    expect(w.classes.control).toBe(0);
    e.close();
  });

  it('a cached part without a token is token-less media; past the address limit it is refused', async () => {
    const e = edge(1);
    expect((await e.get('/hls/spaces/known/part/1.0.m4s')).statusCode).toBe(200); // the load
    let refused = 0;
    for (let i = 0; i < 10; i++)
      if ((await e.get('/hls/spaces/known/part/1.0.m4s')).statusCode === 429) refused++;
    const w = e.defence.window(Date.now());
    expect(refused).toBeGreaterThan(0);
    expect(w.classes.refused).toBe(refused);
    expect(w.classes.tokenless).toBe(11 - refused);
    e.close();
  });

  it("brownout tier 2: a Space's new state versions reach players every 3 s at most", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    try {
      const e = edge();
      e.defence.applyControl({ underAttack: false, tierFloor: 2 });
      const first = await e.get('/hls/spaces/known/state.json?v=1');
      expect(first.statusCode).toBe(200); // a new version: answered, the 3 s start
      const held = await e.get('/hls/spaces/known/state.json?v=2');
      expect(held.writableEnded).toBe(false);
      vi.advanceTimersByTime(2900);
      expect(held.writableEnded).toBe(false);
      vi.advanceTimersByTime(200);
      for (let i = 0; i < 50 && !held.writableEnded; i++) await Promise.resolve();
      await vi.waitFor(() => expect(held.statusCode).toBe(200));
      // Tier 0 again: no holding.
      e.defence.applyControl({ underAttack: false, tierFloor: 0 });
      expect((await e.get('/hls/spaces/known/state.json?v=7')).writableEnded).toBe(true);
      e.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
