/**
 * `GET /hls/spaces/:id/nojs[?pass=|?ticket=]`: listening without JavaScript. The page of a Space
 * (`/spaces/:id?nojs=1`, linked from a <noscript>) lands here. Out of under-attack mode a place is
 * given at once; in it, the newcomer first waits a few seconds (a signed delay pass, no puzzle: the
 * cost is time, not CPU) and then gets a place like anyone else. The admission travels in a cookie
 * scoped to the Space's media path, and the page is a plain `<audio src="stream.mp4">`.
 */
import { TribuneError } from '../../errors.js';
import type { AdmissionGate, GateRefusal } from '../admission/gate.js';
import { parseOnceParams } from '../admission/http.js';
import type { HotRequest, HotResponse } from '../hot.js';
import { admissionCookie, admissionFromCookie, endedPage, listenPage, queuePage, waitPage } from './nojs.js';
import type { EdgeDefence } from './shield.js';

export interface NoJsContext {
  gate: AdmissionGate;
  defence: EdgeDefence;
  /** The Space's state and title from its (cached) state document; errors are answered by it. */
  state(res: HotResponse, id: string, then: (state: string, title: string | undefined) => void): void;
  address(req: HotRequest): string;
  rehearsal(req: HotRequest): boolean;
  /** The listener reached us over HTTPS (a proxy we trust said so): the cookie is `Secure`. */
  secure(req: HotRequest): boolean;
  reject(res: HotResponse, err: TribuneError): void;
  refuse(res: HotResponse, r: GateRefusal): void;
}

const NOJS_PARAMS = ['pass', 'ticket'] as const;

function sendHtml(res: HotResponse, html: string, extra: string[] = []): void {
  const body = Buffer.from(html, 'utf8');
  res.writeHead(200, [
    'content-type',
    'text/html; charset=utf-8',
    'cache-control',
    'no-store',
    'content-length',
    String(body.length),
    ...extra,
  ]);
  res.end(body);
}

export function noJs(
  ctx: NoJsContext,
  req: HotRequest,
  res: HotResponse,
  id: string,
  rawQuery: string,
): true {
  const q = parseOnceParams(rawQuery, NOJS_PARAMS);
  if (!q.ok) {
    ctx.reject(res, q.error);
    return true;
  }
  const { pass, ticket } = q;
  const { defence, gate } = ctx;
  const cookie = typeof req.headers.cookie === 'string' ? admissionFromCookie(req.headers.cookie) : undefined;
  // The admission this browser holds for this Space, if its cookie is one.
  const held = cookie !== undefined && gate.peek(cookie, id) !== null ? cookie : undefined;
  ctx.state(res, id, (state, title) => {
    if (state === 'ended') return sendHtml(res, endedPage());
    const wait = (token: string, delayMs: number): void =>
      sendHtml(
        res,
        waitPage({
          spaceTitle: title,
          delaySec: Math.max(1, Math.ceil(delayMs / 1000)),
          nextUrl: `nojs?pass=${encodeURIComponent(token)}`,
        }),
      );
    const newPass = (): void => wait(defence.nojs.issueDelayPass(id), defence.nojs.delayMs);
    // A pass that came with the request stands for the proof of work (good once).
    let proven = false;
    if (pass !== undefined && defence.underAttack) {
      const check = defence.nojs.redeemDelayPass(id, pass);
      if (!check.ok) {
        if (check.code === 'POW_EARLY') return wait(pass, check.remainingMs);
        if (check.code === 'POW_EXPIRED') return newPass(); // a tab left open: start again
        return ctx.reject(res, new TribuneError(check.code));
      }
      proven = true;
    }
    const answer = gate.admit({
      spaceId: id,
      state,
      address: ctx.address(req),
      admission: held,
      ticket,
      rehearsal: ctx.rehearsal(req),
      proven,
    });
    // Under attack, a new place needs the wait first.
    if ('proofRequired' in answer) return newPass();
    if (held === undefined && ticket === undefined) defence.noteJoin(id);
    if (!('admitted' in answer)) return ctx.refuse(res, answer);
    if (!answer.admitted) {
      const retrySec = Math.max(1, Math.ceil(answer.retryInMs / 1000));
      return sendHtml(
        res,
        queuePage({
          position: answer.position,
          retrySec,
          nextUrl: `nojs?ticket=${encodeURIComponent(answer.ticket)}`,
        }),
      );
    }
    const maxAge = Math.max(1, Math.floor((answer.expiresAtMs - Date.now()) / 1000));
    sendHtml(res, listenPage({ spaceTitle: title, streamUrl: 'stream.mp4' }), [
      'set-cookie',
      admissionCookie(id, answer.admission, maxAge, ctx.secure(req)),
    ]);
  });
  return true;
}
