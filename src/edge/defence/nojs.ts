/**
 * Under-attack mode for a browser without JavaScript (issue 9): instead of a proof of work, a time
 * delay. The edge hands out a signed delay pass (kind `w`, tokens.ts) on a small wait page that
 * refreshes itself after the delay; coming back with the pass (and no sooner) gets an admission,
 * carried by a cookie the `<audio>` element sends with its stream requests. Pure: no I/O.
 *
 * The pages are plain HTML5: no script at all, readable without CSS, fit a 390 px phone, every
 * interpolated value escaped.
 */
import { randomBytes } from 'node:crypto';
import { ClaimsSigner, deriveKey, type DelayPassClaims } from '../admission/tokens.js';
import { OneUse } from './one-use.js';

/** A delay pass is good from its delay until this long after it. */
export const DELAY_PASS_GRACE_MS = 10 * 60_000;
/** Longest delay a pass may carry. */
export const MAX_DELAY_MS = 5 * 60_000;

export type DelayPassCheck =
  | { ok: true; claims: DelayPassClaims }
  | { ok: false; code: 'POW_INVALID' | 'POW_WRONG_SPACE' | 'POW_EXPIRED' | 'POW_REPLAYED' | 'BROWNOUT' }
  /** Too early: ready in `remainingMs`. */
  | { ok: false; code: 'POW_EARLY'; remainingMs: number };

export interface NoJsPassesOptions {
  secret: Buffer;
  now?: () => number;
  /** How long a person without JavaScript waits. Default 5 s. */
  delayMs?: number;
}

export class NoJsPasses {
  private readonly signer: ClaimsSigner<DelayPassClaims>;
  private readonly now: () => number;
  private readonly redeemed = new OneUse(200_000);
  readonly delayMs: number;

  constructor(opts: NoJsPassesOptions) {
    this.signer = new ClaimsSigner(deriveKey(opts.secret, 'w'), 'w');
    this.now = opts.now ?? Date.now;
    this.delayMs = opts.delayMs ?? 5000;
  }

  /** A pass for `spaceId`, good after `delayMs` (default: the configured delay). */
  issueDelayPass(spaceId: string, delayMs = this.delayMs): string {
    const d = Math.min(MAX_DELAY_MS, Math.max(0, Math.round(delayMs)));
    return this.signer.sign({
      k: 'w',
      s: spaceId,
      n: randomBytes(9).toString('base64url'),
      i: this.now(),
      d,
    });
  }

  checkDelayPass(spaceId: string, token: string | undefined, nowMs = this.now()): DelayPassCheck {
    const c = this.signer.verify(token);
    if (
      !c ||
      typeof c.s !== 'string' ||
      typeof c.n !== 'string' ||
      typeof c.i !== 'number' ||
      !Number.isFinite(c.i) ||
      typeof c.d !== 'number' ||
      !(c.d >= 0 && c.d <= MAX_DELAY_MS)
    )
      return { ok: false, code: 'POW_INVALID' };
    if (c.s !== spaceId) return { ok: false, code: 'POW_WRONG_SPACE' };
    const readyAt = c.i + c.d;
    if (nowMs < readyAt) return { ok: false, code: 'POW_EARLY', remainingMs: readyAt - nowMs };
    if (nowMs > readyAt + DELAY_PASS_GRACE_MS) return { ok: false, code: 'POW_EXPIRED' };
    return { ok: true, claims: c };
  }

  /** Checks a pass and, when it is good, uses it up (a pass admits once). */
  redeemDelayPass(spaceId: string, token: string | undefined, nowMs = this.now()): DelayPassCheck {
    const r = this.checkDelayPass(spaceId, token, nowMs);
    if (!r.ok) return r;
    const used = this.redeemed.redeem(r.claims.n, r.claims.i + r.claims.d + DELAY_PASS_GRACE_MS, nowMs);
    if (used === 'ok') return r;
    return { ok: false, code: used === 'full' ? 'BROWNOUT' : 'POW_REPLAYED' };
  }
}

// ------------------------------------------------------------------------------------------ pages

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and double-quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ESC[ch] as string);
}

/**
 * Only relative URLs (`nojs?pass=…`, `/spaces/x`, `?nojs=1`; not `//host`) and http(s) URLs go into
 * links, refreshes and the audio source: never `javascript:` or `data:`.
 */
