import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { SpaceView } from '../../src/api/schemas.js';
import { TribuneError } from '../../src/errors.js';
import { publicViewRoutes } from '../../src/spaces/public-view.js';

const view = (over: Partial<SpaceView> = {}): SpaceView => ({
  id: 'abc',
  title: 'Open mic',
  description: '',
  state: 'live',
  requireSignIn: false,
  scheduledFor: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  startedAt: '2026-01-01T00:00:00.000Z',
  endedAt: null,
  host: { id: 'u1', handle: 'host', displayName: 'Host' },
  shareUrl: '/s/abc',
  playbackUrl: '/hls/spaces/abc/master.m3u8',
  stateUrl: '/hls/spaces/abc/state.json',
  reactionsUrl: '/hls/spaces/abc/reactions',
  leaveUrl: '/hls/spaces/abc/leave',
  replay: { state: 'none', playbackUrl: null, trimStartSec: 0, durationSec: null, expiresAt: null },
  me: null,
  ...over,
});

async function app(views: Record<string, SpaceView>) {
  const a = Fastify();
  await a.register(
    publicViewRoutes({
      publicView: async (id) => {
        if (id === 'boom') throw new Error('disk on fire');
        const v = views[id];
        if (!v) throw new TribuneError('SPACE_NOT_FOUND');
        return v;
      },
    }),
    { prefix: '/origin' },
  );
  return a;
}

describe('public Space view for edges', () => {
  it('serves the caller-independent view, cacheable by state', async () => {
    const a = await app({
      abc: view(),
      sch: view({ id: 'sch', state: 'scheduled' }),
      end: view({ id: 'end', state: 'ended' }),
    });
    const live = await a.inject({ url: '/origin/spaces/abc/view.json' });
    expect(live.statusCode).toBe(200);
    expect(live.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(live.headers['cache-control']).toBe('public, max-age=1');
    expect(live.headers['x-tribune-access']).toBeUndefined();
    expect(live.json()).toEqual(view());
    expect((await a.inject({ url: '/origin/spaces/sch/view.json' })).headers['cache-control']).toBe(
      'public, max-age=1',
    );
    expect((await a.inject({ url: '/origin/spaces/end/view.json' })).headers['cache-control']).toBe(
      'public, max-age=5',
    );
    const head = await a.inject({ method: 'HEAD', url: '/origin/spaces/abc/view.json' });
    expect(head.statusCode).toBe(200);
    await a.close();
  });

  it('labels Spaces that require sign-in like every other origin answer about them', async () => {
    const a = await app({ abc: view({ requireSignIn: true }) });
    const res = await a.inject({ url: '/origin/spaces/abc/view.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-tribune-access']).toBe('signed-in');
    expect(res.json<SpaceView>().title).toBe('Open mic');
    await a.close();
  });

  it('answers unknown Spaces 404 SPACE_NOT_FOUND (briefly cacheable), bad ids 400, failures 500', async () => {
    const a = await app({});
    const missing = await a.inject({ url: '/origin/spaces/nope/view.json' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: { code: 'SPACE_NOT_FOUND', message: 'No such Space' } });
    expect(missing.headers['cache-control']).toBe('public, max-age=1');
    const bad = await a.inject({ url: '/origin/spaces/a.b/view.json' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ error: { code: string } }>().error.code).toBe('BAD_REQUEST');
    expect(bad.headers['cache-control']).toBe('no-store');
    const boom = await a.inject({ url: '/origin/spaces/boom/view.json' });
    expect(boom.statusCode).toBe(500);
    expect(boom.json<{ error: { code: string } }>().error.code).toBe('INTERNAL');
    expect(boom.headers['cache-control']).toBe('no-store');
    await a.close();
  });
});
