/**
 * The edge's admission policy and gate, on a fake clock: FIFO, positions that never go up, places
 * freed by leavers, raised caps and abandoned tickets; tickets and tokens forged, expired, for
 * another Space or replayed; per-address join floods.
 */
import { describe, expect, it } from 'vitest';
import { AdmissionController } from '../../src/edge/admission/controller.js';
import { AdmissionGate, GateRefusal, type AdmitAnswer } from '../../src/edge/admission/gate.js';
import { admissionSigner, ticketSigner } from '../../src/edge/admission/tokens.js';

const SECRET = Buffer.from('admission test secret');

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function seeded(seed = 1) {
  let s = seed;
  return () => ((s = (s * 16807) % 2147483647) - 1) / 2147483646;
}

describe('AdmissionController', () => {
  it('admits up to the cap at once, then queues in arrival order; positions never go up', () => {
    const c = clock();
    const ctl = new AdmissionController({ limits: { maxListeners: 3, joinsPerSec: 100 }, now: c.now });
    expect([ctl.arrive(), ctl.arrive(), ctl.arrive()].every((r) => r.admitted)).toBe(true);
    const tickets = Array.from({ length: 5 }, () => ctl.arrive());
    expect(tickets.map((r) => (r.admitted ? 0 : r.n))).toEqual([1, 2, 3, 4, 5]);
    const last = new Map<number, number>();
    const admittedOrder: number[] = [];
    for (let round = 0; round < 8; round++) {
      if (round < 5) ctl.left(); // one listener leaves per round
      c.advance(500);
      for (let n = 5; n >= 1; n--) {
        if (admittedOrder.includes(n)) continue;
        const p = ctl.poll(n);
        if (p.admitted) admittedOrder.push(n);
        else {
          expect(p.position).toBeLessThanOrEqual(last.get(n) ?? Infinity);
          last.set(n, p.position);
        }
      }
    }
    expect(admittedOrder).toEqual([1, 2, 3, 4, 5]);
    expect(ctl.stats().active).toBe(3);
  });

  it('a raised cap admits the queue in order; an estimated wait comes from the measured speed', () => {
    const c = clock();
    const ctl = new AdmissionController({ limits: { maxListeners: 1, joinsPerSec: 1000 }, now: c.now });
    ctl.arrive();
    for (let i = 0; i < 10; i++) ctl.arrive();
    const p = ctl.poll(10);
    expect(p).toMatchObject({ admitted: false, position: 10, waitMs: null });
    ctl.setLimits({ maxListeners: 5, joinsPerSec: 1000 });
    expect(ctl.stats()).toMatchObject({ serving: 4, reserved: 4, waiting: 6 });
    expect(ctl.poll(5)).toMatchObject({ admitted: false, position: 1 });
    const w = ctl.poll(10);
    expect(w.admitted).toBe(false);
    // 4 moved just now: 4 per second (a rate is taken over at least 1 s), so 6 ahead = 1.5 s.
    if (!w.admitted) expect(w.waitMs).toBe(1500);
    c.advance(5000); // …and nothing since: 4 in 5 s, the estimate grows to what is true.
    const later = ctl.poll(10);
    if (!later.admitted) expect(later.waitMs).toBe(7500);
    for (let n = 1; n <= 4; n++) expect(ctl.poll(n).admitted).toBe(true);
  });

  it('holds joins to joinsPerSec: a burst past the rate waits for the bucket, in order', () => {
    const c = clock();
    const ctl = new AdmissionController({ limits: { maxListeners: 1000, joinsPerSec: 10 }, now: c.now });
    const first = Array.from({ length: 25 }, () => ctl.arrive());
    expect(first.filter((r) => r.admitted)).toHaveLength(10);
    c.advance(1000);
    for (let n = 1; n <= 15; n++) {
      const p = ctl.poll(n);
      expect(p.admitted).toBe(n <= 10);
    }
    c.advance(500);
    expect(ctl.poll(11).admitted).toBe(true);
    expect(ctl.poll(16).admitted).toBe(false);
  });

  it('gives an unclaimed place to the next number after the claim window', () => {
    const c = clock();
    const ctl = new AdmissionController({
      limits: { maxListeners: 1, joinsPerSec: 100 },
      now: c.now,
      claimWindowMs: 5000,
    });
    ctl.arrive();
    ctl.arrive(); // 1
    ctl.arrive(); // 2
    ctl.left(); // number 1 is eligible; its holder never comes back
    expect(ctl.poll(2)).toMatchObject({ admitted: false, position: 1 });
    c.advance(5001);
    expect(ctl.poll(2).admitted).toBe(true);
    expect(ctl.stats()).toMatchObject({ abandoned: 1, active: 1 });
    // Number 1 comes back late: first in line, admitted when a place frees.
    expect(ctl.poll(1)).toMatchObject({ admitted: false, position: 1 });
    ctl.left();
    expect(ctl.poll(1).admitted).toBe(true);
  });

  it('spreads the polls: retry intervals are jittered within ±20% and bounded', () => {
    const c = clock();
    const ctl = new AdmissionController({
      limits: { maxListeners: 0, joinsPerSec: 10 },
      now: c.now,
      random: seeded(7),
    });
    for (let i = 0; i < 50; i++) ctl.arrive();
    const retries = Array.from({ length: 50 }, (_, i) => {
      const p = ctl.poll(i + 1);
      return p.admitted ? -1 : p.retryInMs;
    });
    expect(Math.min(...retries)).toBeGreaterThanOrEqual(800);
    expect(Math.max(...retries)).toBeLessThanOrEqual(12_000);
    expect(new Set(retries).size).toBeGreaterThan(20);
  });
});

