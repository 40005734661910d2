/**
 * The edge's admission gate: who may start listening here, decided locally (no central round
 * trip). Holds the admission policy (controller.ts), signs and checks admission tokens and queue
 * tickets (tokens.ts), and keeps one small record per *admitted* listener (its place); nothing per
 * waiting person: a waiting listener's whole state is the signed ticket it holds.
 *
 * - `admit()` answers `GET /hls/spaces/:id/admit`: a renewal (`admission=`), a ticket holder asking
 *   again (`ticket=`), or a newcomer (per-address join limit, then admitted at once or queued).
 * - `media()` checks a media request: a valid admission token passes (never throttled by the
 *   queue); without one, a player is let in only while the edge has room and nobody waits (a
 *   third-party HLS player, counted per address), else 429 ADMISSION_REQUIRED + Retry-After.
 * - Places free when a stream closes, an admission lapses (not renewed in time), or on leave.
 */
import { randomBytes } from 'node:crypto';
import { TribuneError } from '../../errors.js';
import { AdmissionController, type AdmissionLimits, type AdmissionStats } from './controller.js';
import { AddressTags, JoinLimiter } from './per-address.js';
import {
  admissionSigner,
  checkRehearsalToken,
  deriveKey,
  ticketSigner,
  type AdmissionClaims,
  type RehearsalCheck,
  type RehearsalClaims,
} from './tokens.js';

export interface AdmissionGateOptions {
  secret: Buffer;
  limits: AdmissionLimits;
  /** Names this edge in its tickets (with a per-start epoch: tickets do not survive a restart). */
  edgeId?: string;
  now?: () => number;
  random?: () => number;
  /** Admission tokens last this long; pages renew at half. Default 60 s. */
  admissionTtlMs?: number;
  /** Tickets stay valid this long (a page reload keeps its place). Default 6 h. */
  ticketTtlMs?: number;
  /** New joins (admissions or tickets) per client address per minute. Default 30. */
  joinsPerAddressPerMinute?: number;
  /** A token-less LL-HLS player keeps its place this long after its last playlist request. Default 15 s. */
  implicitTtlMs?: number;
  /** Longest spread of a lobby's start. Default 2 s. */
  maxJoinWindowMs?: number;
  /** An admission may move to another address this many times (network changes). Default 3. */
  maxRebinds?: number;
  claimWindowMs?: number;
}

export type AdmitAnswer =
  | {
      admitted: true;
      admission: string;
      expiresAtMs: number;
      renewInMs: number;
      joinWindowMs: number;
    }
  | {
      admitted: false;
      ticket: string;
      position: number;
      waitMs: number | null;
      retryInMs: number;
    };

export interface AdmitRequest {
  spaceId: string;
  /** The Space's state from its state document (joinWindowMs is for a lobby). */
  state: string;
  address: string;
  ticket?: string;
  admission?: string;
  /** A valid rehearsal token came with the request: no per-address limits. */
  rehearsal?: boolean;
  /** Under attack (`strict`): the newcomer solved a proof of work (or waited the no-JS delay). */
  proven?: boolean;
}

/** Under attack, a new place needs a proof of work first (the caller hands out a challenge). */
export const PROOF_REQUIRED = { proofRequired: true } as const;
export type ProofRequired = typeof PROOF_REQUIRED;

/** Most left places remembered for a reload (oldest forgotten first). */
const MAX_LEFT = 100_000;

/** Refusals carry their Retry-After (seconds) when there is one. */
export class GateRefusal {
  constructor(
    readonly error: TribuneError,
    readonly retryAfterSec?: number,
  ) {}
}

interface Place {
  space: string;
  /** Lapses at (ms); Infinity while a stream holds it. */
  expiresAt: number;
  tag: string;
  address: string;
  rebinds: number;
  streams: number;
}

export type MediaCheck = { ok: true; aid: string | undefined } | { ok: false; refusal: GateRefusal };

export class AdmissionGate {
  readonly controller: AdmissionController;
  readonly epochId: string;
  private readonly now: () => number;
  private readonly secret: Buffer;
  private readonly admissions;
  private readonly tickets;
  private readonly tagKey: Buffer;
  private readonly admissionTtlMs: number;
  private readonly ticketTtlMs: number;
  private readonly joins: JoinLimiter;
  private readonly tags: AddressTags;
  private readonly implicitTtlMs: number;
  private readonly maxJoinWindowMs: number;
  private readonly maxRebinds: number;
  private readonly places = new Map<string, Place>();
  private readonly perSpace = new Map<string, number>();
  private readonly perAddress = new Map<string, number>();
  private readonly verified = new Map<string, AdmissionClaims>();
  /** Admission ids whose page left (leave beacon), with their address tag: one reload each. */
  private readonly left = new Map<string, string>();
  private sweptAt = 0;
  private seq = 0;
  private readonly epochShort = randomBytes(3).toString('base64url');
  private lastRehearsal: { token: string; claims: RehearsalClaims } | undefined;
  private timer: NodeJS.Timeout | undefined;
  readonly counts = { admittedNow: 0, queued: 0, renewed: 0, refused: 0, lapsed: 0 };
  /**
   * Under-attack mode: a player without an admission token is not let in implicitly (it must ask
   * `admit`, which challenges newcomers); see src/edge/defence.
   */
  strict = false;

