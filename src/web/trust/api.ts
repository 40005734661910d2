/**
 * The trust-and-safety API (EU DSA notice and action) for the web app: typed calls through the
 * app's one client (src/web/api.ts: same origin, cookies, CSRF header, `{error:{code,message}}`
 * thrown as ApiError). Shapes and routes: src/trust/api-types.ts.
 */
import { client, formatWait, friendlyMessage, toApiError } from '../api.js';
import type {
  CaseFollowView,
  ComplaintBody,
  ComplaintView,
  NoticeBody,
  Receipt,
  TrustMe,
} from '../../trust/api-types.js';

export type * from '../../trust/api-types.js';

const BASE = '/api/trust';

/** `POST /api/trust/notices`: send a notice (Art. 16); anyone, signed in or not. */
export const sendNotice = (body: NoticeBody): Promise<Receipt> =>
  // ?spaceId= lets several origins run the notice where the Space records (its evidence is there).
  client.request<Receipt>(
    'POST',
    `${BASE}/notices${body.subject.spaceId ? `?spaceId=${encodeURIComponent(body.subject.spaceId)}` : ''}`,
    body,
  );

/** `GET /api/trust/cases/:id?key=`: follow a case (the notifier by key or account, or the affected user). */
export const getCase = (caseId: string, key?: string | null): Promise<CaseFollowView> =>
  client.request<CaseFollowView>(
    'GET',
    `${BASE}/cases/${encodeURIComponent(caseId)}${key ? `?key=${encodeURIComponent(key)}` : ''}`,
  );

/** `POST /api/trust/follow`: follow a case by its number and the email address given in the notice. */
export const followCase = (caseId: string, email: string): Promise<CaseFollowView> =>
  client.request<CaseFollowView>('POST', `${BASE}/follow`, { caseId, email });

/** `POST /api/trust/cases/:id/complaints`: complain (Art. 20) about a decision, or of inaction. */
export const sendComplaint = (caseId: string, body: ComplaintBody): Promise<ComplaintView> =>
  client.request<ComplaintView>('POST', `${BASE}/cases/${encodeURIComponent(caseId)}/complaints`, body);

/** `GET /api/trust/me`: my roles, the decisions about me, my notices (signed in). */
export const getTrustMe = (): Promise<TrustMe> => client.request<TrustMe>('GET', `${BASE}/me`);

/** Trust-and-safety codes in words; the server's message (the detail) follows. */
const TRUST_WORDS: Record<string, string> = {
  NOTICE_INVALID: 'Something in the report is missing or not right',
  NOTICE_RATE_LIMITED: 'You have sent too many reports for now',
  NOTIFIER_PAUSED: 'Reports from you are paused for a while',
  RANGE_OUT_OF_RECORDING: 'That time range is outside the recording',
  CONTENT_GONE: 'The reported content is no longer available',
  CASE_NOT_FOUND: 'No such case, or the link is not valid',
  COMPLAINT_NOT_ALLOWED: 'You cannot complain about this case',
  COMPLAINT_WINDOW_CLOSED: 'The time to complain about this decision has ended',
  ACCOUNT_SUSPENDED: 'Your account is suspended',
};

/** An error in words, with the server's own message for the trust codes (e.g. the recorded range). */
export function trustErrorMessage(err: unknown): string {
  const e = toApiError(err);
  const words = TRUST_WORDS[e.code];
  if (!words) return friendlyMessage(e);
  const detail = e.message && e.message !== words ? `: ${e.message.replace(/\.$/, '')}` : '';
  const wait =
    e.code === 'NOTICE_RATE_LIMITED' && e.retryAfterSec
      ? ` Try again in ${formatWait(e.retryAfterSec)}.`
      : '';
  return `${words}${detail}.${wait}`;
}

/** `/cases/:id?key=…`: a case's follow page in this app. */
export const casePath = (caseId: string, key?: string | null): string =>
  `/cases/${encodeURIComponent(caseId)}${key ? `?key=${encodeURIComponent(key)}` : ''}`;
