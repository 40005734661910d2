/**
 * Sends statements of reasons to the DSA Transparency Database (Art. 24(5)) through the persistent
 * outbox (TrustStorage's enqueueTdb / dueTdb / putTdb / tdbByPuid).
 *
 * - `enqueue` stores the payload (personal data already stripped, validated locally: one the API
 *   would refuse is stored `failed` at once). Nothing is stored when the mode is `off`.
 * - `flush` takes up to 100 due records. A record already tried (attempts > 0: an answer may have
 *   been lost) is first looked up with GET /api/v1/statement/existing-puid/{puid}; when it exists
 *   (302) it is marked sent without being sent again. The rest go in one POST /api/v1/statements.
 *   - 201: each is marked sent with the database's uuid.
 *   - 422 with `statement_N` errors: none was created; the bad ones are marked failed with the
 *     API's messages, the others are sent again at once. 422 with `existing_puids` (a puid already
 *     in the database): those are marked sent, the others are sent again.
 *   - network error, timeout, 429, 5xx (and any other answer): the batch is retried later with
 *     exponential backoff (30 s x 2^attempts, at most 6 h, +-20% jitter).
 *   Attempts are counted before the POST (write-ahead), so a crash mid-request also leads to the
 *   existing-puid check rather than a duplicate.
 * - `sandbox` is the same protocol against the configured sandbox endpoint; its log lines say so.
 */
import type { TrustStorage } from '../store/trust-types.js';
import type { TdbStatus } from './api-types.js';
import type { StatementRecord, TdbOutboxRecord } from './model.js';
import { TDB_BATCH_MAX, toTdbPayload, validateTdbPayload, type TdbPayload } from './tdb.js';

export type TdbStore = Pick<TrustStorage, 'enqueueTdb' | 'dueTdb' | 'putTdb' | 'tdbByPuid'>;

export interface TdbSubmitterLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error?(obj: object, msg: string): void;
}

export interface TdbSubmitterOptions {
  store: TdbStore;
  config: { mode: 'off' | 'sandbox' | 'production'; endpoint: string; token: string };
  /** The platform's public URL (passed to toTdbPayload). */
  platformUrl?: string;
  fetch?: typeof fetch;
  /** Milliseconds since the epoch (tests inject a clock). */
  now?: () => number;
  /** [0, 1) for the backoff jitter. */
  random?: () => number;
  log?: TdbSubmitterLog;
  /** Per request (default 30 s). */
  timeoutMs?: number;
}

export interface FlushResult {
  /** Records taken from the outbox this pass. */
  taken: number;
  sent: number;
  /** Already in the database (existing-puid check or duplicate answer): marked sent, not resent. */
  existing: number;
  failed: number;
  /** Rescheduled with backoff. */
  retried: number;
  /** HTTP requests made (checks and POSTs). */
  requests: number;
}

export const BACKOFF_BASE_MS = 30_000;
export const BACKOFF_MAX_MS = 6 * 3600_000;
const FAR_FUTURE = '9999-12-31T23:59:59.999Z';

/** Delay before attempt `attempts + 1` (attempts already made >= 1), jitter in [0, 1). */
export function backoffMs(attempts: number, jitter: number): number {
  const base = Math.min(BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1), BACKOFF_MAX_MS);
  return Math.round(base * (0.8 + 0.4 * jitter));
}

export class TdbSubmitter {
  private readonly store: TdbStore;
  private readonly config: TdbSubmitterOptions['config'];
  private readonly platformUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly log: TdbSubmitterLog | undefined;
  private readonly timeoutMs: number;
  private timer: ReturnType<typeof setInterval> | null = null;
  private running: Promise<FlushResult> | null = null;
  private closed = false;
  private counts = { sent: 0, failed: 0 };
  private lastError: string | null = null;

