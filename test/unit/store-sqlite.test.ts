import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStorage } from '../../src/store/sqlite.js';
import { migrate, migrations, SCHEMA_VERSION, type Migration } from '../../src/store/migrations.js';
import { user } from '../support/storage-fixtures.js';
import { describeStorage } from '../support/storage-suite.js';

const SQLITE_TS = fileURLToPath(new URL('../../src/store/sqlite.ts', import.meta.url));

let dir: string;
let databases = 0;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'tribune-store-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

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

// Everything the Storage interface promises, the same suite as PostgreSQL's
// (test/integration/store-postgres.test.ts).
describeStorage('SqliteStorage', {
  async newDatabase() {
    const file = path.join(dir, `suite-${++databases}.db`); // removed with `dir` after each test
    return { open: async () => SqliteStorage.open(file) };
  },
  codes: { primaryKey: 'SQLITE_CONSTRAINT_PRIMARYKEY', foreignKey: 'SQLITE_CONSTRAINT_FOREIGNKEY' },
});
