/**
 * The web app's session store asks `/api/auth/me` only with evidence of a session (the readable
 * tribune_csrf cookie, or this browser's note that it was signed in): an anonymous listener's page
 * sends the origin nothing.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

type SessionModule = typeof import('../../src/web/session.js');

const store = new Map<string, string>();
let calls: string[] = [];

function installBrowser(cookie: string, hint?: string): void {
  store.clear();
  if (hint !== undefined) store.set('tribune.signedIn', hint);
  vi.stubGlobal('document', { cookie });
  vi.stubGlobal('window', {});
  vi.stubGlobal('localStorage', {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => void store.set(k, v),
    removeItem: (k: string) => void store.delete(k),
  });
  calls = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init?: RequestInit) => {
      calls.push(`${init?.method ?? 'GET'} ${url}`);
      const body =
        url === '/api/auth/me'
          ? {
              user: cookie.includes('signed') ? { id: 'u1', handle: 'h', displayName: 'H' } : null,
              csrfToken: 'c',
            }
          : null;
      return new Response(body ? JSON.stringify(body) : null, {
        status: body ? 200 : 204,
        headers: { 'content-type': 'application/json' },
      });
    }),
  );
}

async function load(): Promise<SessionModule> {
  vi.resetModules();
  return import('../../src/web/session.js');
}

describe('web session evidence', () => {
  beforeEach(() => vi.unstubAllGlobals());
  afterEach(() => vi.unstubAllGlobals());

  it('without a CSRF cookie or a note, is anonymous at once and asks nothing', async () => {
    installBrowser('other=1');
    const s = await load();
    expect(s.hasSessionEvidence()).toBe(false);
    await s.refreshSession();
    expect(calls).toEqual([]);
    expect((window as { __tribune?: { user?: unknown } }).__tribune?.user).toBeNull();
    expect(store.has('tribune.signedIn')).toBe(false);
  });

  it('with the CSRF cookie, asks /api/auth/me and notes the answer', async () => {
    installBrowser('tribune_csrf=abc; signed=1');
    const s = await load();
    expect(s.hasSessionEvidence()).toBe(true);
    await s.refreshSession();
    expect(calls).toEqual(['GET /api/auth/me']);
    expect(store.get('tribune.signedIn')).toBe('1');
    // Signing out: anonymous with this CSRF cookie, so the next page asks nothing.
    await s.signOut();
    expect(store.get('tribune.signedIn')).toBe('0:abc');
    expect(s.hasSessionEvidence()).toBe(false);
  });

  it('with a CSRF cookie already answered "nobody", asks nothing; with another one, asks again', async () => {
    installBrowser('tribune_csrf=abc', '0:abc');
    let s = await load();
    expect(s.hasSessionEvidence()).toBe(false);
    await s.refreshSession();
    expect(calls).toEqual([]);
    // New cookies (e.g. signed in elsewhere on this host): ask.
    installBrowser('tribune_csrf=xyz; signed=1', '0:abc');
    s = await load();
    await s.refreshSession();
    expect(calls).toEqual(['GET /api/auth/me']);
    expect(store.get('tribune.signedIn')).toBe('1');
  });

  it('notes an anonymous answer against the CSRF cookie it came with', async () => {
    installBrowser('tribune_csrf=abc');
    const s = await load();
    await s.refreshSession();
    expect(calls).toEqual(['GET /api/auth/me']);
    expect(store.get('tribune.signedIn')).toBe('0:abc');
  });

  it('with only the note (the CSRF cookie went with the browser session), still asks', async () => {
    installBrowser('', '1');
    const s = await load();
    expect(s.hasSessionEvidence()).toBe(true);
    await s.refreshSession();
    expect(calls).toEqual(['GET /api/auth/me']);
    // The session had expired (and no CSRF cookie to note it against): the note goes.
    expect(store.has('tribune.signedIn')).toBe(false);
  });
});
