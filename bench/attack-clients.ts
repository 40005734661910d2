/**
 * Client child process for bench/attack.ts (run pinned to the load core, away from the edge's):
 *
 * - `listeners`: N LL-HLS players, one keep-alive socket each from its own source address (many
 *   listeners may share an address). Each asks `/admit` (renewing its admission before it lapses),
 *   then plays as the real player does: a blocking reload `audio.m3u8?_HLS_msn=M&_HLS_part=P` and
 *   `part/M.P.m4s`, with the admission token in `x-tribune-admission`. Every request is recorded;
 *   `report` computes, for requests sent within [from, to]:
 *     - parts: latency from request to last byte;
 *     - blocking reloads: the time beyond the part's availability, where availability is when the
 *       first listener of this process got the playlist announcing that part (the hold itself is
 *       excluded: it is the protocol, not a delay);
 *     - gaps: per listener, intervals over 1 s between two part arrivals;
 *     - statuses and error codes.
 * - `load`: a paced open-loop load: `rate` requests/s spread round-robin over (address, path,
 *   admission) triples, through per-address keep-alive pools; a backlog cap drops sends the pool
 *   cannot keep up with (counted). Reports status/code counts, the first 429 and latencies.
 *   With `admitPerAddress`, it first takes that many admissions per address and sends them.
 *
 * Protocol: config JSON in argv[2]; JSON lines on stdout; commands as JSON lines on stdin
 * ({"cmd":"report","from":ms,"to":ms} | {"cmd":"stop"}); stdin closing stops it.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { HttpPool, jsonOf, type HttpResult } from '../src/ops/rehearse/http-pool.js';
import { parseTarget, type Target } from '../src/ops/rehearse/http-wire.js';
import { readMoof } from '../src/ops/rehearse/mp4-parts.js';
import { errorCode, parsePlaylist } from '../src/ops/rehearse/playback.js';

export interface ListenersConfig {
  mode: 'listeners';
  url: string;
  spaceId: string;
  /** one per listener */
  addresses: string[];
  /** the arrivals are spread evenly over this long */
  arrivalMs: number;
}

export interface LoadConfig {
  mode: 'load';
  url: string;
  addresses: string[];
  /** request paths, rotated */
  paths: string[];
  rate: number;
  durationMs: number;
  connsPerAddress: number;
  /** take this many admissions per address first (for the Space below) and send them */
  admitPerAddress?: number;
  spaceId?: string;
  /** start sending at this wall time (ms), after admissions */
  startAt?: number;
  /** admissions taken by the caller: requests rotate over them, each from its own address */
  admissions?: { address: string; token: string }[];
}

export type ClientConfig = ListenersConfig | LoadConfig;

const send = (m: unknown): void => void process.stdout.write(JSON.stringify(m) + '\n');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

