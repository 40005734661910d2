/**
 * Helpers for the trust-and-safety (EU DSA) integration tests: people with roles, notices,
 * actions, raw calls, the Art. 17(3) checks of a statement of reasons, a Space with recorded audio.
 */
import { expect } from 'vitest';
import { ApiError, TribuneClient } from '../../src/client/index.js';
import type {
  ActionBody,
  CaseFollowView,
  NoticeBody,
  Receipt,
  StatementView,
  SubjectBody,
  TrustMe,
} from '../../src/trust/api-types.js';
import type { Restriction } from '../../src/trust/model.js';
import { createSpace, signedInClient, whipUrlFor, type TestSpace } from './server.js';
import { ToneGenerator } from './tone.js';
import { waitFor } from './wait.js';
import { NodeWhipClient } from './whip-client.js';

export const DAY_MS = 86_400_000;
export const PASSWORD = 'correct horse battery';

/** 'ok' or the error code a call failed with. */
export async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof ApiError) return err.code;
    throw err;
  }
}

/** The ApiError a call fails with (fails the test when it succeeds). */
export async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

export interface Person {
  c: TribuneClient;
  id: string;
  handle: string;
}

/** A handle for an operator (TRIBUNE_OPERATORS) that is unique to this test process. */
export const operatorHandle = (tag: string): string => `op_${tag}_${process.pid % 100_000}`.slice(0, 32);

/** A signed-in account (a given handle, or a fresh unique one). */
export async function person(url: string, name: string, handle?: string): Promise<Person> {
  if (handle) {
    const c = new TribuneClient({ baseUrl: url, cookieJar: true });
    const r = await c.signUp({ handle, displayName: name, password: PASSWORD });
    return { c, id: r.user.id, handle: r.user.handle };
  }
  const c = await signedInClient(url, name);
  const me = await c.me();
  return { c, id: me.user!.id, handle: me.user!.handle };
}

/** A logged-out client (it keeps the CSRF cookie). */
export const anon = (url: string): TribuneClient => new TribuneClient({ baseUrl: url, cookieJar: true });

export async function grant(
  admin: TribuneClient,
  who: Person,
  role: 'moderator' | 'trusted-flagger' | 'admin',
  organisation?: string,
): Promise<void> {
  await admin.request('POST', '/api/trust/roles', {
    handle: who.handle,
    role,
    ...(organisation ? { organisation } : {}),
  });
}

export const EXPLANATION = 'The speaker repeats hateful slurs against a religious group, again and again.';

export function noticeBody(subject: SubjectBody, over: Partial<NoticeBody> = {}): NoticeBody {
  return {
    subject,
    category: 'STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH',
    explanation: EXPLANATION,
    name: 'Nora Notifier',
    email: 'nora.notifier@example.org',
    goodFaith: true,
    ...over,
  };
}

export const notice = (
  c: TribuneClient,
  subject: SubjectBody,
  over: Partial<NoticeBody> = {},
): Promise<Receipt> => c.request<Receipt>('POST', '/api/trust/notices', noticeBody(subject, over));

export function actionBody(restriction: Restriction, over: Partial<ActionBody> = {}): ActionBody {
  const base: ActionBody = {
    restriction,
    ground: 'DECISION_GROUND_INCOMPATIBLE_CONTENT',
    termsGround: 'Terms §4.2 (hate speech)',
    explanation: `Reviewed by a moderator: ${restriction} because the content breaks our rules on hate speech.`,
  };
  if (restriction === 'suspend-account') base.durationHours = 48;
  if (restriction === 'geo-restrict-space') base.countries = ['DE', 'US'];
  if (restriction === 'label-space') base.label = 'Contains disputed claims';
  return { ...base, ...over };
}

export const act = (
  mod: TribuneClient,
  caseId: string,
  restriction: Restriction,
  over: Partial<ActionBody> = {},
) => mod.request<StatementView>('POST', `/api/trust/cases/${caseId}/actions`, actionBody(restriction, over));

export const trustMe = (c: TribuneClient): Promise<TrustMe> => c.request<TrustMe>('GET', '/api/trust/me');

export const followByKey = (c: TribuneClient, r: Receipt, key = r.followKey): Promise<CaseFollowView> =>
  c.request<CaseFollowView>('GET', `/api/trust/cases/${r.caseId}?key=${encodeURIComponent(key)}`);