  constructor(opts: AdmissionGateOptions) {
    this.now = opts.now ?? Date.now;
    this.secret = opts.secret;
    this.controller = new AdmissionController({
      limits: opts.limits,
      now: this.now,
      random: opts.random,
      claimWindowMs: opts.claimWindowMs,
    });
    this.epochId = `${opts.edgeId ?? 'edge'}.${randomBytes(4).toString('hex')}`;
    this.admissions = admissionSigner(opts.secret);
    this.tickets = ticketSigner(opts.secret);
    this.tagKey = deriveKey(opts.secret, 'a');
    this.admissionTtlMs = opts.admissionTtlMs ?? 60_000;
    this.ticketTtlMs = opts.ticketTtlMs ?? 6 * 3600_000;
    this.joins = new JoinLimiter(opts.joinsPerAddressPerMinute ?? 30, this.now);
    this.tags = new AddressTags(this.tagKey);
    this.implicitTtlMs = opts.implicitTtlMs ?? 15_000;
    this.maxJoinWindowMs = opts.maxJoinWindowMs ?? 2000;
    this.maxRebinds = opts.maxRebinds ?? 3;
  }

  // ---------------------------------------------------------------- admit

  /**
   * Every way to a new place (a newcomer, another edge's ticket, an admission that lapsed) goes
   * through newcomer(), which under attack asks for a proof first: holders of a place or of this
   * edge's ticket never do.
   */
  admit(req: AdmitRequest): AdmitAnswer | GateRefusal | ProofRequired {
    this.sweep();
    const tag = this.tags.of(req.address);
    if (req.admission !== undefined) {
      const renewed = this.renew(req, tag);
      if (renewed) return renewed;
      // An admission that lapsed: the listener asks again like a newcomer.
    }
    if (req.ticket !== undefined) return this.withTicket(req, tag);
    return this.newcomer(req, tag);
  }

  private renew(req: AdmitRequest, tag: string): AdmitAnswer | GateRefusal | ProofRequired | undefined {
    const c = this.admissions.verify(req.admission);
    if (!c || c.s !== req.spaceId || typeof c.a !== 'string')
      return this.refuse(new TribuneError('ADMISSION_INVALID'));
    const place = this.places.get(c.a);
    if (!place) {
      // A page that gave its place back (leave beacon) and reloads from the same address takes a
      // place again once without a new proof; anyone else is a newcomer.
      const left = this.left.get(c.a);
      if (left === undefined || left !== tag || c.e <= this.now()) return undefined;
      this.left.delete(c.a);
      return this.newcomer({ ...req, proven: true }, tag);
    }
    if (place.tag !== tag) {
      if (place.rebinds >= this.maxRebinds) return this.refuse(new TribuneError('ADMISSION_REPLAYED'));
      this.moveAddress(place, req.address, tag);
    }
    this.counts.renewed++;
    return this.grant(req, c.a, place);
  }

  private withTicket(req: AdmitRequest, tag: string): AdmitAnswer | GateRefusal | ProofRequired {
    const t = this.tickets.verify(req.ticket);
    if (!t || t.s !== req.spaceId || !Number.isInteger(t.n) || typeof t.i !== 'number')
      return this.refuse(new TribuneError('TICKET_INVALID'));
    if (t.i + this.ticketTtlMs <= this.now()) return this.refuse(new TribuneError('TICKET_EXPIRED'));
    // Another edge's ticket, or ours from before a restart: this edge takes them as newcomers.
    if (t.g !== this.epochId || !this.controller.knows(t.n)) return this.newcomer(req, tag);
    const aid = `q${t.n}`;
    const place = this.places.get(aid);
    if (place) {
      // Admitted already: the same listener reloading gets its admission again; anyone else is a replay.
      if (place.tag !== tag) return this.refuse(new TribuneError('TICKET_REPLAYED'));
      return this.grant(req, aid, place);
    }
    return this.queued(req, tag, t.n, req.ticket!);
  }

