/**
 * Listener load generator for bench/edge.ts, in its own process (pinned to its own core by the
 * parent): N concurrent listeners on one edge, spread over several source addresses (one address
 * has only ~28k ephemeral ports), opened at a bounded rate.
 *
 * Modes:
 *  - `stream`: one long-lived `GET <prefix>/stream.mp4?lid=L` per listener (HTTP/1.1 chunked,
 *    audio/mp4: init segment, then one moof+mdat per 200 ms part, several per chunk when the edge
 *    batches), on a raw `net` socket with our own HTTP and chunked parsing (default, measured
 *    lighter) or on http.get (`impl: 'http'`). The MP4 boxes are parsed incrementally: each moof
 *    is read in place (copied only when split across reads), mdat payloads are skipped.
 *  - `llhls`: what an LL-HLS player does, on one keep-alive raw socket per listener: blocking
 *    playlist reload `audio.m3u8?_HLS_msn=M&_HLS_part=P`, then `part/M.P.m4s`, then the next part.
 *
 * Per listener it checks that every part arrives (mfhd sequence numbers +1, tfdt +9600 per part in
 * stream mode; one part per requested name in llhls mode) and records the largest gap between two
 * arrivals of new parts, from `mark` to `report` (a trailing silence up to `report` counts too).
 *
 * Protocol: config as JSON in argv[2]. JSON lines on stdout ({type: 'ramped' | 'marked' | 'report' |
 * 'closed' | 'error'}); commands on stdin, one per line: `mark`, `report [gapMs]`, `close`. Exits when stdin
 * closes (so it dies with its parent).
 */
import http from 'node:http';
import net from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

export interface StreamClientConfig {
  host: string;
  port: number;
  /** e.g. /hls/spaces/ID */
  prefix: string;
  mode: 'stream' | 'llhls';
  /**
   * stream mode only: `net` (default) writes the GET on a raw socket and parses HTTP/1.1 and the
   * chunked framing itself; `http` uses http.get with an Agent (node's C parser de-chunks). Client
   * CPU measured net vs http: 0.10 vs 0.22 cores for 2,000 listeners at 1 part per write, 0.31 vs
   * 0.49 for 19,700 at 3 parts per write (http was lighter only at 5,000 x 1: 0.27 vs 0.34).
   * llhls mode always uses `net` (keep-alive request sequences).
   */
  impl?: 'net' | 'http';
  listeners: number;
  /** connections opened per second while ramping */
  rate: number;
  /** local (source) addresses, used round-robin */
  sources: string[];
  /** a listener "has a gap" when two part arrivals are further apart than this (or a part is missing) */
  gapMs: number;
  /** tfdt increment per part (48 kHz x 0.2 s) */
  partTicks: number;
  /** llhls: the first part to ask for, and parts per segment */
  startMsn?: number;
  startPart?: number;
  partsPerSegment?: number;
  /** lid prefix (each step its own, so the edge counts new listeners) */
  tag: string;
  /** give up waiting for the ramp's first parts after this long */
  rampTimeoutMs?: number;
}

export interface StreamReport {
  type: 'report';
  listeners: number;
  connected: number;
  /** listeners whose connection failed or ended (counted as having a gap) */
  dead: number;
  /** listeners that got at least one part in the window */
  playing: number;
  windowS: number;
  /** listeners with a gap > gapMs, a missing part, or a dead connection */
  withGap: number;
  gapShare: number;
  /** the same with the threshold the parent gave for the edge's write interval (`report <ms>`) */
  batchGapMs: number;
  batchGapShare: number;
  /** largest inter-arrival gap per listener (ms) */
  maxGapMs: { p50: number; p99: number; max: number };
  /** when each listener's largest gap ended, seconds into the window: the same moment for all = one common stall */
  maxGapEndS: { p1: number; p50: number; p99: number };
  /** parts received per listener in the window */
  partsPerListener: { min: number; p50: number; max: number };
  missingParts: number;
  /** tfdt not +partTicks although the sequence number was contiguous */
  tfdtBreaks: number;
  /** spread of (arrival - media time) per listener: the playout buffer it needs (ms) */
  jitterMs: { p50: number; p99: number; max: number };
  /** parts per socket read (> 1 when the edge batches) */
  partsPerRead: number;
  bytes: number;
  /** bytes received by all listeners between mark and report */
  windowBytes: number;
  /** this process's event-loop delay in the window: a stall here is the client's, not the edge's */
  clientLoopDelayMs: { p99: number; max: number };
  /** this process's CPU during the window, in cores */
  clientCpu: number;
  /** per part (by tfdt) received in the window: wall-clock ms (Date.now scale) of first and last arrival */
  parts: { tfdt: number; first: number; last: number; n: number }[];
  errors: string[];
}

