import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TribuneError } from '../../src/errors.js';
import { SqliteStorage } from '../../src/store/sqlite.js';
import { migrate, migrations, SCHEMA_VERSION, type Migration } from '../../src/store/migrations.js';
import type {
  MemberRecord,
  NewSpace,
  NotificationRecord,
  OutboxRecord,
  Role,
  SpaceRecord,
  UserRecord,
} from '../../src/store/types.js';

const SQLITE_TS = fileURLToPath(new URL('../../src/store/sqlite.ts', import.meta.url));

const iso = (minute: number): string => new Date(Date.UTC(2030, 0, 1, 12, minute)).toISOString();

const user = (id: string, handle = id): UserRecord => ({
  id,
  handle,
  displayName: `User ${id}`,
  passwordHash: `scrypt$16384$8$1$salt-${id}$hash-${id}`,
  createdAt: iso(0),
});

const space = (id: string, over: Partial<NewSpace> = {}): NewSpace => ({
  id,
  hostId: 'u1',
  title: `Space ${id}`,
  description: '',
  state: 'live',
  requireSignIn: false,
  scheduledFor: null,
  createdAt: iso(0),
  startedAt: iso(1),
  endedAt: null,
  ...over,
});

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

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'tribune-store-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** An in-memory store with users u1..u4 and Space s1 hosted by u1. */
async function seeded(): Promise<SqliteStorage> {
  const st = SqliteStorage.open(':memory:');
  for (const id of ['u1', 'u2', 'u3', 'u4']) await st.createUser(user(id));
  await st.createSpace(space('s1'));
  return st;
}

