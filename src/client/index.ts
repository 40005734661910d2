/**
 * The typed Tribune API client. The web app uses it in the browser (cookies handled by the
 * browser); tests and scripts use it from Node with `cookieJar: true` (a minimal jar: Tribune's
 * cookies are host-only and path=/). Every state-changing call sends the CSRF header.
 */
import type {
  ClipBody,
  ClipView,
  CreateSpaceBody,
  InviteLink,
  ListenerList,
  ListenGrant,
  MuteBody,
  NotificationList,
  Participants,
  PublishToken,
  RoleBody,
  SpaceList,
  SpaceState,
  SpaceView,
  UserRef,
} from '../api/schemas.js';
import type {
  EmbedInfo,
  FeedPage,
  FollowPage,
  FollowState,
  PageQuery,
  SpacePage,
  UserProfile,
  UserSpacesQuery,
} from '../api/social-schemas.js';

export type * from '../api/schemas.js';
export type * from '../api/social-schemas.js';

/** An error answered by the API (`{error:{code,message}}`), or a failure to reach it at all. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly retryAfterSec?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ClientOptions {
  /** Base URL of the origin (empty in the browser: same origin). */
  baseUrl?: string;
  fetch?: typeof fetch;
  /** Keep cookies between calls (Node). Browsers do this themselves: leave false there. */
  cookieJar?: boolean;
}

