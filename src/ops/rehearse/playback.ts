/**
 * What an admitted listener's player does, checking that every part arrives:
 * - `stream`: one long `GET …/stream.mp4?lid=L&admission=A` on its own socket (HTTP/1.1 chunked:
 *   the init segment, then one moof+mdat per 200 ms part); mfhd must go +1 and tfdt +partTicks.
 * - `llhls`: on one keep-alive socket, the playlist (to find the next part), then per part a
 *   blocking reload `audio.m3u8?_HLS_msn=M&_HLS_part=P` and `part/M.P.m4s`; each asked-for part
 *   must come back with a moof.
 * Both record when the first part arrived and the largest gap between two arrivals.
 */
import type net from 'node:net';
import { HttpPool } from './http-pool.js';
import { dial, readyEvent, requestHead, ResponseParser, type Target } from './http-wire.js';
import { Mp4PartScanner, readMoof } from './mp4-parts.js';

export interface PlaybackOptions {
  target: Target;
  localAddress: string | undefined;
  /** e.g. /hls/spaces/ID */
  prefix: string;
  lid: string;
  /** current admission token (read at every request: renewals replace it) */
  admission: () => string | undefined;
  headers: Record<string, string>;
  partTicks: number;
  stalls?: StallOverlap;
  onFirstPart(): void;
  /** the playback failed or was cut (code: HTTP status or a short reason) */
  onFail(code: string, detail: string): void;
}

/** Client stalls (this process not running) overlapping [from, to], ms. */
export type StallOverlap = (from: number, to: number) => number;

/**
 * Per-listener media statistics, shared by both modes. The largest gap is kept raw and net of this
 * process's own stalls (a descheduled or busy load generator sees parts late that the edge sent on
 * time), so a report can tell the edge's gaps from the machine's.
 */
export class PartStats {
  firstAt = 0;
  lastAt = 0;
  maxGapMs = 0;
  maxNetGapMs = 0;
  parts = 0;
  missing = 0;
  tfdtBreaks = 0;
  private lastSeq = -1;
  private lastTfdt = -1;

  constructor(
    private readonly partTicks: number,
    private readonly stalls: StallOverlap = () => 0,
  ) {}

  /** One part arrived (stream: sequence-checked; llhls: seq = -1). Returns true for the first. */
  arrived(seq: number, tfdt: number, now: number): boolean {
    const first = this.firstAt === 0;
    if (first) this.firstAt = now;
    else this.gap(this.lastAt, now);
    this.lastAt = now;
    this.parts++;
    if (seq >= 0 && this.lastSeq >= 0) {
      if (seq !== this.lastSeq + 1) this.missing += Math.max(1, seq - this.lastSeq - 1);
      else if (tfdt >= 0 && this.lastTfdt >= 0 && tfdt !== this.lastTfdt + this.partTicks) this.tfdtBreaks++;
    }
    if (seq >= 0) this.lastSeq = seq;
    if (tfdt >= 0) this.lastTfdt = tfdt;
    return first;
  }

  private gap(from: number, to: number): void {
    const g = to - from;
    if (g > this.maxGapMs) this.maxGapMs = g;
    if (g > this.maxNetGapMs) this.maxNetGapMs = Math.max(this.maxNetGapMs, g - this.stalls(from, to));
  }

  /** Largest gap including the silence since the last part, as of `now`: raw and net of client stalls. */
  gapAsOf(now: number): { raw: number; net: number } {
    if (this.firstAt === 0) return { raw: 0, net: 0 };
    const trailing = now - this.lastAt;
    return {
      raw: Math.max(this.maxGapMs, trailing),
      net: Math.max(this.maxNetGapMs, trailing - this.stalls(this.lastAt, now)),
    };
  }
}

export interface Playback {
  readonly stats: PartStats;
  readonly dead: boolean;
  close(): void;
}

export function startPlayback(mode: 'stream' | 'llhls', o: PlaybackOptions): Playback {
  return mode === 'stream' ? new StreamPlayback(o) : new LlhlsPlayback(o);
}

class StreamPlayback implements Playback {
  readonly stats: PartStats;
  dead = false;
  private closing = false;
  private socket: net.Socket;
  private parser: ResponseParser;
  private scanner: Mp4PartScanner;

  constructor(private readonly o: PlaybackOptions) {
    this.stats = new PartStats(o.partTicks, o.stalls);
    this.scanner = new Mp4PartScanner(
      (seq, tfdt) => {
        if (this.stats.arrived(seq, tfdt, Date.now())) o.onFirstPart();
      },
      (why) => this.fail('BAD_MEDIA', why),
    );
    let status = 0;
    let body = '';
    this.parser = new ResponseParser({
      head: (s, headers) => {
        status = s;
        const ctype = headers.get('content-type') ?? '';
        if (s === 200 && !ctype.startsWith('audio/mp4')) {
          this.fail('BAD_CONTENT_TYPE', ctype);
          this.parser.abort();
        }
      },
      body: (d, from, to) => {
        if (status === 200) this.scanner.push(d, from, to);
        else if (body.length < 400) body += d.subarray(from, to).toString('utf8');
      },
      end: () => {
        if (status !== 200) this.fail(errorCode(status, body), `HTTP ${status} ${body.slice(0, 200)}`);
        else this.fail('STREAM_ENDED', 'the edge ended the stream');
      },
      error: (why) => this.fail('STREAM_BROKEN', why),
    });
    const q = new URLSearchParams({ lid: o.lid });
    const a = o.admission();
    if (a) q.set('admission', a);
    this.socket = dial(o.target, o.localAddress);
    this.socket.once(readyEvent(o.target), () => {
      this.socket.write(requestHead(o.target, 'GET', `${o.prefix}/stream.mp4?${q}`, o.headers));
    });
    this.socket.on('data', (d: Buffer) => this.parser.push(d));
    this.socket.on('error', (err: NodeJS.ErrnoException) =>
      this.fail('CONNECT_FAILED', err.code ?? err.message),
    );
    this.socket.on('close', () => {
      this.parser.closed();
      this.fail('STREAM_CLOSED', 'connection closed by the edge');
    });
  }