export type StreamClientMessage =
  | {
      type: 'ramped';
      connected: number;
      failed: number;
      playing: number;
      rampMs: number;
      /** this process's CPU during the ramp, in cores, and its largest event-loop delay */
      clientCpu: number;
      clientLoopMaxMs: number;
      /** first part at the listener after its connect, p50/p99 (ms) */
      firstPartMs: { p50: number; p99: number };
      errors: string[];
    }
  | { type: 'progress'; opened: number; connected: number; playing: number; failed: number; ms: number }
  | { type: 'marked' }
  | StreamReport
  | { type: 'closed' }
  | { type: 'error'; message: string };

const send = (msg: StreamClientMessage): void => {
  process.stdout.write(JSON.stringify(msg) + '\n');
};

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_HEADER_BYTES = 16 * 1024;

/** Parser states. */
const S = { Headers: 0, ChunkSize: 1, ChunkData: 2, ChunkCrlf: 3, Body: 4, Done: 5 } as const;

const errors: string[] = [];
const noteError = (msg: string): void => {
  if (errors.length < 20) errors.push(msg);
};

const fourcc = (t: string): number => Buffer.from(t, 'latin1').readUInt32BE(0);
const MOOF = fourcc('moof');
const MFHD = fourcc('mfhd');
const TRAF = fourcc('traf');
const TFDT = fourcc('tfdt');
let moofSeq = -1;
let moofTfdt = -1;

/** Children of a moof payload: mfhd (sequence number), traf (tfhd, tfdt, trun). */
function walkMoof(m: Buffer, from: number, to: number): void {
  let o = from;
  while (o + 8 <= to) {
    const size = m.readUInt32BE(o);
    const type = m.readUInt32BE(o + 4);
    if (size < 8 || o + size > to) return;
    if (type === MFHD) moofSeq = m.readUInt32BE(o + 12);
    else if (type === TRAF) walkMoof(m, o + 8, o + size);
    else if (type === TFDT)
      moofTfdt = m[o + 8] === 1 ? Number(m.readBigUInt64BE(o + 12)) : m.readUInt32BE(o + 12);
    o += size;
  }
}

let windowStart = 0;
/** per part (by tfdt) in the window: wall-clock ms of its first and last arrival, listeners that got it */
const partArrivals = new Map<number, { first: number; last: number; n: number }>();
let readsWithParts = 0;
let partsInReads = 0;

/** One listener: its socket, the HTTP/1.1 + chunked + MP4 box parser state, and its statistics. */
class Listener {
  socket: net.Socket | undefined;
  connectedAt = 0;
  firstPartAt = 0;
  dead = false;
  // ---- HTTP parsing
  state: number = S.Headers;
  head: Buffer | undefined;
  chunkLeft = 0;
  sizeAcc = 0;
  sizeExt = false;
  sizeDone = false;
  bodyLeft = -1; // content-length body (llhls); -1: until close
  chunked = false;
  status = 0;
  // ---- box parsing
  boxHdr = Buffer.allocUnsafe(8);
  boxHdrLen = 0;
  boxLeft = 0;
  moof: Buffer | undefined;
  moofLen = 0;
  // ---- llhls
  msn = 0;
  part = 0;
  wantPart = false;
  gotPartInResponse = false;
  // ---- stats (window)
  lastSeq = -1;
  lastTfdt = -1;
  lastArrival = 0;
  maxGap = 0;
  /** when the largest gap ended */
  maxGapEnd = 0;
  parts = 0;
  missing = 0;
  tfdtBreaks = 0;
  minOff = Infinity;
  maxOff = -Infinity;
  bytes = 0;
  bytesAtMark = 0;
  partsThisRead = 0;

  constructor(
    readonly cfg: StreamClientConfig,
    readonly lid: string,
  ) {
    this.msn = cfg.startMsn ?? 0;
    this.part = cfg.startPart ?? 0;
  }

