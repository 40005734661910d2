/**
 * PostgresStorage against a real PostgreSQL (Debian's package, started in a temporary directory by
 * test/support/postgres.ts): the whole Storage suite, as SQLite runs it, then what is PostgreSQL's
 * own: its migrations table, several origins migrating at once, a newer schema refused, search
 * without unaccent, the pool and its timeouts, and a database that is down at start-up.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../src/store/migrations.js';
import { migratePg, pgMigrations, PG_SCHEMA_VERSION } from '../../src/store/pg-migrations.js';
import { PostgresStorage, redactDatabaseUrl } from '../../src/store/postgres.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { freePort } from '../support/server.js';
import { waitFor } from '../support/wait.js';
import { iso, space, user } from '../support/storage-fixtures.js';
import { describeStorage } from '../support/storage-suite.js';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

describeStorage('PostgresStorage', {
  async newDatabase() {
    const url = await server.createDatabase();
    return { open: () => PostgresStorage.open(url) };
  },
  codes: { primaryKey: '23505', foreignKey: '23503' },
});

/** A pool on `url` for looking behind the store's back; ended by the caller. */
const rawPool = (url: string) => new pg.Pool({ connectionString: url, max: 2 });

describe('PostgresStorage: migrations', () => {
  it('applies them once, recording each version; the versions are SQLite’s', async () => {
    expect(PG_SCHEMA_VERSION).toBe(SCHEMA_VERSION);
    expect(pgMigrations.map((m) => m.version)).toEqual(pgMigrations.map((_, i) => i + 1));
    const url = await server.createDatabase();
    const a = await PostgresStorage.open(url);
    await a.createUser(user('u1'));
    await a.close();
    const b = await PostgresStorage.open(url);
    expect((await b.userById('u1'))?.handle).toBe('u1');
    const versions = await b.pool.query('SELECT version FROM tribune_schema_migrations ORDER BY version');
    expect(versions.rows.map((r: { version: number }) => r.version)).toEqual(
      pgMigrations.map((m) => m.version),
    );
    const ext = await b.pool.query("SELECT 1 FROM pg_extension WHERE extname = 'unaccent'");
    expect(ext.rowCount).toBe(1); // a trusted extension: the database owner created it
    await b.close();
  });

  it('several origins starting at once on an empty database migrate it once', async () => {
    const url = await server.createDatabase();
    const stores = await Promise.all([1, 2, 3, 4].map(() => PostgresStorage.open(url)));
    const versions = await stores[0].pool.query(
      'SELECT version FROM tribune_schema_migrations ORDER BY version',
    );
    expect(versions.rows).toHaveLength(PG_SCHEMA_VERSION);
    await stores[1].createUser(user('u1'));
    expect(await stores[3].userById('u1')).toEqual(user('u1'));
    await Promise.all(stores.map((s) => s.close()));
  });

  it('refuses a database with a newer schema version and leaves it untouched', async () => {
    const url = await server.createDatabase();
    const raw = rawPool(url);
    await raw.query(
      'CREATE TABLE tribune_schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ)',
    );
    await raw.query('INSERT INTO tribune_schema_migrations (version) VALUES ($1)', [PG_SCHEMA_VERSION + 1]);
    const err = (await PostgresStorage.open(url).catch((e: unknown) => e)) as Error;
    expect(err.message).toBe(
      `${url} has schema version ${PG_SCHEMA_VERSION + 1}, newer than this Tribune knows ` +
        `(${PG_SCHEMA_VERSION}); upgrade Tribune or use another database`,
    );
    const tables = await raw.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
    expect(tables.rows).toEqual([{ tablename: 'tribune_schema_migrations' }]);
    await raw.end();
  });

  it('runs only pending migrations, each atomically with its version row', async () => {
    const raw = rawPool(await server.createDatabase());
    const list = [
      { version: 1, up: 'CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1);' },
      { version: 2, up: 'INSERT INTO t VALUES (2);' },
    ];
    const ns = async () =>
      (await raw.query('SELECT n FROM t ORDER BY n')).rows.map((r: { n: number }) => r.n);
    expect(await migratePg(raw, list.slice(0, 1))).toBe(1);
    expect(await migratePg(raw, list)).toBe(2);
    expect(await migratePg(raw, list)).toBe(2);
    expect(await ns()).toEqual([1, 2]);
    // A failing migration leaves neither its partial effects nor its version behind.
    const broken = [...list, { version: 3, up: 'INSERT INTO t VALUES (3); INSERT INTO nowhere VALUES (1);' }];
    await expect(migratePg(raw, broken)).rejects.toThrow(/nowhere/);
    expect((await raw.query('SELECT max(version) AS v FROM tribune_schema_migrations')).rows[0].v).toBe(2);
    expect(await ns()).toEqual([1, 2]);
    await expect(migratePg(raw, [list[1], list[0]])).rejects.toThrow(/in order/);
    await raw.end();
  });

  it('migration 2 indexes the Spaces already there for search', async () => {
    const url = await server.createDatabase();
    const raw = rawPool(url);
    expect(await migratePg(raw, pgMigrations.slice(0, 1))).toBe(1);
    await raw.query(
      `INSERT INTO users (id, handle, display_name, password_hash, created_at) VALUES ('u1', 'olduser', 'Old Timer', 'x', $1)`,
      [iso(0)],
    );
    await raw.query(
      `INSERT INTO spaces (id, host_id, title, description, state, require_sign_in, created_at, started_at)
       VALUES ('s1', 'u1', 'Before the upgrade', '', 'live', false, $1, $1)`,
      [iso(0)],
    );
    await raw.end();
    const st = await PostgresStorage.open(url);
    expect((await st.searchSpaces({ terms: ['upgr', 'timer'], limit: 10 })).map((s) => s.id)).toEqual(['s1']);
    expect(await st.followCounts('u1')).toEqual({ followers: 0, following: 0 });
    await st.close();
  });

  it('without the unaccent extension, search still works and folds case', async () => {
    // The role may not create extensions here (no CREATE on the database): no unaccent.
    const name = `noext_${Date.now().toString(36)}`;
    await server.admin(
      `CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`,
    );
    await server.admin('GRANT CREATE, USAGE ON SCHEMA public TO tribune', name);
    const st = await PostgresStorage.open(server.url(name));
    expect((await st.pool.query("SELECT 1 FROM pg_extension WHERE extname = 'unaccent'")).rowCount).toBe(0);
    await st.createUser(user('u1', 'zoe', 'ZOË'));
    await st.createSpace(space('s1', { title: 'Café Crème' }));
    const find = async (t: string) => (await st.searchSpaces({ terms: [t], limit: 10 })).map((s) => s.id);
    expect(await find('café')).toEqual(['s1']);
    expect(await find('crè')).toEqual(['s1']);
    expect(await find('zoë')).toEqual(['s1']);
    expect(await find('cafe')).toEqual([]); // accents are kept without unaccent
    await st.close();
  });
});