  private fail(code: string, detail: string): void {
    if (this.dead) return;
    this.dead = true;
    this.socket.destroy();
    if (!this.closing) this.o.onFail(code, detail);
  }

  close(): void {
    this.closing = true;
    this.dead = true;
    this.socket.destroy();
  }
}

class LlhlsPlayback implements Playback {
  readonly stats: PartStats;
  dead = false;
  private closing = false;
  private pool: HttpPool;
  private msn = -1;
  private part = 0;
  private pps = 5;

  constructor(private readonly o: PlaybackOptions) {
    this.stats = new PartStats(o.partTicks, o.stalls);
    this.pool = new HttpPool({
      target: o.target,
      localAddress: o.localAddress,
      size: 1,
      headers: o.headers,
      timeoutMs: 15_000,
    });
    this.loop().catch((err: unknown) => this.fail('STREAM_BROKEN', String(err)));
  }

  private hdrs(): Record<string, string> {
    const a = this.o.admission();
    return a ? { 'x-tribune-admission': a } : {};
  }

  private async loop(): Promise<void> {
    const p = this.o.prefix;
    const first = await this.pool.get(`${p}/audio.m3u8?lid=${this.o.lid}`, { headers: this.hdrs() });
    if (first.status !== 200) return this.refused(first.status, first.body);
    const pl = parsePlaylist(first.body.toString('utf8'));
    if (pl.hint[0] < 0) return this.fail('BAD_PLAYLIST', 'no preload hint in the playlist');
    [this.msn, this.part] = pl.hint;
    this.pps = pl.partsPerSegment;
    while (!this.dead) {
      const r = await this.pool.get(
        `${p}/audio.m3u8?_HLS_msn=${this.msn}&_HLS_part=${this.part}&lid=${this.o.lid}`,
        { headers: this.hdrs() },
      );
      if (this.dead) return;
      if (r.status !== 200) return this.refused(r.status, r.body);
      const part = await this.pool.get(`${p}/part/${this.msn}.${this.part}.m4s`, { headers: this.hdrs() });
      if (this.dead) return;
      if (part.status !== 200) return this.refused(part.status, part.body);
      const i = part.body.indexOf('moof', 0, 'latin1');
      if (i < 4) {
        this.stats.missing++;
      } else {
        const { tfdt } = readMoof(part.body, i + 4, part.body.length);
        if (this.stats.arrived(-1, tfdt, part.doneAt)) this.o.onFirstPart();
      }
      if (++this.part >= this.pps) {
        this.part = 0;
        this.msn++;
      }
    }
  }

  private refused(status: number, body: Buffer): void {
    const text = body.toString('utf8').slice(0, 300);
    this.fail(errorCode(status, text), `HTTP ${status} ${text}`);
  }

  private fail(code: string, detail: string): void {
    if (this.dead) return;
    this.dead = true;
    this.pool.close();
    if (!this.closing) this.o.onFail(code, detail);
  }

  close(): void {
    this.closing = true;
    this.dead = true;
    this.pool.close();
  }
}

/** `error.code` of a Tribune error body, else `HTTP_<status>`. */
export function errorCode(status: number, body: string): string {
  try {
    const j = JSON.parse(body) as { error?: { code?: unknown } };
    if (typeof j.error?.code === 'string') return j.error.code;
  } catch {
    // not JSON
  }
  return `HTTP_${status}`;
}

export interface PlaylistInfo {
  lastPart: [number, number];
  /** the preload-hinted part (next to come) */
  hint: [number, number];
  partsPerSegment: number;
}

export function parsePlaylist(text: string): PlaylistInfo {
  const parts = [...text.matchAll(/#EXT-X-PART:[^\n]*URI="part\/(\d+)\.(\d+)\.m4s"/g)].map(
    (m) => [Number(m[1]), Number(m[2])] as [number, number],
  );
  const hintM = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part\/(\d+)\.(\d+)\.m4s"/.exec(text);
  const perSeg = new Map<number, number>();
  for (const [msn, p] of parts) perSeg.set(msn, Math.max(perSeg.get(msn) ?? 0, p + 1));
  let pps = 0;
  const segs = [...text.matchAll(/^seg\/(\d+)\.m4s$/gm)].map((m) => Number(m[1]));
  for (const s of segs) pps = Math.max(pps, perSeg.get(s) ?? 0);
  return {
    lastPart: parts.at(-1) ?? [-1, -1],
    hint: hintM ? [Number(hintM[1]), Number(hintM[2])] : [-1, -1],
    partsPerSegment: pps || 5,
  };
}