  private newcomer(req: AdmitRequest, tag: string): AdmitAnswer | GateRefusal | ProofRequired {
    if (this.strict && !req.proven && !req.rehearsal) return PROOF_REQUIRED;
    if (!req.rehearsal && !this.joins.take(req.address))
      return this.refuse(
        new TribuneError('RATE_LIMITED', `at most ${this.joins.perMinute} joins per minute per address`),
        this.joins.retryAfterSec,
      );
    const r = this.controller.arrive();
    if (r.admitted) {
      this.counts.admittedNow++;
      const aid = `n${this.epochShort}${(++this.seq).toString(36)}`;
      return this.grant(req, aid, this.place(aid, req.spaceId, req.address, tag));
    }
    const ticket = this.tickets.sign({ k: 't', s: req.spaceId, n: r.n, g: this.epochId, i: this.now() });
    this.counts.queued++;
    return this.queued(req, tag, r.n, ticket);
  }

  private queued(req: AdmitRequest, tag: string, n: number, ticket: string): AdmitAnswer {
    const p = this.controller.poll(n);
    if (p.admitted) {
      const aid = `q${n}`;
      return this.grant(req, aid, this.place(aid, req.spaceId, req.address, tag));
    }
    return { admitted: false, ticket, position: p.position, waitMs: p.waitMs, retryInMs: p.retryInMs };
  }

  private grant(req: AdmitRequest, aid: string, place: Place): AdmitAnswer {
    const expiresAtMs = this.now() + this.admissionTtlMs;
    if (place.streams === 0) place.expiresAt = expiresAtMs;
    const admission = this.admissions.sign({ k: 'a', s: req.spaceId, a: aid, e: expiresAtMs, h: place.tag });
    return {
      admitted: true,
      admission,
      expiresAtMs,
      renewInMs: Math.round(this.admissionTtlMs / 2),
      joinWindowMs: req.state === 'scheduled' ? this.joinWindowMs(req.spaceId) : 0,
    };
  }

  /** A lobby's start is spread so its listeners connect within the edge's join rate (≤ maxJoinWindowMs). */
  joinWindowMs(spaceId: string): number {
    const waiting = this.perSpace.get(spaceId) ?? 0;
    const ms = (waiting / this.controller.getLimits().joinsPerSec) * 1000;
    return Math.round(Math.min(this.maxJoinWindowMs, Math.max(0, ms)));
  }

  // ---------------------------------------------------------------- media requests

  /**
   * A media request of `spaceId`. `kind`: `playlist` (a player's heartbeat), `stream` (a held
   * response; call streamOpened/streamClosed), or `object` (parts, segments, init).
   */
  media(
    spaceId: string,
    token: string | undefined,
    address: string,
    kind: 'playlist' | 'stream' | 'object',
  ): MediaCheck {
    if (token !== undefined) {
      const c = this.verify(token);
      if (!c || c.s !== spaceId)
        return { ok: false, refusal: this.refuse(new TribuneError('ADMISSION_INVALID')) };
      if (c.e <= this.now())
        return { ok: false, refusal: this.refuse(new TribuneError('ADMISSION_EXPIRED')) };
      if (!this.places.has(c.a)) {
        // Admitted before this edge restarted (or by a sibling edge): the place is taken again.
        this.controller.restore();
        const p = this.place(c.a, spaceId, address, c.h);
        p.expiresAt = c.e;
      }
      return { ok: true, aid: c.a };
    }
    // No token: a player that does not know about admission (a third-party HLS player). Under
    // attack only one already holding its implicit place in this Space goes on.
    if (this.strict && (kind === 'stream' || !this.places.has(`i${spaceId}|${address}`)))
      return this.fullCheck();
    if (kind === 'object') {
      if (this.controller.isOpen() || this.perAddress.has(address)) return { ok: true, aid: undefined };
      return this.fullCheck();
    }
    const aid =
      kind === 'stream' ? `c${this.epochShort}${(++this.seq).toString(36)}` : `i${spaceId}|${address}`;
    const existing = kind === 'playlist' ? this.places.get(aid) : undefined;
    if (existing) {
      existing.expiresAt = Math.max(existing.expiresAt, this.now() + this.implicitTtlMs);
      return { ok: true, aid };
    }
    this.sweep();
    if (!this.controller.wouldAdmit()) return this.fullCheck();
    this.controller.arrive();
    this.counts.admittedNow++;
    const p = this.place(aid, spaceId, address, '');
    p.expiresAt = this.now() + this.implicitTtlMs;
    return { ok: true, aid };
  }

  streamOpened(aid: string | undefined): void {
    const p = aid ? this.places.get(aid) : undefined;
    if (!p) return;
    p.streams++;
    p.expiresAt = Infinity;
  }

