import { describe, expect, it } from 'vitest';
import { ResponseParser } from '../../src/ops/rehearse/http-wire.js';
import { Mp4PartScanner } from '../../src/ops/rehearse/mp4-parts.js';
import { buildReport, fifoViolations, flashLine, type ReportInput } from '../../src/ops/rehearse/report.js';
import { reportHtml } from '../../src/ops/rehearse/report-html.js';
import { zeroCounters, type EngineSummary, type TicketRecord } from '../../src/ops/rehearse/types.js';

const T0 = 1_800_000_000_000;

/** A worker summary with `admitted` listeners playing and `queued` holding tickets. */
function summary(opts: { admitted: number; queued: number; gapOf?: (i: number) => number }): EngineSummary {
  const L: EngineSummary['listeners'] = {
    scheduledAt: [],
    arrivedAt: [],
    admittedAt: [],
    lobby: [],
    queued: [],
    playAt: [],
    firstAudioAt: [],
    stallBeforeAudioMs: [],
    maxGapMs: [],
    netGapMs: [],
    missingParts: [],
    dead: [],
    failed: [],
  };
  const tickets: TicketRecord[] = [];
  for (let i = 0; i < opts.admitted + opts.queued; i++) {
    const admitted = i < opts.admitted;
    L.scheduledAt.push(T0 + i);
    L.arrivedAt.push(T0 + i);
    L.admittedAt.push(admitted ? T0 + i + 5 : 0);
    L.lobby.push(0);
    L.queued.push(admitted ? 0 : 1);
    L.playAt.push(admitted ? T0 + i + 6 : 0);
    L.firstAudioAt.push(admitted ? T0 + i + 100 + i : 0); // first audio 100..(100+admitted) ms
    L.stallBeforeAudioMs.push(admitted ? 50 : 0);
    L.maxGapMs.push(admitted ? (opts.gapOf?.(i) ?? 250) : 0);
    L.netGapMs.push(admitted ? Math.min(opts.gapOf?.(i) ?? 250, 800) : 0); // stalls explain the rest
    L.missingParts.push(0);
    L.dead.push(0);
    L.failed.push(0);
    if (!admitted)
      tickets.push({ g: 'e1', n: i - opts.admitted + 1, lastQueuedSentAt: T0 + 1000, admittedAt: 0 });
  }
  const counters = {
    ...zeroCounters(),
    arrived: opts.admitted + opts.queued,
    answered: opts.admitted + opts.queued,
    admitted: opts.admitted,
    admittedAtOnce: opts.admitted,
    queued: opts.queued,
    playing: opts.admitted,
    requests: 3 * (opts.admitted + opts.queued),
    http2xx: 3 * (opts.admitted + opts.queued),
  };
  return {
    worker: 0,
    at: T0 + 10_000,
    counters,
    errorsByCode: {},
    errorSamples: [],
    listeners: L,
    tickets,
    liveSeenAt: 0,
    loopDelayMaxMs: 12,
    stallMs: 0,
    cpuSeconds: 1.5,
  };
}

function input(summaries: EngineSummary[]): ReportInput {
  return {
    target: 'http://127.0.0.1:8081',
    space: 'abc',
    profile: 'ramp',
    mode: 'stream',
    listeners: 200,
    overSeconds: 2,
    t0: T0,
    endAt: T0 + 10_000,
    workers: 1,
    summaries,
    timeline: [0, 1, 2, 3].map((s) => ({
      t: s * 1000,
      arrived: 200,
      admitted: 50,
      queued: 150,
      failed: 0,
      playing: 50,
      lobby: 0,
      errors: 0,
      backlog: 0,
      edgeCpuCores: s ? 0.25 * s : null,
      edgeRssBytes: (100 + s) * 2 ** 20,
      edgeActive: 50,
      edgeWaiting: 150,
    })),
    marks: [{ t: 2000, label: 'served' }],
    cap: 50,
    startAt: null,
    edges: ['http://127.0.0.1:8081'],
  };
}

