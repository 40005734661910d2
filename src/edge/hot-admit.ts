/**
 * The admission endpoint `GET /hls/spaces/:id/admit` (with the under-attack proof of work) and
 * what the no-JavaScript path (src/edge/defence/nojs-route.ts) needs of the hot path.
 */
import { TribuneError } from '../errors.js';
import { isSignedIn } from '../live/edge-access.js';
import type { GateRefusal } from './admission/gate.js';
import { admitBody, hasRehearsal, parseAdmitQuery } from './admission/http.js';
import type { NoJsContext } from './defence/nojs-route.js';
import { parseRate } from './defence/pow.js';
import { stateOf, titleOf } from './hot-stream.js';
import type { HotContext, HotRequest, HotResponse } from './hot-types.js';
import { STATE_FILE } from './paths.js';

export interface AdmitEndpoint {
  /** Answers `admit` (the handler has a gate). */
  admit(req: HotRequest, res: HotResponse, id: string, rawQuery: string): true;
  /** For noJs(); only used when the handler has a gate and a defence. */
  noJsContext: NoJsContext;
}

export function createAdmit(ctx: HotContext): AdmitEndpoint {
  const { gate, defence, cur, access, originPrefix, now } = ctx;
  const { lookup, sendEntry, authorize, tokenOf, addressOf, reject, refuse, sendJson, unauthorized } = ctx;
  const { geoRefused, geoRefusedEarly, geoRestricted } = ctx;

  /**
   * `GET /hls/spaces/:id/admit[?ticket=&admission=]`: the Space's state document (cached, shared)
   * says it exists and is not over, the listen token is checked for sign-in Spaces, then the gate
   * admits, renews or queues. Never a 5xx for a crowd: past capacity the answer is a ticket.
   */
  const admit = (req: HotRequest, res: HotResponse, id: string, rawQuery: string): true => {
    cur.kind = 'admit';
    const q = parseAdmitQuery(rawQuery);
    if (!q.ok) return reject(res, q.error);
    const g = gate!;
    let rate: number | undefined;
    try {
      rate = parseRate(q.rate);
    } catch (err) {
      return reject(res, err as TribuneError);
    }
    if (geoRefusedEarly(req, id)) return geoRestricted(res);
    const token = tokenOf(req, rawQuery);
    const key = `${id}/${STATE_FILE}`;
    lookup(res, key, `${originPrefix}/${key}`, ({ entry, outcome }) => {
      if (entry.status < 200 || entry.status >= 300) return sendEntry(res, entry, outcome, false);
      if (geoRefused(req, id, entry)) return void geoRestricted(res);
      if (!authorize(id, entry, token, true).ok) return void unauthorized(res);
      const state = stateOf(entry) ?? 'unknown';
      if (state === 'ended') return void reject(res, new TribuneError('SPACE_ENDED'));
      const rehearsal = hasRehearsal(g, req.headers);
      const address = addressOf(req);
      // A proof that came with the request (under attack the gate asks one of every new place).
      let proven = false;
      if (defence?.underAttack && q.challenge !== undefined) {
        const proof = defence.pow.verify(id, q.challenge, q.answer ?? '');
        if (!proof.ok) return void reject(res, new TribuneError(proof.code));
        proven = true;
      }
      const answer = g.admit({
        spaceId: id,
        state,
        address,
        ticket: q.ticket,
        admission: q.admission,
        rehearsal,
        proven,
      });
      if ('proofRequired' in answer) {
        // Harder for an address that has been busy (its bucket drained), as Anubis does.
        const risk = defence!.addresses.drained(address, now());
        const challenge = defence!.pow.challenge(id, { rate, load: defence!.brownout.load, risk });
        return void sendJson(res, 200, { admitted: false, challenge, state });
      }
      if (q.admission === undefined && q.ticket === undefined) defence?.noteJoin(id);
      if (!('admitted' in answer)) return void refuse(res, answer);
      const out = admitBody(answer, state);
      sendJson(res, 200, out.body, out.headers);
    });
    return true;
  };

  const noJsContext: NoJsContext = {
    gate: gate!,
    defence: defence!,
    state: (res: HotResponse, id: string, then: (state: string, title: string | undefined) => void): void => {
      const key = `${id}/${STATE_FILE}`;
      lookup(res, key, `${originPrefix}/${key}`, ({ entry, outcome }) => {
        if (entry.status < 200 || entry.status >= 300) return sendEntry(res, entry, outcome, false);
        // A Space that requires sign-in needs the page (and its listen token): no plain player.
        if (access.requiresToken(id) || isSignedIn(entry.access)) return void unauthorized(res);
        then(stateOf(entry) ?? 'unknown', titleOf(entry));
      });
    },
    address: addressOf,
    secure: (req: HotRequest) => ctx.trustProxy && req.headers['x-forwarded-proto'] === 'https',
    rehearsal: (req: HotRequest) => gate !== undefined && hasRehearsal(gate, req.headers),
    reject: (res: HotResponse, err: TribuneError) => void reject(res, err),
    refuse: (res: HotResponse, r: GateRefusal) => void refuse(res, r),
  };

  return { admit, noJsContext };
}