  open(source: string, onConnect: () => void, onFail: (why: string) => void): void {
    if (this.cfg.impl === 'http' && this.cfg.mode === 'stream')
      return this.openHttp(source, onConnect, onFail);
    const s = net.connect({ host: this.cfg.host, port: this.cfg.port, localAddress: source });
    this.socket = s;
    s.setNoDelay(true);
    s.on('connect', () => {
      this.connectedAt = performance.now();
      onConnect();
      this.request();
    });
    s.on('data', (d: Buffer) => this.onData(d));
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.dead) onFail(err.code ?? err.message);
      this.dead = true;
    });
    s.on('close', () => {
      if (!this.dead && !closing) noteError(`${this.lid}: connection closed by the edge`);
      this.dead = true;
    });
  }

  /** The same listener on http.get: node's parser de-chunks, we only parse the MP4 boxes. */
  openHttp(source: string, onConnect: () => void, onFail: (why: string) => void): void {
    const c = this.cfg;
    const req = http.get({
      host: c.host,
      port: c.port,
      path: `${c.prefix}/stream.mp4?lid=${this.lid}`,
      localAddress: source,
      agent: httpAgent,
      headers: { 'user-agent': 'tribune-bench' },
    });
    req.on('socket', (s: net.Socket) => {
      this.socket = s;
      s.setNoDelay(true);
      s.once('connect', () => {
        this.connectedAt = performance.now();
        onConnect();
      });
    });
    req.on('response', (res) => {
      this.status = res.statusCode ?? 0;
      const ctype = String(res.headers['content-type'] ?? '');
      if (this.status !== 200 || !ctype.startsWith('audio/mp4')) {
        this.fail(`HTTP ${this.status} ${ctype}`);
        return;
      }
      this.state = S.Body;
      this.bodyLeft = -1;
      res.on('data', (d: Buffer) => this.onData(d));
      res.on('end', () => {
        if (!closing) this.fail('stream ended');
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.dead && this.connectedAt === 0) onFail(err.code ?? err.message);
      else if (!this.dead && !closing) noteError(`${this.lid}: ${err.code ?? err.message}`);
      this.dead = true;
    });
  }

  request(): void {
    const c = this.cfg;
    let path: string;
    if (c.mode === 'stream') path = `${c.prefix}/stream.mp4?lid=${this.lid}`;
    else if (this.wantPart) path = `${c.prefix}/part/${this.msn}.${this.part}.m4s`;
    else path = `${c.prefix}/audio.m3u8?_HLS_msn=${this.msn}&_HLS_part=${this.part}&lid=${this.lid}`;
    this.state = S.Headers;
    this.head = undefined;
    this.boxHdrLen = 0;
    this.boxLeft = 0;
    this.moof = undefined;
    this.gotPartInResponse = false;
    this.socket!.write(
      `GET ${path} HTTP/1.1\r\nHost: ${c.host}:${c.port}\r\nUser-Agent: tribune-bench\r\n\r\n`,
    );
  }

  onData(d: Buffer): void {
    const now = performance.now();
    this.bytes += d.length;
    this.partsThisRead = 0;
    let off = 0;
    while (off < d.length && this.state !== S.Done) {
      switch (this.state) {
        case S.Headers: {
          const buf = this.head ? Buffer.concat([this.head, d.subarray(off)]) : d.subarray(off);
          const end = buf.indexOf(CRLFCRLF);
          if (end < 0) {
            if (buf.length > MAX_HEADER_BYTES) return this.fail('response headers too long');
            this.head = Buffer.from(buf);
            off = d.length;
            break;
          }
          const consumedBefore = this.head ? this.head.length : 0;
          const text = buf.subarray(0, end).toString('latin1');
          this.head = undefined;
          off += end + 4 - consumedBefore;
          if (!this.onHeaders(text)) return;
          break;
        }
        case S.ChunkSize: {
          // hex digits up to ';' (extensions ignored) or CR, then LF; parsed without strings
          while (off < d.length) {
            const c = d[off++]!;
            if (c === 10) {
              this.sizeDone = true;
              break;
            }
            if (this.sizeExt || c === 13) continue;
            if (c === 59) this.sizeExt = true;
            else {
              const v =
                c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
              if (v < 0) return this.fail('bad chunk size');
              this.sizeAcc = this.sizeAcc * 16 + v;
            }
          }
          if (!this.sizeDone) break;
          const size = this.sizeAcc;
          this.sizeAcc = 0;
          this.sizeExt = false;
          this.sizeDone = false;
          if (size === 0) {
            // end of the chunked body: a stream should never end
            this.state = S.Done;
            if (this.cfg.mode === 'stream') return this.fail('stream ended');
            return this.responseDone();
          }
          this.chunkLeft = size;
          this.state = S.ChunkData;
          break;
        }
        case S.ChunkData: {
          const n = Math.min(this.chunkLeft, d.length - off);
          this.body(d, off, off + n, now);
          off += n;
          this.chunkLeft -= n;
          if (this.chunkLeft === 0) this.state = S.ChunkCrlf;
          break;
        }
        case S.ChunkCrlf: {
          // "\r\n" after the chunk data: skip up to the LF
          const nl = d.indexOf(10, off);
          if (nl < 0) {
            off = d.length;
            break;
          }
          off = nl + 1;
          this.state = S.ChunkSize;
          break;
        }
        case S.Body: {
          const n = this.bodyLeft < 0 ? d.length - off : Math.min(this.bodyLeft, d.length - off);
          this.body(d, off, off + n, now);
          off += n;
          if (this.bodyLeft >= 0) {
            this.bodyLeft -= n;
            if (this.bodyLeft === 0) {
              this.state = S.Done;
              this.responseDone();
            }
          }
          break;
        }
        default:
          off = d.length;
      }
    }
    if (this.partsThisRead > 0) {
      readsWithParts++;
      partsInReads += this.partsThisRead;
    }
  }

  /** Status line and headers; false when the response is refused (listener failed). */
  onHeaders(text: string): boolean {
    const lines = text.split('\r\n');
    this.status = Number(lines[0]!.split(' ')[1]);
    let ctype = '';
    let te = '';
    let length = -1;
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i]!;
      const colon = l.indexOf(':');
      const name = l.slice(0, colon).trim().toLowerCase();
      const value = l.slice(colon + 1).trim();
      if (name === 'content-type') ctype = value;
      else if (name === 'transfer-encoding') te = value.toLowerCase();
      else if (name === 'content-length') length = Number(value);
    }
    this.chunked = te.includes('chunked');
    if (this.status !== 200) {
      if (this.cfg.mode === 'stream') {
        this.fail(`HTTP ${this.status}`);
        return false;
      }
      noteError(`${this.lid}: HTTP ${this.status} on ${this.wantPart ? 'part' : 'playlist'}`);
    } else if (this.cfg.mode === 'stream' && !ctype.startsWith('audio/mp4')) {
      this.fail(`content-type ${ctype}`);
      return false;
    }
    if (this.chunked) this.state = S.ChunkSize;
    else if (length === 0) {
      this.state = S.Done;
      this.responseDone();
    } else {
      this.bodyLeft = length;
      this.state = S.Body;
    }
    return true;
  }

  /** Body bytes [from, to) of d. */
  body(d: Buffer, from: number, to: number, now: number): void {
    if (this.cfg.mode === 'llhls' && (!this.wantPart || this.status !== 200)) return; // playlist: skip
    let off = from;
    while (off < to) {
      if (this.boxLeft === 0 && this.moof === undefined) {
        // reading a box header
        const n = Math.min(8 - this.boxHdrLen, to - off);
        d.copy(this.boxHdr, this.boxHdrLen, off, off + n);
        this.boxHdrLen += n;
        off += n;
        if (this.boxHdrLen < 8) return;
        this.boxHdrLen = 0;
        const size = this.boxHdr.readUInt32BE(0);
        if (size < 8) return this.fail(`box of size ${size}`);
        if (this.boxHdr.readUInt32BE(4) === MOOF) {
          if (to - off >= size - 8) {
            // the whole moof is in this read (the usual case): parse it in place
            this.onMoof(d, off, off + size - 8, now);
            off += size - 8;
          } else {
            this.moof = Buffer.allocUnsafe(size - 8);
            this.moofLen = 0;
          }
        } else {
          this.boxLeft = size - 8;
        }
        continue;
      }
      if (this.moof !== undefined) {
        const n = Math.min(this.moof.length - this.moofLen, to - off);
        d.copy(this.moof, this.moofLen, off, off + n);
        this.moofLen += n;
        off += n;
        if (this.moofLen === this.moof.length) {
          const m = this.moof;
          this.moof = undefined;
          this.onMoof(m, 0, m.length, now);
        }
        continue;
      }
      const n = Math.min(this.boxLeft, to - off);
      this.boxLeft -= n;
      off += n;
    }
  }

  onMoof(m: Buffer, from: number, to: number, now: number): void {
    moofSeq = -1;
    moofTfdt = -1;
    walkMoof(m, from, to);
    this.onPart(moofSeq, moofTfdt, now);
  }

  onPart(seq: number, tfdt: number, now: number): void {
    if (this.firstPartAt === 0) this.firstPartAt = now;
    this.partsThisRead++;
    this.gotPartInResponse = true;
    const counting = windowStart > 0;
    if (counting) {
      this.parts++;
      const prev = Math.max(this.lastArrival, windowStart);
      if (now - prev > this.maxGap) {
        this.maxGap = now - prev;
        this.maxGapEnd = now;
      }
    }
    if (this.cfg.mode === 'stream') {
      if (this.lastSeq >= 0 && counting) {
        if (seq !== this.lastSeq + 1) {
          this.missing += Math.max(1, seq - this.lastSeq - 1);
          if (errors.length < 20) noteError(`${this.lid}: mfhd ${this.lastSeq} -> ${seq}`);
        } else if (tfdt !== this.lastTfdt + this.cfg.partTicks) this.tfdtBreaks++;
      }
      this.lastSeq = seq;
      this.lastTfdt = tfdt;
    }
    if (tfdt >= 0 && counting) {
      const wall = performance.timeOrigin + now;
      const a = partArrivals.get(tfdt);
      if (!a) partArrivals.set(tfdt, { first: wall, last: wall, n: 1 });
      else {
        if (wall < a.first) a.first = wall;
        if (wall > a.last) a.last = wall;
        a.n++;
      }
      const off = now - (tfdt / 48_000) * 1000;
      if (off < this.minOff) this.minOff = off;
      if (off > this.maxOff) this.maxOff = off;
    }
    this.lastArrival = now;
  }

  responseDone(): void {
    if (this.cfg.mode !== 'llhls' || this.dead) return;
    if (!this.wantPart) {
      // the playlist has the part: fetch it
      this.wantPart = this.status === 200;
      if (!this.wantPart) {
        setTimeout(() => !this.dead && !closing && this.request(), 200);
        return;
      }
      this.request();
      return;
    }
    if (!this.gotPartInResponse && windowStart > 0) this.missing++;
    this.wantPart = false;
    this.part++;
    if (this.part >= (this.cfg.partsPerSegment ?? 5)) {
      this.part = 0;
      this.msn++;
    }
    this.request();
  }

  fail(why: string): void {
    if (!closing) noteError(`${this.lid}: ${why}`);
    this.dead = true;
    this.state = S.Done;
    this.socket?.destroy();
  }

  resetWindow(): void {
    this.bytesAtMark = this.bytes;
    this.maxGap = 0;
    this.parts = 0;
    this.missing = 0;
    this.tfdtBreaks = 0;
    this.minOff = Infinity;
    this.maxOff = -Infinity;
  }
}