function gateWith(opts: { cap: number; rate?: number; perMin?: number; c?: ReturnType<typeof clock> }) {
  const c = opts.c ?? clock();
  const gate = new AdmissionGate({
    secret: SECRET,
    edgeId: 'e1',
    limits: { maxListeners: opts.cap, joinsPerSec: opts.rate ?? 1000 },
    joinsPerAddressPerMinute: opts.perMin ?? 1000,
    now: c.now,
    random: seeded(3),
  });
  return { gate, c };
}
type Admitted = ReturnType<AdmissionGate['admit']>;
const ok = (a: Admitted): AdmitAnswer => {
  if (a instanceof GateRefusal) throw new Error(`refused: ${a.error.code}`);
  if ('proofRequired' in a) throw new Error('proof required');
  return a;
};
const code = (a: Admitted): string =>
  a instanceof GateRefusal ? a.error.code : 'proofRequired' in a ? 'PROOF' : 'answer';

describe('AdmissionGate', () => {
  it('admits with a token the edge checks on media requests; past capacity a ticket; never an error', () => {
    const { gate } = gateWith({ cap: 2 });
    const a = ok(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.1' }));
    const b = ok(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.2' }));
    const q = ok(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.3' }));
    expect(a.admitted && b.admitted).toBe(true);
    expect(q).toMatchObject({ admitted: false, position: 1 });
    if (!a.admitted) throw new Error();
    expect(gate.media('S1', a.admission, '10.0.0.1', 'stream')).toMatchObject({ ok: true });
    // Without a token, past capacity: 429 ADMISSION_REQUIRED with Retry-After (a third-party player).
    const no = gate.media('S1', undefined, '10.0.0.9', 'playlist');
    expect(no.ok).toBe(false);
    if (!no.ok) {
      expect(no.refusal.error.code).toBe('ADMISSION_REQUIRED');
      expect(no.refusal.retryAfterSec).toBeGreaterThan(0);
    }
    // An admitted listener is never refused because of the queue.
    for (let i = 0; i < 100; i++) gate.admit({ spaceId: 'S1', state: 'live', address: `10.1.0.${i}` });
    expect(gate.media('S1', a.admission, '10.0.0.1', 'object')).toMatchObject({ ok: true });
  });

  it('a ticket survives a reload: the same ticket keeps its place and is admitted once a place frees', () => {
    const { gate, c } = gateWith({ cap: 1 });
    const first = ok(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.1' }));
    const q = ok(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.2' }));
    if (q.admitted || !first.admitted) throw new Error('expected a ticket');
    // Reload: the page asks again with its stored ticket (no new number).
    const again = ok(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.2', ticket: q.ticket }));
    expect(again).toMatchObject({ admitted: false, position: 1, ticket: q.ticket });
    expect(gate.stats().issued).toBe(1);
    expect(gate.releaseToken('S1', first.admission)).toBe(true);
    c.advance(10);
    const in2 = ok(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.2', ticket: q.ticket }));
    expect(in2.admitted).toBe(true);
    // Reloading after admission gives the admission again (same place), not a second one.
    const re = ok(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.2', ticket: q.ticket }));
    expect(re.admitted).toBe(true);
    expect(gate.stats().active).toBe(1);
  });

  it('refuses forged, expired, other-Space and replayed tickets and tokens with stable codes', () => {
    const { gate, c } = gateWith({ cap: 1 });
    ok(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.1' }));
    const q = ok(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.2' }));
    if (q.admitted) throw new Error();
    const forged = ticketSigner(Buffer.from('another secret')).sign({
      k: 't',
      s: 'S1',
      n: 1,
      g: gate.epochId,
      i: c.now(),
    });
    expect(code(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.2', ticket: forged }))).toBe(
      'TICKET_INVALID',
    );
    expect(code(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.2', ticket: 'garbage' }))).toBe(
      'TICKET_INVALID',
    );
    expect(code(gate.admit({ spaceId: 'S2', state: 'live', address: '10.0.0.2', ticket: q.ticket }))).toBe(
      'TICKET_INVALID',
    );
    const badToken = admissionSigner(Buffer.from('x')).sign({
      k: 'a',
      s: 'S1',
      a: 'n1',
      e: c.now() + 1e6,
      h: '',
    });
    expect(code(gate.admit({ spaceId: 'S1', state: 'live', address: '1.1.1.1', admission: badToken }))).toBe(
      'ADMISSION_INVALID',
    );
    const m = gate.media('S1', badToken, '1.1.1.1', 'stream');
    expect(!m.ok && m.refusal.error.code).toBe('ADMISSION_INVALID');
    // Replay: the ticket admitted at one address, then presented from others.
    gate.setLimits({ maxListeners: 2, joinsPerSec: 1000 });
    expect(
      ok(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.2', ticket: q.ticket })).admitted,
    ).toBe(true);
    expect(code(gate.admit({ spaceId: 'S1', state: 'live', address: '10.9.9.9', ticket: q.ticket }))).toBe(
      'TICKET_REPLAYED',
    );
    // Expiry.
    const adm = ok(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.2', ticket: q.ticket }));
    if (!adm.admitted) throw new Error();
    c.advance(61_000);
    const exp = gate.media('S1', adm.admission, '10.0.0.2', 'object');
    expect(!exp.ok && exp.refusal.error.code).toBe('ADMISSION_EXPIRED');
    c.advance(6 * 3600_000);
    expect(code(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.2', ticket: q.ticket }))).toBe(
      'TICKET_EXPIRED',
    );
  });

  it('an added edge takes tickets from a full sibling: the holder is admitted there when it has room', () => {
    const c = clock();
    const a = gateWith({ cap: 1, c }).gate;
    const b = gateWith({ cap: 10, c }).gate;
    const first = ok(a.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.1' }));
    const q = ok(a.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.2' }));
    if (q.admitted || !first.admitted) throw new Error('expected an admission, then a ticket');
    // The load balancer sends the ticket holder's next ask to the new edge B.
    const atB = ok(b.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.2', ticket: q.ticket }));
    expect(atB.admitted).toBe(true);
    if (!atB.admitted) throw new Error();
    expect(b.media('S1', atB.admission, '10.0.0.2', 'stream').ok).toBe(true);
    // A listener admitted by A whose requests now reach B keeps playing: B takes the place.
    expect(b.media('S1', first.admission, '10.0.0.1', 'object').ok).toBe(true);
    expect(b.stats().active).toBe(2);
  });

  it('limits joins per address (a flood gets 429 with Retry-After); a rehearsal is exempt', () => {
    const { gate } = gateWith({ cap: 1000, perMin: 5 });
    const answers = Array.from({ length: 8 }, () =>
      gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.1' }),
    );
    expect(answers.map(code)).toEqual([...Array(5).fill('answer'), ...Array(3).fill('RATE_LIMITED')]);
    const r = answers[7] as GateRefusal;
    expect(r.retryAfterSec).toBeGreaterThan(0);
    expect(code(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.2' }))).toBe('answer');
    expect(code(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.1', rehearsal: true }))).toBe(
      'answer',
    );
  });

  it('frees places when admissions lapse or streams close; a lobby gets a join window', () => {
    const { gate, c } = gateWith({ cap: 10, rate: 1000 });
    const as = Array.from({ length: 4 }, (_, i) =>
      ok(gate.admit({ spaceId: 'L', state: 'scheduled', address: `10.0.0.${i}` })),
    );
    expect(as[3]).toMatchObject({ admitted: true, joinWindowMs: 4 }); // 4 waiting at 1,000 joins/s
    const s = gate.media('L', undefined, '10.0.0.9', 'stream');
    if (!s.ok) throw new Error();
    gate.streamOpened(s.aid);
    expect(gate.stats().active).toBe(5);
    gate.streamClosed(s.aid);
    expect(gate.stats().active).toBe(4);
    c.advance(61_000);
    gate.sweep(true);
    expect(gate.stats()).toMatchObject({ active: 0, places: 0 });
  });

  it('under attack every way to a new place asks for a proof; holders of a place or ticket never do', () => {
    const { gate } = gateWith({ cap: 1 });
    const held = ok(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.1' }));
    const queued = ok(gate.admit({ spaceId: 'S1', state: 'live', address: '10.0.0.2' }));
    if (!held.admitted || queued.admitted) throw new Error('setup');
    gate.strict = true;
    const s1 = { spaceId: 'S1', state: 'live' };
    expect(code(gate.admit({ ...s1, address: '10.0.0.3' }))).toBe('PROOF');
    expect(code(gate.admit({ ...s1, address: '10.0.0.3', rehearsal: true }))).toBe('answer');
    expect(ok(gate.admit({ ...s1, address: '10.0.0.4', proven: true })).admitted).toBe(false); // full: a ticket
    // Holders: a renewal, this edge's ticket.
    expect(ok(gate.admit({ ...s1, address: '10.0.0.1', admission: held.admission })).admitted).toBe(true);
    expect(code(gate.admit({ ...s1, address: '10.0.0.2', ticket: queued.ticket }))).toBe('answer');
    // Another edge's ticket is a newcomer here: a proof first.
    const foreign = ticketSigner(SECRET).sign({ k: 't', s: 'S1', n: 1, g: 'other.edge', i: Date.now() });
    expect(code(gate.admit({ ...s1, address: '10.0.0.5', ticket: foreign }))).toBe('PROOF');
  });

  it('under attack a page that left reloads once without a proof, from its own address only', () => {
    const { gate } = gateWith({ cap: 5 });
    const s1 = { spaceId: 'S1', state: 'live' };
    const a = ok(gate.admit({ ...s1, address: '10.0.0.1' }));
    if (!a.admitted) throw new Error('setup');
    gate.strict = true;
    expect(gate.releaseToken('S1', a.admission)).toBe(true);
    // Passed to another address after its place is gone: a newcomer.
    expect(code(gate.admit({ ...s1, address: '10.9.9.9', admission: a.admission }))).toBe('PROOF');
    const back = ok(gate.admit({ ...s1, address: '10.0.0.1', admission: a.admission }));
    expect(back.admitted).toBe(true);
    if (!back.admitted) throw new Error();
    // Once: the old token, its place given back again, does not make another place.
    expect(gate.releaseToken('S1', back.admission)).toBe(true);
    expect(code(gate.admit({ ...s1, address: '10.0.0.1', admission: a.admission }))).toBe('PROOF');
  });

  it('under attack a token-less player goes on only with its implicit place in this Space', () => {
    const { gate } = gateWith({ cap: 5 });
    expect(gate.media('S1', undefined, '10.0.0.7', 'playlist')).toMatchObject({ ok: true });
    gate.strict = true;
    expect(gate.media('S1', undefined, '10.0.0.7', 'playlist')).toMatchObject({ ok: true });
    expect(gate.media('S1', undefined, '10.0.0.7', 'object')).toMatchObject({ ok: true });
    expect(gate.media('S2', undefined, '10.0.0.7', 'object')).toMatchObject({ ok: false });
    expect(gate.media('S1', undefined, '10.0.0.7', 'stream')).toMatchObject({ ok: false });
    expect(gate.media('S1', undefined, '10.0.0.8', 'playlist')).toMatchObject({ ok: false });
  });
});
