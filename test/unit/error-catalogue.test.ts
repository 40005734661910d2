/**
 * Every error code a client can see is catalogued twice: in src/errors.ts (with its status) and in
 * the README's "Error codes" table, which users read. This keeps the two the same.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/errors.js';
import { REPO_ROOT } from '../support/server.js';

describe('error catalogue', () => {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('### Error codes'),
    readme.indexOf('\n## ', readme.indexOf('### Error codes')),
  );
  const rows = section.split('\n').filter((l) => l.startsWith('| `'));
  const documented = new Map<string, string>();
  for (const row of rows) {
    const [codes, status] = row.split('|').slice(1, 3);
    for (const m of codes!.matchAll(/`([A-Z_]+)`/g)) documented.set(m[1]!, status!.trim());
  }

  it('lists every code of src/errors.ts in the README with its status', () => {
    const missing = Object.keys(ERRORS).filter((c) => !documented.has(c));
    expect(missing).toEqual([]);
    for (const [code, { status }] of Object.entries(ERRORS))
      expect(documented.get(code)).toContain(String(status));
  });

  it('documents no code that does not exist', () => {
    expect([...documented.keys()].filter((c) => !(c in ERRORS))).toEqual([]);
  });
});
