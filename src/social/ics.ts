/**
 * "Add to calendar": one VEVENT as an iCalendar file (RFC 5545). TEXT values escape `\`, `;`, `,`
 * and newlines (§3.3.11); lines end in CRLF and are folded at 75 octets (§3.1) without splitting a
 * UTF-8 character; times are UTC (`…Z`).
 */

export interface CalendarEvent {
  /** Globally unique and stable: the same Space gives the same UID (calendars update, not duplicate). */
  uid: string;
  stamp: Date;
  start: Date;
  end: Date;
  summary: string;
  description: string;
  url: string;
}

/** The default length of an event whose end is unknown. */
export const DEFAULT_EVENT_MS = 3600_000;

/** RFC 5545 TEXT escaping. */
export function escapeText(s: string): string {
  return s
    .replace(/\\/g, '\\\\')
    .replace(/;/g, '\\;')
    .replace(/,/g, '\\,')
    .replace(/\r\n|\r|\n/g, '\\n');
}

/** 20240102T030405Z */
export function icsDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** A content line folded at 75 octets: continuation lines start with one space (which counts). */
export function foldLine(line: string): string {
  const out: string[] = [];
  let cur = '';
  let octets = 0;
  for (const ch of line) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (octets + n > 75) {
      out.push(cur);
      cur = ' ';
      octets = 1;
    }
    cur += ch;
    octets += n;
  }
  out.push(cur);
  return out.join('\r\n');
}

/** No control characters in a TEXT value other than the newlines escapeText turns into `\n`. */
const clean = (s: string): string =>
  Array.from(s, (ch) => {
    const c = ch.charCodeAt(0);
    return (c < 0x20 && c !== 0x0a && c !== 0x0d) || c === 0x7f ? ' ' : ch;
  }).join('');

export function buildIcs(e: CalendarEvent): string {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Tribune//Spaces//EN',
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
    'BEGIN:VEVENT',
    `UID:${escapeText(e.uid)}`,
    `DTSTAMP:${icsDate(e.stamp)}`,
    `DTSTART:${icsDate(e.start)}`,
    `DTEND:${icsDate(e.end)}`,
    `SUMMARY:${escapeText(clean(e.summary))}`,
    `DESCRIPTION:${escapeText(clean(e.description))}`,
    // URI values are not TEXT: no escaping (a URL has no CR/LF).
    `URL:${e.url.replace(/[\r\n]/g, '')}`,
    'END:VEVENT',
    'END:VCALENDAR',
  ];
  return lines.map(foldLine).join('\r\n') + '\r\n';
}
