/**
 * The listener list every listener sees (`GET /api/spaces/:id/listeners`, issue 11): signed-in
 * listeners are those with the Space's page open (its real-time channel), in the order they came,
 * paged; anonymous listeners are a count (the edges' count less the signed-in ones). Nobody on stage
 * or blocked is listed; a Space that requires sign-in lists to members only; bad input is a 400.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, TribuneClient, type ListenerList } from '../../src/client/index.js';
import { pollState, type StatePoller } from '../support/listener-poll.js';
import {
  createSpace,
  signedInClient,
  startTribune,
  type TestSpace,
  type TribuneHandle,
} from '../support/server.js';
import { openEvents, type SseStream } from '../support/sse.js';
import { waitFor } from '../support/wait.js';

const failure = async (p: Promise<unknown>): Promise<{ status: number; code: string }> => {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiError) return { status: err.status, code: err.code };
    throw err;
  }
  throw new Error('expected the call to fail');
};

interface Person {
  client: TribuneClient;
  id: string;
  page: SseStream;
  poll: StatePoller;
}

describe('the listener list', () => {
  let server: TribuneHandle;
  let space: TestSpace;
  let anon: TribuneClient;
  const streams: SseStream[] = [];
  const pollers: StatePoller[] = [];

  /** A signed-in user who opens the Space's page: the real-time channel, and polling as a listener. */
  const arrive = async (s: TestSpace, name: string): Promise<Person> => {
    const client = await signedInClient(server.url, name);
    const id = (await client.me()).user!.id;
    const page = openEvents(server.url, client, s.id);
    streams.push(page);
    await page.opened;
    const poll = pollState(server.url, s, `lid-${id}`, (await client.listen(s.id)).token);
    pollers.push(poll);
    return { client, id, page, poll };
  };

  /** Every page, `limit` at a time. */
  const allPages = async (c: TribuneClient, id: string, limit: number): Promise<ListenerList[]> => {
    const pages: ListenerList[] = [];
    let cursor: string | undefined;
    do {
      const p = await c.listeners(id, { cursor, limit });
      pages.push(p);
      cursor = p.nextCursor ?? undefined;
    } while (cursor && pages.length < 50);
    return pages;
  };

  beforeAll(async () => {
    server = await startTribune();
    space = await createSpace(server.url, 'Who listens');
    anon = new TribuneClient({ baseUrl: server.url });
    // The host has the page open too (on stage: never listed).
    streams.push(openEvents(server.url, space.hostClient, space.id));
  }, 60_000);

  afterAll(async () => {
    for (const s of streams) s.close();
    await Promise.all(pollers.map((p) => p.stop().catch(() => undefined)));
    await server?.stop();
  });

  it('lists signed-in listeners in the order they came, paged, with the anonymous count', async () => {
    const people: Person[] = [];
    for (let i = 0; i < 5; i++) people.push(await arrive(space, `listener ${i}`));
    for (let i = 0; i < 3; i++) pollers.push(pollState(server.url, space, `anonymous-listener-${i}`));
    const full = await waitFor(
      'all 8 listeners counted',
      async () => {
        const l = await anon.listeners(space.id);
        return l.total === 8 && l.signedIn === 5 ? l : null;
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    expect(full.anonymous).toBe(3);
    expect(full.nextCursor).toBeNull();
    expect(full.listeners.map((u) => u.id)).toEqual(people.map((p) => p.id));
    expect(full.listeners[0]).toEqual({
      id: people[0]!.id,
      handle: expect.stringMatching(/^listener/) as string,
      displayName: 'listener 0',
    });

    const pages = await allPages(anon, space.id, 2);
    expect(pages.map((p) => p.listeners.length)).toEqual([2, 2, 1]);
    expect(pages.at(-1)!.nextCursor).toBeNull();
    expect(pages.flatMap((p) => p.listeners.map((u) => u.id))).toEqual(people.map((p) => p.id));
    expect(pages.every((p) => p.total === 8 && p.anonymous === 3 && p.signedIn === 5)).toBe(true);

    // Closing the page leaves the list at once; the count follows the edges within seconds.
    people[1]!.page.close();
    await people[1]!.poll.stop();
    const after = await waitFor(
      'the leaver gone',
      async () => {
        const l = await anon.listeners(space.id);
        return l.signedIn === 4 && l.total === 7 ? l : null;
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    expect(after.listeners.map((u) => u.id)).toEqual(people.filter((_, i) => i !== 1).map((p) => p.id));
    expect(after.anonymous).toBe(3);
  }, 60_000);

  it('never lists the stage or a blocked user; a blocked user cannot read it', async () => {
    const speaker = await arrive(space, 'soon speaker');
    const pest = await arrive(space, 'pest');
    await waitFor('both listed', async () => {
      const ids = (await anon.listeners(space.id)).listeners.map((u) => u.id);
      return ids.includes(speaker.id) && ids.includes(pest.id);
    });
    const { token } = await space.hostClient.inviteLink(space.id);
    await speaker.client.acceptInvite(space.id, token);
    await space.hostClient.remove(space.id, pest.id);
    // Both pages are still open (the pest's even polls on): neither is listed.
    const l = await anon.listeners(space.id);
    const ids = l.listeners.map((u) => u.id);
    expect(ids).not.toContain(speaker.id);
    expect(ids).not.toContain(pest.id);
    expect(ids).not.toContain(space.host.id);
    expect(await failure(pest.client.listeners(space.id))).toEqual({ status: 403, code: 'BLOCKED' });
    // A signed-in listener may read it too.
    expect((await speaker.client.listeners(space.id)).signedIn).toBe(l.signedIn);
  }, 30_000);

  it('lists a members-only Space to signed-in users only', async () => {
    const members = await createSpace(server.url, 'Members only', { requireSignIn: true });
    const member = await arrive(members, 'member');
    expect(await failure(anon.listeners(members.id))).toEqual({ status: 401, code: 'SIGN_IN_REQUIRED' });
    const l = await waitFor('the member listed', async () => {
      const got = await member.client.listeners(members.id);
      return got.listeners.some((u) => u.id === member.id) ? got : null;
    });
    expect(l.signedIn).toBe(1);
    await members.end();
    expect(await member.client.listeners(members.id)).toEqual({
      total: 0,
      anonymous: 0,
      signedIn: 0,
      listeners: [],
      nextCursor: null,
    });
  }, 30_000);

  it('is served to anonymous pages by the edge (listeners.json): shared, cached 2 s, same content', async () => {
    const url = (q: string): string => `${server.url}/hls/spaces/${space.id}/listeners.json${q}`;
    const first = await fetch(url('?limit=2'));
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('public, max-age=2');
    const body = (await first.json()) as ListenerList;
    const api = await anon.listeners(space.id, { limit: 2 });
    expect(body.listeners.map((u) => u.id)).toEqual(api.listeners.map((u) => u.id));
    expect(body.total).toBe(api.total);
    // The same page again (parameters in another order): one cache entry, answered from the edge.
    const again = await fetch(url('?limit=2&'));
    await again.arrayBuffer();
    expect(again.headers.get('x-cache')).toMatch(/^(?:HIT|COLLAPSED)$/);
    // Bad input at the edge: 400 before any origin work; a members-only Space: 401 (use the API).
    for (const q of ['?limit=0', '?limit=101', '?limit=x', '?cursor=NOPE!', '?limit=1&limit=2', '?page=2']) {
      const r = await fetch(url(q));
      expect(r.status, q).toBe(400);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('BAD_REQUEST');
    }
    const members = await createSpace(server.url, 'Members list', { requireSignIn: true });
    const closed = await fetch(`${server.url}/hls/spaces/${members.id}/listeners.json`);
    expect(closed.status).toBe(401);
    await members.end();
    const unknown = await fetch(`${server.url}/hls/spaces/nope-nope/listeners.json`);
    expect(unknown.status).toBe(404);
  });

  it('refuses bad cursors and limits (400) and unknown Spaces (404)', async () => {
    const raw = async (path: string): Promise<{ status: number; code: string }> => {
      const res = await fetch(`${server.url}${path}`);
      const body = (await res.json()) as { error?: { code: string } };
      return { status: res.status, code: body.error?.code ?? 'none' };
    };
    const base = `/api/spaces/${space.id}/listeners`;
    const bad = { status: 400, code: 'BAD_REQUEST' };
    for (const q of [
      'cursor=',
      'cursor=!!',
      'cursor=ZZ',
      'cursor=0',
      'cursor=zzzzzzzzzzzz',
      `cursor=${'1'.repeat(500)}`,
      'limit=0',
      'limit=101',
      'limit=-1',
      'limit=abc',
      'limit=1.5',
      'page=2',
    ])
      expect(await raw(`${base}?${q}`), q).toEqual(bad);
    expect(await raw('/api/spaces/nope-nope/listeners')).toEqual({ status: 404, code: 'SPACE_NOT_FOUND' });
    expect(await raw('/api/spaces/bad%20id!/listeners')).toEqual(bad);
    // A well-formed cursor past the end is simply an empty last page.
    const end = await anon.listeners(space.id, { cursor: 'zzzzzz' });
    expect(end.listeners).toEqual([]);
    expect(end.nextCursor).toBeNull();
  });
});
