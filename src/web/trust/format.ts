/** Small wording and time helpers shared by the trust pages and the report dialog. */
import type { SubjectView } from '../../trust/api-types.js';
import { CATEGORY_WORDS, type CaseOutcome, type CaseStatus, type Category } from '../../trust/model.js';

/** 75 → "1:15", 3725 → "1:02:05". */
export function fmtClock(sec: number): string {
  const s = Math.max(0, Math.floor(sec));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${r}` : `${m}:${r}`;
}

/** "1:15" / "1:02:05" / "75" → seconds; null when it is not a time. */
export function parseClock(text: string): number | null {
  const m = /^\s*(\d+)(?::(\d{1,2}))?(?::(\d{1,2}))?\s*$/.exec(text);
  if (!m) return null;
  const parts = [m[1], m[2], m[3]].filter((p): p is string => p !== undefined).map(Number);
  if (parts.slice(1).some((p) => p >= 60)) return null;
  return parts.reduce((acc, p) => acc * 60 + p, 0);
}

export const categoryWords = (c: Category | string): string =>
  (CATEGORY_WORDS as Record<string, string>)[c] ?? c;

export const STATUS_WORDS: Record<CaseStatus, string> = {
  open: 'Open: waiting for a moderator',
  escalated: 'Under review by a senior moderator',
  closed: 'Closed',
};

/** The status in words, knowing whether a decision was already taken (then "open" means a complaint). */
export function statusWords(status: CaseStatus, outcome: CaseOutcome): string {
  if (status === 'open' && outcome !== 'pending') return 'Open again: a complaint is waiting for a moderator';
  return STATUS_WORDS[status];
}

export const OUTCOME_WORDS: Record<CaseOutcome, string> = {
  pending: 'No decision yet',
  restricted: 'Action taken',
  'no-action': 'No action taken',
  reversed: 'Decision reversed after a complaint',
};

/** Where the reported content is, in words. */
export function subjectWords(s: SubjectView): string {
  const parts: string[] = [];
  if (s.kind === 'account' && s.user) parts.push(`The account ${s.user.displayName} (@${s.user.handle})`);
  if (s.kind === 'speaker' && s.user) parts.push(`${s.user.displayName} (@${s.user.handle}) speaking`);
  if (s.kind === 'clip') parts.push('A clip');
  if (s.spaceTitle) parts.push(`${s.kind === 'space' ? 'The Space' : 'in the Space'} “${s.spaceTitle}”`);
  else if (s.spaceId) parts.push(s.kind === 'space' ? 'A Space' : 'in a Space');
  if (s.spaceState === 'deleted') parts.push('(since deleted)');
  if (s.startSec !== null && s.endSec !== null)
    parts.push(`from ${fmtClock(s.startSec)} to ${fmtClock(s.endSec)}`);
  return parts.join(' ') || 'Content on Tribune';
}
