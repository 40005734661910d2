/**
 * A local stand-in for the DSA Transparency Database's API (node:http on 127.0.0.1, port 0):
 * - POST /api/v1/statement (one) → 201 the statement with uuid, or 422 {message, errors}
 * - POST /api/v1/statements {statements: [...]} (1..100) → 201 {statements}, or 422 with errors
 *   indexed `statement_N` (then none is created), or 422 with `errors.existing_puids` for puids
 *   already stored (or repeated in the call)
 * - GET /api/v1/statement/existing-puid/{puid} → 302 found / 404 not found
 * - bearer token check (401 {message: 'Unauthenticated.'})
 * Knobs: fail the next N requests with a status (500, 429...), drop the next N connections before
 * or after processing (the answer is lost), and everything received is recorded.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StatementRecord } from '../../src/trust/model.js';
import { problemsByField, validateTdbPayload } from '../../src/trust/tdb.js';

export interface FakeTdbRequest {
  method: string;
  path: string;
  auth: string | undefined;
  accept: string | undefined;
  body: unknown;
  status: number | 'dropped';
}

export interface FakeTdb {
  url: string;
  token: string;
  /** Statements stored, by puid. */
  stored: Map<string, Record<string, unknown> & { uuid: string }>;
  requests: FakeTdbRequest[];
  /** The next `n` requests answer `status` (default 500) without processing. */
  failNext(n: number, status?: number): void;
  /** The next `n` requests lose their connection: before processing, or after (stored, answer lost). */
  dropNext(n: number, when?: 'before' | 'after'): void;
  /** POSTs received (single and batch). */
  posts(): FakeTdbRequest[];
  close(): Promise<void>;
}

export async function startFakeTdb(opts: { token?: string } = {}): Promise<FakeTdb> {
  const token = opts.token ?? 'test-token';
  const stored = new Map<string, Record<string, unknown> & { uuid: string }>();
  const requests: FakeTdbRequest[] = [];
  let fail = { n: 0, status: 500 };
  let drop = { n: 0, when: 'before' as 'before' | 'after' };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = null;
      let malformed = false;
      if (raw) {
        try {
          body = JSON.parse(raw);
        } catch {
          malformed = true;
        }
      }
      const path = (req.url ?? '/').split('?')[0];
      const entry: FakeTdbRequest = {
        method: req.method ?? 'GET',
        path,
        auth: req.headers.authorization,
        accept: req.headers.accept,
        body,
        status: 0,
      };
      requests.push(entry);
      const send = (status: number, payload: unknown): void => {
        entry.status = status;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };

      if (drop.n > 0 && drop.when === 'before') {
        drop.n--;
        entry.status = 'dropped';
        req.socket.destroy();
        return;
      }
      if (fail.n > 0) {
        fail.n--;
        return send(fail.status, { message: fail.status === 429 ? 'Too Many Attempts.' : 'Server Error' });
      }
      if (req.headers.authorization !== `Bearer ${token}`) return send(401, { message: 'Unauthenticated.' });

      const respond = (status: number, payload: unknown): void => {
        if (drop.n > 0 && drop.when === 'after') {
          drop.n--;
          entry.status = 'dropped';
          req.socket.destroy();
          return;
        }
        send(status, payload);
      };

      const existing = /^\/api\/v1\/statement\/existing-puid\/([^/]+)$/.exec(path);
      if (req.method === 'GET' && existing) {
        const puid = decodeURIComponent(existing[1]);
        return stored.has(puid)
          ? respond(302, { message: 'statement of reason found', puid })
          : respond(404, { message: 'statement of reason not found', puid });
      }
      if (req.method === 'POST' && (path === '/api/v1/statement' || path === '/api/v1/statements')) {
        if (malformed || !body || typeof body !== 'object') {
          return respond(422, {
            message: 'The given data was invalid.',
            errors: { payload: ['Malformed JSON.'] },
          });
        }
        if (path === '/api/v1/statement') {
          const problems = validateTdbPayload(body);
          if (problems.length)
            return respond(422, { message: messageOf(problems), errors: problemsByField(problems) });
          const p = body as Record<string, unknown>;
          const puid = String(p.puid);
          const dup = stored.get(puid);
          if (dup) {
            const msg = 'The identifier given is not unique within this platform.';
            return respond(422, { message: msg, errors: { puid: [msg] }, existing: dup });
          }
          return respond(201, store(p));
        }
        const list = (body as { statements?: unknown }).statements;
        if (!Array.isArray(list) || list.length < 1 || list.length > 100) {
          const msg = 'The statements field must have between 1 and 100 items.';
          return respond(422, { message: msg, errors: { statements: [msg] } });
        }
        const errors: Record<string, Record<string, string[]>> = {};
        list.forEach((s, i) => {
          const problems = validateTdbPayload(s);
          if (problems.length) errors[`statement_${i}`] = problemsByField(problems);
        });
        if (Object.keys(errors).length) return respond(422, { errors });
        const puids = list.map((s) => String((s as Record<string, unknown>).puid));
        const dups = puids.filter((p, i) => stored.has(p) || puids.indexOf(p) !== i);
        if (dups.length) {
          const msg = 'The platform identifier(s) are not all unique within this call.';
          return respond(422, { message: msg, errors: { puid: [msg], existing_puids: [...new Set(dups)] } });
        }
        return respond(201, { statements: list.map((s) => store(s as Record<string, unknown>)) });
      }
      respond(404, { message: 'Not Found' });
    });
  });

  function store(p: Record<string, unknown>): Record<string, unknown> & { uuid: string } {
    const rec = {
      ...p,
      uuid: randomUUID(),
      created_at: new Date().toISOString().slice(0, 19).replace('T', ' '),
    };
    stored.set(String(p.puid), rec);
    return rec;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    stored,
    requests,
    failNext(n, status = 500) {
      fail = { n, status };
    },
    dropNext(n, when = 'before') {
      drop = { n, when };
    },
    posts: () => requests.filter((r) => r.method === 'POST'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function messageOf(problems: string[]): string {
  const first = problems[0].slice(problems[0].indexOf(': ') + 2);
  return problems.length > 1 ? `${first} (and ${problems.length - 1} more errors)` : first;
}

/** A complete, chained-looking statement for tests (override any field). */
export function sampleStatement(n: number, over: Partial<StatementRecord> = {}): StatementRecord {
  return {
    seq: n,
    id: `sor_${n}`,
    caseId: `case_abc${n}`,
    puid: `case_abc${n}.1`,
    at: '2026-03-02T10:15:00.000Z',
    userId: `usr_${n}x9k2`,
    restriction: 'remove-clip',
    reverses: null,
    territorialScope: ['AT', 'DE', 'FR'],
    endsAt: null,
    countries: [],
    label: null,
    facts: 'A notice (Art. 16) reported the clip; a moderator listened to 00:01:10-00:01:40 of it.',
    sourceType: 'SOURCE_ARTICLE_16',
    contentDate: '2026-03-01T20:00:00.000Z',
    automatedDetection: false,
    automatedDecision: false,
    ground: 'DECISION_GROUND_INCOMPATIBLE_CONTENT',
    legalGround: null,
    termsGround: 'Community rules §4.2 (harassment)',
    explanation: 'The clip repeats threats against another speaker.',
    category: 'STATEMENT_CATEGORY_CYBER_VIOLENCE',
    redress: 'Internal complaint until the date shown, out-of-court dispute settlement, courts',
    complaintUntil: '2026-09-01T10:15:00.000Z',
    prevHash: '',
    hash: '0'.repeat(64),
    ...over,
  };
}
