/**
 * The Storage test suite, run against every backend: `describeStorage(name, backend)` from
 * test/unit/store-sqlite.test.ts (SQLite) and test/integration/store-postgres.test.ts (a real
 * PostgreSQL). What a backend does beyond the interface (pragmas, its migrations table...) is
 * tested in those files. The social half (follows, feed, search) is storage-suite-social.ts, the
 * trust-and-safety half storage-suite-trust.ts.
 */
import { describe, expect, it } from 'vitest';
import { TribuneError } from '../../src/errors.js';
import type {
  MemberRecord,
  NotificationRecord,
  OutboxRecord,
  Role,
  SpaceRecord,
} from '../../src/store/types.js';
import { freshStore, iso, space, user, type StorageBackend } from './storage-fixtures.js';
import { describeSocialStorage } from './storage-suite-social.js';
import { describeTrustStorage } from './storage-suite-trust.js';

export type { StorageBackend } from './storage-fixtures.js';

const member = (
  userId: string,
  role: Role,
  minute: number,
  over: Partial<MemberRecord> = {},
): MemberRecord => ({
  spaceId: 's1',
  userId,
  role,
  hostMuted: false,
  unmuteLocked: false,
  selfMuted: false,
  blocked: false,
  updatedAt: iso(minute),
  ...over,
});

