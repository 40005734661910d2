/**
 * The statements-of-reasons hash chain (pure): every statement carries the SHA-256 of the one before
 * it and its own, so the exported log (JSON Lines) can be verified by anyone, and an edited,
 * deleted, reordered or forged line is found.
 *
 * hash = SHA-256 hex of (prevHash + canonical JSON of the statement without `hash`), where the
 * canonical JSON sorts object keys at every level. The first statement has seq 1 and prevHash ''.
 *
 * What the chain cannot show on its own: a log cut short at the end (the last lines dropped) or one
 * rewritten entirely from some line on. Keep the head hash elsewhere (the transparency report, a
 * published digest) and compare it with `VerifyResult.head`.
 */
import { createHash } from 'node:crypto';
import type { VerifyResult } from './api-types.js';
import type { StatementRecord } from './model.js';

/** A statement before it is chained. */
export type StatementDraft = Omit<StatementRecord, 'seq' | 'prevHash' | 'hash'>;

function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    // undefined (absent) serialises like JSON.stringify would drop it: callers only pass JSON values
    return JSON.stringify(value ?? null);
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(',')}}`;
}

/** The statement's canonical JSON: keys sorted at every level, `hash` left out. */
export function canonicalStatementJson(s: StatementRecord | Omit<StatementRecord, 'hash'>): string {
  const { hash: _hash, ...rest } = s as StatementRecord;
  return canonical(rest);
}

/** SHA-256 (hex) over the previous statement's hash and this statement's canonical JSON. */
export function statementHash(prevHash: string, s: StatementRecord | Omit<StatementRecord, 'hash'>): string {
  return createHash('sha256').update(prevHash).update(canonicalStatementJson(s)).digest('hex');
}

/** The next link: seq and prevHash from `last` (undefined for the first statement), and the hash. */
export function chainNext(last: StatementRecord | undefined, draft: StatementDraft): StatementRecord {
  const withoutHash = { ...draft, seq: last ? last.seq + 1 : 1, prevHash: last ? last.hash : '' };
  return { ...withoutHash, hash: statementHash(withoutHash.prevHash, withoutHash) };
}

/** The export: one statement per line (JSON Lines), in seq order, ending with a newline. */
export function exportLines(statements: readonly StatementRecord[]): string {
  return statements.map((s) => `${JSON.stringify(s)}\n`).join('');
}

/**
 * Verifies an export. The first bad line (1-based) is reported with the reason; `head` is the hash
 * of the last line that verified ('' when none did).
 */
export function verifyExport(text: string): VerifyResult {
  const lines = text.split('\n');
  // a final newline leaves one empty string; blank lines elsewhere are malformed
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const parsed: unknown[] = [];
  for (const line of lines) {
    try {
      parsed.push(JSON.parse(line.endsWith('\r') ? line.slice(0, -1) : line));
    } catch {
      parsed.push(MALFORMED);
    }
  }
  const seqAt = (i: number): number | null => {
    const v = parsed[i];
    return isRecord(v) && Number.isInteger(v.seq) ? (v.seq as number) : null;
  };

  let head = '';
  let expectedSeq = 1;
  for (let i = 0; i < parsed.length; i++) {
    const line = i + 1;
    const fail = (seq: number | null, reason: string): VerifyResult => ({
      ok: false,
      count: i,
      failure: { line, seq, reason },
      head,
    });
    const v = parsed[i];
    if (v === MALFORMED) return fail(null, 'malformed JSON');
    if (!isRecord(v)) return fail(null, 'not a statement (a JSON object is expected)');
    const seq = seqAt(i);
    if (seq === null) return fail(null, 'malformed statement: seq is not an integer');
    if (typeof v.prevHash !== 'string' || typeof v.hash !== 'string') {
      return fail(seq, 'malformed statement: prevHash or hash is not a string');
    }
    if (seq !== expectedSeq) {
      if (i === 0) {
        return fail(
          seq,
          `the export must start at seq 1 with prevHash '' (found seq ${seq}): its head was cut`,
        );
      }
      const msg = `seq not consecutive: expected ${expectedSeq}, found ${seq}`;
      if (seq < expectedSeq) return fail(seq, `${msg}: a line was inserted or repeated`);
      // skipped ahead: if a later line carries the expected seq, the lines were moved, not lost
      for (let j = i + 1; j < parsed.length; j++) {
        if (seqAt(j) === expectedSeq) return fail(seq, `${msg}: lines were reordered`);
      }
      return fail(seq, `${msg}: a line was deleted`);
    }
    if (v.prevHash !== head) {
      return fail(
        seq,
        i === 0
          ? "the first statement's prevHash must be ''"
          : "prevHash is not the previous line's hash: a line was deleted, inserted or replaced",
      );
    }
    const recomputed = statementHash(v.prevHash, v as unknown as StatementRecord);
    if (recomputed !== v.hash) return fail(seq, 'hash mismatch: the statement was edited');
    head = v.hash;
    expectedSeq = seq + 1;
  }
  return { ok: true, count: parsed.length, failure: null, head };
}

const MALFORMED = Symbol('malformed');

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