  streamClosed(aid: string | undefined): void {
    if (!aid) return;
    const p = this.places.get(aid);
    if (!p) return;
    p.streams = Math.max(0, p.streams - 1);
    if (p.streams > 0) return;
    if (aid.startsWith('c')) this.release(aid);
    else p.expiresAt = this.now() + this.admissionTtlMs / 2;
  }

  /** The claims of a valid admission token for `spaceId` that has not expired (cached check), else null. */
  peek(token: string | undefined, spaceId?: string): AdmissionClaims | null {
    const c = this.verify(token);
    if (!c || (spaceId !== undefined && c.s !== spaceId) || c.e <= this.now()) return null;
    return c;
  }

  /** A listener leaves (its page closed): the place is free now (see renew() for a reload). */
  releaseToken(spaceId: string, token: string | undefined): boolean {
    const c = this.verify(token);
    if (!c || c.s !== spaceId) return false;
    const place = this.places.get(c.a);
    if (place) {
      if (this.left.size >= MAX_LEFT) this.left.delete(this.left.keys().next().value!);
      this.left.set(c.a, place.tag);
    }
    return this.release(c.a);
  }

  // ---------------------------------------------------------------- operator

  checkRehearsal(
    token: string | undefined,
  ): RehearsalCheck | { ok: false; code: 'REHEARSAL_TOKEN_REQUIRED' } {
    if (!token) return { ok: false, code: 'REHEARSAL_TOKEN_REQUIRED' };
    // A rehearsal sends the same token with every request: the last good one is remembered.
    const last = this.lastRehearsal;
    if (last && last.token === token && last.claims.e > this.now()) return { ok: true, claims: last.claims };
    const check = checkRehearsalToken(this.secret, token, this.now());
    if (check.ok) this.lastRehearsal = { token, claims: check.claims };
    return check;
  }

  setLimits(limits: AdmissionLimits): void {
    this.controller.setLimits(limits);
  }

  stats(): AdmissionStats & { places: number; counts: AdmissionGate['counts'] } {
    this.sweep();
    return { ...this.controller.stats(), places: this.places.size, counts: { ...this.counts } };
  }

  /** Frees lapsed places (at most once per 250 ms; cheap: called on the admit path and by a timer). */
  sweep(force = false): void {
    const t = this.now();
    if (!force && t - this.sweptAt < 250) return;
    this.sweptAt = t;
    for (const [aid, p] of this.places) if (p.expiresAt <= t) this.release(aid, true);
  }

  /** Frees lapsed places once a second even when nobody asks (unref'd timer). */
  startSweeping(intervalMs = 1000): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sweep(true), intervalMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  // ---------------------------------------------------------------- internals

  /** ADMISSION_REQUIRED, shared objects (a refused request allocates nothing): Retry-After 10 s while people wait or the edge is full, else 1 s. */
  private readonly fullChecks = [1, 10].map(
    (sec) => ({ ok: false, refusal: new GateRefusal(new TribuneError('ADMISSION_REQUIRED'), sec) }) as const,
  );

  private fullCheck(): { ok: false; refusal: GateRefusal } {
    this.counts.refused++;
    return this.fullChecks[this.controller.isBusy() ? 1 : 0]!;
  }

  private refuse(err: TribuneError, retryAfterSec?: number): GateRefusal {
    this.counts.refused++;
    return new GateRefusal(err, retryAfterSec);
  }

  private verify(token: string | undefined): AdmissionClaims | null {
    if (!token) return null;
    const hit = this.verified.get(token);
    if (hit) return hit;
    const c = this.admissions.verify(token);
    if (!c || typeof c.a !== 'string' || typeof c.e !== 'number' || typeof c.s !== 'string') return null;
    if (this.verified.size >= 100_000) this.verified.clear();
    this.verified.set(token, c);
    return c;
  }

  private place(aid: string, space: string, address: string, tag: string): Place {
    const p: Place = {
      space,
      expiresAt: this.now() + this.admissionTtlMs,
      tag,
      address,
      rebinds: 0,
      streams: 0,
    };
    this.places.set(aid, p);
    this.perSpace.set(space, (this.perSpace.get(space) ?? 0) + 1);
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    return p;
  }

  private moveAddress(p: Place, address: string, tag: string): void {
    this.dec(this.perAddress, p.address);
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    p.address = address;
    p.tag = tag;
    p.rebinds++;
  }

  private release(aid: string, lapsed = false): boolean {
    const p = this.places.get(aid);
    if (!p) return false;
    this.places.delete(aid);
    this.dec(this.perSpace, p.space);
    this.dec(this.perAddress, p.address);
    if (lapsed) this.counts.lapsed++;
    this.controller.left();
    return true;
  }

  private dec(map: Map<string, number>, key: string): void {
    const v = (map.get(key) ?? 0) - 1;
    if (v > 0) map.set(key, v);
    else map.delete(key);
  }
}
