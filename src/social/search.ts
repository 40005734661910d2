/**
 * Search input: `q` as plain words (no query syntax reaches the index). Each word is matched as a
 * prefix of a word of the title or the host's handle or name, and all must match. A leading `@`
 * (a handle) is ignored, and so is punctuation the tokenizer splits on anyway.
 */
import { SEARCH_QUERY_MAX } from '../api/social-schemas.js';
import { TribuneError } from '../errors.js';

/** Words kept from one query. */
const MAX_TERMS = 12;

/** The query's terms; BAD_REQUEST when empty, QUERY_TOO_LONG past 200 characters. */
export function searchTerms(q: string): string[] {
  if ([...q].length > SEARCH_QUERY_MAX) throw new TribuneError('QUERY_TOO_LONG');
  if (!q.trim()) throw new TribuneError('BAD_REQUEST', 'q is empty');
  const terms: string[] = [];
  for (const raw of q.normalize('NFKC').toLowerCase().split(/\s+/)) {
    // Letters, digits and underscores are what the index holds (unicode61 splits on the rest).
    for (const word of raw.split(/[^\p{L}\p{N}_]+/u)) {
      if (word && !terms.includes(word)) terms.push(word);
      if (terms.length >= MAX_TERMS) return terms;
    }
  }
  return terms;
}
