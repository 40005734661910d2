/**
 * The social pieces without a server: iCalendar escaping and folding, search terms, page cursors,
 * the embed rules and snippet, and SQLite's migration 2. The storage's follows, follow cap, feed and
 * search run against every backend: test/support/storage-suite-social.ts.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { TribuneError } from '../../src/errors.js';
import { decodeCursor, decodeRankedCursor, encodeCursor, pageOf } from '../../src/social/cursor.js';
import { embedRefusal, embedSnippet, isEmbedUrl } from '../../src/social/embed.js';
import { buildIcs, escapeText, foldLine } from '../../src/social/ics.js';
import { searchTerms } from '../../src/social/search.js';
import { migrate, migrations, SCHEMA_VERSION } from '../../src/store/migrations.js';

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof TribuneError ? err.code : String(err);
  }
};

describe('iCalendar', () => {
  it('escapes backslash, semicolon, comma and every kind of newline', () => {
    expect(escapeText('a\\b;c,d\ne\r\nf\rg')).toBe('a\\\\b\\;c\\,d\\ne\\nf\\ng');
  });

  it('folds at 75 octets without splitting a UTF-8 character', () => {
    const line = `SUMMARY:${'é✓'.repeat(40)}`;
    const folded = foldLine(line);
    const parts = folded.split('\r\n');
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(75);
    for (const p of parts.slice(1)) expect(p.startsWith(' ')).toBe(true);
    expect(folded.replace(/\r\n /g, '')).toBe(line);
    expect(foldLine('SHORT:x')).toBe('SHORT:x');
    expect(foldLine('X'.repeat(75))).toBe('X'.repeat(75));
    expect(foldLine('X'.repeat(76))).toBe(`${'X'.repeat(75)}\r\n X`);
  });

  it('writes one VEVENT with UTC times and CRLF line ends; control characters become spaces', () => {
    const ics = buildIcs({
      uid: 'space-1@example.com',
      stamp: new Date('2030-01-02T03:04:05.678Z'),
      start: new Date('2030-01-03T10:00:00Z'),
      end: new Date('2030-01-03T11:00:00Z'),
      summary: 'Tabs\tand\u0007bells',
      description: 'd',
      url: 'https://example.com/s/1?a=1,2',
    });
    expect(ics).toBe(
      [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//Tribune//Spaces//EN',
        'CALSCALE:GREGORIAN',
        'METHOD:PUBLISH',
        'BEGIN:VEVENT',
        'UID:space-1@example.com',
        'DTSTAMP:20300102T030405Z',
        'DTSTART:20300103T100000Z',
        'DTEND:20300103T110000Z',
        'SUMMARY:Tabs and bells',
        'DESCRIPTION:d',
        'URL:https://example.com/s/1?a=1,2',
        'END:VEVENT',
        'END:VCALENDAR',
        '',
      ].join('\r\n'),
    );
  });
});

describe('search terms', () => {
  it('keeps words, lowercased and folded, without query syntax', () => {
    expect(searchTerms('  Rust  @alice_w "quoted*" NEAR(a b) ')).toEqual([
      'rust',
      'alice_w',
      'quoted',
      'near',
      'a',
      'b',
    ]);
    expect(searchTerms('!!!')).toEqual([]);
    expect(searchTerms('ｆｕｌｌ')).toEqual(['full']);
  });

  it('refuses empty and oversized queries', () => {
    expect(codeOf(() => searchTerms(''))).toBe('BAD_REQUEST');
    expect(codeOf(() => searchTerms(' \t'))).toBe('BAD_REQUEST');
    expect(codeOf(() => searchTerms('a'.repeat(201)))).toBe('QUERY_TOO_LONG');
    expect(codeOf(() => searchTerms('✓'.repeat(200)))).toBe('ok'); // characters, not bytes
  });
});

describe('cursors', () => {
  it('round-trip and refuse anything else', () => {
    const k = { at: '2030-01-01T00:00:00.000Z', id: 'abc' };
    expect(decodeCursor(encodeCursor(k))).toEqual(k);
    expect(decodeRankedCursor(encodeCursor({ ...k, rank: 2 }))).toEqual({ ...k, rank: 2 });
    for (const bad of ['', 'x', encodeCursor({ ...k, rank: 1 }), Buffer.from('[1,2]').toString('base64url')])
      expect(codeOf(() => decodeCursor(bad))).toBe('BAD_REQUEST');
    expect(codeOf(() => decodeRankedCursor(encodeCursor(k)))).toBe('BAD_REQUEST');
    expect(decodeCursor(undefined)).toBeUndefined();
  });

  it('pages from limit + 1 rows', () => {
    const key = (n: number) => ({ at: String(n), id: String(n) });
    expect(pageOf([1, 2, 3], 2, key)).toEqual({ items: [1, 2], nextCursor: encodeCursor(key(2)) });
    expect(pageOf([1, 2], 2, key)).toEqual({ items: [1, 2], nextCursor: null });
  });
});

describe('embeds', () => {
  const s = {
    id: 'abc',
    title: 'T',
    state: 'live' as const,
    requireSignIn: false,
    replay: { state: 'none' },
  };
  it('refuses private Spaces and ended ones without a replay', () => {
    expect(embedRefusal(s)).toBeNull();
    expect(embedRefusal({ ...s, state: 'scheduled' })).toBeNull();
    expect(embedRefusal({ ...s, requireSignIn: true })).toBe('EMBED_NOT_AVAILABLE');
    expect(embedRefusal({ ...s, state: 'ended' })).toBe('REPLAY_NOT_AVAILABLE');
    expect(embedRefusal({ ...s, state: 'ended', replay: { state: 'deleted' } })).toBe('REPLAY_NOT_AVAILABLE');
    expect(embedRefusal({ ...s, state: 'ended', replay: { state: 'available' } })).toBeNull();
  });

  it('escapes the snippet and matches only the embed route', () => {
    expect(embedSnippet('https://x.example/', { id: 'a b', title: '"<&>' })).toContain(
      'src="https://x.example/embed/a%20b" title="Tribune: &quot;&lt;&amp;&gt;"',
    );
    expect(['/embed/abc', '/embed/abc/', '/embed/abc?x=1'].every(isEmbedUrl)).toBe(true);
    expect(['/embedx/abc', '/embed/', '/embed/a/b', '/s/abc', undefined].some(isEmbedUrl)).toBe(false);
  });
});

describe('migration 2 on a database with Spaces already', () => {
  it('indexes existing Spaces for search and starts every counter at zero', async () => {
    const raw = new Database(':memory:');
    migrate(raw, migrations.slice(0, 1));
    const at = '2030-01-01T00:00:00.000Z';
    raw
      .prepare(
        'INSERT INTO users (id, handle, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)',
      )
      .run('u1', 'olduser', 'Old Timer', 'x', at);
    raw
      .prepare(
        `INSERT INTO spaces (id, host_id, title, description, state, require_sign_in, created_at, started_at)
         VALUES ('s1', 'u1', 'Before the upgrade', '', 'live', 0, ?, ?)`,
      )
      .run(at, at);
    expect(migrate(raw)).toBe(SCHEMA_VERSION);
    const hits = raw
      .prepare("SELECT rowid FROM spaces_fts WHERE spaces_fts MATCH 'upgr* AND timer'")
      .all() as unknown[];
    expect(hits).toHaveLength(1);
    expect(raw.prepare('SELECT COUNT(*) AS n FROM follow_counts').get()).toEqual({ n: 0 });
    raw.close();
  });
});
