import fastifyCookie from '@fastify/cookie';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { TribuneError } from '../errors.js';
import type { SessionRecord, Storage, UserRecord } from '../store/types.js';
import { checkCsrf } from './csrf.js';
import type { SessionRevocation } from './revocation.js';
import {
  clearSessionCookie,
  CSRF_COOKIE,
  CSRF_HEADER,
  isWellFormedToken,
  newCsrfToken,
  resolveSession,
  SESSION_COOKIE,
  setCsrfCookie,
} from './sessions.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in user (from the session cookie), or null. Set on /api/ and /whip/ routes. */
    user: UserRecord | null;
    /** The session behind `user`, or null. */
    authSession: SessionRecord | null;
    /** This browser's CSRF token (the `tribune_csrf` cookie; a new one is being set when it had none). */
    csrfToken: string;
  }
  interface FastifyContextConfig {
    /**
     * A malformed, unknown or expired session cookie is treated as no session (and cleared)
     * instead of failing with SESSION_INVALID. For sign-in, sign-up and sign-out.
     */
    tolerateInvalidSession?: boolean;
  }
}

export interface SessionPluginOptions {
  storage: Storage;
  /** Clock (ms since the epoch) for session expiry. */
  now?: () => number;
  /** Sessions signed out on any origin (Redis), checked on every request with a session. */
  revocation?: SessionRevocation;
}

/** Routes the session hook applies to. */
// WHIP is authorised by bearer tokens only (standard WHIP clients send no cookies), so it is not here.
const SESSION_ROUTES = /^\/api(?:[/?]|$)/;

/** The signed-in user, or SIGN_IN_REQUIRED (401). */
export function requireUser(request: FastifyRequest): UserRecord {
  if (!request.user) throw new TribuneError('SIGN_IN_REQUIRED');
  return request.user;
}

/**
 * Cookie sessions and CSRF protection for every `/api/` and `/whip/` route of the app (register it
 * before those routes; it is not encapsulated). On those routes it:
 * - sets `request.user` from the `tribune_session` cookie (null without one); a malformed, unknown
 *   or expired cookie fails with 401 SESSION_INVALID and clears the cookie;
 * - refuses unsafe requests that carry cookies without a matching `x-csrf-token` header
 *   (403 CSRF_FAILED): see checkCsrf;
 * - gives every browser a `tribune_csrf` cookie on its first response.
 * Registers @fastify/cookie unless the app already has it.
 */
export function sessionPlugin(opts: SessionPluginOptions): FastifyPluginAsync {
  const { storage } = opts;
  const now = opts.now ?? Date.now;

  const plugin: FastifyPluginAsync = async (app) => {
    if (!app.hasReplyDecorator('setCookie')) await app.register(fastifyCookie);
    app.decorateRequest('user', null);
    app.decorateRequest('authSession', null);
    app.decorateRequest('csrfToken', '');

    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      if (!SESSION_ROUTES.test(request.url)) return;
      const cookieHeader = request.headers.cookie;
      // @fastify/cookie parses in its own onRequest hook unless the app configured it otherwise.
      const cookies = request.cookies ?? (cookieHeader ? app.parseCookie(cookieHeader) : {});

      const csrfCookie = cookies[CSRF_COOKIE];
      if (isWellFormedToken(csrfCookie)) {
        request.csrfToken = csrfCookie;
      } else {
        request.csrfToken = newCsrfToken();
        setCsrfCookie(request, reply, request.csrfToken);
      }

      const sessionCookie = cookies[SESSION_COOKIE];
      if (sessionCookie !== undefined) {
        let resolved = await resolveSession(storage, sessionCookie, now());
        if (resolved && opts.revocation && (await opts.revocation.isRevoked(resolved.session.idHash)))
          resolved = null;
        if (resolved) {
          request.user = resolved.user;
          request.authSession = resolved.session;
        } else {
          clearSessionCookie(request, reply);
          if (!request.routeOptions.config.tolerateInvalidSession) throw new TribuneError('SESSION_INVALID');
        }
      }

      const ok = checkCsrf({
        method: request.method,
        cookieHeaderPresent: typeof cookieHeader === 'string' && cookieHeader.trim() !== '',
        csrfCookie,
        csrfHeader: request.headers[CSRF_HEADER],
      });
      if (!ok) throw new TribuneError('CSRF_FAILED');
    });
  };

  // Not encapsulated (what fastify-plugin does): the decorators and the hook reach the whole app.
  Object.assign(plugin, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: 'tribune-sessions',
  });
  return plugin;
}