describe('SqliteStorage: opening, pragmas, migrations', () => {
  it('creates the parent directory and sets WAL, synchronous=FULL, foreign keys and busy timeout', async () => {
    const file = path.join(dir, 'a', 'b', 'tribune.db');
    const st = SqliteStorage.open(file);
    expect(existsSync(file)).toBe(true);
    expect(st.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(st.db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(st.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(st.db.pragma('busy_timeout', { simple: true })).toBe(5000);
    await st.close();
    await st.close(); // idempotent
    expect(st.db.open).toBe(false);
  });

  it('applies the migrations once: user_version is the last version after two opens, data kept', async () => {
    const file = path.join(dir, 'tribune.db');
    const a = SqliteStorage.open(file);
    expect(a.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBe(migrations[migrations.length - 1].version);
    await a.createUser(user('u1'));
    await a.close();
    const b = SqliteStorage.open(file);
    expect(b.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect((await b.userById('u1'))?.handle).toBe('u1');
    await b.close();
  });

  it('refuses a database with a newer schema version and leaves it untouched', () => {
    const file = path.join(dir, 'future.db');
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => SqliteStorage.open(file)).toThrow(/newer than this Tribune knows/);
    const check = new Database(file);
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
    expect(check.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get()).toEqual({
      n: 0,
    });
    check.close();
  });

  it('migrate() runs only pending migrations, each atomically with its version bump', () => {
    const db = new Database(':memory:');
    const list: Migration[] = [
      { version: 1, up: 'CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1);' },
      { version: 2, up: 'INSERT INTO t VALUES (2);' },
    ];
    expect(migrate(db, list.slice(0, 1))).toBe(1);
    expect(migrate(db, list)).toBe(2);
    expect(migrate(db, list)).toBe(2);
    expect(db.prepare('SELECT n FROM t ORDER BY n').pluck().all()).toEqual([1, 2]);
    // A failing migration leaves neither its partial effects nor its version behind.
    const broken = [...list, { version: 3, up: 'INSERT INTO t VALUES (3); INSERT INTO nowhere VALUES (1);' }];
    expect(() => migrate(db, broken)).toThrow(/nowhere/);
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    expect(db.prepare('SELECT n FROM t ORDER BY n').pluck().all()).toEqual([1, 2]);
    // Versions must be 1, 2, 3... in order.
    expect(() => migrate(db, [list[1], list[0]])).toThrow(/in order/);
    db.close();
  });
});

describe('SqliteStorage: durability', () => {
  it('a resolved write survives close and reopen', async () => {
    const file = path.join(dir, 'd.db');
    const a = SqliteStorage.open(file);
    await a.createUser(user('u1'));
    await a.createSpace(space('s1'));
    await a.enqueueOutbox({ id: 'o1', payload: '{}', attempts: 0, nextAttemptAt: iso(0), createdAt: iso(0) });
    await a.close();
    const b = SqliteStorage.open(file);
    expect(await b.spaceById('s1')).toMatchObject({ id: 's1', hostId: 'u1', replayState: 'none' });
    expect(await b.dueOutbox(iso(0), 10)).toHaveLength(1);
    await b.close();
  });

  it('a resolved write survives SIGKILL of the writing process', async () => {
    const file = path.join(dir, 'killed.db');
    const code = `
      const { SqliteStorage } = await import(${JSON.stringify(pathToFileURL(SQLITE_TS).href)});
      const st = SqliteStorage.open(${JSON.stringify(file)});
      await st.createUser(${JSON.stringify(user('k1'))});
      process.stdout.write('written\\n');
      setInterval(() => {}, 60_000); // never closes the database: the parent kills us
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, s) => resolve(s)));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('written')) resolve();
      });
      child.once('exit', (c) => reject(new Error(`child exited (${c}) before writing`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const st = SqliteStorage.open(file);
    expect(await st.userByHandle('k1')).toEqual(user('k1'));
    await st.close();
  });
});

describe('SqliteStorage: users and sessions', () => {
  let st: SqliteStorage;
  beforeEach(async () => {
    st = SqliteStorage.open(':memory:');
  });
  afterEach(async () => {
    await st.close();
  });

  it('creates and finds users; a duplicate handle is HANDLE_TAKEN', async () => {
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
    expect((dupId as { code?: string }).code).toBe('SQLITE_CONSTRAINT_PRIMARYKEY');
  });

  it('usersByIds returns known users in the order asked, once each', async () => {
    for (const id of ['u1', 'u2', 'u3']) await st.createUser(user(id));
    expect(await st.usersByIds([])).toEqual([]);
    const got = await st.usersByIds(['u3', 'zz', 'u1', 'u3']);
    expect(got.map((u) => u.id)).toEqual(['u3', 'u1']);
  });

  it('creates, finds, deletes and expires sessions', async () => {
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
    ).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' });
  });
});

describe('SqliteStorage: spaces', () => {
  let st: SqliteStorage;
  beforeEach(async () => {
    st = await seeded();
  });
  afterEach(async () => {
    await st.close();
  });

  it('createSpace fills the replay fields and returns the full record', async () => {
    const created = await st.createSpace(
      space('s2', { state: 'scheduled', scheduledFor: iso(30), startedAt: null, requireSignIn: true }),
    );
    const expected: SpaceRecord = {
      ...space('s2', { state: 'scheduled', scheduledFor: iso(30), startedAt: null, requireSignIn: true }),
      replayState: 'none',
      replayTrimStartSec: 0,
      replayExpiresAt: null,
    };
    expect(created).toEqual(expected);
    expect(await st.spaceById('s2')).toEqual(expected);
    expect(await st.spaceById('nope')).toBeUndefined();
  });

  it('updateSpace applies a partial patch, returns the record, and refuses unknown Spaces', async () => {
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
    // A patch can set nullable fields back to null.
    expect((await st.updateSpace('s1', { replayExpiresAt: null })).replayExpiresAt).toBeNull();
    const err = await st.updateSpace('nope', { title: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TribuneError);
    expect((err as TribuneError).code).toBe('SPACE_NOT_FOUND');
  });

  it('listSpaces: newest first; scheduled alone soonest first; filtered by state and limited', async () => {
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
  });

  it('expiredReplays: ended, available and expired by now', async () => {
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

describe('SqliteStorage: members and requests', () => {
  let st: SqliteStorage;
  beforeEach(async () => {
    st = await seeded();
  });
  afterEach(async () => {
    await st.close();
  });

  it('putMember inserts and replaces; booleans round-trip', async () => {
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
    // A request for a Space that does not exist is refused, not silently ignored.
    await expect(st.addRequest({ spaceId: 'ghost', userId: 'u2', createdAt: iso(1) })).rejects.toMatchObject({
      code: 'SQLITE_CONSTRAINT_FOREIGNKEY',
    });
  });
});

describe('SqliteStorage: subscriptions, notifications, clips', () => {
  let st: SqliteStorage;
  beforeEach(async () => {
    st = await seeded();
  });
  afterEach(async () => {
    await st.close();
  });

  it('subscribe is idempotent; subscribers in subscription order; unsubscribe', async () => {
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
    await st.createSpace(space('s2'));
    await st.createClip({
      id: 'c2',
      spaceId: 's1',
      creatorId: null,
      startSec: 60.5,
      durationSec: 30,
      createdAt: iso(5),
    });
    await st.createClip({
      id: 'c1',
      spaceId: 's1',
      creatorId: 'u2',
      startSec: 0,
      durationSec: 15,
      createdAt: iso(2),
    });
    await st.createClip({
      id: 'c3',
      spaceId: 's2',
      creatorId: 'u3',
      startSec: 5,
      durationSec: 10,
      createdAt: iso(1),
    });
    expect(await st.clipById('c2')).toEqual({
      id: 'c2',
      spaceId: 's1',
      creatorId: null,
      startSec: 60.5,
      durationSec: 30,
      createdAt: iso(5),
    });
    expect(await st.clipById('nope')).toBeUndefined();
    expect((await st.clipsForSpace('s1')).map((c) => c.id)).toEqual(['c1', 'c2']);
    await st.deleteClipsForSpace('s1');
    expect(await st.clipsForSpace('s1')).toEqual([]);
    expect(await st.clipById('c1')).toBeUndefined();
    expect((await st.clipsForSpace('s2')).map((c) => c.id)).toEqual(['c3']);
  });
});

describe('SqliteStorage: webhook outbox', () => {
  it('dueOutbox by nextAttemptAt, limited; reschedule and delete', async () => {
    const st = SqliteStorage.open(':memory:');
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
    await st.close();
  });
});
