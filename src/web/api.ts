/** Typed fetch wrappers for the Tribune HTTP API (see docs/architecture.md). */

import type { CreatedSpace, SpaceView } from '../origin/api-types.js';

export type {
  CreatedSpace,
  SpaceRecord,
  SpaceState,
  SpaceView,
  SpeakerRole,
  SpeakerView,
} from '../origin/api-types.js';

/** An error from the API (`{error:{code,message}}`) or from reaching it at all. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, message: string, status: number) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
  }
}

/** Client-side codes (never sent by the server). */
export const CLIENT_ERRORS = {
  NETWORK: 'NETWORK',
  BAD_RESPONSE: 'BAD_RESPONSE',
} as const;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** Builds an ApiError from a non-OK response, preferring the JSON error body. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  let text = '';
  try {
    text = await res.text();
  } catch {
    // body unreadable: fall through to the generic message
  }
  try {
    const body: unknown = JSON.parse(text);
    if (isRecord(body) && isRecord(body.error)) {
      const { code, message } = body.error;
      if (typeof code === 'string') {
        return new ApiError(code, typeof message === 'string' ? message : code, res.status);
      }
    }
  } catch {
    // not JSON
  }
  if (res.status === 404) {
    return new ApiError('NOT_FOUND', 'Not found', 404);
  }
  if (res.status >= 500) {
    return new ApiError(
      CLIENT_ERRORS.NETWORK,
      `The Tribune server is not reachable right now (HTTP ${res.status})`,
      res.status,
    );
  }
  return new ApiError(`HTTP_${res.status}`, `Request failed with HTTP ${res.status}`, res.status);
}

/** Turns a fetch() rejection into an ApiError (AbortError is re-thrown untouched). */
export function networkError(err: unknown): ApiError | DOMException {
  if (err instanceof DOMException && err.name === 'AbortError') return err;
  return new ApiError(CLIENT_ERRORS.NETWORK, 'Could not reach the Tribune server', 0);
}

export function isAbortError(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}

async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers: { Accept: 'application/json', ...init.headers } });
  } catch (err) {
    throw networkError(err);
  }
  if (!res.ok) throw await errorFromResponse(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(
      CLIENT_ERRORS.BAD_RESPONSE,
      'The Tribune server sent an unexpected response',
      res.status,
    );
  }
}

function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

const spacePath = (id: string): string => `/api/spaces/${encodeURIComponent(id)}`;

export function createSpace(title: string, signal?: AbortSignal): Promise<CreatedSpace> {
  return request<CreatedSpace>('/api/spaces', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ title }),
    signal,
  });
}

export async function listSpaces(signal?: AbortSignal): Promise<SpaceView[]> {
  const body = await request<{ spaces?: SpaceView[] }>('/api/spaces', { signal });
  return Array.isArray(body?.spaces) ? body.spaces : [];
}

export async function getSpace(id: string, signal?: AbortSignal): Promise<SpaceView> {
  const space = await request<SpaceView>(spacePath(id), { signal });
  return { ...space, speakers: Array.isArray(space.speakers) ? space.speakers : [] };
}

export async function endSpace(id: string, hostToken: string, signal?: AbortSignal): Promise<void> {
  await request<unknown>(`${spacePath(id)}/end`, { method: 'POST', headers: bearer(hostToken), signal });
}

/** Where the host's credentials for a Space live on this device. */
const hostKey = (id: string): string => `tribune.hostToken.${id}`;
const inviteKey = (id: string): string => `tribune.inviteUrl.${id}`;
const NAME_KEY = 'tribune.name';

function storageGet(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function storageSet(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // private mode / storage full: the page still works for this session
  }
}

export function saveHostCredentials(space: CreatedSpace): void {
  storageSet(hostKey(space.id), space.hostToken);
  const invite =
    space.inviteUrl ||
    `/join/${encodeURIComponent(space.id)}?invite=${encodeURIComponent(space.inviteToken)}`;
  storageSet(inviteKey(space.id), invite);
}

export function loadHostToken(id: string): string | null {
  return storageGet(hostKey(id));
}

export function loadInviteUrl(id: string): string | null {
  return storageGet(inviteKey(id));
}

export function loadName(): string {
  return storageGet(NAME_KEY) ?? '';
}

export function saveName(name: string): void {
  storageSet(NAME_KEY, name);
}