/** Every Art. 17(3) element of a statement of reasons. */
export function expectArt17(
  s: StatementView,
  x: { restriction: Restriction; caseId: string; facts?: string; suspension?: boolean; illegal?: boolean },
): void {
  expect(s.id).toMatch(/^sor_/);
  expect(s.caseId).toBe(x.caseId);
  expect(s.restriction).toBe(x.restriction);
  expect(s.reverses).toBeNull();
  expect(s.summary.length).toBeGreaterThan(10);
  // (a) territorial scope and duration
  expect(Array.isArray(s.territorialScope)).toBe(true);
  if (x.restriction !== 'geo-restrict-space') expect(s.territorialScope).toHaveLength(27);
  if (x.suspension) {
    expect(s.endsAt).not.toBeNull();
    expect(Date.parse(s.endsAt!)).toBeGreaterThan(Date.parse(s.at));
  }
  // (b) facts, citing the notice by its category — not its words, which may name people (the
  // statement goes to a public database; the notice stays in the case)
  expect(s.facts.length).toBeGreaterThan(5);
  if (x.facts === EXPLANATION) {
    expect(s.facts).toMatch(/A notice \(.*\) reported this content as /);
    expect(s.facts).not.toContain(EXPLANATION);
  } else if (x.facts) expect(s.facts).toContain(x.facts);
  // (c) automated means
  expect(typeof s.automatedDetection).toBe('boolean');
  expect(typeof s.automatedDecision).toBe('boolean');
  expect(s.automatedDecision).toBe(false);
  // (d)(e) ground
  if (x.illegal) {
    expect(s.ground).toBe('DECISION_GROUND_ILLEGAL_CONTENT');
    expect(s.legalGround).toBeTruthy();
  } else {
    expect(s.ground).toBe('DECISION_GROUND_INCOMPATIBLE_CONTENT');
    expect(s.termsGround).toBeTruthy();
  }
  expect(s.explanation.length).toBeGreaterThanOrEqual(10);
  expect(s.category).toMatch(/^STATEMENT_CATEGORY_/);
  // (f) redress, with the complaint deadline; at least 6 months
  expect(s.redress).toContain(s.complaintUntil.slice(0, 10));
  expect(s.redress).toMatch(/out-of-court/);
  expect(Date.parse(s.complaintUntil) - Date.parse(s.at)).toBeGreaterThanOrEqual(183 * DAY_MS);
}

/** Raw fetch with a client's cookies (and its CSRF token on writes). */
export async function raw(
  url: string,
  path: string,
  init: { method?: string; body?: BodyInit; headers?: Record<string, string>; as?: TribuneClient } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.as) {
    if (!init.as.csrfToken()) await init.as.me();
    const cookie = init.as.cookieHeader();
    if (cookie) headers.cookie = cookie;
    const csrf = init.as.csrfToken();
    if (csrf && init.method && init.method !== 'GET') headers['x-csrf-token'] = csrf;
  }
  return fetch(`${url}${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.body,
    signal: AbortSignal.timeout(15_000),
  });
}

/** A speaker on the Space's stage (invited by the host), with their client. */
export async function addSpeaker(url: string, space: TestSpace, name = 'speaker'): Promise<Person> {
  const p = await person(url, name);
  const { token } = await space.hostClient.inviteLink(space.id);
  await p.c.acceptInvite(space.id, token);
  return p;
}

/** A live Space whose host publishes a tone over WHIP until at least `segments` segments are recorded. */
export async function recordingSpace(
  url: string,
  title: string,
  segments = 4,
): Promise<{ space: TestSpace; whip: NodeWhipClient }> {
  const space = await createSpace(url, title);
  const whip = new NodeWhipClient({ record: false });
  await whip.publish({
    whipUrl: whipUrlFor(url, space.id, 'Host'),
    token: space.hostToken,
    source: new ToneGenerator({ freqHz: 440, amplitude: 0.3 }),
  });
  const playlist = `${url}/hls/spaces/${space.id}/audio.m3u8`;
  await waitFor(
    `${segments} s recorded`,
    async () => ((await (await fetch(playlist)).text()).match(/#EXTINF/g) ?? []).length >= segments,
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  return { space, whip };
}
