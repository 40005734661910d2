import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { hlsOriginRoutes, type HlsAccess, type HlsOriginRoutesOptions } from '../../src/hls/routes.js';
import { HlsStore, type HlsLogger } from '../../src/hls/store.js';

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const INIT = Uint8Array.of(0xaa, 0xbb);
const IMMUTABLE = 'public, max-age=31536000, immutable';
const silent: HlsLogger = { error: () => undefined, warn: () => undefined };

let root: string;
let app: FastifyInstance;
let store: HlsStore;

async function start(opts: Partial<HlsOriginRoutesOptions>): Promise<void> {
  app = Fastify();
  await app.register(hlsOriginRoutes({ lookup: (id) => (id === 'sp1' ? store : undefined), ...opts }), {
    prefix: '/origin',
  });
}
const get = (url: string) => app.inject({ method: 'GET', url: `/origin/${url}` });

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'tribune-routes-'));
  store = new HlsStore({ dir: path.join(root, 'sp1'), log: silent });
  store.setInit(INIT);
  for (let i = 0; i < 7; i++)
    store.addPart({ bytes: Uint8Array.of(i), durationSec: 0.2, programDateTimeMs: T0 + i * 200 });
});
afterEach(async () => {
  await app.close();
  await store.flushed();
  await rm(root, { recursive: true, force: true });
});

describe('origin clip routes', () => {
  const clip = (): string => path.join(root, 'clips', 'c1');
  beforeEach(async () => {
    await mkdir(path.join(clip(), 'seg'), { recursive: true });
    await writeFile(path.join(clip(), 'clip.m3u8'), '#EXTM3U\n#EXT-X-ENDLIST\n');
    await writeFile(path.join(clip(), 'init.mp4'), INIT);
    await writeFile(path.join(clip(), 'seg', '0.m4s'), Uint8Array.of(1, 2, 3));
  });

  it('serves a clip’s playlist, init and segments as immutable, with their content types', async () => {
    const clipDir = vi.fn((id: string) =>
      id === 'c1' || id === 'gone' ? path.join(root, 'clips', id) : undefined,
    );
    await start({ clipDir });
    for (const [url, type, body] of [
      ['clips/c1/clip.m3u8', /^application\/vnd\.apple\.mpegurl/, '#EXTM3U\n#EXT-X-ENDLIST\n'],
      ['clips/c1/init.mp4', /^video\/mp4$/, Buffer.from(INIT).toString('latin1')],
      ['clips/c1/seg/0.m4s', /^video\/mp4$/, '\x01\x02\x03'],
    ] as const) {
      const r = await get(url);
      expect(r.statusCode, url).toBe(200);
      expect(r.headers['content-type'], url).toMatch(type);
      expect(r.headers['cache-control'], url).toBe(IMMUTABLE);
      expect(r.rawPayload.toString('latin1'), url).toBe(body);
    }
    expect(clipDir).toHaveBeenCalledWith('c1');
  });

  it('answers 404 CLIP_NOT_FOUND / NOT_FOUND and 400 with no-store', async () => {
    await start({
      clipDir: (id) => (id === 'c1' || id === 'gone' ? path.join(root, 'clips', id) : undefined),
    });
    const cases: [string, number, string][] = [
      ['clips/nope/clip.m3u8', 404, 'CLIP_NOT_FOUND'],
      ['clips/nope/seg/0.m4s', 404, 'CLIP_NOT_FOUND'],
      ['clips/gone/clip.m3u8', 404, 'CLIP_NOT_FOUND'], // directory deleted
      ['clips/gone/init.mp4', 404, 'CLIP_NOT_FOUND'],
      ['clips/c1/seg/7.m4s', 404, 'NOT_FOUND'],
      ['clips/c1/seg/x.m4s', 400, 'BAD_REQUEST'],
      ['clips/c1/seg/..%2F..%2Fclip.m3u8', 400, 'BAD_REQUEST'],
      ['clips/bad.id/clip.m3u8', 400, 'BAD_REQUEST'],
    ];
    for (const [url, status, errCode] of cases) {
      const r = await get(url);
      expect(r.statusCode, url).toBe(status);
      expect(r.json(), url).toMatchObject({ error: { code: errCode } });
      expect(r.headers['cache-control'], url).toBe('no-store');
    }
  });

  it('has no clips without a clipDir option', async () => {
    await start({});
    const r = await get('clips/c1/clip.m3u8');
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ error: { code: 'CLIP_NOT_FOUND' } });
  });
});

describe('x-tribune-access', () => {
  const urls = [
    'spaces/sp1/master.m3u8',
    'spaces/sp1/audio.m3u8',
    'spaces/sp1/audio.m3u8?_HLS_msn=1&_HLS_part=1',
    'spaces/sp1/init.mp4',
    'spaces/sp1/seg/0.m4s',
    'spaces/sp1/part/1.0.m4s',
  ];
  const errors = [
    'spaces/sp1/seg/9.m4s',
    'spaces/sp1/seg/x.m4s',
    'spaces/sp1/audio.m3u8?_HLS_msn=9',
    'spaces/other/audio.m3u8',
  ];

  it('marks every response of a signed-in Space, successes and errors', async () => {
    const accessFor = vi.fn(async (id: string): Promise<HlsAccess> =>
      id === 'sp1' || id === 'other' ? 'signed-in' : 'public',
    );
    await start({ accessFor });
    for (const url of urls) {
      const r = await get(url);
      expect(r.statusCode, url).toBe(200);
      expect(r.headers['x-tribune-access'], url).toBe('signed-in');
    }
    for (const url of errors) {
      const r = await get(url);
      expect(r.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(r.headers['x-tribune-access'], url).toBe('signed-in');
    }
    expect(accessFor).toHaveBeenCalledWith('sp1');
  });

  it('leaves public Spaces (and the default) unmarked', async () => {
    await start({ accessFor: () => 'public' });
    for (const url of [...urls, ...errors])
      expect((await get(url)).headers['x-tribune-access'], url).toBeUndefined();
    await app.close();
    await start({});
    for (const url of [...urls, ...errors])
      expect((await get(url)).headers['x-tribune-access'], url).toBeUndefined();
  });
});