function safeUrl(url: string): string {
  if (/^https?:\/\//i.test(url)) return url;
  if (/^[a-z][a-z0-9+.-]*:/i.test(url) || /^[\\/][\\/]/.test(url) || /[\s\p{Cc}]/u.test(url))
    throw new RangeError(`not a relative or http(s) URL: ${url.slice(0, 40)}`);
  return url;
}

const STYLE =
  'body{font:1.1rem/1.5 system-ui,sans-serif;max-width:36rem;margin:0 auto;padding:1rem;' +
  'overflow-wrap:anywhere}audio{width:100%}';

function page(title: string, body: string, refresh?: { sec: number; url: string }): string {
  const meta = refresh
    ? `<meta http-equiv="refresh" content="${Math.max(0, Math.ceil(refresh.sec))}; url=${escapeHtml(safeUrl(refresh.url))}">\n`
    : '';
  return (
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    '<meta name="color-scheme" content="light dark">\n' +
    '<meta name="robots" content="noindex">\n' +
    meta +
    `<title>${escapeHtml(title)}</title>\n<style>${STYLE}</style>\n</head>\n<body>\n<main>\n${body}</main>\n</body>\n</html>\n`
  );
}

const heading = (spaceTitle: string | undefined): string =>
  `<h1>${escapeHtml(spaceTitle?.trim() || 'Tribune')}</h1>\n`;

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The wait while a delay pass ripens; refreshes to `nextUrl` (which carries the pass). */
export function waitPage(opts: { spaceTitle?: string; delaySec: number; nextUrl: string }): string {
  const sec = Math.max(1, Math.ceil(opts.delaySec));
  const next = escapeHtml(safeUrl(opts.nextUrl));
  return page(
    opts.spaceTitle ? `${opts.spaceTitle} · Tribune` : 'Tribune',
    heading(opts.spaceTitle) +
      `<p role="status">Checking that you are a person: this takes ${plural(sec, 'second')}, no JavaScript needed.</p>\n` +
      `<p>This page moves on by itself. If it does not, <a href="${next}">continue</a> after ${plural(sec, 'second')}.</p>\n`,
    { sec, url: opts.nextUrl },
  );
}

/** In line at a full edge: position, and when the page asks again. */
export function queuePage(opts: { position: number; retrySec: number; nextUrl: string }): string {
  const sec = Math.max(1, Math.ceil(opts.retrySec));
  const pos = Math.max(1, Math.floor(opts.position));
  const next = escapeHtml(safeUrl(opts.nextUrl));
  return page(
    'In line · Tribune',
    heading(undefined) +
      `<p role="status">This Space is full right now. You are number ${pos.toLocaleString('en')} in line.</p>\n` +
      `<p>This page checks again in ${plural(sec, 'second')}; keep it open. If it does not, <a href="${next}">check now</a>.</p>\n`,
    { sec, url: opts.nextUrl },
  );
}

/** The plain player: an audio element on the Space's stream (the admission rides in a cookie). */
export function listenPage(opts: { spaceTitle?: string; streamUrl: string }): string {
  const src = escapeHtml(safeUrl(opts.streamUrl));
  return page(
    opts.spaceTitle ? `${opts.spaceTitle} · Tribune` : 'Tribune',
    heading(opts.spaceTitle) +
      `<audio controls autoplay preload="none" src="${src}">Your browser cannot play audio here. <a href="${src}">Open the audio stream</a>.</audio>\n` +
      '<p>If the audio stops, reload this page.</p>\n',
  );
}

export function endedPage(): string {
  return page('Ended · Tribune', heading(undefined) + '<p>This Space has ended.</p>\n');
}

// ----------------------------------------------------------------------------------------- cookie

export const ADMISSION_COOKIE = 'tribune_admission';
const SPACE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const TOKEN = /^[A-Za-z0-9_.-]{1,512}$/;

/**
 * A `Set-Cookie` value carrying the admission token to the Space's media (the `<audio>` element
 * cannot send a header). `secure`: add `Secure` (an HTTPS deployment).
 */
export function admissionCookie(spaceId: string, token: string, maxAgeSec: number, secure = false): string {
  if (!SPACE_ID.test(spaceId)) throw new RangeError('bad Space id for a cookie path');
  if (!TOKEN.test(token)) throw new RangeError('bad admission token for a cookie');
  const age = Math.max(0, Math.floor(maxAgeSec));
  return (
    `${ADMISSION_COOKIE}=${token}; Max-Age=${age}; Path=/hls/spaces/${spaceId}/; HttpOnly; SameSite=Lax` +
    (secure ? '; Secure' : '')
  );
}

/** The admission token from a `Cookie` header; undefined when absent or empty. */
export function admissionFromCookie(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  let from = 0;
  for (;;) {
    const at = cookieHeader.indexOf(ADMISSION_COOKIE, from);
    if (at < 0) return undefined;
    from = at + ADMISSION_COOKIE.length;
    let before = at - 1;
    while (before >= 0 && cookieHeader.charCodeAt(before) === 32) before--;
    if (before >= 0 && cookieHeader.charCodeAt(before) !== 59 /* ; */) continue;
    let eq = from;
    while (cookieHeader.charCodeAt(eq) === 32) eq++;
    if (cookieHeader.charCodeAt(eq) !== 61 /* = */) continue;
    const end = cookieHeader.indexOf(';', eq + 1);
    const value = cookieHeader.slice(eq + 1, end < 0 ? undefined : end).trim();
    return value && value.length <= 512 ? value : undefined;
  }
}
