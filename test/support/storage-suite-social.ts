/**
 * The social half of the Storage suite (storage-suite.ts): follows and their counters, the follow
 * cap, keyset pages of followers and Spaces, the notification feed, and search. The expected
 * results are SQLite's (FTS5, unicode61 without diacritics); every backend must give the same.
 */
import { describe, expect, it } from 'vitest';
import { SocialService } from '../../src/social/service.js';
import type { SpaceService } from '../../src/spaces/service.js';
import type { RankedKeyset } from '../../src/store/social-types.js';
import type { SpaceRecord } from '../../src/store/types.js';
import { freshStore, iso, space, user, type StorageBackend } from './storage-fixtures.js';

const ids = (list: { id: string }[]): string[] => list.map((x) => x.id);

export function describeSocialStorage(name: string, backend: StorageBackend): void {
  describe(`${name}: follows`, () => {
    const store = freshStore(backend, true);

    it('keeps counters exact through repeats and unfollows', async () => {
      const st = store();
      const t = iso(1);
      expect([await st.follow('u2', 'u1', t), await st.follow('u2', 'u1', t)]).toEqual([true, false]);
      await st.follow('u3', 'u1', t);
      expect(await st.followCounts('u1')).toEqual({ followers: 2, following: 0 });
      expect(await st.followCounts('u2')).toEqual({ followers: 0, following: 1 });
      expect(await st.isFollowing('u2', 'u1')).toBe(true);
      expect(await st.isFollowing('u1', 'u2')).toBe(false);
      expect([await st.unfollow('u2', 'u1'), await st.unfollow('u2', 'u1')]).toEqual([true, false]);
      expect(await st.isFollowing('u2', 'u1')).toBe(false);
      expect(await st.followCounts('u1')).toEqual({ followers: 1, following: 0 });
      expect(await st.followCounts('u2')).toEqual({ followers: 0, following: 0 });
      expect(await st.followCounts('nobody')).toEqual({ followers: 0, following: 0 });
      await expect(st.follow('u2', 'ghost', t)).rejects.toMatchObject({ code: backend.codes.foreignKey });
      expect(await st.followCounts('u2')).toEqual({ followers: 0, following: 0 });
    });

    it('keeps counters exact under concurrent follows and unfollows', async () => {
      const st = store();
      for (let i = 0; i < 20; i++) await st.createUser(user(`f${i}`));
      const fans = Array.from({ length: 20 }, (_, i) => `f${i}`);
      const added = await Promise.all([...fans, ...fans].map((f) => st.follow(f, 'u1', iso(1))));
      expect(added.filter(Boolean)).toHaveLength(20);
      await Promise.all(fans.map((f) => st.follow('u1', f, iso(2)))); // the other way round at once
      expect(await st.followCounts('u1')).toEqual({ followers: 20, following: 20 });
      const removed = await Promise.all(
        [...fans.slice(0, 5), ...fans.slice(0, 5)].map((f) => st.unfollow(f, 'u1')),
      );
      expect(removed.filter(Boolean)).toHaveLength(5);
      expect(await st.followCounts('u1')).toEqual({ followers: 15, following: 20 });
      expect(await st.followCounts('f0')).toEqual({ followers: 1, following: 0 });
    });

    it('refuses a follow past the cap (a repeat of an existing follow is fine)', async () => {
      const st = store();
      const svc = {
        storage: st,
        now: () => Date.now(),
        config: { webhookUrl: '' },
      } as unknown as SpaceService;
      const social = new SocialService(svc, { maxFollowing: 2 });
      const me = (await st.userById('u1'))!;
      await social.follow(me, 'u2', true);
      await social.follow(me, 'u3', true);
      await expect(social.follow(me, 'u3', true)).resolves.toMatchObject({ following: true });
      await expect(social.follow(me, 'u4', true)).rejects.toMatchObject({ code: 'FOLLOW_LIMIT_REACHED' });
      await social.follow(me, 'u2', false);
      await expect(social.follow(me, 'u4', true)).resolves.toMatchObject({ following: true });
    });

    it('pages followers and following newest first, ties broken by id', async () => {
      const st = store();
      await st.follow('u2', 'u1', iso(1));
      await st.follow('u3', 'u1', iso(3));
      await st.follow('u4', 'u1', iso(3));
      const all = await st.followers('u1', { limit: 10 });
      expect(all.map((e) => [e.user.id, e.since])).toEqual([
        ['u4', iso(3)],
        ['u3', iso(3)],
        ['u2', iso(1)],
      ]);
      expect(all[2].user).toEqual(user('u2'));
      expect(ids((await st.followers('u1', { limit: 2 })).map((e) => e.user))).toEqual(['u4', 'u3']);
      const next = await st.followers('u1', { after: { at: iso(3), id: 'u3' }, limit: 2 });
      expect(ids(next.map((e) => e.user))).toEqual(['u2']);
      expect(await st.followers('u1', { after: { at: iso(1), id: 'u2' }, limit: 2 })).toEqual([]);
      expect((await st.following('u2', { limit: 10 })).map((e) => [e.user.id, e.since])).toEqual([
        ['u1', iso(1)],
      ]);
      expect(await st.following('u1', { limit: 10 })).toEqual([]);
      expect(await st.followers('u1', { limit: 0 })).toEqual([]);
    });
  });

  describe(`${name}: a host's Spaces and followed Spaces`, () => {
    const store = freshStore(backend, true);

    it('pages by end, start or schedule, newest or soonest first, filtered by state', async () => {
      const st = store();
      // s1: u1, live, started minute 1.
      await st.createSpace(space('e1', { state: 'ended', startedAt: iso(2), endedAt: iso(4) }));
      await st.createSpace(space('sc1', { state: 'scheduled', startedAt: null, scheduledFor: iso(50) }));
      await st.createSpace(space('sc2', { state: 'scheduled', startedAt: null, scheduledFor: iso(40) }));
      await st.createSpace(space('x1', { hostId: 'u2', startedAt: iso(6) }));
      const page = { states: ['live', 'ended'] as SpaceRecord['state'][], limit: 10 };
      expect(ids(await st.spacesByHost('u1', page))).toEqual(['e1', 's1']);
      expect(ids(await st.spacesByHost('u1', { ...page, limit: 1 }))).toEqual(['e1']);
      expect(ids(await st.spacesByHost('u1', { ...page, after: { at: iso(4), id: 'e1' } }))).toEqual(['s1']);
      const soonest = { states: ['scheduled'] as SpaceRecord['state'][], limit: 10, ascending: true };
      expect(ids(await st.spacesByHost('u1', soonest))).toEqual(['sc2', 'sc1']);
      expect(ids(await st.spacesByHost('u1', { ...soonest, after: { at: iso(40), id: 'sc2' } }))).toEqual([
        'sc1',
      ]);
      expect(await st.spacesByHost('u1', { states: [], limit: 10 })).toEqual([]);
      expect((await st.spacesByHost('u2', page))[0]).toEqual(await st.spaceById('x1'));

      await st.follow('u3', 'u1', iso(0));
      await st.follow('u3', 'u2', iso(0));
      expect(ids(await st.followedSpaces('u3', { states: ['live'], limit: 10 }))).toEqual(['x1', 's1']);
      expect(ids(await st.followedSpaces('u3', page))).toEqual(['x1', 'e1', 's1']);
      expect(
        ids(await st.followedSpaces('u3', { ...page, after: { at: iso(6), id: 'x1' }, limit: 1 })),
      ).toEqual(['e1']);
      expect(ids(await st.followedSpaces('u3', soonest))).toEqual(['sc2', 'sc1']);
      expect(await st.followedSpaces('u4', page)).toEqual([]);
    });
  });

  describe(`${name}: notification feed`, () => {
    const store = freshStore(backend, true);

    it('merges reminder rows with followed hosts’ events, newest first, read up to the watermark', async () => {
      const st = store();
      // s1: u1, live, created minute 0, started minute 1.
      await st.createSpace(
        space('sc', { state: 'scheduled', createdAt: iso(2), startedAt: null, scheduledFor: iso(60) }),
      );
      await st.createSpace(space('lv', { createdAt: iso(3), startedAt: iso(5) }));
      await st.createSpace(space('rem', { createdAt: iso(4), scheduledFor: iso(6), startedAt: iso(7) }));
      await st.follow('u3', 'u1', iso(0));
      const row = (id: string, userId: string, spaceId: string, minute: number) => ({
        id,
        userId,
        spaceId,
        kind: 'space-started' as const,
        createdAt: iso(minute),
        readAt: null,
      });
      // u3 subscribed to "rem": its reminder row replaces the pulled "live" item.
      await st.addNotifications([row('n-rem', 'u3', 'rem', 7), row('n-other', 'u2', 'lv', 9)]);
      const feed = async (since: number, limit = 10, after?: { at: string; id: string }) =>
        (await st.notificationFeed('u3', { sinceIso: iso(since), limit, after })).map((i) => [
          i.id,
          i.kind,
          i.at,
          i.readAt,
          i.space.id,
        ]);
      expect(await feed(1)).toEqual([
        ['n-rem', 'space-started', iso(7), null, 'rem'],
        ['follow.live.lv', 'host-live', iso(5), null, 'lv'],
        ['follow.scheduled.rem', 'host-scheduled', iso(4), null, 'rem'],
        ['follow.scheduled.sc', 'host-scheduled', iso(2), null, 'sc'],
        ['follow.live.s1', 'host-live', iso(1), null, 's1'],
      ]);
      expect((await feed(2)).map((i) => i[0])).not.toContain('follow.live.s1');
      expect((await feed(1, 2)).map((i) => i[0])).toEqual(['n-rem', 'follow.live.lv']);
      expect((await feed(1, 2, { at: iso(5), id: 'follow.live.lv' })).map((i) => i[0])).toEqual([
        'follow.scheduled.rem',
        'follow.scheduled.sc',
      ]);
      const [first] = await st.notificationFeed('u3', { sinceIso: iso(0), limit: 1 });
      expect(first.space).toEqual(await st.spaceById('rem'));

      await st.markFeedRead('u3', iso(5));
      await st.markFeedRead('u3', iso(3)); // the watermark never goes back
      await st.createSpace(space('late', { createdAt: iso(8), startedAt: iso(8) }));
      expect((await feed(1)).map((i) => [i[0], i[3]])).toEqual([
        ['follow.live.late', null],
        ['n-rem', iso(5)],
        ['follow.live.lv', iso(5)],
        ['follow.scheduled.rem', iso(5)],
        ['follow.scheduled.sc', iso(5)],
        ['follow.live.s1', iso(5)],
      ]);
      expect((await st.notifications('u2', 10))[0].readAt).toBeNull(); // someone else's row
      expect(await st.notificationFeed('u4', { sinceIso: iso(0), limit: 10 })).toEqual([]);
    });
  });

  describe(`${name}: search`, () => {
    const store = freshStore(backend, false);

    async function seed() {
      const st = store();
      await st.createUser(user('u1', 'alice_w', 'Alice Wonder'));
      await st.createUser(user('u2', 'bob', 'Bob Builder'));
      await st.createUser(user('u3', 'dmitri', 'Дмитрий'));
      await st.createUser(user('u4', 'eve', 'Ève Noël'));
      const live = (id: string, hostId: string, title: string, minute: number) =>
        st.createSpace(space(id, { hostId, title, startedAt: iso(minute) }));
      await live('cafe', 'u2', 'Café Olé night', 10);
      await live('rust', 'u1', 'Rust & WebAssembly', 20);
      await st.createSpace(
        space('rust-old', { title: 'Rust meetup', state: 'ended', startedAt: iso(25), endedAt: iso(30) }),
      );
      const scheduled = { state: 'scheduled', startedAt: null } as const;
      await st.createSpace(
        space('rust-next', {
          ...scheduled,
          hostId: 'u2',
          title: 'Rusty tools: example.com',
          scheduledFor: iso(40),
        }),
      );
      await live('privet', 'u3', 'Привет мир', 5);
      await st.createSpace(
        space('noel', { ...scheduled, hostId: 'u4', title: 'Christmas', scheduledFor: iso(50) }),
      );
      const find = async (terms: string[], limit = 20, after?: RankedKeyset) =>
        ids(await st.searchSpaces({ terms, limit, after }));
      return { st, find };
    }

    it('matches every term as a word prefix of the title or the host, accents and case folded', async () => {
      const { find } = await seed();
      expect(await find(['rust'])).toEqual(['rust', 'rust-next', 'rust-old']); // live, scheduled, ended
      expect(await find(['rust', 'alice'])).toEqual(['rust', 'rust-old']);
      expect(await find(['rust', 'wonder'])).toEqual(['rust', 'rust-old']);
      expect(await find(['night', 'rust'])).toEqual([]);
      expect(await find(['web'])).toEqual(['rust']);
      expect(await find(['webassembly'])).toEqual(['rust']);
      expect(await find(['assembly'])).toEqual([]); // inside a word, not a prefix
      for (const t of ['cafe', 'café', 'caf', 'ole', 'olé']) expect(await find([t])).toEqual(['cafe']);
      expect(await find(['example'])).toEqual(['rust-next']);
      expect(await find(['com'])).toEqual(['rust-next']); // punctuation splits words
      expect(await find(['builder'])).toEqual(['cafe', 'rust-next']);
      expect(await find(['привет'])).toEqual(['privet']);
      expect(await find(['дмитр'])).toEqual(['privet']);
      expect(await find(['noel'])).toEqual(['noel']);
      expect(await find(['ève'])).toEqual(['noel']);
      expect(await find(['zzz'])).toEqual([]);
      expect(await find([])).toEqual([]);
    });

    it('a handle with an underscore is a phrase; a term with no word is left out', async () => {
      const { find } = await seed();
      expect(await find(['alice_w'])).toEqual(['rust', 'rust-old']);
      expect(await find(['alice_wonder'])).toEqual(['rust', 'rust-old']); // "alice", then "wonder"
      expect(await find(['wonder_alice'])).toEqual([]);
      expect(await find(['webassembly_alice'])).toEqual([]); // no phrase spans title and host
      expect(await find(['_'])).toEqual([]);
      expect(await find(['rust', '_'])).toEqual(['rust', 'rust-next', 'rust-old']);
    });

    it('pages live, then scheduled, then ended, newest first; follows title and state changes', async () => {
      const { st, find } = await seed();
      expect(await find(['rust'], 1)).toEqual(['rust']);
      expect(await find(['rust'], 1, { rank: 0, at: iso(20), id: 'rust' })).toEqual(['rust-next']);
      expect(await find(['rust'], 5, { rank: 1, at: iso(40), id: 'rust-next' })).toEqual(['rust-old']);
      expect(await find(['rust'], 5, { rank: 2, at: iso(30), id: 'rust-old' })).toEqual([]);

      await st.updateSpace('cafe', { title: 'Tea time' });
      expect(await find(['cafe'])).toEqual([]);
      expect(await find(['tea'])).toEqual(['cafe']);
      await st.updateSpace('rust', { state: 'ended', endedAt: iso(60) });
      expect(await find(['rust'])).toEqual(['rust-next', 'rust', 'rust-old']);
      const [hit] = await st.searchSpaces({ terms: ['tea'], limit: 1 });
      expect(hit).toEqual(await st.spaceById('cafe'));
      // Same state and time: ties broken by id, newest (greatest) first.
      await st.createSpace(space('b-twin', { hostId: 'u2', title: 'Twin', startedAt: iso(70) }));
      await st.createSpace(space('a-twin', { hostId: 'u2', title: 'Twin', startedAt: iso(70) }));
      expect(await find(['twin'])).toEqual(['b-twin', 'a-twin']);
      expect(await find(['twin'], 5, { rank: 0, at: iso(70), id: 'b-twin' })).toEqual(['a-twin']);
    });
  });
}