describe('rehearsal report', () => {
  it('has the flash shape and the measures', () => {
    const r = buildReport(
      input([summary({ admitted: 30, queued: 100 }), summary({ admitted: 20, queued: 50 })]),
    );
    const flash = flashLine(r);
    expect(Object.keys(flash).sort()).toEqual(
      [
        'admitted',
        'admitted_gaps_over_1s',
        'arrivals',
        'cap',
        'errors',
        'first_audio_p99_ms',
        'http_5xx',
        'positions_monotonic',
      ].sort(),
    );
    expect(flash).toMatchObject({ arrivals: 200, cap: 50, admitted: 50, errors: 0, http_5xx: 0 });
    expect(flash.positions_monotonic).toBe(true);
    expect(flash.admitted_gaps_over_1s).toBe(0);
    expect(r.first_audio_ms.n).toBe(50);
    expect(r.first_audio_ms.p50).toBeGreaterThanOrEqual(100);
    expect(r.first_audio_p99_ms).toBeLessThanOrEqual(130);
    expect(r.first_audio_net_of_client_stalls_ms.p99).toBe(r.first_audio_p99_ms! - 50);
    expect(r.played).toBe(50);
    expect(r.admitted_in_order).toBe(true);
    expect(r.edges.cpu_cores_max).toBe(0.75);
    expect(r.edges.rss_mb_max).toBe(103);
    expect(r.first_audio_hist.reduce((a, b) => a + b.count, 0)).toBe(50);
    expect(JSON.parse(JSON.stringify(r))).toMatchObject({ tool: 'tribune rehearse', profile: 'ramp' });
  });

  it('counts listeners with a gap over 1 s and position rises', () => {
    const s = summary({ admitted: 10, queued: 0, gapOf: (i) => (i < 3 ? 1500 : 400) });
    s.counters.positionRises = 1;
    const r = buildReport(input([s]));
    expect(r.admitted_gaps_over_1s).toBe(3);
    expect(r.gaps.listeners_over_net_of_client_stalls).toBe(0);
    expect(r.positions_monotonic).toBe(false);
    expect(r.gaps.max_gap_ms.max).toBe(1500);
  });

  it('finds tickets admitted out of FIFO order', () => {
    const inOrder: TicketRecord[] = [
      { g: 'e', n: 1, lastQueuedSentAt: 100, admittedAt: 200 },
      { g: 'e', n: 2, lastQueuedSentAt: 150, admittedAt: 300 },
      // asked after 1 was admitted, still waiting: fine (2 < 3)
      { g: 'e', n: 3, lastQueuedSentAt: 250, admittedAt: 0 },
    ];
    expect(fifoViolations(inOrder)).toBe(0);
    const outOfOrder: TicketRecord[] = [
      { g: 'e', n: 5, lastQueuedSentAt: 100, admittedAt: 200 },
      // 4 asked after 5 had been admitted and was told to wait: not FIFO
      { g: 'e', n: 4, lastQueuedSentAt: 250, admittedAt: 400 },
      // another edge's queue has its own numbers
      { g: 'f', n: 1, lastQueuedSentAt: 300, admittedAt: 0 },
    ];
    expect(fifoViolations(outOfOrder)).toBe(1);
    const r = buildReport(input([{ ...summary({ admitted: 1, queued: 0 }), tickets: outOfOrder }]));
    expect(r.admitted_in_order).toBe(false);
    expect(r.order_violations).toBe(1);
  });

  it('renders a self-contained HTML page with the plots', () => {
    const html = reportHtml(buildReport(input([summary({ admitted: 50, queued: 150 })])));
    expect(html.startsWith('<!doctype html>')).toBe(true);
    for (const id of ['listeners', 'edge-cpu', 'edge-memory', 'first-audio', 'gaps'])
      expect(html).toContain(`<svg id="${id}"`);
    expect(html).toMatch(/<path d="M[\d.]+,[\d.]+L/); // a drawn line
    expect(html).toContain('admitted');
    expect(html).toContain('queued');
    expect(html).toContain('failed');
    // nothing loaded from elsewhere
    expect(html).not.toMatch(/<(script|link|img)\b/i);
    expect(html).not.toMatch(/(src|href)\s*=/i);
    expect(html).not.toContain('url(');
  });

  it('escapes what the deployment controls', () => {
    const inp = input([summary({ admitted: 1, queued: 0 })]);
    inp.space = '<script>x</script>';
    const html = reportHtml(buildReport(inp));
    expect(html).not.toContain('<script>');
  });
});

describe('rehearsal wire parsers', () => {
  it('parses a chunked response split anywhere', () => {
    const body = Buffer.from('{"admitted":false,"position":7}');
    const wire = Buffer.concat([
      Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n'),
      Buffer.from(`${(10).toString(16)}\r\n`),
      body.subarray(0, 10),
      Buffer.from(`\r\n${(body.length - 10).toString(16)};ext=1\r\n`),
      body.subarray(10),
      Buffer.from('\r\n0\r\n\r\n'),
    ]);
    for (let cut = 1; cut < wire.length; cut += 7) {
      const got: Buffer[] = [];
      let status = 0;
      let ended = false;
      const p = new ResponseParser({
        head: (s) => (status = s),
        body: (d, a, b) => got.push(Buffer.from(d.subarray(a, b))),
        end: () => (ended = true),
        error: (why) => {
          throw new Error(why);
        },
      });
      p.push(wire.subarray(0, cut));
      p.push(wire.subarray(cut));
      expect(status).toBe(200);
      expect(ended).toBe(true);
      expect(Buffer.concat(got).toString()).toBe(body.toString());
    }
  });

  it('finds each part (mfhd, tfdt) in a CMAF byte stream split anywhere', () => {
    const box = (type: string, ...payload: Buffer[]): Buffer => {
      const p = Buffer.concat(payload);
      const h = Buffer.alloc(8);
      h.writeUInt32BE(8 + p.length, 0);
      h.write(type, 4, 'latin1');
      return Buffer.concat([h, p]);
    };
    const u32 = (...v: number[]) => {
      const b = Buffer.alloc(4 * v.length);
      v.forEach((x, i) => b.writeUInt32BE(x, 4 * i));
      return b;
    };
    const part = (seq: number, tfdt: number) =>
      Buffer.concat([
        box('moof', box('mfhd', u32(0, seq)), box('traf', box('tfhd', u32(0, 1)), box('tfdt', u32(0, tfdt)))),
        box('mdat', Buffer.alloc(80, 7)),
      ]);
    const stream = Buffer.concat([
      box('ftyp', Buffer.alloc(16)),
      box('moov', Buffer.alloc(300)),
      part(1, 0),
      part(2, 9600),
      part(3, 19200),
    ]);
    for (let cut = 1; cut < stream.length; cut += 13) {
      const parts: [number, number][] = [];
      const s = new Mp4PartScanner(
        (seq, tfdt) => parts.push([seq, tfdt]),
        (why) => {
          throw new Error(why);
        },
      );
      s.push(stream.subarray(0, cut));
      s.push(stream.subarray(cut));
      expect(parts).toEqual([
        [1, 0],
        [2, 9600],
        [3, 19200],
      ]);
    }
  });
});