export interface Me {
  user: UserRef | null;
  csrfToken: string;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export class TribuneClient {
  readonly baseUrl: string;
  private readonly doFetch: typeof fetch;
  private readonly jar: Map<string, string> | undefined;

  constructor(opts: ClientOptions = {}) {
    this.baseUrl = (opts.baseUrl ?? '').replace(/\/+$/, '');
    this.doFetch = opts.fetch ?? ((...a) => fetch(...a));
    this.jar = opts.cookieJar ? new Map() : undefined;
  }

  /** The CSRF token: the tribune_csrf cookie (jar in Node, document.cookie in a browser). */
  csrfToken(): string | undefined {
    if (this.jar) return this.jar.get('tribune_csrf');
    if (typeof document !== 'undefined') {
      const m = /(?:^|;\s*)tribune_csrf=([^;]+)/.exec(document.cookie);
      return m ? decodeURIComponent(m[1]) : undefined;
    }
    return undefined;
  }

  /** Cookie header value (Node jar), for raw requests made next to the client. */
  cookieHeader(): string | undefined {
    if (!this.jar || this.jar.size === 0) return undefined;
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET') {
      if (!this.csrfToken()) await this.me(); // the first GET sets the CSRF cookie
      const csrf = this.csrfToken();
      if (csrf) headers['x-csrf-token'] = csrf;
    }
    const cookie = this.cookieHeader();
    if (cookie) headers.cookie = cookie;
    let res: Response;
    try {
      res = await this.doFetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
      });
    } catch (err) {
      throw new ApiError('NETWORK', err instanceof Error ? err.message : String(err), 0);
    }
    this.storeCookies(res);
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      const retry = Number(res.headers.get('retry-after'));
      throw new ApiError(
        typeof e?.code === 'string' ? e.code : `HTTP_${res.status}`,
        typeof e?.message === 'string' ? e.message : res.statusText,
        res.status,
        Number.isFinite(retry) && retry > 0 ? retry : undefined,
      );
    }
    return json as T;
  }

  private storeCookies(res: Response): void {
    if (!this.jar) return;
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  // ---------------------------------------------------------------- accounts
  me = (): Promise<Me> => this.request('GET', '/api/auth/me');
  signUp = (b: { handle: string; displayName: string; password: string }): Promise<{ user: UserRef }> =>
    this.request('POST', '/api/auth/signup', b);
  signIn = (b: { handle: string; password: string }): Promise<{ user: UserRef }> =>
    this.request('POST', '/api/auth/signin', b);
  signOut = (): Promise<void> => this.request('POST', '/api/auth/signout');
  notifications = (): Promise<NotificationList> => this.request('GET', '/api/me/notifications');
  markNotificationsRead = (): Promise<void> => this.request('POST', '/api/me/notifications/read');

  // ---------------------------------------------------------------- Spaces
  createSpace = (b: CreateSpaceBody): Promise<SpaceView> => this.request('POST', '/api/spaces', b);
  listSpaces = (state?: SpaceState): Promise<SpaceList> =>
    this.request('GET', `/api/spaces${state ? `?state=${state}` : ''}`);
  space = (id: string): Promise<SpaceView> => this.request('GET', `/api/spaces/${enc(id)}`);
  start = (id: string): Promise<SpaceView> => this.request('POST', `/api/spaces/${enc(id)}/start`);
  end = (id: string): Promise<SpaceView> => this.request('POST', `/api/spaces/${enc(id)}/end`);
  subscribe = (id: string): Promise<void> => this.request('POST', `/api/spaces/${enc(id)}/subscribe`);
  unsubscribe = (id: string): Promise<void> => this.request('DELETE', `/api/spaces/${enc(id)}/subscribe`);
  listen = (id: string): Promise<ListenGrant> => this.request('POST', `/api/spaces/${enc(id)}/listen`);
  publishToken = (id: string): Promise<PublishToken> =>
    this.request('POST', `/api/spaces/${enc(id)}/publish-token`);
  participants = (id: string): Promise<Participants> =>
    this.request('GET', `/api/spaces/${enc(id)}/participants`);
  /** A page of who is listening (`cursor`: the previous page's `nextCursor`). */
  listeners = (id: string, page: { cursor?: string; limit?: number } = {}): Promise<ListenerList> => {
    const q = new URLSearchParams();
    if (page.cursor !== undefined) q.set('cursor', page.cursor);
    if (page.limit !== undefined) q.set('limit', String(page.limit));
    const qs = q.toString();
    return this.request('GET', `/api/spaces/${enc(id)}/listeners${qs ? `?${qs}` : ''}`);
  };

  // ---------------------------------------------------------------- requests, invites, roles
  requestToSpeak = (id: string): Promise<void> => this.request('POST', `/api/spaces/${enc(id)}/requests`);
  withdrawRequest = (id: string): Promise<void> =>
    this.request('DELETE', `/api/spaces/${enc(id)}/requests/me`);
  approveRequest = (id: string, userId: string): Promise<void> =>
    this.request('POST', `/api/spaces/${enc(id)}/requests/${enc(userId)}/approve`);
  denyRequest = (id: string, userId: string): Promise<void> =>
    this.request('POST', `/api/spaces/${enc(id)}/requests/${enc(userId)}/deny`);
  inviteLink = (id: string): Promise<InviteLink> => this.request('POST', `/api/spaces/${enc(id)}/invites`);
  acceptInvite = (id: string, token: string): Promise<void> =>
    this.request('POST', `/api/spaces/${enc(id)}/invites/accept`, { token });
  setRole = (id: string, userId: string, role: RoleBody['role']): Promise<void> =>
    this.request('POST', `/api/spaces/${enc(id)}/members/${enc(userId)}/role`, { role });
  mute = (id: string, userId: string, b: MuteBody): Promise<void> =>
    this.request('POST', `/api/spaces/${enc(id)}/members/${enc(userId)}/mute`, b);
  muteSelf = (id: string, muted: boolean): Promise<void> =>
    this.request('POST', `/api/spaces/${enc(id)}/me/mute`, { muted });
  leaveStage = (id: string): Promise<void> => this.request('POST', `/api/spaces/${enc(id)}/me/leave-stage`);
  remove = (id: string, userId: string): Promise<void> =>
    this.request('POST', `/api/spaces/${enc(id)}/members/${enc(userId)}/remove`);
  transferHost = (id: string, userId: string): Promise<void> =>
    this.request('POST', `/api/spaces/${enc(id)}/transfer`, { userId });

  // ---------------------------------------------------------------- replays and clips
  deleteReplay = (id: string): Promise<void> => this.request('DELETE', `/api/spaces/${enc(id)}/replay`);
  trimReplay = (id: string, startSec: number): Promise<SpaceView> =>
    this.request('POST', `/api/spaces/${enc(id)}/replay/trim`, { startSec });
  createClip = (id: string, b: ClipBody = {}): Promise<ClipView> =>
    this.request('POST', `/api/spaces/${enc(id)}/clips`, b);
  clip = (clipId: string): Promise<ClipView> => this.request('GET', `/api/clips/${enc(clipId)}`);

  // ---------------------------------------------------------------- profiles, follows, feed, search
  profile = (handle: string): Promise<UserProfile> => this.request('GET', `/api/users/${enc(handle)}`);
  userSpaces = (handle: string, q: UserSpacesQuery = {}): Promise<SpacePage> =>
    this.request('GET', `/api/users/${enc(handle)}/spaces${query(q)}`);
  follow = (handle: string): Promise<FollowState> => this.request('PUT', `/api/users/${enc(handle)}/follow`);
  unfollow = (handle: string): Promise<FollowState> =>
    this.request('DELETE', `/api/users/${enc(handle)}/follow`);
  followers = (handle: string, q: PageQuery = {}): Promise<FollowPage> =>
    this.request('GET', `/api/users/${enc(handle)}/followers${query(q)}`);
  following = (handle: string, q: PageQuery = {}): Promise<FollowPage> =>
    this.request('GET', `/api/users/${enc(handle)}/following${query(q)}`);
  followingSpaces = (state: 'live' | 'scheduled', q: PageQuery = {}): Promise<SpacePage> =>
    this.request('GET', `/api/me/following/spaces${query({ state, ...q })}`);
  feed = (q: PageQuery = {}): Promise<FeedPage> => this.request('GET', `/api/me/feed${query(q)}`);
  markFeedRead = (): Promise<void> => this.request('POST', '/api/me/feed/read');
  search = (q: string, page: PageQuery = {}): Promise<SpacePage> =>
    this.request('GET', `/api/search${query({ q, ...page })}`);
  embedInfo = (id: string): Promise<EmbedInfo> => this.request('GET', `/api/spaces/${enc(id)}/embed`);
  /** The .ics of a scheduled Space (a download link, not a JSON call). */
  calendarUrl = (id: string): string => `${this.baseUrl}/api/spaces/${enc(id)}/calendar.ics`;
}

/** `?a=1&b=2` from the defined values (empty when none). */
function query(q: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

const enc = encodeURIComponent;
