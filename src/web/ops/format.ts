/** Number and time formatting for the operator console and the status page. */
import type { Verdict } from '../ops-api.js';
import { fmtDuration } from '../space/format.js';

/** The crowd-or-attack verdict in words. */
export const VERDICT_WORDS: Record<Verdict, string> = {
  normal: 'Normal traffic',
  crowd: 'A crowd is arriving',
  attack: 'Under attack',
  mixed: 'A crowd and an attack at once',
};

const num = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const compactNum = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

/** A number with at most one decimal, or an en dash when there is none. */
export const fmt = (n: number | null | undefined): string =>
  n == null || !Number.isFinite(n) ? '–' : num.format(n);

/** A count that fits an axis: 10K rather than 10,000. */
export const compact = (n: number): string => compactNum.format(n);

/** A fraction (0..1) as a whole percentage. */
export const pct = (x: number): string => `${Math.round(x * 100)}%`;

/** A wall-clock time as 24-hour `HH:MM:SS`. */
export function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** How long before `now` the moment `ms` was: "5 s ago", "3 min 05 s ago", "1 h 04 min ago". */
export function ago(ms: number, now: number): string {
  return `${fmtDuration((now - ms) / 1000)} ago`;
}

/** The last element of a series, if any. */
export const last = (a: readonly number[] | undefined): number | undefined =>
  a && a.length ? a[a.length - 1] : undefined;
