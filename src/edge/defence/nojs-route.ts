/**
 * `GET /hls/spaces/:id/nojs[?pass=|?ticket=]`: listening without JavaScript. The page of a Space
 * (`/spaces/:id?nojs=1`, linked from a <noscript>) lands here. Out of under-attack mode a place is
 * given at once; in it, the newcomer first waits a few seconds (a signed delay pass, no puzzle: the
 * cost is time, not CPU) and then gets a place like anyone else. The admission travels in a cookie
 * scoped to the Space's media path, and the page is a plain `<audio src="stream.mp4">`.
 */
import { TribuneError } from '../../errors.js';
import type { AdmissionGate, AdmitAnswer, GateRefusal } from '../admission/gate.js';
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
  reject(res: HotResponse, err: TribuneError): void;
  refuse(res: HotResponse, r: GateRefusal): void;
}

const MAX_PARAM = 512;

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
  const params = new URLSearchParams(rawQuery);
  const one = (name: string): string | undefined | null => {
    const all = params.getAll(name);
    if (all.length === 0) return undefined;
    if (all.length > 1 || all[0] === '' || all[0]!.length > MAX_PARAM) return null;
    return all[0];
  };
  const pass = one('pass');
  const ticket = one('ticket');
  if (pass === null || ticket === null) {
    ctx.reject(res, new TribuneError('BAD_REQUEST', `pass and ticket: once each, 1-${MAX_PARAM} characters`));
    return true;
  }
  const cookie = typeof req.headers.cookie === 'string' ? admissionFromCookie(req.headers.cookie) : undefined;
  const held = cookie !== undefined && ctx.gate.holds(cookie, id, ctx.address(req)) ? cookie : undefined;
  ctx.state(res, id, (state, title) => {
    if (state === 'ended') return sendHtml(res, endedPage());
    const { defence, gate } = ctx;
    const rehearsal = ctx.rehearsal(req);
    // Under attack a newcomer waits first (holders of an admission or a ticket never do).
    if (defence.underAttack && !rehearsal && held === undefined && ticket === undefined) {
      if (pass === undefined) {
        const token = defence.nojs.issue(id);
        const delaySec = Math.ceil(defence.nojs.delayMs / 1000);
        return sendHtml(
          res,
          waitPage({ spaceTitle: title, delaySec, nextUrl: `nojs?pass=${encodeURIComponent(token)}` }),
        );
      }
      const check = defence.nojs.check(id, pass);
      if (!check.ok) {
        if (check.code === 'POW_EARLY') {
          const delaySec = Math.max(1, Math.ceil((check.remainingMs ?? 1000) / 1000));
          return sendHtml(
            res,
            waitPage({ spaceTitle: title, delaySec, nextUrl: `nojs?pass=${encodeURIComponent(pass)}` }),
          );
        }
        return ctx.reject(res, new TribuneError(check.code));
      }
    }
    if (held === undefined && ticket === undefined) defence.noteJoin(id);
    const answer: AdmitAnswer | GateRefusal = gate.admit({
      spaceId: id,
      state,
      address: ctx.address(req),
      admission: held,
      ticket,
      rehearsal,
    });
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
      admissionCookie(id, answer.admission, maxAge),
    ]);
  });
  return true;
}
