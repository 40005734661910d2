/**
 * A Node stream-mode listener: `GET /hls/spaces/:id/stream.mp4` on an edge, reading the CMAF init
 * segment and then every moof+mdat fragment as it arrives (HTTP chunk boundaries do not matter:
 * boxes are reassembled). Records each fragment's sequence number, decode time and arrival time,
 * and keeps the raw bytes so a test can decode them with ffmpeg.
 */
import http from 'node:http';
import { parseFragments } from './fmp4.js';

export interface StreamFragment {
  sequenceNumber: number;
  baseMediaDecodeTime: number;
  samples: number;
  arrivedAt: number;
}

export interface StreamClientOptions {
  url: string;
  localAddress?: string;
  headers?: Record<string, string>;
  /** Keep the raw bytes (default true). */
  keepBytes?: boolean;
}

export class StreamClient {
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  init: Buffer | undefined;
  readonly fragments: StreamFragment[] = [];
  readonly chunks: Buffer[] = [];
  /** Resolves with the status once the response head arrived. */
  readonly started: Promise<number>;
  /** Resolves when the response ends (normally or cut): `ended` true for a clean last chunk. */
  readonly done: Promise<{ ended: boolean; error?: Error }>;
  errorBody = '';
  private pending: Buffer = Buffer.alloc(0);
  private req: http.ClientRequest;

  constructor(opts: StreamClientOptions) {
    let resolveStarted!: (s: number) => void;
    let rejectStarted!: (e: Error) => void;
    this.started = new Promise((res, rej) => {
      resolveStarted = res;
      rejectStarted = rej;
    });
    let finish!: (r: { ended: boolean; error?: Error }) => void;
    this.done = new Promise((res) => (finish = res));
    this.req = http.get(opts.url, { agent: false, localAddress: opts.localAddress, headers: opts.headers });
    this.req.on('error', (err) => {
      rejectStarted(err);
      finish({ ended: false, error: err });
    });
    this.req.on('response', (res) => {
      this.status = res.statusCode ?? 0;
      this.headers = res.headers;
      resolveStarted(this.status);
      if (this.status !== 200) {
        res.setEncoding('utf8');
        res.on('data', (d: string) => (this.errorBody += d));
        res.on('end', () => finish({ ended: true }));
        return;
      }
      res.on('data', (d: Buffer) => {
        if (opts.keepBytes ?? true) this.chunks.push(d);
        this.feed(d);
      });
      res.on('end', () => finish({ ended: true }));
      res.on('aborted', () => finish({ ended: false, error: new Error('aborted') }));
      res.on('error', (err) => finish({ ended: false, error: err }));
      res.on('close', () => finish({ ended: res.complete }));
    });
  }

  /** Everything received, init included (a valid fragmented MP4 file). */
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Largest gap between consecutive fragment arrivals, ms. */
  maxGapMs(): number {
    let max = 0;
    for (let i = 1; i < this.fragments.length; i++)
      max = Math.max(max, this.fragments[i]!.arrivedAt - this.fragments[i - 1]!.arrivedAt);
    return max;
  }

  /** Fragments missing between the first and the last received (by sequence number). */
  missing(): number {
    let missing = 0;
    for (let i = 1; i < this.fragments.length; i++)
      missing += Math.max(0, this.fragments[i]!.sequenceNumber - this.fragments[i - 1]!.sequenceNumber - 1);
    return missing;
  }

  close(): void {
    this.req.destroy();
  }

  private feed(d: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, d]) : d;
    let off = 0;
    const now = performance.now();
    while (this.pending.length - off >= 8) {
      const size = this.pending.readUInt32BE(off);
      const type = this.pending.toString('latin1', off + 4, off + 8);
      if (size < 8) throw new Error(`stream: bad box size ${size}`);
      if (type === 'moof') {
        // A fragment is moof + the mdat after it.
        if (this.pending.length - off < size + 8) break;
        const mdatSize = this.pending.readUInt32BE(off + size);
        if (this.pending.length - off < size + mdatSize) break;
        const frag = this.pending.subarray(off, off + size + mdatSize);
        for (const f of parseFragments(frag))
          this.fragments.push({
            sequenceNumber: f.sequenceNumber,
            baseMediaDecodeTime: f.baseMediaDecodeTime,
            samples: f.samples.length,
            arrivedAt: now,
          });
        off += size + mdatSize;
        continue;
      }
      if (this.pending.length - off < size) break;
      if (type === 'moov') this.init = Buffer.from(this.pending.subarray(0, off + size));
      off += size;
    }
    this.pending = off === this.pending.length ? Buffer.alloc(0) : Buffer.from(this.pending.subarray(off));
  }
}
