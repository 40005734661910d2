/**
 * Profiles and follows against a real server: follow and unfollow (idempotent, counted, paged with
 * opaque cursors), bad input (yourself, an unknown user, a flood), a host's Spaces by state, the
 * notification feed as a pull (a followed host's new Space reaches followers without one row per
 * follower: the database grows by the same number of rows for 1 follower as for 20), and the one
 * operator webhook event per Space (`host.scheduled`, `host.live`) whatever the follower count.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, TribuneClient } from '../../src/client/index.js';
import { signedInClient, startTribune, whipUrlFor, type TribuneHandle } from '../support/server.js';
import { ToneGenerator } from '../support/tone.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient } from '../support/whip-client.js';

const SECRET = 'social-test-secret';
const inAnHour = (): string => new Date(Date.now() + 3600_000).toISOString();

/** The error code a call fails with ('ok' if it does not). */
async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof ApiError) return `${err.status} ${err.code}`;
    throw err;
  }
}

describe('profiles, follows, the notification feed and the followers webhook', () => {
  let server: TribuneHandle;
  let hook: http.Server;
  const deliveries: { body: string; signature: string | undefined }[] = [];
  const speakers: NodeWhipClient[] = [];
  const handleOf = async (c: TribuneClient): Promise<string> => (await c.me()).user!.handle;
  const events = (type: string, spaceId: string) =>
    deliveries
      .map((d) => ({ ...d, json: JSON.parse(d.body) as { type: string; space?: { id: string } } }))
      .filter((d) => d.json.type === type && d.json.space?.id === spaceId);

  beforeAll(async () => {
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        deliveries.push({ body, signature: req.headers['x-tribune-signature'] as string | undefined });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    server = await startTribune({
      env: {
        TRIBUNE_TOKEN_SECRET: SECRET,
        TRIBUNE_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
        TRIBUNE_CREATE_SPACE_PER_MINUTE: '100000',
      },
    });
  }, 60_000);

  afterAll(async () => {
    for (const s of speakers) s.abruptClose();
    await server?.stop();
    hook?.close();
  });

  it('follows and unfollows idempotently, with counts on both profiles', async () => {
    const [host, fan] = await Promise.all([
      signedInClient(server.url, 'Hannah Host'),
      signedInClient(server.url, 'fan'),
    ]);
    const h = await handleOf(host);
    const f = await handleOf(fan);
    expect(await fan.profile(h)).toMatchObject({
      handle: h,
      displayName: 'Hannah Host',
      avatarUrl: null,
      followers: 0,
      following: 0,
      followedByMe: false,
      isMe: false,
      profileUrl: `/u/${h}`,
    });
    expect(await fan.follow(h)).toEqual({ following: true, followers: 1 });
    expect(await fan.follow(h)).toEqual({ following: true, followers: 1 }); // idempotent
    expect(await fan.profile(`@${h.toUpperCase()}`)).toMatchObject({ followers: 1, followedByMe: true });
    expect(await host.profile(f)).toMatchObject({ following: 1, followers: 0, followedByMe: false });
    expect(await host.profile(h)).toMatchObject({ isMe: true, followedByMe: false });
    const anon = new TribuneClient({ baseUrl: server.url });
    expect(await anon.profile(h)).toMatchObject({ followers: 1, followedByMe: false });
    expect((await anon.followers(h)).users.map((u) => u.user.handle)).toEqual([f]);
    expect((await anon.following(f)).users.map((u) => u.user.handle)).toEqual([h]);
    expect(await fan.unfollow(h)).toEqual({ following: false, followers: 0 });
    expect(await fan.unfollow(h)).toEqual({ following: false, followers: 0 }); // idempotent
    expect(await fan.profile(h)).toMatchObject({ followers: 0, followedByMe: false });
    expect(await host.profile(f)).toMatchObject({ following: 0 });
  });

  it('refuses following yourself, unknown users, anonymous follows, bad pages', async () => {
    const me = await signedInClient(server.url, 'self');
    const h = await handleOf(me);
    expect(await code(me.follow(h))).toBe('400 CANNOT_FOLLOW_SELF');
    expect(await code(me.unfollow(h))).toBe('400 CANNOT_FOLLOW_SELF');
    expect(await code(me.follow('nobody_here_42'))).toBe('404 USER_NOT_FOUND');
    expect(await code(me.profile('nobody_here_42'))).toBe('404 USER_NOT_FOUND');
    expect(await code(me.followers('nobody_here_42'))).toBe('404 USER_NOT_FOUND');
    expect(await code(me.userSpaces('nobody_here_42'))).toBe('404 USER_NOT_FOUND');
    expect(await code(me.profile('bad handle!'))).toBe('400 BAD_REQUEST');
    const anon = new TribuneClient({ baseUrl: server.url, cookieJar: true });
    expect(await code(anon.follow(h))).toBe('401 SIGN_IN_REQUIRED');
    expect(await code(anon.feed())).toBe('401 SIGN_IN_REQUIRED');
    expect(await code(me.followers(h, { limit: 101 }))).toBe('400 BAD_REQUEST');
    expect(await code(me.followers(h, { limit: 0 }))).toBe('400 BAD_REQUEST');
    expect(await code(me.followers(h, { cursor: 'not-a-cursor' }))).toBe('400 BAD_REQUEST');
    const res = await fetch(`${server.url}/api/users/${h}`);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('pages followers and following with opaque cursors, newest first, each user once', async () => {
    const host = await signedInClient(server.url, 'popular');
    const h = await handleOf(host);
    const fans: string[] = [];
    for (let i = 0; i < 7; i++) {
      const fan = await signedInClient(server.url, `pager${i}`);
      await fan.follow(h);
      await host.follow(await handleOf(fan));
      fans.push(await handleOf(fan));
    }
    const walk = async (list: typeof host.followers): Promise<{ handles: string[]; pages: number }> => {
      const handles: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const p = await list(h, { limit: 3, cursor });
        expect(p.users.length).toBeLessThanOrEqual(3);
        handles.push(...p.users.map((u) => u.user.handle));
        cursor = p.nextCursor ?? undefined;
        pages++;
      } while (cursor);
      return { handles, pages };
    };
    for (const list of [host.followers, host.following]) {
      const { handles, pages } = await walk(list);
      expect(pages).toBe(3);
      expect(handles).toEqual([...fans].reverse()); // newest follow first
    }
    expect((await host.profile(h)).followers).toBe(7);
    expect((await host.profile(h)).following).toBe(7);
  });

  it('refuses a follow flood per user with 429 RATE_LIMITED and Retry-After', async () => {
    const [flooder, other, target] = await Promise.all([
      signedInClient(server.url, 'flooder'),
      signedInClient(server.url, 'calm'),
      signedInClient(server.url, 'target'),
    ]);
    const t = await handleOf(target);
    for (let i = 0; i < 30; i++) await (i % 2 ? flooder.unfollow(t) : flooder.follow(t));
    const res = await fetch(`${server.url}/api/users/${t}/follow`, {
      method: 'PUT',
      headers: { cookie: flooder.cookieHeader()!, 'x-csrf-token': flooder.csrfToken()! },
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
    expect(await code(flooder.unfollow(t))).toBe('429 RATE_LIMITED'); // PUT and DELETE share the limit
    expect(await code(other.follow(t))).toBe('ok'); // per user: someone else is not slowed
  });

  it("lists a host's Spaces by state, paged, with the replay flag on ended ones", async () => {
    const host = await signedInClient(server.url, 'prolific');
    const h = await handleOf(host);
    const scheduled = [];
    for (let i = 0; i < 3; i++)
      scheduled.push(
        await host.createSpace({
          title: `Later ${i}`,
          scheduledFor: new Date(Date.now() + (3 - i) * 3600_000).toISOString(),
        }),
      );
    // Soonest first: "Later 2" (in 1 h), then 1, then 0.
    const p1 = await host.userSpaces(h, { state: 'scheduled', limit: 2 });
    expect(p1.spaces.map((s) => s.title)).toEqual(['Later 2', 'Later 1']);
    const p2 = await host.userSpaces(h, { state: 'scheduled', limit: 2, cursor: p1.nextCursor! });
    expect(p2.spaces.map((s) => s.title)).toEqual(['Later 0']);
    expect(p2.nextCursor).toBeNull();

    // One ended with a replay (a speaker talked), one without.
    const recorded = await host.createSpace({ title: 'Recorded' });
    const talker = new NodeWhipClient({ record: false, receive: false });
    speakers.push(talker);
    await talker.publish({
      whipUrl: whipUrlFor(server.url, recorded.id, 'talker'),
      token: (await host.publishToken(recorded.id)).token,
      source: new ToneGenerator({ freqHz: 440, amplitude: 0.3 }),
    });
    const playlist = `${server.url}/hls/spaces/${recorded.id}/audio.m3u8`;
    await waitFor(
      '2 s recorded',
      async () => ((await (await fetch(playlist)).text()).match(/#EXTINF/g) ?? []).length >= 2,
    );
    const live = await host.userSpaces(h, { state: 'live' });
    expect(live.spaces.map((s) => s.id)).toEqual([recorded.id]);
    expect(live.spaces[0].live?.speakers.map((s) => s.handle)).toEqual([h]);
    await host.end(recorded.id);
    const silent = await host.createSpace({ title: 'Silent' });
    await host.end(silent.id);
    // A live Space records (silence) from its start: on a busy machine a few parts may exist by the
    // end, and then there is a replay. Delete it, so this one is "ended without a replay" for sure.
    await host.deleteReplay(silent.id).catch(() => undefined);
    const ended = await new TribuneClient({ baseUrl: server.url }).userSpaces(h, { state: 'ended' });
    expect(ended.spaces.map((s) => [s.title, s.replay.state === 'available'])).toEqual([
      ['Silent', false], // 'none', or 'deleted' when a few silent parts had been recorded
      ['Recorded', true],
    ]);
    expect(['none', 'deleted']).toContain(ended.spaces[0].replay.state);
    expect(ended.spaces[1].replay.state).toBe('available');
    const all = await host.userSpaces(h, { limit: 100 });
    expect(all.spaces).toHaveLength(5);
  });

  /** Rows in every table but the webhook outbox (delivered and deleted meanwhile) and the search index. */
  function rowCount(): number {
    const db = new Database(path.join(server.dataDir, 'tribune.db'), { readonly: true, fileMustExist: true });
    try {
      const tables = db
        .prepare<[], string>(
          `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
           AND name NOT LIKE 'spaces_fts%' AND name <> 'outbox'`,
        )
        .pluck()
        .all();
      return tables.reduce(
        (n, t) => n + (db.prepare(`SELECT COUNT(*) FROM "${t}"`).pluck().get() as number),
        0,
      );
    } finally {
      db.close();
    }
  }

  it('notifies followers by a pull: the same rows written for 1 follower as for 20, and one webhook event', async () => {
    const small = await signedInClient(server.url, 'small host');
    const big = await signedInClient(server.url, 'big host');
    const [sh, bh] = [await handleOf(small), await handleOf(big)];
    const smallFan = await signedInClient(server.url, 'one fan');
    await smallFan.follow(sh);
    const bigFans: TribuneClient[] = [];
    for (let i = 0; i < 20; i++) {
      const fan = await signedInClient(server.url, `crowd${i}`);
      await fan.follow(bh);
      bigFans.push(fan);
    }
    expect((await big.profile(bh)).followers).toBe(20);

    const written = async (host: TribuneClient, title: string) => {
      const before = rowCount();
      const s = await host.createSpace({ title, scheduledFor: inAnHour() });
      return { s, rows: rowCount() - before };
    };
    const a = await written(small, 'Same title');
    const b = await written(big, 'Same title');
    expect(b.rows).toBe(a.rows); // independent of the follower count
    expect(b.rows).toBeLessThanOrEqual(2); // the Space and its host's membership

    // Every follower sees it, pulled at read time.
    for (const fan of [smallFan, bigFans[0], bigFans[19]]) {
      const want = fan === smallFan ? a.s : b.s;
      const feed = await fan.feed();
      expect(feed.items[0]).toMatchObject({
        kind: 'host-scheduled',
        spaceId: want.id,
        spaceTitle: 'Same title',
        spaceState: 'scheduled',
        readAt: null,
      });
      expect(feed.items[0].host.handle).toBe(fan === smallFan ? sh : bh);
    }
    // One webhook event, whatever the follower count, signed.
    await waitFor(
      'the host.scheduled events',
      () => events('host.scheduled', b.s.id).length > 0 && events('host.scheduled', a.s.id).length > 0,
    );
    const ev = events('host.scheduled', b.s.id);
    expect(ev).toHaveLength(1);
    expect(ev[0].json).toMatchObject({
      type: 'host.scheduled',
      host: {
        handle: bh,
        displayName: 'big host',
        followers: 20,
        followersUrl: `/api/users/${bh}/followers`,
      },
      space: { id: b.s.id, title: 'Same title', state: 'scheduled', shareUrl: `/s/${b.s.id}` },
    });
    expect(ev[0].signature).toBe(`sha256=${createHmac('sha256', SECRET).update(ev[0].body).digest('hex')}`);

    // Going live: one host.live event; followers see "is live"; a follower who subscribed gets the
    // reminder instead (not both).
    await bigFans[1].subscribe(b.s.id);
    const before = rowCount();
    await big.start(b.s.id);
    expect(rowCount() - before).toBe(1); // the one subscriber's reminder, none for the 20 followers
    await waitFor('the host.live event', () => events('host.live', b.s.id).length > 0);
    expect(events('host.live', b.s.id)).toHaveLength(1);
    expect((await bigFans[0].feed()).items.slice(0, 2).map((i) => i.kind)).toEqual([
      'host-live',
      'host-scheduled',
    ]);
    expect((await bigFans[1].feed()).items.slice(0, 2).map((i) => i.kind)).toEqual([
      'space-started',
      'host-scheduled',
    ]);
    // "From people you follow" on the home page.
    expect((await bigFans[0].followingSpaces('live')).spaces.map((s) => s.id)).toEqual([b.s.id]);
    expect((await smallFan.followingSpaces('scheduled')).spaces.map((s) => s.id)).toEqual([a.s.id]);

    // Reading marks pulled items read too; paging the feed.
    await bigFans[0].markFeedRead();
    expect((await bigFans[0].feed()).items.every((i) => i.readAt !== null)).toBe(true);
    const first = await bigFans[0].feed({ limit: 1 });
    expect(first.items).toHaveLength(1);
    const second = await bigFans[0].feed({ limit: 1, cursor: first.nextCursor! });
    expect(second.items[0].id).not.toBe(first.items[0].id);
    // The old notification endpoint still has the subscriber's reminder.
    expect((await bigFans[1].notifications()).notifications.map((n) => n.spaceId)).toEqual([b.s.id]);
    await big.end(b.s.id);
  });

  it('sends no followers event for a host nobody follows', async () => {
    const lonely = await signedInClient(server.url, 'lonely');
    const s = await lonely.createSpace({ title: 'Alone', scheduledFor: inAnHour() });
    await new Promise((r) => setTimeout(r, 1500)); // housekeeping delivers every second
    expect(events('host.scheduled', s.id)).toHaveLength(0);
  });
});
