/**
 * Accounts over real HTTP: a fastify app on 127.0.0.1 with the session plugin, the auth routes and
 * the origin's error handler, backed by an in-memory SQLite store, exercised with fetch and a
 * cookie jar. The clock is injected (session expiry, sign-in throttle).
 */
import { randomBytes, scryptSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireUser, sessionPlugin } from '../../src/accounts/plugin.js';
import { authRoutes } from '../../src/accounts/routes.js';
import { SESSION_TTL_MS } from '../../src/accounts/sessions.js';
import { SigninThrottle } from '../../src/accounts/throttle.js';
import { errorHandler } from '../../src/origin/app.js';
import { SqliteStorage } from '../../src/store/sqlite.js';

interface ErrorBody {
  error: { code: string; message: string };
}
interface PublicUser {
  id: string;
  handle: string;
  displayName: string;
}

interface SetCookie {
  name: string;
  value: string;
  /** Lower-cased attribute names; flags map to ''. */
  attrs: Map<string, string>;
}

function parseSetCookie(header: string): SetCookie {
  const [pair = '', ...rest] = header.split(';').map((s) => s.trim());
  const eq = pair.indexOf('=');
  const attrs = new Map<string, string>();
  for (const a of rest) {
    const i = a.indexOf('=');
    if (i < 0) attrs.set(a.toLowerCase(), '');
    else attrs.set(a.slice(0, i).toLowerCase(), a.slice(i + 1));
  }
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attrs };
}

/** A browser-like client: a cookie jar, its own client address (X-Forwarded-For), CSRF header on demand. */
class Client {
  readonly jar = new Map<string, string>();
  lastSetCookies: SetCookie[] = [];

  constructor(
    private readonly base: string,
    readonly address: string,
  ) {}

  async request(
    method: string,
    path: string,
    opts: { body?: unknown; csrf?: boolean | string; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { 'x-forwarded-for': this.address, ...opts.headers };
    if (this.jar.size > 0) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const csrf = opts.csrf ?? true;
    if (typeof csrf === 'string') headers['x-csrf-token'] = csrf;
    else if (csrf && this.jar.has('tribune_csrf')) headers['x-csrf-token'] = this.jar.get('tribune_csrf')!;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    }
    const res = await fetch(`${this.base}${path}`, { method, headers, body });
    this.lastSetCookies = res.headers.getSetCookie().map(parseSetCookie);
    for (const c of this.lastSetCookies) {
      if (c.value === '' || c.attrs.get('max-age') === '0') this.jar.delete(c.name);
      else this.jar.set(c.name, c.value);
    }
    return res;
  }

  setCookie(name: string, value: string): void {
    this.jar.set(name, value);
  }

  cookie(name: string): SetCookie | undefined {
    return this.lastSetCookies.find((c) => c.name === name);
  }
}

async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  const body = (await res.json()) as ErrorBody;
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  return body;
}