export function describeStorage(name: string, backend: StorageBackend): void {
  describe(`${name}: durability`, () => {
    it('a resolved write survives close and reopen; close is idempotent', async () => {
      const db = await backend.newDatabase();
      const a = await db.open();
      await a.createUser(user('u1'));
      await a.createSpace(space('s1'));
      await a.enqueueOutbox({
        id: 'o1',
        payload: '{}',
        attempts: 0,
        nextAttemptAt: iso(0),
        createdAt: iso(0),
      });
      await a.close();
      await a.close();
      const b = await db.open();
      expect(await b.spaceById('s1')).toMatchObject({ id: 's1', hostId: 'u1', replayState: 'none' });
      expect(await b.dueOutbox(iso(0), 10)).toHaveLength(1);
      await b.close();
    });
  });

  describe(`${name}: users and sessions`, () => {
    const store = freshStore(backend, false);

    it('creates and finds users; a duplicate handle is HANDLE_TAKEN', async () => {
      const st = store();
      await st.createUser(user('u1', 'alice'));
      await st.createUser(user('u2', 'bob'));
      expect(await st.userById('u1')).toEqual(user('u1', 'alice'));
      expect(await st.userByHandle('bob')).toEqual(user('u2', 'bob'));
      expect(await st.userById('nope')).toBeUndefined();
      expect(await st.userByHandle('nope')).toBeUndefined();
      const err = await st.createUser(user('u3', 'alice')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TribuneError);
      expect((err as TribuneError).code).toBe('HANDLE_TAKEN');
      expect(await st.userById('u3')).toBeUndefined();
      // A duplicate id is not a handle problem.
      const dupId = await st.createUser(user('u1', 'carol')).catch((e: unknown) => e);
      expect(dupId).not.toBeInstanceOf(TribuneError);
      expect((dupId as { code?: string }).code).toBe(backend.codes.primaryKey);
    });

    it('usersByIds returns known users in the order asked, once each', async () => {
      const st = store();
      for (const id of ['u1', 'u2', 'u3']) await st.createUser(user(id));
      expect(await st.usersByIds([])).toEqual([]);
      const got = await st.usersByIds(['u3', 'zz', 'u1', 'u3']);
      expect(got.map((u) => u.id)).toEqual(['u3', 'u1']);
    });

    it('creates, finds, deletes and expires sessions', async () => {
      const st = store();
      await st.createUser(user('u1'));
      await st.createSession({ idHash: 'h1', userId: 'u1', createdAt: iso(0), expiresAt: iso(10) });
      await st.createSession({ idHash: 'h2', userId: 'u1', createdAt: iso(0), expiresAt: iso(20) });
      await st.createSession({ idHash: 'h3', userId: 'u1', createdAt: iso(0), expiresAt: iso(30) });
      expect(await st.sessionByHash('h1')).toEqual({
        idHash: 'h1',
        userId: 'u1',
        createdAt: iso(0),
        expiresAt: iso(10),
      });
      await st.deleteSession('h3');
      expect(await st.sessionByHash('h3')).toBeUndefined();
      await st.deleteSession('h3'); // no-op
      expect(await st.deleteExpiredSessions(iso(5))).toBe(0);
      expect(await st.deleteExpiredSessions(iso(10))).toBe(1);
      expect(await st.sessionByHash('h1')).toBeUndefined();
      expect(await st.sessionByHash('h2')).toBeDefined();
      // Sessions belong to existing users (foreign keys are on).
      await expect(
        st.createSession({ idHash: 'h4', userId: 'ghost', createdAt: iso(0), expiresAt: iso(1) }),
      ).rejects.toMatchObject({ code: backend.codes.foreignKey });
    });
  });

  describe(`${name}: spaces`, () => {
    const store = freshStore(backend, true);

    it('createSpace fills the replay fields and returns the full record', async () => {
      const st = store();
      const fields = {
        state: 'scheduled',
        scheduledFor: iso(30),
        startedAt: null,
        requireSignIn: true,
      } as const;
      const created = await st.createSpace(space('s2', fields));
      const expected: SpaceRecord = {
        ...space('s2', fields),
        replayState: 'none',
        replayTrimStartSec: 0,
        replayExpiresAt: null,
      };
      expect(created).toEqual(expected);
      expect(await st.spaceById('s2')).toEqual(expected);
      expect(await st.spaceById('nope')).toBeUndefined();
    });

    it('updateSpace applies a partial patch, returns the record, and refuses unknown Spaces', async () => {
      const st = store();
      const updated = await st.updateSpace('s1', {
        state: 'ended',
        endedAt: iso(40),
        replayState: 'available',
        replayTrimStartSec: 12.5,
        replayExpiresAt: iso(50),
        requireSignIn: true,
        title: undefined, // undefined fields are left alone
      });
      expect(updated).toEqual({
        ...space('s1'),
        state: 'ended',
        endedAt: iso(40),
        replayState: 'available',
        replayTrimStartSec: 12.5,
        replayExpiresAt: iso(50),
        requireSignIn: true,
      });
      expect(await st.spaceById('s1')).toEqual(updated);
      // A patch can set nullable fields back to null; an empty patch changes nothing.
      expect((await st.updateSpace('s1', { replayExpiresAt: null })).replayExpiresAt).toBeNull();
      expect(await st.updateSpace('s1', {})).toEqual({ ...updated, replayExpiresAt: null });
      for (const patch of [{ title: 'x' }, {}]) {
        const err = await st.updateSpace('nope', patch).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TribuneError);
        expect((err as TribuneError).code).toBe('SPACE_NOT_FOUND');
      }
    });

    it('media fences: a newer token wins; a write under an older one is refused with LEASE_LOST', async () => {
      const st = store();
      // No fence recorded yet: a fenced write passes.
      expect((await st.updateSpace('s1', { title: 'a' }, 1)).title).toBe('a');
      expect(await st.fenceSpaceMedia('s1', 3)).toBe(true);
      expect(await st.fenceSpaceMedia('s1', 3)).toBe(true); // the same holder again
      expect(await st.fenceSpaceMedia('s1', 2)).toBe(false); // a stale holder cannot take it back
      expect((await st.updateSpace('s1', { title: 'b' }, 3)).title).toBe('b');
      expect((await st.updateSpace('s1', { title: 'c' }, 4)).title).toBe('c'); // newer than recorded
      for (const patch of [{ state: 'ended' as const }, {}]) {
        const err = await st.updateSpace('s1', patch, 2).catch((e: unknown) => e);
        expect((err as TribuneError).code).toBe('LEASE_LOST');
      }
      // Nothing of the refused write landed; unfenced writes are not affected.
      expect((await st.spaceById('s1'))?.state).toBe('live');
      expect((await st.updateSpace('s1', { title: 'd' })).title).toBe('d');
      const err = await st.fenceSpaceMedia('nope', 1).catch((e: unknown) => e);
      expect((err as TribuneError).code).toBe('SPACE_NOT_FOUND');
    });

    it('listSpaces: newest first; scheduled alone soonest first; filtered by state and limited', async () => {
      const st = store();
      // s1: live, started minute 1.
      await st.createSpace(space('live2', { startedAt: iso(5) }));
      await st.createSpace(space('ended1', { state: 'ended', startedAt: iso(2), endedAt: iso(3) }));
      await st.createSpace(space('ended2', { state: 'ended', startedAt: iso(2), endedAt: iso(8) }));
      await st.createSpace(space('sch-late', { state: 'scheduled', startedAt: null, scheduledFor: iso(50) }));
      await st.createSpace(space('sch-soon', { state: 'scheduled', startedAt: null, scheduledFor: iso(20) }));
      await st.createSpace(space('sch-mid', { state: 'scheduled', startedAt: null, scheduledFor: iso(30) }));
      const ids = async (states: SpaceRecord['state'][], limit = 100): Promise<string[]> =>
        (await st.listSpaces({ states, limit })).map((s) => s.id);

      expect(await ids(['live'])).toEqual(['live2', 's1']);
      expect(await ids(['ended'])).toEqual(['ended2', 'ended1']);
      expect(await ids(['scheduled'])).toEqual(['sch-soon', 'sch-mid', 'sch-late']);
      expect(await ids(['live', 'ended'])).toEqual(['ended2', 'live2', 'ended1', 's1']);
      expect(await ids(['scheduled', 'live'])).toEqual(['sch-late', 'sch-mid', 'sch-soon', 'live2', 's1']);
      expect(await ids(['live', 'ended'], 2)).toEqual(['ended2', 'live2']);
      expect(await ids(['scheduled'], 1)).toEqual(['sch-soon']);
      expect(await ids([])).toEqual([]);
      expect(await ids(['live'], 0)).toEqual([]);
      expect(await ids(['live'], -1)).toEqual([]);
    });

    it('ties are broken by id in byte order, whatever the database locale', async () => {
      const st = store();
      for (const id of ['b', 'B', 'a_', 'a-', 'é', 'A'])
        await st.createSpace(space(id, { startedAt: iso(1) }));
      const live = (await st.listSpaces({ states: ['live'], limit: 100 })).map((s) => s.id);
      expect(live).toEqual(['A', 'B', 'a-', 'a_', 'b', 's1', 'é']);
    });

    it('expiredReplays: ended, available and expired by now', async () => {
      const st = store();
      const ended = { state: 'ended' as const, endedAt: iso(2) };
      for (const id of ['due', 'exact', 'later', 'deleted', 'none', 'live']) await st.createSpace(space(id));
      await st.updateSpace('due', { ...ended, replayState: 'available', replayExpiresAt: iso(10) });
      await st.updateSpace('exact', { ...ended, replayState: 'available', replayExpiresAt: iso(20) });
      await st.updateSpace('later', { ...ended, replayState: 'available', replayExpiresAt: iso(21) });
      await st.updateSpace('deleted', { ...ended, replayState: 'deleted', replayExpiresAt: iso(10) });
      await st.updateSpace('none', { ...ended, replayState: 'none' });
      await st.updateSpace('live', { replayState: 'available', replayExpiresAt: iso(10) }); // not ended
      expect((await st.expiredReplays(iso(20))).map((s) => s.id)).toEqual(['due', 'exact']);
      expect(await st.expiredReplays(iso(5))).toEqual([]);
      await st.updateSpace('due', { replayState: 'expired' });
      expect((await st.expiredReplays(iso(30))).map((s) => s.id)).toEqual(['exact', 'later']);
    });
  });

  describe(`${name}: members and requests`, () => {
    const store = freshStore(backend, true);

    it('putMember inserts and replaces; booleans round-trip', async () => {
      const st = store();
      expect(await st.member('s1', 'u2')).toBeUndefined();
      await st.putMember(member('u2', 'listener', 1));
      expect(await st.member('s1', 'u2')).toEqual(member('u2', 'listener', 1));
      const muted = member('u2', 'speaker', 2, { hostMuted: true, unmuteLocked: true, selfMuted: true });
      await st.putMember(muted);
      expect(await st.member('s1', 'u2')).toEqual(muted);
      await st.putMember(member('u2', 'listener', 3, { blocked: true }));
      expect(await st.member('s1', 'u2')).toEqual(member('u2', 'listener', 3, { blocked: true }));
      expect(await st.members('s1')).toHaveLength(1);
    });

    it('members: ordered host, cohost, speaker, listener then updatedAt; filtered by role', async () => {
      const st = store();
      await st.putMember(member('u4', 'listener', 1));
      await st.putMember(member('u3', 'speaker', 9));
      await st.putMember(member('u2', 'speaker', 5));
      await st.putMember(member('u1', 'host', 7));
      const order = (ms: MemberRecord[]): string[] => ms.map((m) => `${m.role}:${m.userId}`);
      expect(order(await st.members('s1'))).toEqual(['host:u1', 'speaker:u2', 'speaker:u3', 'listener:u4']);
      await st.putMember(member('u3', 'cohost', 10));
      expect(order(await st.members('s1'))).toEqual(['host:u1', 'cohost:u3', 'speaker:u2', 'listener:u4']);
      expect(order(await st.members('s1', ['speaker', 'cohost']))).toEqual(['cohost:u3', 'speaker:u2']);
      expect(order(await st.members('s1', ['listener']))).toEqual(['listener:u4']);
      expect(await st.members('s1', [])).toEqual([]);
      expect(await st.members('other')).toEqual([]);
    });

    it('requests are FIFO by createdAt, idempotent, removable and clearable', async () => {
      const st = store();
      await st.addRequest({ spaceId: 's1', userId: 'u3', createdAt: iso(3) });
      await st.addRequest({ spaceId: 's1', userId: 'u2', createdAt: iso(1) });
      await st.addRequest({ spaceId: 's1', userId: 'u4', createdAt: iso(2) });
      // Asking again keeps the original place in the queue.
      await st.addRequest({ spaceId: 's1', userId: 'u2', createdAt: iso(9) });
      expect(await st.requests('s1')).toEqual([
        { spaceId: 's1', userId: 'u2', createdAt: iso(1) },
        { spaceId: 's1', userId: 'u4', createdAt: iso(2) },
        { spaceId: 's1', userId: 'u3', createdAt: iso(3) },
      ]);
      expect(await st.removeRequest('s1', 'u4')).toBe(true);
      expect(await st.removeRequest('s1', 'u4')).toBe(false);
      expect((await st.requests('s1')).map((r) => r.userId)).toEqual(['u2', 'u3']);
      await st.clearRequests('s1');
      expect(await st.requests('s1')).toEqual([]);
      // Same createdAt: first asked, first served.
      for (const u of ['u4', 'u2', 'u3'])
        await st.addRequest({ spaceId: 's1', userId: u, createdAt: iso(5) });
      expect((await st.requests('s1')).map((r) => r.userId)).toEqual(['u4', 'u2', 'u3']);
      // A request for a Space that does not exist is refused, not silently ignored.
      await expect(
        st.addRequest({ spaceId: 'ghost', userId: 'u2', createdAt: iso(1) }),
      ).rejects.toMatchObject({
        code: backend.codes.foreignKey,
      });
    });
  });

  describe(`${name}: subscriptions, notifications, clips`, () => {
    const store = freshStore(backend, true);

    it('subscribe is idempotent; subscribers in subscription order; unsubscribe', async () => {
      const st = store();
      await st.subscribe('s1', 'u3');
      await st.subscribe('s1', 'u2');
      await st.subscribe('s1', 'u3');
      expect(await st.subscribers('s1')).toEqual(['u3', 'u2']);
      expect(await st.isSubscribed('s1', 'u2')).toBe(true);
      expect(await st.isSubscribed('s1', 'u4')).toBe(false);
      await st.unsubscribe('s1', 'u3');
      await st.unsubscribe('s1', 'u3');
      expect(await st.subscribers('s1')).toEqual(['u2']);
      expect(await st.isSubscribed('s1', 'u3')).toBe(false);
    });

    it('notifications: added atomically, newest first per user, limited, marked read', async () => {
      const st = store();
      const n = (id: string, userId: string, minute: number): NotificationRecord => ({
        id,
        userId,
        spaceId: 's1',
        kind: 'space-started',
        createdAt: iso(minute),
        readAt: null,
      });
      await st.addNotifications([]);
      await st.addNotifications([n('n1', 'u2', 1), n('n2', 'u2', 3), n('n3', 'u3', 2), n('n4', 'u2', 2)]);
      expect((await st.notifications('u2', 10)).map((x) => x.id)).toEqual(['n2', 'n4', 'n1']);
      expect((await st.notifications('u2', 2)).map((x) => x.id)).toEqual(['n2', 'n4']);
      expect(await st.notifications('u3', 10)).toEqual([n('n3', 'u3', 2)]);
      // One bad record (unknown user) and none of the batch is stored.
      await expect(st.addNotifications([n('n5', 'u2', 5), n('n6', 'ghost', 5)])).rejects.toThrow();
      expect((await st.notifications('u2', 10)).map((x) => x.id)).toEqual(['n2', 'n4', 'n1']);

      await st.markNotificationsRead('u2', iso(10));
      expect((await st.notifications('u2', 10)).every((x) => x.readAt === iso(10))).toBe(true);
      expect((await st.notifications('u3', 10))[0].readAt).toBeNull();
      await st.addNotifications([n('n7', 'u2', 11)]);
      await st.markNotificationsRead('u2', iso(20));
      const read = await st.notifications('u2', 10);
      expect(read.find((x) => x.id === 'n7')?.readAt).toBe(iso(20));
      expect(read.find((x) => x.id === 'n1')?.readAt).toBe(iso(10)); // already read: kept
    });

    it('clips: create, find, list per Space, delete per Space', async () => {
      const st = store();
      await st.createSpace(space('s2'));
      const clip = (
        id: string,
        spaceId: string,
        creatorId: string | null,
        startSec: number,
        minute: number,
      ) => ({
        id,
        spaceId,
        creatorId,
        startSec,
        durationSec: 15,
        createdAt: iso(minute),
      });
      await st.createClip(clip('c2', 's1', null, 60.5, 5));
      await st.createClip(clip('c1', 's1', 'u2', 0, 2));
      await st.createClip(clip('c3', 's2', 'u3', 5, 1));
      expect(await st.clipById('c2')).toEqual(clip('c2', 's1', null, 60.5, 5));
      expect(await st.clipById('nope')).toBeUndefined();
      expect((await st.clipsForSpace('s1')).map((c) => c.id)).toEqual(['c1', 'c2']);
      await st.deleteClipsForSpace('s1');
      expect(await st.clipsForSpace('s1')).toEqual([]);
      expect(await st.clipById('c1')).toBeUndefined();
      expect((await st.clipsForSpace('s2')).map((c) => c.id)).toEqual(['c3']);
      await st.deleteClip('c3');
      expect(await st.clipById('c3')).toBeUndefined();
      await st.deleteClip('c3'); // already gone: no error
    });
  });

  describe(`${name}: webhook outbox`, () => {
    const store = freshStore(backend, false);

    it('dueOutbox by nextAttemptAt, limited; reschedule and delete', async () => {
      const st = store();
      const o = (id: string, minute: number): OutboxRecord => ({
        id,
        payload: JSON.stringify({ event: id }),
        attempts: 0,
        nextAttemptAt: iso(minute),
        createdAt: iso(0),
      });
      await st.enqueueOutbox(o('late', 30));
      await st.enqueueOutbox(o('first', 5));
      await st.enqueueOutbox(o('second', 10));
      expect((await st.dueOutbox(iso(10), 10)).map((x) => x.id)).toEqual(['first', 'second']);
      expect((await st.dueOutbox(iso(10), 1)).map((x) => x.id)).toEqual(['first']);
      expect(await st.dueOutbox(iso(4), 10)).toEqual([]);
      expect((await st.dueOutbox(iso(10), 10))[0]).toEqual(o('first', 5));

      // A failed delivery is retried later with its attempt count.
      await st.rescheduleOutbox('first', 1, iso(20));
      expect((await st.dueOutbox(iso(10), 10)).map((x) => x.id)).toEqual(['second']);
      expect((await st.dueOutbox(iso(25), 10)).map((x) => [x.id, x.attempts])).toEqual([
        ['second', 0],
        ['first', 1],
      ]);
      await st.deleteOutbox('second');
      await st.deleteOutbox('second');
      expect((await st.dueOutbox(iso(60), 10)).map((x) => x.id)).toEqual(['first', 'late']);
    });
  });

  describeSocialStorage(name, backend);
  describeTrustStorage(name, backend);
}
