import { randomBytes } from 'node:crypto';
import type {} from '@fastify/rate-limit';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { TribuneError } from '../errors.js';
import type { Storage, UserRecord } from '../store/types.js';
import { hashPassword, verifyPassword } from './password.js';
import {
  ErrorBodySchema,
  MeResponseSchema,
  SigninBodySchema,
  SignupBodySchema,
  toPublicUser,
  UserResponseSchema,
} from './schemas.js';
import { clearSessionCookie, createSession, setSessionCookie } from './sessions.js';
import type { SessionRevocation } from './revocation.js';
import { SigninThrottle } from './throttle.js';
import type { SigninGate } from './throttle-redis.js';

export interface AuthRoutesOptions {
  storage: Storage;
  /** Failed sign-in throttle; one per process (in memory) by default, or shared in Redis. */
  throttle?: SigninGate;
  /** Tells every origin about signed-out sessions (Redis); none with one origin. */
  revocation?: SessionRevocation;
  /** Clock (ms since the epoch) for createdAt and session expiry. */
  now?: () => number;
  /** Sign-ups one client address may make per minute (enforced when @fastify/rate-limit is registered). */
  signupPerMinute?: number;
}

const HANDLE = /^[a-z0-9_]{3,24}$/;

/** 12 random bytes, base64url. */
export function newUserId(): string {
  return randomBytes(12).toString('base64url');
}

// Unknown handles are checked against this so that a miss costs one scrypt, like a hit.
let dummyHash: Promise<string> | undefined;
function dummy(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(18).toString('base64url'));
  return dummyHash;
}

const errors = { '4xx': ErrorBodySchema };

/**
 * Accounts: sign-up, sign-in, sign-out and "who am I", mounted at /api/auth. Needs sessionPlugin
 * registered on the app first (cookies, request.user, CSRF).
 */
export const authRoutes =
  (opts: AuthRoutesOptions): FastifyPluginAsync =>
  async (fastify) => {
    if (!fastify.hasRequestDecorator('csrfToken')) {
      throw new Error('authRoutes needs sessionPlugin registered on the app first');
    }
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    const { storage } = opts;
    const now = opts.now ?? Date.now;
    const throttle = opts.throttle ?? new SigninThrottle();
    void dummy();

    app.addHook('onSend', async (_req, reply) => {
      reply.header('Cache-Control', 'no-store');
    });

    /** Replaces any current session with a fresh one for `user` (a new id at every sign-in). */
    const startSession = async (
      req: FastifyRequest,
      reply: FastifyReply,
      user: UserRecord,
    ): Promise<void> => {
      if (req.authSession) await endSession(req);
      const { id, record } = await createSession(storage, user.id, now());
      setSessionCookie(req, reply, id);
      req.user = user;
      req.authSession = record;
    };

    /** Deletes the request's session, and announces it revoked to the other origins. */
    const endSession = async (req: FastifyRequest): Promise<void> => {
      const s = req.authSession;
      if (!s) return;
      await storage.deleteSession(s.idHash);
      if (opts.revocation) await opts.revocation.revoke(s, req.log);
    };

    app.post(
      '/signup',
      {
        config: {
          tolerateInvalidSession: true,
          rateLimit: { max: opts.signupPerMinute ?? 10, timeWindow: 60_000 },
        },
        schema: {
          tags: ['auth'],
          summary: 'Create an account and sign in',
          body: SignupBodySchema,
          response: { 201: UserResponseSchema, ...errors },
        },
      },
      async (req, reply) => {
        const { handle, password } = req.body;
        const displayName = req.body.displayName.trim();
        if (!displayName) throw new TribuneError('BAD_REQUEST', 'displayName is blank');
        // Fail fast, before paying for a hash; createUser still refuses a handle taken meanwhile.
        if (await storage.userByHandle(handle)) throw new TribuneError('HANDLE_TAKEN');
        const user: UserRecord = {
          id: newUserId(),
          handle,
          displayName,
          passwordHash: await hashPassword(password),
          createdAt: new Date(now()).toISOString(),
        };
        await storage.createUser(user);
        await startSession(req, reply, user);
        return reply.code(201).send({ user: toPublicUser(user) });
      },
    );

    app.post(
      '/signin',
      {
        config: { tolerateInvalidSession: true },
        schema: {
          tags: ['auth'],
          summary: 'Sign in with handle and password',
          description:
            'Wrong handle or password: 401 BAD_CREDENTIALS. After 5 failures within 15 minutes (per handle ' +
            'and per client address): 429 SIGNIN_THROTTLED with Retry-After, doubling with every further failure.',
          body: SigninBodySchema,
          response: { 200: UserResponseSchema, ...errors },
        },
      },
      async (req, reply) => {
        const handle = req.body.handle.trim().toLowerCase();
        const check = await throttle.begin(handle, req.ip);
        if (!check.ok) {
          reply.header('Retry-After', String(check.retryAfterSec));
          throw new TribuneError('SIGNIN_THROTTLED', `retry in ${check.retryAfterSec} s`);
        }
        const { attempt } = check;
        try {
          const user = HANDLE.test(handle) ? await storage.userByHandle(handle) : undefined;
          let ok = false;
          if (user) ok = await verifyPassword(req.body.password, user.passwordHash);
          else await verifyPassword(req.body.password, await dummy()); // same cost as a real check
          if (!user || !ok) {
            await attempt.fail();
            throw new TribuneError('BAD_CREDENTIALS');
          }
          await attempt.succeed();
          await startSession(req, reply, user);
          return reply.code(200).send({ user: toPublicUser(user) });
        } finally {
          await attempt.release();
        }
      },
    );

    app.post(
      '/signout',
      {
        config: { tolerateInvalidSession: true },
        schema: {
          tags: ['auth'],
          summary: 'Sign out (ends this session)',
          response: { 204: Type.Null({ description: 'Signed out' }), ...errors },
        },
      },
      async (req, reply) => {
        await endSession(req);
        req.user = null;
        req.authSession = null;
        clearSessionCookie(req, reply);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/me',
      {
        schema: {
          tags: ['auth'],
          summary: 'The signed-in user (or null) and the CSRF token',
          response: { 200: MeResponseSchema, ...errors },
        },
      },
      async (req) => ({ user: req.user ? toPublicUser(req.user) : null, csrfToken: req.csrfToken }),
    );
  };