describe('PostgresStorage: pool, timeouts, failures', () => {
  it('holds at most 10 connections, and cancels a statement past its timeout', async () => {
    const url = await server.createDatabase();
    const st = await PostgresStorage.open(url);
    expect((await st.pool.query('SHOW statement_timeout')).rows[0].statement_timeout).toBe('10s');
    await Promise.all(Array.from({ length: 30 }, () => st.pool.query('SELECT pg_sleep(0.02)')));
    expect(st.pool.totalCount).toBeLessThanOrEqual(10);
    await st.close();
    const quick = await PostgresStorage.open(url, { statementTimeoutMs: 100 });
    await expect(quick.pool.query('SELECT pg_sleep(2)')).rejects.toMatchObject({ code: '57014' });
    expect(await quick.userById('u1')).toBeUndefined(); // the connection is still usable
    await quick.close();
  });

  it('survives its connections being cut: reports them and reconnects', async () => {
    const url = await server.createDatabase();
    const errors: Error[] = [];
    const st = await PostgresStorage.open(url, { onIdleError: (e) => errors.push(e) });
    await st.createUser(user('u1'));
    const db = new URL(url).pathname.slice(1);
    await server.admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${db}'`);
    await waitFor('the cut reported', () => errors.length > 0);
    expect(await st.userById('u1')).toEqual(user('u1'));
    await st.close();
  });

  it('a value PostgreSQL refuses (NUL in text, a number out of range) is 400 BAD_REQUEST, not a 500', async () => {
    const st = await PostgresStorage.open(await server.createDatabase());
    await st.createUser(user('u1'));
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'stored',
        (e: unknown) => (e as { code?: string }).code,
      );
    expect(await code(st.createSpace(space('s1', { title: 'nul \u0000 inside' })))).toBe('BAD_REQUEST');
    expect(await code(st.createUser(user('u2', 'u2', 'a\u0000b')))).toBe('BAD_REQUEST');
    expect(await st.spaceById('s1')).toBeUndefined(); // nothing half-written
    await st.createSpace(space('s2'));
    expect(await code(st.fenceSpaceMedia('s2', 1e20))).toBe('BAD_REQUEST'); // past BIGINT
    await st.close();
  });

  it('a database that is down: one line naming the URL without its password, fast', async () => {
    const port = await freePort();
    const t0 = Date.now();
    const err = (await PostgresStorage.open(`postgres://tribune:s3cret@127.0.0.1:${port}/tribune`).catch(
      (e: unknown) => e,
    )) as Error;
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(err.message).toMatch(
      new RegExp(
        `^cannot connect to PostgreSQL at postgres://tribune@127\\.0\\.0\\.1:${port}/tribune: .*ECONNREFUSED`,
      ),
    );
    expect(err.message).not.toContain('s3cret');
    expect(err.message).not.toContain('\n');
    // localhost: Node tries every address and wraps the failures; still one line with the cause.
    const local = (await PostgresStorage.open(`postgres://tribune@localhost:${port}/tribune`).catch(
      (e: unknown) => e,
    )) as Error;
    expect(local.message).toMatch(
      /^cannot connect to PostgreSQL at postgres:\/\/tribune@localhost:\d+\/tribune: .*ECONNREFUSED/,
    );
    // A database that does not exist says so.
    const missing = (await PostgresStorage.open(server.url('nowhere')).catch((e: unknown) => e)) as Error;
    expect(missing.message).toBe(
      `cannot connect to PostgreSQL at ${server.url('nowhere')}: database "nowhere" does not exist`,
    );
  });
});

describe('redactDatabaseUrl', () => {
  it('drops the password and keeps the rest', () => {
    expect(redactDatabaseUrl('postgres://u:p%40ss@db.example:5433/tribune?sslmode=require')).toBe(
      'postgres://u@db.example:5433/tribune?sslmode=require',
    );
    expect(redactDatabaseUrl('postgresql://u@127.0.0.1/t')).toBe('postgresql://u@127.0.0.1/t');
    expect(redactDatabaseUrl('postgres://127.0.0.1/t')).toBe('postgres://127.0.0.1/t');
    expect(redactDatabaseUrl('postgres://u@h/t?password=x&sslmode=disable')).toBe(
      'postgres://u@h/t?password=***&sslmode=disable',
    );
    expect(redactDatabaseUrl('host=db user=u password=secret dbname=t')).toBe(
      'host=db user=u password=*** dbname=t',
    );
  });
});
