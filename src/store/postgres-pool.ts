/**
 * The PostgreSQL connection pool of PostgresStorage: opening it (connection check, then
 * migrations), its sizes and timeouts, and the query helpers every part of the store uses.
 */
import pg from 'pg';
import { TribuneError } from '../errors.js';
import { migratePg } from './pg-migrations.js';

export interface PostgresOptions {
  /** Connections kept open at most by this process (default 10). */
  poolSize?: number;
  /** Longest wait for a new connection, or for a free one when all are busy (default 5 s). */
  connectTimeoutMs?: number;
  /** Longest a statement may run before PostgreSQL cancels it (default 10 s; migrations: none). */
  statementTimeoutMs?: number;
  /** An idle pooled connection failed (the server restarted...); the pool replaces it. */
  onIdleError?: (err: Error) => void;
}

/** `url` without its password (for messages and logs). */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.toString();
  } catch {
    return url.replace(/(password\s*=\s*)\S+/gi, '$1***').replace(/\/\/([^:/@]*):[^@/]*@/, '//$1@');
  }
}

/** One line saying why a connection failed (Node's happy-eyeballs wraps several in an AggregateError). */
function cause(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length)
    return [...new Set(err.errors.map(cause))].join('; ');
  const text =
    err instanceof Error ? err.message || (err as { code?: string }).code || err.name : String(err);
  return text.replace(/\s*\n\s*/g, ' ');
}

/**
 * A pool on `url` (postgres://user:password@host:port/database), its database migrated. Throws one
 * line naming the URL (without its password) and the cause when the server cannot be reached, or
 * when the database was written by a newer schema; the pool is then closed.
 */
export async function openPool(url: string, opts: PostgresOptions = {}): Promise<pg.Pool> {
  const where = redactDatabaseUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: opts.statementTimeoutMs ?? 10_000,
    idle_in_transaction_session_timeout: 60_000,
    keepAlive: true,
    application_name: 'tribune',
  });
  // Without a listener, an idle connection's error would crash the process.
  pool.on('error', (err) => (opts.onIdleError ?? (() => undefined))(err));
  try {
    try {
      (await pool.connect()).release();
    } catch (err) {
      throw new Error(`cannot connect to PostgreSQL at ${where}: ${cause(err)}`, { cause: err });
    }
    await migratePg(pool, undefined, where);
    return pool;
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
}

/**
 * True for a failure of the database itself rather than of the statement: the server down,
 * restarting or unreachable, the connection lost, the pool unable to connect in time, or a
 * statement cancelled by its timeout. Those become 503 STORE_UNAVAILABLE (retry shortly), not 500.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || ['57P01', '57P02', '57P03', '57014', '53300'].includes(code)) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND'].includes(code))
      return true;
  }
  return /timeout exceeded when trying to connect|Connection terminated|connection error|Client was closed/i.test(
    err.message,
  );
}

/**
 * Runs a database call; an outage becomes 503 STORE_UNAVAILABLE, a value PostgreSQL refuses
 * (SQLSTATE class 22, data exception: a NUL character in text, a number out of range) 400
 * BAD_REQUEST (SQLite takes such values; the API must not answer 500 on one backend only),
 * anything else passes through.
 */
async function guarded<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (isDatabaseUnavailable(err)) throw new TribuneError('STORE_UNAVAILABLE', undefined, { cause: err });
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('22'))
      throw new TribuneError('BAD_REQUEST', 'a value the database cannot store', { cause: err });
    throw err;
  }
}

/** Query helpers on the pool (each call one statement, on whichever connection is free). */
export class PgQueries {
  constructor(
    /** The pool (diagnostics, tests). Do not write through it outside the store. */
    readonly pool: pg.Pool,
  ) {}

  protected async rows<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    return (await guarded(() => this.pool.query<R>(text, values))).rows;
  }

  protected async first<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[],
  ): Promise<R | undefined> {
    return (await this.rows<R>(text, values))[0];
  }

  /** Runs a write; how many rows it touched. */
  protected async run(text: string, values: unknown[]): Promise<number> {
    return (await guarded(() => this.pool.query(text, values))).rowCount ?? 0;
  }
}