function quantile(xs: number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

// ------------------------------------------------------------------ listeners

/** One recorded request: kind 0 admit, 1 first playlist, 2 blocking reload, 3 part. */
interface Rec {
  l: number;
  k: 0 | 1 | 2 | 3;
  sent: number;
  done: number;
  status: number;
  code?: string;
  /** msn * 100 + part for reloads and parts */
  key: number;
}

async function runListeners(cfg: ListenersConfig): Promise<void> {
  const target: Target = parseTarget(cfg.url);
  const prefix = `/hls/spaces/${cfg.spaceId}`;
  const recs: Rec[] = [];
  /** first time any listener of this process got the reload announcing a part */
  const available = new Map<number, number>();
  const admitPools = new Map<string, HttpPool>();
  const pools: HttpPool[] = [];
  let stopped = false;
  let admitted = 0;
  let playing = 0;
  let failed = 0;
  const failures = new Map<string, number>();
  const fail = (code: string): void => {
    failed++;
    failures.set(code, (failures.get(code) ?? 0) + 1);
  };
  const rec = (l: number, k: Rec['k'], r: HttpResult, key = -1): void => {
    const x: Rec = { l, k, sent: r.sentAt, done: r.doneAt, status: r.status, key };
    if (r.status !== 200) x.code = errorCode(r.status, r.body.toString('utf8').slice(0, 300));
    recs.push(x);
  };
  const admitPool = (addr: string): HttpPool => {
    let p = admitPools.get(addr);
    if (!p) {
      p = new HttpPool({ target, localAddress: addr, size: 2, timeoutMs: 15_000 });
      admitPools.set(addr, p);
    }
    return p;
  };

  const listener = async (i: number): Promise<void> => {
    const addr = cfg.addresses[i]!;
    let admission: string | undefined;
    // admission (retrying a refusal a few times, as the page does)
    for (let attempt = 0; attempt < 8 && !admission && !stopped; attempt++) {
      let r: HttpResult;
      try {
        r = await admitPool(addr).get(`${prefix}/admit`);
      } catch {
        await sleep(500);
        continue;
      }
      rec(i, 0, r);
      const j = jsonOf<{ admitted?: boolean; admission?: string; renewInMs?: number; retryInMs?: number }>(r);
      if (r.status === 200 && j?.admitted && j.admission) {
        admission = j.admission;
        const renewIn = j.renewInMs ?? 30_000;
        const renew = async (): Promise<void> => {
          if (stopped) return;
          try {
            const rr = await admitPool(addr).get(
              `${prefix}/admit?admission=${encodeURIComponent(admission!)}`,
              {
                urgent: true,
              },
            );
            rec(i, 0, rr);
            const jj = jsonOf<{ admitted?: boolean; admission?: string; renewInMs?: number }>(rr);
            if (jj?.admitted && jj.admission) admission = jj.admission;
            setTimeout(() => void renew(), jj?.renewInMs ?? renewIn).unref();
          } catch {
            setTimeout(() => void renew(), 2000).unref();
          }
        };
        setTimeout(() => void renew(), renewIn).unref();
      } else await sleep(j?.retryInMs ?? 1000);
    }
    if (!admission) return fail('NOT_ADMITTED');
    admitted++;
    const pool = new HttpPool({ target, localAddress: addr, size: 1, timeoutMs: 15_000 });
    pools.push(pool);
    const hdrs = (): Record<string, string> => ({ 'x-tribune-admission': admission! });
    const lid = `atk${i.toString(36).padStart(6, '0')}`;
    try {
      const first = await pool.get(`${prefix}/audio.m3u8?lid=${lid}`, { headers: hdrs() });
      rec(i, 1, first);
      if (first.status !== 200) return fail(errorCode(first.status, first.body.toString('utf8')));
      const pl = parsePlaylist(first.body.toString('utf8'));
      if (pl.hint[0] < 0) return fail('BAD_PLAYLIST');
      let [msn, part] = pl.hint;
      const pps = pl.partsPerSegment;
      playing++;
      while (!stopped) {
        const key = msn * 100 + part;
        const r = await pool.get(`${prefix}/audio.m3u8?_HLS_msn=${msn}&_HLS_part=${part}&lid=${lid}`, {
          headers: hdrs(),
        });
        if (stopped) break;
        rec(i, 2, r, key);
        if (r.status !== 200) {
          fail(errorCode(r.status, r.body.toString('utf8')));
          await sleep(200);
          continue; // a real player retries
        }
        const a = available.get(key);
        if (a === undefined || r.doneAt < a) available.set(key, r.doneAt);
        const p = await pool.get(`${prefix}/part/${msn}.${part}.m4s`, { headers: hdrs() });
        if (stopped) break;
        rec(i, 3, p, key);
        if (p.status !== 200) {
          fail(errorCode(p.status, p.body.toString('utf8')));
          await sleep(200);
          continue;
        }
        const at = p.body.indexOf('moof', 0, 'latin1');
        if (at >= 4) readMoof(p.body, at + 4, p.body.length);
        if (++part >= pps) {
          part = 0;
          msn++;
        }
      }
    } catch (err) {
      if (!stopped) fail(`TRANSPORT:${(err as Error).message.slice(0, 40)}`);
    } finally {
      playing--;
    }
  };

  const t0 = Date.now();
  const n = cfg.addresses.length;
  const all: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const at = t0 + (cfg.arrivalMs * i) / n;
    const wait = at - Date.now();
    if (wait > 2) await sleep(wait);
    all.push(listener(i));
  }
  send({ type: 'arrived', n, admitted, playing });

  const report = (from: number, to: number): unknown => {
    const partLat: number[] = [];
    const beyond: number[] = [];
    const holds: number[] = [];
    const statuses: Record<string, number> = {};
    const codes: Record<string, number> = {};
    const partTimes = new Map<number, number[]>();
    let requests = 0;
    for (const r of recs) {
      if (r.sent < from || r.sent > to) continue;
      requests++;
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.code) codes[r.code] = (codes[r.code] ?? 0) + 1;
      if (r.status !== 200) continue;
      if (r.k === 3) {
        partLat.push(r.done - r.sent);
        let a = partTimes.get(r.l);
        if (!a) partTimes.set(r.l, (a = []));
        a.push(r.done);
      } else if (r.k === 2) {
        const av = available.get(r.key) ?? r.done;
        beyond.push(r.done - Math.max(r.sent, av));
        holds.push(r.done - r.sent);
      }
    }
    // gaps between part arrivals within the window, per listener
    let gapsOver1s = 0;
    let listenersWithGap = 0;
    let maxGap = 0;
    for (const times of partTimes.values()) {
      let g = 0;
      for (let j = 1; j < times.length; j++) {
        const d = times[j]! - times[j - 1]!;
        maxGap = Math.max(maxGap, d);
        if (d > 1000) g++;
      }
      // a listener with no part at all over a 1 s+ stretch at either end of the window
      if (times.length > 0) {
        if (times[0]! - from > 1500) g++;
        if (to - times[times.length - 1]! > 1500) g++;
      }
      gapsOver1s += g;
      if (g > 0) listenersWithGap++;
    }
    const silent = admitted - partTimes.size;
    const q = (xs: number[], p: number) => (xs.length ? Math.round(quantile(xs, p)! * 10) / 10 : null);
    return {
      requests,
      statuses,
      codes,
      listeners_with_parts: partTimes.size,
      silent_listeners: Math.max(0, silent),
      gaps_over_1s: gapsOver1s,
      listeners_with_gap: listenersWithGap,
      max_gap_ms: maxGap,
      part_ms: { n: partLat.length, p50: q(partLat, 0.5), p99: q(partLat, 0.99), max: q(partLat, 1) },
      reload_beyond_availability_ms: {
        n: beyond.length,
        p50: q(beyond, 0.5),
        p99: q(beyond, 0.99),
        max: q(beyond, 1),
      },
      reload_with_hold_ms: { p50: q(holds, 0.5), p99: q(holds, 0.99) },
      all_p99_ms: q([...partLat, ...beyond], 0.99),
      admitted,
      playing,
      failed,
      failures: Object.fromEntries(failures),
      client_loop_delay_max_ms: Math.round(loop.max / 1e6),
      client_loop_delay_p99_ms: Math.round(loop.percentile(99) / 1e6),
    };
  };

  const stop = async (): Promise<void> => {
    stopped = true;
    for (const p of [...pools, ...admitPools.values()]) p.close();
    await Promise.race([Promise.allSettled(all), sleep(2000)]);
    send({ type: 'stopped' });
    process.exit(0);
  };
  commands(
    (c) => {
      if (c.cmd === 'report') {
        send({ type: 'report', report: report(c.from!, c.to!) });
        loop.reset();
      } else if (c.cmd === 'stop') void stop();
    },
    () => void stop(),
  );
}

