/**
 * The moderation console's calls (EU DSA trust and safety, src/trust/api-types.ts): the queue, a
 * case's full view and what moderators do to it, the transparency report (moderators and admins),
 * and the roles, the Transparency Database status and the statement export (admins). They go
 * through the app's client (same origin, CSRF header on POSTs). Kept light (types and the client
 * only): the header's "Moderation" link imports it too.
 */
import { useEffect, useState } from 'react';
import { ApiError, client } from '../api.js';
import type {
  ActionBody,
  CaseSummary,
  ComplaintView,
  ModeratorCaseView,
  NoteBody,
  OwnInitiativeBody,
  RoleBody,
  StatementView,
  TdbStatus,
  TransparencyReport,
  TrustMe,
  UserRefView,
  VerifyResult,
} from '../../trust/api-types.js';
import type { CaseStatus, TrustRole } from '../../trust/model.js';

export type * from '../../trust/api-types.js';
export type { CaseStatus, TrustRole } from '../../trust/model.js';

const enc = encodeURIComponent;
const T = '/api/trust';

/** One operator role grant as `GET /roles` lists it (tolerant of the server's exact shape). */
export interface RoleGrantView {
  role: TrustRole;
  organisation: string | null;
  createdAt?: string;
  user?: UserRefView | null;
  userId?: string;
  handle?: string;
}

function asRoleList(v: unknown): RoleGrantView[] {
  if (Array.isArray(v)) return v as RoleGrantView[];
  if (v && typeof v === 'object') {
    for (const k of ['roles', 'grants', 'items']) {
      const list = (v as Record<string, unknown>)[k];
      if (Array.isArray(list)) return list as RoleGrantView[];
    }
  }
  return [];
}

/** `[from, to)` as the server takes it: YYYY-MM-DD (midnight UTC) or ISO instants. */
export interface Period {
  from: string;
  to: string;
}

const periodQuery = (p: Period): string => `from=${enc(p.from)}&to=${enc(p.to)}`;

export const reportCsvUrl = (p: Period): string => `${T}/report.csv?${periodQuery(p)}`;
export const statementsExportUrl = `${T}/statements/export`;

export const modApi = {
  /** My roles (and decisions about me); 401 signed out. */
  me: (): Promise<TrustMe> => client.request('GET', `${T}/me`),

  // ---- moderators (and admins)
  queue: (status: CaseStatus): Promise<CaseSummary[]> =>
    client.request('GET', `${T}/queue?status=${enc(status)}`),
  caseFull: (id: string): Promise<ModeratorCaseView> => client.request('GET', `${T}/cases/${enc(id)}/full`),
  openCase: (b: OwnInitiativeBody): Promise<CaseSummary> => client.request('POST', `${T}/cases`, b),
  assign: (id: string, userId: string | null): Promise<unknown> =>
    client.request('POST', `${T}/cases/${enc(id)}/assign`, { userId }),
  escalate: (id: string): Promise<unknown> => client.request('POST', `${T}/cases/${enc(id)}/escalate`, {}),
  addNote: (id: string, b: NoteBody): Promise<unknown> =>
    client.request('POST', `${T}/cases/${enc(id)}/notes`, b),
  act: (id: string, b: ActionBody): Promise<StatementView> =>
    client.request('POST', `${T}/cases/${enc(id)}/actions`, b),
  resolve: (id: string, text: string, unfounded: boolean): Promise<unknown> =>
    client.request('POST', `${T}/cases/${enc(id)}/resolve`, { text, unfounded }),
  decideComplaint: (complaintId: string, uphold: boolean, text: string): Promise<ComplaintView | unknown> =>
    client.request('POST', `${T}/complaints/${enc(complaintId)}/decide`, { uphold, text }),
  report: (p: Period): Promise<TransparencyReport> => client.request('GET', `${T}/report?${periodQuery(p)}`),

  // ---- admins
  roles: async (): Promise<RoleGrantView[]> => asRoleList(await client.request('GET', `${T}/roles`)),
  grantRole: (b: RoleBody): Promise<unknown> => client.request('POST', `${T}/roles`, b),
  revokeRole: (b: RoleBody): Promise<unknown> => client.request('DELETE', `${T}/roles`, b),
  tdb: (): Promise<TdbStatus> => client.request('GET', `${T}/tdb`),

  /** `POST /statements/verify` with the export (JSON Lines) as the body. */
  verify: async (jsonLines: string): Promise<VerifyResult> => {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'content-type': 'application/x-ndjson',
    };
    if (!client.csrfToken()) await client.me().catch(() => undefined);
    const csrf = client.csrfToken();
    if (csrf) headers['x-csrf-token'] = csrf;
    let res: Response;
    try {
      res = await fetch(`${T}/statements/verify`, {
        method: 'POST',
        headers,
        body: jsonLines,
        credentials: 'same-origin',
      });
    } catch (err) {
      throw new ApiError('NETWORK', err instanceof Error ? err.message : String(err), 0);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      // The server answers a broken chain with an error: "line N (seq M): reason".
      if (e?.code === 'STATEMENT_CHAIN_BROKEN' && typeof e.message === 'string') {
        const m = /line (\d+)(?: \(seq (\d+)\))?: ([\s\S]*)$/.exec(e.message);
        return {
          ok: false,
          count: 0,
          head: '',
          failure: m
            ? { line: Number(m[1]), seq: m[2] ? Number(m[2]) : null, reason: m[3] }
            : { line: 0, seq: null, reason: e.message },
        };
      }
      throw new ApiError(
        typeof e?.code === 'string' ? e.code : `HTTP_${res.status}`,
        typeof e?.message === 'string' ? e.message : res.statusText,
        res.status,
      );
    }
    return json as VerifyResult;
  },
};

/** Whether these roles may open the moderation console. */
export const canModerate = (roles: readonly TrustRole[] | null | undefined): boolean =>
  !!roles && (roles.includes('moderator') || roles.includes('admin'));

/**
 * `GET /api/trust/me` once per user for the whole page load (the header's link and the console
 * share it); a failure is not remembered.
 */
const meCache = new Map<string, Promise<TrustMe>>();

export function trustMe(userId: string): Promise<TrustMe> {
  let p = meCache.get(userId);
  if (!p) {
    p = modApi.me();
    meCache.set(userId, p);
    p.catch(() => meCache.delete(userId));
  }
  return p;
}

export interface TrustRolesState {
  /** null: not known yet (signed out, asking, or the question failed: see `error`). */
  roles: TrustRole[] | null;
  error: ApiError | null;
}

export function useTrustRoles(userId: string | null): TrustRolesState {
  const [state, setState] = useState<TrustRolesState & { userId: string | null }>({
    userId: null,
    roles: null,
    error: null,
  });
  useEffect(() => {
    if (!userId) return;
    let stopped = false;
    trustMe(userId).then(
      (me) => !stopped && setState({ userId, roles: Array.isArray(me.roles) ? me.roles : [], error: null }),
      (err: unknown) =>
        !stopped &&
        setState({
          userId,
          roles: null,
          error: err instanceof ApiError ? err : new ApiError('NETWORK', String(err), 0),
        }),
    );
    return () => {
      stopped = true;
    };
  }, [userId]);
  if (!userId || state.userId !== userId) return { roles: null, error: null };
  return { roles: state.roles, error: state.error };
}
