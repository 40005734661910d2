/**
 * A real `tribune origin` on PostgreSQL (TRIBUNE_DATABASE_URL, a real server started by the test):
 * accounts, sessions, Spaces, follows and search live in the database, not in the data dir, and
 * survive a restart of the origin. A database that is down at start-up stops the origin at once
 * with one clear line and a non-zero exit, instead of a crash loop or a stack trace.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { freePort, REPO_ROOT, signedInClient, startTribune, type TribuneHandle } from '../support/server.js';

describe('tribune origin with TRIBUNE_DATABASE_URL', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tribune-pg-origin-'));
  let db: PostgresServer;
  let url: string;
  let origin: TribuneHandle | undefined;

  beforeAll(async () => {
    db = await startPostgres();
    url = await db.createDatabase('tribune');
  });
  afterAll(async () => {
    await origin?.stop();
    await db?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps accounts, sessions, Spaces and follows in PostgreSQL across a restart', async () => {
    const env = { TRIBUNE_DATABASE_URL: url };
    origin = await startTribune({ args: ['origin'], dataDir, env });
    const host = await signedInClient(origin.url, 'pghost');
    const hostHandle = (await host.me()).user!.handle;
    const live = await host.createSpace({ title: 'Shared store hour' });
    // A title PostgreSQL cannot store (a NUL character): a clear 400, not a 500.
    const refused = await host.createSpace({ title: 'nul \u0000 title' }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    const later = await host.createSpace({
      title: 'Tomorrow on Postgres',
      scheduledFor: new Date(Date.now() + 86_400_000).toISOString(),
    });
    const fan = await signedInClient(origin.url, 'fan');
    await fan.follow(hostHandle);
    await fan.subscribe(later.id);
    expect((await fan.search('shared STORE')).spaces.map((s) => s.id)).toEqual([live.id]);
    // Nothing of the control plane went to the data dir.
    expect(existsSync(path.join(dataDir, 'tribune.db'))).toBe(false);

    await origin.stop();
    origin = await startTribune({ args: ['origin'], dataDir, env: { ...env, PORT: String(origin.port) } });
    // The same cookies: the sessions are still valid.
    expect((await host.me()).user?.handle).toBe(hostHandle);
    expect(await host.space(live.id)).toMatchObject({
      id: live.id,
      title: 'Shared store hour',
      state: 'live',
    });
    expect(await fan.space(later.id)).toMatchObject({ id: later.id, state: 'scheduled' });
    expect((await fan.following((await fan.me()).user!.handle)).users.map((e) => e.user.handle)).toEqual([
      hostHandle,
    ]);
    expect((await fan.search('tomorrow')).spaces.map((s) => s.id)).toEqual([later.id]);
    const rows = await db.admin('SELECT count(*)::int AS n FROM spaces', 'tribune');
    expect(rows.rows[0].n).toBe(2);
    expect(existsSync(path.join(dataDir, 'tribune.db'))).toBe(false);
  });

  it('a database outage while running: 503 STORE_UNAVAILABLE at once, and back by itself', async () => {
    const env = { TRIBUNE_DATABASE_URL: url };
    origin ??= await startTribune({ args: ['origin'], dataDir, env });
    const host = await signedInClient(origin.url, 'outage');
    await db.down();
    try {
      const t0 = Date.now();
      const failure = await host.createSpace({ title: 'During the outage' }).then(
        () => null,
        (err: { status?: number; code?: string }) => err,
      );
      expect(failure).toMatchObject({ status: 503, code: 'STORE_UNAVAILABLE' });
      expect(Date.now() - t0).toBeLessThan(7_000); // the pool's 5 s connect timeout at most
      // The process is alive and says so; the media path does not need the database.
      expect((await fetch(`${origin.url}/healthz`)).status).toBe(200);
    } finally {
      await db.up();
    }
    // Back by itself: the pool reconnects, no restart of Tribune.
    const after = await host.createSpace({ title: 'After the outage' });
    expect(after.title).toBe('After the outage');
    expect(origin.logs()).not.toMatch(/housekeeping failed/);
  });

  it('a database down at start-up: one line naming the URL without its password, exit 1, at once', async () => {
    const dbPort = await freePort(); // nothing listens there
    const downUrl = `postgres://tribune:s3cret@127.0.0.1:${dbPort}/tribune`;
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'origin'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: String(await freePort()),
        TRIBUNE_DATA_DIR: dataDir,
        TRIBUNE_DATABASE_URL: downUrl,
        TRIBUNE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(killer);
    const elapsed = Date.now() - t0;
    expect(code, out).toBe(1);
    expect(elapsed).toBeLessThan(10_000); // tsx compiling the sources is most of it
    expect(out.trim()).toBe(
      `tribune: failed to start: cannot connect to PostgreSQL at postgres://tribune@127.0.0.1:${dbPort}/tribune: ` +
        `connect ECONNREFUSED 127.0.0.1:${dbPort}`,
    );
  });

  it('refuses a TRIBUNE_DATABASE_URL that is not PostgreSQL, without echoing it', () => {
    expect(() => loadConfig({ databaseUrl: 'mysql://root:hunter2@db/tribune' })).toThrow(
      /databaseUrl must be a postgres:\/\/ or postgresql:\/\/ URL/,
    );
    expect(() => loadConfig({ databaseUrl: 'mysql://root:hunter2@db/tribune' })).not.toThrow(/hunter2/);
    expect(loadConfig({ databaseUrl: 'postgresql://u@h/db' }).databaseUrl).toBe('postgresql://u@h/db');
  });
});
