/**
 * HTTP shapes of admission at the edge: the admit query, the JSON answers, and the operator's
 * endpoints (rehearsal check, stats, limits), all pure so the hot path and tests share them.
 */
import { TribuneError } from '../../errors.js';
import type { AdmissionLimits } from './controller.js';
import type { AdmissionGate, AdmitAnswer } from './gate.js';
import { REHEARSAL_HEADER } from './tokens.js';

export const ADMIT_FILE = 'admit';
const MAX_PARAM = 512;

export interface AdmitParams {
  ticket?: string;
  admission?: string;
  /** Under-attack mode: the challenge the edge gave, and the client's answer to it. */
  challenge?: string;
  answer?: string;
  /** The client's measured hash rate (hashes/s), raw: the proof of work checks it. */
  rate?: string;
}
export type AdmitQuery = ({ ok: true } & AdmitParams) | { ok: false; error: TribuneError };

const ADMIT_PARAMS = ['ticket', 'admission', 'challenge', 'answer', 'rate'] as const;

/**
 * The named query parameters, each at most once and 1-512 characters (anything else is
 * ignored); BAD_REQUEST otherwise.
 */
export function parseOnceParams<N extends string>(
  rawQuery: string,
  names: readonly N[],
): ({ ok: true } & Partial<Record<N, string>>) | { ok: false; error: TribuneError } {
  if (rawQuery === '') return { ok: true as const };
  const params = new URLSearchParams(rawQuery);
  const out: Partial<Record<N, string>> = {};
  for (const name of names) {
    const all = params.getAll(name);
    if (all.length > 1) return { ok: false, error: new TribuneError('BAD_REQUEST', `one ${name} at most`) };
    if (all.length === 1) {
      if (all[0] === '' || all[0].length > MAX_PARAM)
        return {
          ok: false,
          error: new TribuneError('BAD_REQUEST', `${name} must be 1-${MAX_PARAM} characters`),
        };
      out[name] = all[0];
    }
  }
  return { ok: true as const, ...out };
}

/** `ticket=`, `admission=`, `challenge=`, `answer=`, `rate=` of the admit query. */
export function parseAdmitQuery(rawQuery: string): AdmitQuery {
  return parseOnceParams(rawQuery, ADMIT_PARAMS);
}

/** The admit answer's body and its extra headers (Retry-After while queued). */
export function admitBody(answer: AdmitAnswer, state: string): { body: Buffer; headers: string[] } {
  const body = Buffer.from(JSON.stringify({ ...answer, state }));
  const headers = answer.admitted
    ? []
    : ['retry-after', String(Math.max(1, Math.ceil(answer.retryInMs / 1000)))];
  return { body, headers };
}

export interface OperatorAnswer {
  status: number;
  body: unknown;
}

function headerOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const h = headers[REHEARSAL_HEADER];
  return typeof h === 'string' && h ? h : undefined;
}

/** True when the request carries a valid rehearsal (operator) token. */
export function hasRehearsal(
  gate: AdmissionGate,
  headers: Record<string, string | string[] | undefined>,
): boolean {
  const h = headerOf(headers);
  return h !== undefined && gate.checkRehearsal(h).ok;
}

/** `GET /hls/rehearsal`, `GET /hls/admission`: the operator's token is required. */
export function operatorGet(
  gate: AdmissionGate,
  path: string,
  headers: Record<string, string | string[] | undefined>,
): OperatorAnswer | undefined {
  if (path !== '/hls/rehearsal' && path !== '/hls/admission') return undefined;
  const check = gate.checkRehearsal(headerOf(headers));
  if (!check.ok) return errorAnswer(new TribuneError(check.code));
  if (path === '/hls/rehearsal')
    return { status: 200, body: { ok: true, edge: gate.epochId, expiresAtMs: check.claims.e } };
  return { status: 200, body: gate.stats() };
}

/** `POST /hls/admission/limits` `{maxListeners, joinsPerSec}` (operator token): raise or lower the edge's limits live. */
export function operatorSetLimits(
  gate: AdmissionGate,
  headers: Record<string, string | string[] | undefined>,
  body: unknown,
): OperatorAnswer {
  const check = gate.checkRehearsal(headerOf(headers));
  if (!check.ok) return errorAnswer(new TribuneError(check.code));
  const b = body as Partial<AdmissionLimits> | null;
  const cur = gate.controller.getLimits();
  const next = {
    maxListeners: b?.maxListeners ?? cur.maxListeners,
    joinsPerSec: b?.joinsPerSec ?? cur.joinsPerSec,
  };
  if (
    !b ||
    typeof b !== 'object' ||
    !Number.isInteger(next.maxListeners) ||
    next.maxListeners < 0 ||
    next.maxListeners > 100_000_000 ||
    !Number.isInteger(next.joinsPerSec) ||
    next.joinsPerSec < 1 ||
    next.joinsPerSec > 10_000_000
  )
    return errorAnswer(
      new TribuneError(
        'BAD_REQUEST',
        'maxListeners: integer 0-100,000,000; joinsPerSec: integer 1-10,000,000',
      ),
    );
  gate.setLimits(next);
  return { status: 200, body: gate.stats() };
}

function errorAnswer(err: TribuneError): OperatorAnswer {
  return { status: err.status, body: err.toJSON() };
}