  constructor(opts: TdbSubmitterOptions) {
    this.store = opts.store;
    this.config = opts.config;
    this.platformUrl = opts.platformUrl ?? '';
    this.fetchFn = opts.fetch ?? globalThis.fetch;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.log = opts.log;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  get enabled(): boolean {
    return this.config.mode !== 'off';
  }

  /**
   * Puts a statement in the outbox (idempotent on its puid). Returns the outbox record, or null when
   * the submitter is off or the statement is a reversal (lifting a restriction is not a decision the
   * database records).
   */
  async enqueue(s: StatementRecord): Promise<TdbOutboxRecord | null> {
    if (!this.enabled) return null;
    if (s.reverses) {
      this.logInfo(
        { puid: s.puid, reverses: s.reverses },
        'tdb: reversal not sent to the Transparency Database',
      );
      return null;
    }
    const existing = await this.store.tdbByPuid(s.puid);
    if (existing) return existing;
    const payload = toTdbPayload(s, { platformUrl: this.platformUrl });
    const problems = validateTdbPayload(payload);
    const nowIso = new Date(this.now()).toISOString();
    const rec: TdbOutboxRecord = {
      puid: s.puid,
      payload: JSON.stringify(payload),
      attempts: 0,
      nextAttemptAt: nowIso,
      state: problems.length ? 'failed' : 'pending',
      result: problems.length ? `invalid: ${problems.join('; ')}` : null,
      createdAt: nowIso,
    };
    await this.store.enqueueTdb(rec);
    if (problems.length) {
      this.counts.failed++;
      this.lastError = rec.result;
      this.logWarn({ puid: s.puid, problems }, 'tdb: statement would be refused by the database; not sent');
    }
    return rec;
  }

  /** One pass over the due outbox (at most 100 records). Concurrent calls share the pass. */
  flush(): Promise<FlushResult> {
    if (!this.enabled) return Promise.resolve(emptyResult());
    if (this.running) return this.running;
    const run = this.pass().finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }

  start(intervalMs: number): void {
    if (!this.enabled || this.timer || this.closed) return;
    this.timer = setInterval(() => {
      this.flush().catch((err: unknown) => this.logWarn({ err: String(err) }, 'tdb: flush failed'));
    }, intervalMs);
    this.timer.unref?.();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /**
   * Counts: pending from the outbox (the store lists at most 1000: 1000 means 1000 or more); sent
   * and failed since this process started.
   */
  async status(): Promise<TdbStatus> {
    const pending = this.enabled ? (await this.store.dueTdb(FAR_FUTURE, 1_000_000)).length : 0;
    return {
      mode: this.config.mode,
      endpoint: this.enabled ? this.config.endpoint : null,
      pending,
      sent: this.counts.sent,
      failed: this.counts.failed,
      lastError: this.lastError,
    };
  }

  // ---------------------------------------------------------------------------------- the pass

  private async pass(): Promise<FlushResult> {
    const result = emptyResult();
    const due = await this.store.dueTdb(this.iso(), TDB_BATCH_MAX);
    result.taken = due.length;
    if (!due.length) return result;

    // records tried before: their answer may have been lost; ask before sending again
    let batch: { rec: TdbOutboxRecord; payload: TdbPayload }[] = [];
    for (const rec of due) {
      const payload = JSON.parse(rec.payload) as TdbPayload;
      if (rec.attempts > 0) {
        result.requests++;
        const exists = await this.existsInDatabase(payload.puid);
        if (exists) {
          await this.markSent(rec, 'existing', result);
          result.existing++;
          continue;
        }
      }
      batch.push({ rec, payload });
    }

    // POST; a 422 naming some statements leaves the others to be sent again (none was created)
    for (let round = 0; batch.length > 0 && round < 3; round++) {
      batch = await Promise.all(batch.map(async (b) => ({ ...b, rec: await this.writeAhead(b.rec) })));
      result.requests++;
      const answer = await this.post(batch.map((b) => b.payload));
      if (answer.kind === 'created') {
        for (const b of batch)
          await this.markSent(b.rec, answer.uuids.get(b.payload.puid) ?? 'created', result);
        batch = [];
      } else if (answer.kind === 'rejected') {
        const rest: typeof batch = [];
        for (let i = 0; i < batch.length; i++) {
          const b = batch[i];
          const errors = answer.byIndex.get(i);
          if (errors) {
            await this.markFailed(b.rec, errors, result);
          } else if (answer.existing.has(b.payload.puid)) {
            await this.markSent(b.rec, 'existing', result);
            result.existing++;
          } else {
            rest.push(b);
          }
        }
        if (rest.length === batch.length) {
          // nothing we can act on: treat as a transient error
          await this.reschedule(rest, `422 ${answer.message}`, result);
          batch = [];
        } else {
          batch = rest;
        }
      } else {
        await this.reschedule(batch, answer.error, result);
        batch = [];
      }
    }
    if (batch.length) await this.reschedule(batch, 'still rejected after 3 rounds', result);
    return result;
  }

  private async writeAhead(rec: TdbOutboxRecord): Promise<TdbOutboxRecord> {
    const attempts = rec.attempts + 1;
    const next: TdbOutboxRecord = {
      ...rec,
      attempts,
      nextAttemptAt: new Date(this.now() + backoffMs(attempts, this.random())).toISOString(),
    };
    await this.store.putTdb(next);
    return next;
  }

  private async markSent(rec: TdbOutboxRecord, result: string, r: FlushResult): Promise<void> {
    await this.store.putTdb({ ...rec, state: 'sent', result });
    this.counts.sent++;
    r.sent++;
  }

  private async markFailed(rec: TdbOutboxRecord, message: string, r: FlushResult): Promise<void> {
    await this.store.putTdb({ ...rec, state: 'failed', result: message });
    this.counts.failed++;
    r.failed++;
    this.lastError = `${rec.puid}: ${message}`;
    this.logWarn({ puid: rec.puid, error: message }, 'tdb: statement refused by the database');
  }

  private async reschedule(batch: { rec: TdbOutboxRecord }[], error: string, r: FlushResult): Promise<void> {
    this.lastError = error;
    // writeAhead already counted the attempt and set the backoff: record the error only
    for (const b of batch) await this.store.putTdb({ ...b.rec, state: 'pending', result: error });
    r.retried += batch.length;
    this.logWarn({ count: batch.length, error }, 'tdb: submission failed; will retry with backoff');
  }

  // ---------------------------------------------------------------------------------- HTTP

  private headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = {
      Authorization: `Bearer ${this.config.token}`,
      Accept: 'application/json',
    };
    if (json) h['Content-Type'] = 'application/json';
    return h;
  }

  private url(path: string): string {
    return `${this.config.endpoint.replace(/\/+$/, '')}${path}`;
  }

  /** true: 302 (found); false: 404 or anything else (the POST then decides). */
  private async existsInDatabase(puid: string): Promise<boolean> {
    try {
      const res = await this.fetchFn(
        this.url(`/api/v1/statement/existing-puid/${encodeURIComponent(puid)}`),
        {
          method: 'GET',
          headers: this.headers(false),
          redirect: 'manual',
          signal: AbortSignal.timeout(this.timeoutMs),
        },
      );
      await res.arrayBuffer().catch(() => undefined);
      return res.status === 302;
    } catch {
      return false;
    }
  }

  private async post(
    statements: TdbPayload[],
  ): Promise<
    | { kind: 'created'; uuids: Map<string, string> }
    | { kind: 'rejected'; message: string; byIndex: Map<number, string>; existing: Set<string> }
    | { kind: 'error'; error: string }
  > {
    this.logInfo(
      { mode: this.config.mode, sandbox: this.config.mode === 'sandbox', count: statements.length },
      this.config.mode === 'sandbox' ? 'tdb: [SANDBOX] submitting statements' : 'tdb: submitting statements',
    );
    let res: Response;
    let body: unknown;
    try {
      res = await this.fetchFn(this.url('/api/v1/statements'), {
        method: 'POST',
        headers: this.headers(true),
        body: JSON.stringify({ statements }),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await res.text();
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = null;
      }
    } catch (err) {
      return { kind: 'error', error: `network: ${(err as Error).message ?? String(err)}` };
    }
    if (res.status >= 200 && res.status < 300) {
      const uuids = new Map<string, string>();
      const list = (body as { statements?: { puid?: unknown; uuid?: unknown }[] } | null)?.statements;
      if (Array.isArray(list)) {
        for (const s of list)
          if (typeof s?.puid === 'string' && typeof s.uuid === 'string') uuids.set(s.puid, s.uuid);
      }
      return { kind: 'created', uuids };
    }
    if (res.status === 422 && body && typeof body === 'object') {
      const b = body as { message?: unknown; errors?: Record<string, unknown> };
      const byIndex = new Map<number, string>();
      const existing = new Set<string>();
      for (const [key, value] of Object.entries(b.errors ?? {})) {
        const m = /^statement_(\d+)$/.exec(key);
        if (m) byIndex.set(Number(m[1]), flattenErrors(value));
        if (key === 'existing_puids' && Array.isArray(value)) {
          for (const p of value) if (typeof p === 'string') existing.add(p);
        }
      }
      return {
        kind: 'rejected',
        message: typeof b.message === 'string' ? b.message : 'unprocessable',
        byIndex,
        existing,
      };
    }
    const detail =
      body && typeof body === 'object' && 'message' in body
        ? `: ${String((body as { message: unknown }).message)}`
        : '';
    if (res.status === 401 || res.status === 403) {
      this.log?.error?.({ status: res.status }, 'tdb: the Transparency Database refused the token');
    }
    return { kind: 'error', error: `HTTP ${res.status}${detail}` };
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  private logInfo(obj: object, msg: string): void {
    this.log?.info({ ...obj, tdbMode: this.config.mode }, msg);
  }

  private logWarn(obj: object, msg: string): void {
    this.log?.warn({ ...obj, tdbMode: this.config.mode }, msg);
  }
}

function emptyResult(): FlushResult {
  return { taken: 0, sent: 0, existing: 0, failed: 0, retried: 0, requests: 0 };
}

/** `{field: [messages]}` → "field: message; field: message". */
function flattenErrors(value: unknown): string {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') : String(v)}`)
      .join('; ');
  }
  return Array.isArray(value) ? value.join(' ') : String(value);
}