// ------------------------------------------------------------------ load

async function runLoad(cfg: LoadConfig): Promise<void> {
  const target = parseTarget(cfg.url);
  const pools = cfg.addresses.map(
    (a) => new HttpPool({ target, localAddress: a, size: cfg.connsPerAddress, timeoutMs: 10_000 }),
  );
  /** (pool, admission) pairs */
  const senders: { pool: HttpPool; admission?: string }[] = [];
  if (cfg.admitPerAddress && cfg.spaceId) {
    const prefix = `/hls/spaces/${cfg.spaceId}`;
    let refused = 0;
    await Promise.all(
      pools.map(async (pool) => {
        for (let k = 0; k < cfg.admitPerAddress!; k++) {
          const r = await pool.get(`${prefix}/admit`).catch(() => undefined);
          const j = r ? jsonOf<{ admitted?: boolean; admission?: string }>(r) : undefined;
          if (j?.admitted && j.admission) senders.push({ pool, admission: j.admission });
          else refused++;
        }
      }),
    );
    send({ type: 'admitted', admissions: senders.length, refused });
  } else if (cfg.admissions) {
    const byAddr = new Map(cfg.addresses.map((a, i) => [a, pools[i]!]));
    for (const a of cfg.admissions) senders.push({ pool: byAddr.get(a.address)!, admission: a.token });
  } else for (const pool of pools) senders.push({ pool });
  if (senders.length === 0) throw new Error('no senders (no admission?)');
  if (cfg.startAt) await sleep(Math.max(0, cfg.startAt - Date.now()));

  const statuses: Record<string, number> = {};
  const codes: Record<string, number> = {};
  const lat: number[] = [];
  let sent = 0;
  let answered = 0;
  let errors = 0;
  let dropped = 0;
  let first429: number | null = null;
  const t0 = Date.now();
  const backlogMax = cfg.connsPerAddress * 4;
  let si = 0;
  let pi = 0;
  const fire = (): void => {
    const s = senders[si++ % senders.length]!;
    if (s.pool.waiting > backlogMax) {
      dropped++;
      return;
    }
    const path = cfg.paths[pi++ % cfg.paths.length]!;
    sent++;
    s.pool
      .get(path, s.admission ? { headers: { 'x-tribune-admission': s.admission } } : {})
      .then((r) => {
        answered++;
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status === 429 && first429 === null) first429 = r.doneAt - t0;
        if (r.status >= 400) {
          const c = errorCode(r.status, r.body.toString('utf8').slice(0, 200));
          codes[c] = (codes[c] ?? 0) + 1;
        } else {
          const xc = r.headers.get('x-cache');
          if (xc) codes[`x-cache:${xc}`] = (codes[`x-cache:${xc}`] ?? 0) + 1;
        }
        if (lat.length < 200_000) lat.push(r.doneAt - r.sentAt);
      })
      .catch(() => {
        errors++;
      });
  };
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const el = Date.now() - t0;
      if (el >= cfg.durationMs) {
        clearInterval(tick);
        resolve();
        return;
      }
      const due = Math.floor((el * cfg.rate) / 1000);
      while (sent + dropped < due) fire();
    }, 2);
  });
  const sendS = (Date.now() - t0) / 1000;
  await sleep(500);
  for (const p of pools) p.close();
  send({
    type: 'done',
    result: {
      t0,
      seconds: Math.round(sendS * 100) / 100,
      sent,
      answered,
      errors,
      dropped,
      rps: Math.round(answered / sendS),
      statuses,
      codes,
      first_429_ms: first429,
      latency_p50_ms: quantile(lat, 0.5),
      latency_p99_ms: quantile(lat, 0.99),
      client_loop_delay_max_ms: Math.round(loop.max / 1e6),
    },
  });
  process.exit(0);
}

function commands(on: (c: { cmd: string; from?: number; to?: number }) => void, end: () => void): void {
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim()) on(JSON.parse(line) as { cmd: string });
    }
  });
  process.stdin.on('end', end);
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as ClientConfig;
(cfg.mode === 'listeners' ? runListeners(cfg) : runLoad(cfg)).catch((err: unknown) => {
  send({ type: 'error', message: String((err as Error)?.stack ?? err) });
  process.exit(1);
});