let closing = false;
const httpAgent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as StreamClientConfig;
  const listeners: Listener[] = [];
  let connected = 0;
  let failed = 0;
  const t0 = performance.now();
  const rampCpu0 = process.cpuUsage();
  loopDelay.reset();

  const progressTimer = setInterval(() => {
    send({
      type: 'progress',
      opened: listeners.length,
      connected,
      playing: listeners.filter((l) => l.firstPartAt > 0).length,
      failed,
      ms: Math.round(performance.now() - t0),
    });
  }, 1000);
  // ---- ramp: `rate` connections per second, in 10 ms ticks
  await new Promise<void>((resolve) => {
    const perTick = Math.max(1, Math.round(cfg.rate / 100));
    const timer = setInterval(() => {
      for (let k = 0; k < perTick && listeners.length < cfg.listeners; k++) {
        const i = listeners.length;
        const l = new Listener(cfg, `${cfg.tag}-${i.toString(36).padStart(6, '0')}`);
        listeners.push(l);
        l.open(
          cfg.sources[i % cfg.sources.length]!,
          () => connected++,
          (why) => {
            failed++;
            noteError(`connect ${l.lid}: ${why}`);
          },
        );
      }
      if (listeners.length >= cfg.listeners) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
  });
  // ---- until every live listener has its first part (or the timeout)
  const deadline = performance.now() + (cfg.rampTimeoutMs ?? 15_000);
  for (;;) {
    const waiting = listeners.filter((l) => !l.dead && l.firstPartAt === 0).length;
    if (waiting === 0 || performance.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  clearInterval(progressTimer);
  const firsts = listeners.filter((l) => l.firstPartAt > 0).map((l) => l.firstPartAt - l.connectedAt);
  send({
    type: 'ramped',
    connected,
    failed,
    playing: firsts.length,
    rampMs: Math.round(performance.now() - t0),
    clientCpu: Number(
      (
        (process.cpuUsage(rampCpu0).user + process.cpuUsage(rampCpu0).system) /
        1e3 /
        (performance.now() - t0)
      ).toFixed(3),
    ),
    clientLoopMaxMs: Math.round(loopDelay.max / 1e6),
    firstPartMs: { p50: Math.round(pct(firsts, 50)), p99: Math.round(pct(firsts, 99)) },
    errors: errors.splice(0),
  });

  let cpu0 = process.cpuUsage();
  const report = (batchGapMs: number): StreamReport => {
    const now = performance.now();
    const windowS = (now - windowStart) / 1000;
    const cpu = process.cpuUsage(cpu0);
    let dead = 0;
    let withGap = 0;
    let withBatchGap = 0;
    let missing = 0;
    let tfdtBreaks = 0;
    let bytes = 0;
    let windowBytes = 0;
    let playing = 0;
    const gaps: number[] = [];
    const gapEnds: number[] = [];
    const parts: number[] = [];
    const jitter: number[] = [];
    for (const l of listeners) {
      // a trailing silence up to now counts as a gap
      const trailing = now - Math.max(l.lastArrival, windowStart);
      const gap = Math.max(l.maxGap, trailing);
      gaps.push(gap);
      gapEnds.push(((gap > l.maxGap ? now : l.maxGapEnd) - windowStart) / 1000);
      parts.push(l.parts);
      if (l.parts > 0) playing++;
      if (l.maxOff >= l.minOff) jitter.push(l.maxOff - l.minOff);
      if (l.dead) dead++;
      windowBytes += l.bytes - l.bytesAtMark;
      if (l.dead || gap > cfg.gapMs || l.missing > 0) withGap++;
      if (l.dead || gap > batchGapMs || l.missing > 0) withBatchGap++;
      missing += l.missing;
      tfdtBreaks += l.tfdtBreaks;
      bytes += l.bytes;
    }
    const r = (x: number) => Math.round(x);
    return {
      type: 'report',
      listeners: listeners.length,
      connected,
      dead,
      playing,
      windowS: Number(windowS.toFixed(2)),
      withGap,
      gapShare: Number((withGap / Math.max(1, listeners.length)).toFixed(4)),
      batchGapMs,
      batchGapShare: Number((withBatchGap / Math.max(1, listeners.length)).toFixed(4)),
      maxGapMs: { p50: r(pct(gaps, 50)), p99: r(pct(gaps, 99)), max: r(Math.max(...gaps)) },
      maxGapEndS: {
        p1: Number(pct(gapEnds, 1).toFixed(2)),
        p50: Number(pct(gapEnds, 50).toFixed(2)),
        p99: Number(pct(gapEnds, 99).toFixed(2)),
      },
      partsPerListener: { min: Math.min(...parts), p50: pct(parts, 50), max: Math.max(...parts) },
      missingParts: missing,
      tfdtBreaks,
      jitterMs: { p50: r(pct(jitter, 50)), p99: r(pct(jitter, 99)), max: r(Math.max(...jitter, 0)) },
      partsPerRead: Number((partsInReads / Math.max(1, readsWithParts)).toFixed(2)),
      bytes,
      windowBytes,
      clientLoopDelayMs: { p99: r(loopDelay.percentile(99) / 1e6), max: r(loopDelay.max / 1e6) },
      clientCpu: Number(((cpu.user + cpu.system) / 1e6 / windowS).toFixed(3)),
      parts: [...partArrivals].map(([tfdt, a]) => ({
        tfdt,
        first: Math.round(a.first),
        last: Math.round(a.last),
        n: a.n,
      })),
      errors: errors.splice(0),
    };
  };

  process.stdin.setEncoding('utf8');
  let buf = '';
  process.stdin.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const cmd = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (cmd === 'mark') {
        for (const l of listeners) l.resetWindow();
        windowStart = performance.now();
        cpu0 = process.cpuUsage();
        loopDelay.reset();
        partArrivals.clear();
        readsWithParts = 0;
        partsInReads = 0;
        send({ type: 'marked' });
      } else if (cmd.startsWith('report')) {
        const t = Number(cmd.split(' ')[1]);
        send(report(Number.isFinite(t) && t > 0 ? t : cfg.gapMs));
      } else if (cmd === 'close') {
        closing = true;
        for (const l of listeners) l.socket?.destroy();
        send({ type: 'closed' });
      }
    }
  });
  process.stdin.on('end', () => {
    closing = true;
    for (const l of listeners) l.socket?.destroy();
    process.exit(0);
  });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: String(err) });
  process.exit(1);
});
