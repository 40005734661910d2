import { createHash, randomBytes } from 'node:crypto';
import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SessionRecord, Storage, UserRecord } from '../store/types.js';

export const SESSION_COOKIE = 'tribune_session';
export const CSRF_COOKIE = 'tribune_csrf';
/** The request header that must echo the CSRF cookie on unsafe requests that carry cookies. */
export const CSRF_HEADER = 'x-csrf-token';
export const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;

const SESSION_ID_BYTES = 32;
const CSRF_TOKEN_BYTES = 32;
/** 32 bytes in unpadded base64url. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** A new session id: 32 random bytes, base64url. Only its SHA-256 is ever stored. */
export function newSessionId(): string {
  return randomBytes(SESSION_ID_BYTES).toString('base64url');
}

export function newCsrfToken(): string {
  return randomBytes(CSRF_TOKEN_BYTES).toString('base64url');
}

/** The shape of the session and CSRF cookie values (32 bytes, base64url). */
export function isWellFormedToken(value: string | undefined): value is string {
  return typeof value === 'string' && TOKEN_SHAPE.test(value);
}

/** SessionRecord.idHash for a cookie value: SHA-256, hex. */
export function hashSessionId(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/** Stores a new session for a user; returns the raw id for the cookie. */
export async function createSession(
  storage: Storage,
  userId: string,
  nowMs: number,
): Promise<{ id: string; record: SessionRecord }> {
  const id = newSessionId();
  const record: SessionRecord = {
    idHash: hashSessionId(id),
    userId,
    createdAt: new Date(nowMs).toISOString(),
    expiresAt: new Date(nowMs + SESSION_TTL_MS).toISOString(),
  };
  await storage.createSession(record);
  return { id, record };
}

/**
 * The session and user a cookie value stands for, or null when it is malformed, unknown or
 * expired, or its user is gone (expired and orphaned sessions are deleted on the way).
 */
export async function resolveSession(
  storage: Storage,
  cookieValue: string,
  nowMs: number,
): Promise<{ session: SessionRecord; user: UserRecord } | null> {
  if (!isWellFormedToken(cookieValue)) return null;
  const session = await storage.sessionByHash(hashSessionId(cookieValue));
  if (!session) return null;
  const expiresAt = Date.parse(session.expiresAt);
  if (!(expiresAt > nowMs)) {
    await storage.deleteSession(session.idHash);
    return null;
  }
  const user = await storage.userById(session.userId);
  if (!user) {
    await storage.deleteSession(session.idHash);
    return null;
  }
  return { session, user };
}

function secure(request: FastifyRequest): boolean {
  return request.protocol === 'https';
}

/** Session cookie: HttpOnly, SameSite=Lax, Path=/, Secure over https, 30 days. */
export function sessionCookieOptions(request: FastifyRequest): CookieSerializeOptions {
  return {
    httpOnly: true,
    sameSite: 'lax',
    path: '/',
    secure: secure(request),
    maxAge: SESSION_TTL_MS / 1000,
  };
}

/**
 * CSRF cookie: readable by the page's JS (not HttpOnly), SameSite=Strict, Path=/, Secure over https,
 * and as long-lived as the session, so the page can tell "maybe signed in" from "anonymous" without
 * asking the origin (an anonymous listener's page sends nothing to it).
 */
export function csrfCookieOptions(request: FastifyRequest): CookieSerializeOptions {
  return {
    httpOnly: false,
    sameSite: 'strict',
    path: '/',
    secure: secure(request),
    maxAge: SESSION_TTL_MS / 1000,
  };
}

export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, id: string): void {
  reply.setCookie(SESSION_COOKIE, id, sessionCookieOptions(request));
}

/** Tells the browser to drop the session cookie (empty value, Max-Age=0). */
export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'lax', path: '/', secure: secure(request) });
}

export function setCsrfCookie(request: FastifyRequest, reply: FastifyReply, token: string): void {
  reply.setCookie(CSRF_COOKIE, token, csrfCookieOptions(request));
}
