/**
 * A real PostgreSQL for tests, from the Debian package (`/usr/lib/postgresql/<v>/bin`): a fresh
 * cluster in a temporary directory, on 127.0.0.1 and a free port, with its socket in that
 * directory. As root it runs as the `postgres` OS user (PostgreSQL refuses to run as root).
 * Tests connect as `tribune`, an ordinary role that owns the databases it gets (as an operator
 * would set it up), not as the superuser.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './server.js';

const run = promisify(execFile);

/** The newest installed server's bin directory, or undefined. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0], 'bin') : undefined;
}

export interface PostgresServer {
  port: number;
  /** The cluster's directory (data, socket, log). */
  dir: string;
  /** `postgres://tribune@127.0.0.1:<port>/<db>` */
  url(db: string): string;
  /** Creates an empty database owned by `tribune` (ICU `en-US` collation); returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Runs SQL as the superuser in database `db`. */
  admin(sql: string, db?: string): Promise<pg.QueryResult>;
  /** The server log so far. */
  log(): string;
  /** Stops the server (fast: sessions are cut), keeping its data: an outage. */
  down(): Promise<void>;
  /** Starts it again on the same port and data. */
  up(): Promise<void>;
  /** Fast shutdown (immediate after 10 s), then removes the directory. Idempotent. */
  stop(): Promise<void>;
}

const live = new Set<() => void>();
let hooked = false;

export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin)
    throw new Error('PostgreSQL is not installed (apt-get install postgresql): scripts/test.sh does it');
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(path.join(tmpdir(), 'tribune-pg-'));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(dir, uid, gid);
  }
  const as = (cmd: string, args: string[]): [string, string[]] =>
    asRoot
      ? ['runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args]]
      : [path.join(bin, cmd), args];
  const pgCtl = (...args: string[]) => {
    const [file, argv] = as('pg_ctl', ['-D', data, ...args]);
    return run(file, argv, { timeout: 40_000 });
  };

  const [initFile, initArgs] = as('initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
    '--no-sync',
  ]);
  await run(initFile, initArgs, { timeout: 60_000 });
  const port = await freePort();
  // Durability settings off: a test cluster is thrown away (the tests kill Tribune, not PostgreSQL).
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
    '-c shared_buffers=32MB',
  ].join(' ');
  await pgCtl('-l', logFile, '-o', options, '-w', '-t', '30', 'start');

  let stopped = false;
  const stopSync = (): void => {
    if (stopped) return;
    stopped = true;
    try {
      const [f, a] = as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '10', 'stop']);
      execFileSync(f, a, { stdio: 'ignore', timeout: 15_000 });
    } catch {
      // already down
    }
    rmSync(dir, { recursive: true, force: true });
  };
  live.add(stopSync);
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const s of live) s();
    });
  }

  const admin = async (sql: string, db = 'postgres'): Promise<pg.QueryResult> => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: db });
    await c.connect();
    try {
      return await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin('CREATE ROLE tribune LOGIN');
  let seq = 0;
  const url = (db: string): string => `postgres://tribune@127.0.0.1:${port}/${db}`;

  return {
    port,
    dir,
    url,
    admin,
    async down() {
      await pgCtl('-m', 'fast', '-w', '-t', '30', 'stop');
    },
    async up() {
      await pgCtl('-l', logFile, '-o', options, '-w', '-t', '30', 'start');
    },
    async createDatabase(name = `t${++seq}_${Date.now().toString(36)}`) {
      // A linguistic default collation, as operators' databases usually have ('a' < 'B' < 'b'):
      // the schema must order ids and times by bytes all the same.
      await admin(
        `CREATE DATABASE ${name} OWNER tribune TEMPLATE template0 ENCODING 'UTF8'
           LOCALE 'C.UTF-8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`,
      );
      return url(name);
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    async stop() {
      if (stopped) return;
      try {
        await pgCtl('-m', 'fast', '-w', '-t', '10', 'stop');
      } catch {
        // fall through to an immediate stop
      }
      stopSync();
      live.delete(stopSync);
    },
  };
}