describe('accounts over HTTP', () => {
  let app: FastifyInstance;
  let storage: SqliteStorage;
  let base: string;
  let clock = Date.parse('2030-01-01T00:00:00Z');
  const now = (): number => clock;
  let addressSeq = 0;
  /** A fresh browser with its own client address (so throttle counters do not leak between tests). */
  const client = (): Client => new Client(base, `10.9.${addressSeq >> 8}.${addressSeq++ & 255}`);

  const signup = async (c: Client, handle: string, password = 'correct horse'): Promise<Response> =>
    c.request('POST', '/api/auth/signup', { body: { handle, displayName: `User ${handle}`, password } });
  const signin = (c: Client, handle: string, password: string): Promise<Response> =>
    c.request('POST', '/api/auth/signin', { body: { handle, password } });
  const me = async (c: Client): Promise<{ user: PublicUser | null; csrfToken: string }> => {
    const res = await c.request('GET', '/api/auth/me');
    expect(res.status).toBe(200);
    return (await res.json()) as { user: PublicUser | null; csrfToken: string };
  };

  beforeAll(async () => {
    storage = SqliteStorage.open(':memory:');
    // The same options and error handler as the origin (src/origin/app.ts); trustProxy lets each
    // test client present its own address and https.
    app = Fastify({
      bodyLimit: 16 * 1024,
      trustProxy: true,
      ajv: { customOptions: { removeAdditional: false } },
    });
    app.setErrorHandler(errorHandler);
    await app.register(sessionPlugin({ storage, now }));
    await app.register(authRoutes({ storage, now, throttle: new SigninThrottle({ now }) }), {
      prefix: '/api/auth',
    });
    // Stands for any other API route that needs a signed-in user.
    app.post('/api/whoami', async (req) => ({ handle: requireUser(req).handle }));
    app.get('/healthz', async () => ({ ok: true }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await app?.close();
    await storage?.close();
  });

  it('signs up, sets the session and CSRF cookies, and /me shows the user', async () => {
    const c = client();
    const res = await signup(c, 'alice');
    expect(res.status).toBe(201);
    const { user } = (await res.json()) as { user: PublicUser };
    expect(Object.keys(user).sort()).toEqual(['displayName', 'handle', 'id']);
    expect(user).toMatchObject({ handle: 'alice', displayName: 'User alice' });
    expect(user.id).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(res.headers.get('cache-control')).toBe('no-store');

    const session = c.cookie('tribune_session')!;
    expect(session.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.attrs.has('httponly')).toBe(true);
    expect(session.attrs.get('samesite')).toBe('Lax');
    expect(session.attrs.get('path')).toBe('/');
    expect(session.attrs.get('max-age')).toBe(String(30 * 24 * 3600));
    expect(session.attrs.has('secure')).toBe(false);
    const csrf = c.cookie('tribune_csrf')!;
    expect(csrf.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(csrf.attrs.has('httponly')).toBe(false);
    expect(csrf.attrs.get('samesite')).toBe('Strict');
    expect(csrf.attrs.get('path')).toBe('/');

    // Only the SHA-256 of the cookie value is stored.
    const { createHash } = await import('node:crypto');
    const hash = createHash('sha256').update(session.value).digest('hex');
    expect(await storage.sessionByHash(hash)).toMatchObject({ userId: user.id });
    expect(await storage.sessionByHash(session.value)).toBeUndefined();
    expect((await storage.userById(user.id))?.passwordHash).toMatch(/^scrypt\$16384\$8\$1\$/);

    expect(await me(c)).toEqual({ user, csrfToken: csrf.value });
    // The CSRF cookie is not set again once the browser has it.
    expect(c.cookie('tribune_csrf')).toBeUndefined();
  });

  it('gives a new browser a CSRF cookie on its first GET, and marks cookies Secure over https', async () => {
    const c = client();
    const body = await me(c);
    expect(body.user).toBeNull();
    expect(c.cookie('tribune_csrf')?.value).toBe(body.csrfToken);
    expect(c.cookie('tribune_csrf')?.attrs.has('secure')).toBe(false);

    const s = client();
    const res = await s.request('POST', '/api/auth/signup', {
      body: { handle: 'secure_sam', displayName: 'Sam', password: 'correct horse' },
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(res.status).toBe(201);
    expect(s.cookie('tribune_session')?.attrs.has('secure')).toBe(true);
    expect(s.cookie('tribune_csrf')?.attrs.has('secure')).toBe(true);

    // Routes outside /api and /whip are left alone.
    const h = await client().request('GET', '/healthz');
    expect(h.headers.getSetCookie()).toEqual([]);
  });

  it('refuses a duplicate handle with 409 HANDLE_TAKEN', async () => {
    expect((await signup(client(), 'bob')).status).toBe(201);
    const c = client();
    await expectError(await signup(c, 'bob', 'another password'), 409, 'HANDLE_TAKEN');
    expect(c.jar.has('tribune_session')).toBe(false);
  });

  it('refuses invalid and oversized bodies with 400 BAD_REQUEST', async () => {
    const ok = { handle: 'carol', displayName: 'Carol', password: 'correct horse' };
    const bad: Array<[string, unknown]> = [
      ['uppercase handle', { ...ok, handle: 'Carol' }],
      ['short handle', { ...ok, handle: 'ab' }],
      ['long handle', { ...ok, handle: 'a'.repeat(25) }],
      ['handle with a dash', { ...ok, handle: 'car-ol' }],
      ['handle not a string', { ...ok, handle: { $ne: null } }],
      ['empty display name', { ...ok, displayName: '' }],
      ['blank display name', { ...ok, displayName: '   ' }],
      ['display name over 50', { ...ok, displayName: 'x'.repeat(51) }],
      ['display name with a newline', { ...ok, displayName: 'Carol\nAdmin' }],
      ['short password', { ...ok, password: '1234567' }],
      ['password over 200', { ...ok, password: 'x'.repeat(201) }],
      ['missing password', { handle: ok.handle, displayName: ok.displayName }],
      ['unknown property', { ...ok, isAdmin: true }],
      ['not an object', [ok]],
      ['malformed JSON', '{"handle": "carol",'],
    ];
    for (const [what, body] of bad) {
      const res = await client().request('POST', '/api/auth/signup', { body });
      const err = await expectError(res, 400, 'BAD_REQUEST');
      expect(err.error.message, what).toBeTruthy();
    }
    for (const body of [{ handle: 'carol' }, { handle: 'carol', password: 'x'.repeat(201) }, {}]) {
      await expectError(await client().request('POST', '/api/auth/signin', { body }), 400, 'BAD_REQUEST');
    }
    // Over the app's body limit: the app maps it to 413 BODY_TOO_LARGE.
    const huge = { ...ok, displayName: 'x'.repeat(20_000) };
    await expectError(
      await client().request('POST', '/api/auth/signup', { body: huge }),
      413,
      'BODY_TOO_LARGE',
    );
    expect(await storage.userByHandle('carol')).toBeUndefined();
  });

  it('signs in (case-insensitive handle) with a fresh session, and refuses wrong credentials alike', async () => {
    const first = client();
    expect((await signup(first, 'dave', 'dave password')).status).toBe(201);
    const oldSession = first.jar.get('tribune_session')!;

    const wrong = await expectError(
      await signin(client(), 'dave', 'not the password'),
      401,
      'BAD_CREDENTIALS',
    );
    const unknown = await expectError(
      await signin(client(), 'nobody_here', 'dave password'),
      401,
      'BAD_CREDENTIALS',
    );
    const malformed = await expectError(
      await signin(client(), 'No Such-Handle', 'x'),
      401,
      'BAD_CREDENTIALS',
    );
    expect(unknown.error.message).toBe(wrong.error.message);
    expect(malformed.error.message).toBe(wrong.error.message);

    // Signing in again from the same browser rotates the session id; the old one is gone.
    const res = await signin(first, 'DAVE', 'dave password');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { user: PublicUser }).user.handle).toBe('dave');
    const newSession = first.jar.get('tribune_session')!;
    expect(newSession).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(newSession).not.toBe(oldSession);
    expect((await me(first)).user?.handle).toBe('dave');

    const stale = client();
    stale.setCookie('tribune_session', oldSession);
    await expectError(await stale.request('GET', '/api/auth/me'), 401, 'SESSION_INVALID');
  });

  it('throttles repeated failures: 429 SIGNIN_THROTTLED with Retry-After, even for the right password', async () => {
    expect((await signup(client(), 'erin', 'erin password')).status).toBe(201);
    const c = client();
    for (let i = 0; i < 5; i++)
      await expectError(await signin(c, 'erin', `guess ${i}`), 401, 'BAD_CREDENTIALS');
    let res = await signin(c, 'erin', 'guess 5');
    await expectError(res, 429, 'SIGNIN_THROTTLED');
    expect(res.headers.get('retry-after')).toBe('2');
    // The right password from another address is refused too while the handle is locked.
    res = await signin(client(), 'erin', 'erin password');
    await expectError(res, 429, 'SIGNIN_THROTTLED');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(c.jar.has('tribune_session')).toBe(false);

    clock += 2_000;
    await expectError(await signin(c, 'erin', 'guess 6'), 401, 'BAD_CREDENTIALS');
    res = await signin(c, 'erin', 'erin password');
    expect(res.headers.get('retry-after')).toBe('4');
    await expectError(res, 429, 'SIGNIN_THROTTLED');

    // After the lock-out, the right password works (from a fresh address) and clears the handle's counter.
    clock += 4_000;
    const d = client();
    expect((await signin(d, 'erin', 'erin password')).status).toBe(200);
    for (let i = 0; i < 4; i++)
      await expectError(await signin(d, 'erin', `again ${i}`), 401, 'BAD_CREDENTIALS');
  });

  it('throttles one address across many handles', async () => {
    const c = client();
    for (let i = 0; i < 5; i++)
      await expectError(await signin(c, `victim${i}`, 'guess it'), 401, 'BAD_CREDENTIALS');
    const res = await signin(c, 'victim5', 'guess it');
    await expectError(res, 429, 'SIGNIN_THROTTLED');
    expect(res.headers.get('retry-after')).toBe('2');
    await expectError(await signin(client(), 'victim5', 'guess it'), 401, 'BAD_CREDENTIALS');
  });

  it('signs out: 204, the cookie is cleared and the old session no longer works', async () => {
    const c = client();
    expect((await signup(c, 'frank')).status).toBe(201);
    const oldSession = c.jar.get('tribune_session')!;
    const res = await c.request('POST', '/api/auth/signout');
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    const cleared = c.cookie('tribune_session')!;
    expect(cleared.value).toBe('');
    expect(cleared.attrs.get('max-age')).toBe('0');
    expect(cleared.attrs.get('path')).toBe('/');
    expect((await me(c)).user).toBeNull();

    c.setCookie('tribune_session', oldSession);
    await expectError(await c.request('GET', '/api/auth/me'), 401, 'SESSION_INVALID');
    expect(c.cookie('tribune_session')?.attrs.get('max-age')).toBe('0');
    expect(c.jar.has('tribune_session')).toBe(false);
  });

  it('refuses forged, garbage and expired session cookies with 401 SESSION_INVALID and clears them', async () => {
    const forged = [
      'garbage',
      '',
      'x'.repeat(5000),
      randomBytes(32).toString('base64url'), // well-formed, unknown
      `${randomBytes(32).toString('base64url')}%00`,
    ];
    for (const value of forged) {
      const c = client();
      c.setCookie('tribune_session', value);
      await expectError(await c.request('GET', '/api/auth/me'), 401, 'SESSION_INVALID');
      const cleared = c.cookie('tribune_session');
      expect(cleared?.attrs.get('max-age'), value).toBe('0');
      // The cleared browser can carry on.
      expect((await me(c)).user).toBeNull();
    }

    const c = client();
    expect((await signup(c, 'gina')).status).toBe(201);
    clock += SESSION_TTL_MS - 1_000;
    expect((await me(c)).user?.handle).toBe('gina');
    clock += 1_000;
    await expectError(await c.request('GET', '/api/auth/me'), 401, 'SESSION_INVALID');

    // A stale cookie does not stand in the way of signing in again.
    const s = client();
    s.setCookie('tribune_csrf', randomBytes(32).toString('base64url'));
    s.setCookie('tribune_session', randomBytes(32).toString('base64url'));
    expect((await signin(s, 'gina', 'correct horse')).status).toBe(200);
    expect((await me(s)).user?.handle).toBe('gina');
  });

  it('requires a matching X-CSRF-Token on unsafe requests that carry cookies', async () => {
    const c = client();
    expect((await signup(c, 'hank')).status).toBe(201);

    await expectError(await c.request('POST', '/api/whoami', { csrf: false }), 403, 'CSRF_FAILED');
    await expectError(
      await c.request('POST', '/api/whoami', { csrf: randomBytes(32).toString('base64url') }),
      403,
      'CSRF_FAILED',
    );
    await expectError(await c.request('POST', '/api/whoami', { csrf: '' }), 403, 'CSRF_FAILED');
    // Sign-out is protected too: a forged one leaves the session alone.
    await expectError(await c.request('POST', '/api/auth/signout', { csrf: false }), 403, 'CSRF_FAILED');
    expect((await me(c)).user?.handle).toBe('hank');

    const res = await c.request('POST', '/api/whoami');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ handle: 'hank' });

    // A session cookie without the CSRF cookie: refused, and the response hands out a CSRF cookie.
    const d = client();
    d.setCookie('tribune_session', c.jar.get('tribune_session')!);
    await expectError(await d.request('POST', '/api/whoami'), 403, 'CSRF_FAILED');
    expect(d.cookie('tribune_csrf')?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await d.request('POST', '/api/whoami')).status).toBe(200);

    // No cookies at all (bearer-token or anonymous clients): no CSRF check; no user either.
    await expectError(await client().request('POST', '/api/whoami'), 401, 'SIGN_IN_REQUIRED');
  });

  it('hashes off the event loop: a 1 ms timer keeps firing on time while 4 sign-ups hash', async () => {
    // A timer rather than a setImmediate spin: a spinning loop competes for the CPU with the four
    // hashing threads and gets preempted, which would measure the OS scheduler, not blocking.
    const ticker = (): (() => { maxGapMs: number; ticks: number }) => {
      let last = performance.now();
      let maxGapMs = 0;
      let ticks = 0;
      let running = true;
      const tick = (): void => {
        const t = performance.now();
        maxGapMs = Math.max(maxGapMs, t - last);
        last = t;
        ticks++;
        if (running) setTimeout(tick, 1);
      };
      setTimeout(tick, 1);
      return () => {
        running = false;
        return { maxGapMs, ticks };
      };
    };
    const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

    // What one hash costs when it does block the loop (scryptSync, same parameters): the ticker sees it.
    let stop = ticker();
    await turn();
    await turn();
    scryptSync('correct horse', randomBytes(16), 32, { N: 16384, r: 8, p: 1 });
    await turn();
    await turn();
    const blocked = stop();
    expect(blocked.maxGapMs).toBeGreaterThan(5);

    stop = ticker();
    const results = await Promise.all(
      ['loop_a', 'loop_b', 'loop_c', 'loop_d'].map((h) => signup(client(), h, `password of ${h}`)),
    );
    const during = stop();
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    // Hashing in the loop would stall it for at least one hash (four, back to back); on the threadpool
    // the loop only pauses for request handling.
    expect(during.maxGapMs).toBeLessThan(blocked.maxGapMs);
    expect(during.ticks).toBeGreaterThan(20);
  });
});
