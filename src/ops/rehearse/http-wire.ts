/**
 * HTTP/1.1 on raw sockets for the rehearsal's many simulated listeners: connecting (plain or TLS,
 * from a chosen source address) and an incremental response parser (status line, headers, then a
 * body framed by Content-Length, chunked encoding or the end of the connection). Lighter than
 * node:http by a factor of two to three per listener (measured by bench:edge's stream client), which
 * is what lets one process hold thousands of streams and poll for thousands more.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface Target {
  host: string;
  port: number;
  tls: boolean;
  /** `host:port` for the Host header */
  authority: string;
}

export function parseTarget(url: string): Target {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`target must be http(s): ${url}`);
  const isTls = u.protocol === 'https:';
  const port = Number(u.port || (isTls ? 443 : 80));
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return { host, port, tls: isTls, authority: u.host };
}

/** True for targets on this machine's loopback (where several source addresses spread ports). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || /^127\./.test(host) || host === '::1';
}

/** Source addresses to spread connections over: 127.0.0.2.. for a loopback target, else none. */
export function sourceAddresses(target: Target, count: number): (string | undefined)[] {
  if (!isLoopback(target.host) || target.host === '::1' || count <= 0) return [undefined];
  return Array.from({ length: Math.min(250, count) }, (_, i) => `127.0.0.${i + 2}`);
}

export function dial(target: Target, localAddress: string | undefined): net.Socket {
  const raw = net.connect({ host: target.host, port: target.port, localAddress });
  raw.setNoDelay(true);
  if (!target.tls) return raw;
  const servername = net.isIP(target.host) ? undefined : target.host;
  return tls.connect({ socket: raw, servername });
}

/** The event that says a socket is ready to write a request. */
export const readyEvent = (target: Target): string => (target.tls ? 'secureConnect' : 'connect');

export function requestHead(
  target: Target,
  method: string,
  path: string,
  headers: Record<string, string>,
  bodyLength?: number,
): string {
  let h = `${method} ${path} HTTP/1.1\r\nHost: ${target.authority}\r\nUser-Agent: tribune-rehearse\r\n`;
  for (const [k, v] of Object.entries(headers)) h += `${k}: ${v}\r\n`;
  if (bodyLength !== undefined) h += `Content-Length: ${bodyLength}\r\n`;
  return h + '\r\n';
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_HEADER_BYTES = 16 * 1024;

const enum St {
  Headers,
  ChunkSize,
  ChunkData,
  ChunkCrlf,
  Trailers,
  Body,
  Done,
}

export interface ResponseHandlers {
  /** Status and lower-cased headers. */
  head(status: number, headers: Map<string, string>): void;
  /** Body bytes d[from, to). */
  body(d: Buffer, from: number, to: number): void;
  /** The response is complete (keep-alive: the connection may carry the next one). */
  end(): void;
  error(why: string): void;
}

/**
 * One response at a time (call `reset()` before the next). `untilClose` bodies (no length, not
 * chunked) end when the caller reports the connection's end with `closed()`.
 */
export class ResponseParser {
  private st: St = St.Headers;
  private headBuf: Buffer | undefined;
  private chunkLeft = 0;
  private sizeAcc = 0;
  private sizeExt = false;
  private bodyLeft = -1;
  keepAlive = true;
  status = 0;

  constructor(private readonly h: ResponseHandlers) {}

  reset(): void {
    this.st = St.Headers;
    this.headBuf = undefined;
    this.sizeAcc = 0;
    this.sizeExt = false;
  }

  get done(): boolean {
    return this.st === St.Done;
  }

  /** The connection ended: completes an until-close body, else an error if mid-response. */
  closed(): void {
    if (this.st === St.Body && this.bodyLeft < 0) {
      this.st = St.Done;
      this.h.end();
    } else if (this.st !== St.Done && this.st !== St.Headers) {
      this.st = St.Done;
      this.h.error('connection closed mid-response');
    } else if (this.st === St.Headers && this.headBuf) {
      this.st = St.Done;
      this.h.error('connection closed mid-headers');
    }
  }

  push(d: Buffer): void {
    let off = 0;
    while (off < d.length && this.st !== St.Done) {
      switch (this.st) {
        case St.Headers: {
          const buf = this.headBuf ? Buffer.concat([this.headBuf, d.subarray(off)]) : d.subarray(off);
          const end = buf.indexOf(CRLFCRLF);
          if (end < 0) {
            if (buf.length > MAX_HEADER_BYTES) return this.fail('response headers too long');
            this.headBuf = Buffer.from(buf);
            off = d.length;
            break;
          }
          const before = this.headBuf ? this.headBuf.length : 0;
          this.headBuf = undefined;
          off += end + 4 - before;
          if (!this.onHead(buf.subarray(0, end).toString('latin1'))) return;
          break;
        }
        case St.ChunkSize: {
          let complete = false;
          while (off < d.length) {
            const c = d[off++];
            if (c === 10) {
              complete = true;
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
          if (!complete) break;
          const size = this.sizeAcc;
          this.sizeAcc = 0;
          this.sizeExt = false;
          if (size === 0) this.st = St.Trailers;
          else {
            this.chunkLeft = size;
            this.st = St.ChunkData;
          }
          break;
        }
        case St.ChunkData: {
          const n = Math.min(this.chunkLeft, d.length - off);
          this.h.body(d, off, off + n);
          off += n;
          this.chunkLeft -= n;
          if (this.chunkLeft === 0) this.st = St.ChunkCrlf;
          break;
        }
        case St.ChunkCrlf: {
          const nl = d.indexOf(10, off);
          if (nl < 0) off = d.length;
          else {
            off = nl + 1;
            this.st = St.ChunkSize;
          }
          break;
        }
        case St.Trailers: {
          // no trailers expected: the empty line after the last chunk
          const nl = d.indexOf(10, off);
          if (nl < 0) off = d.length;
          else {
            off = nl + 1;
            this.st = St.Done;
            this.h.end();
          }
          break;
        }
        case St.Body: {
          const n = this.bodyLeft < 0 ? d.length - off : Math.min(this.bodyLeft, d.length - off);
          this.h.body(d, off, off + n);
          off += n;
          if (this.bodyLeft >= 0) {
            this.bodyLeft -= n;
            if (this.bodyLeft === 0) {
              this.st = St.Done;
              this.h.end();
            }
          }
          break;
        }
        default:
          off = d.length;
      }
    }
  }

  private fail(why: string): void {
    this.st = St.Done;
    this.h.error(why);
  }

  private onHead(text: string): boolean {
    const lines = text.split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    if (!(status >= 100 && status < 600)) {
      this.fail(`bad status line: ${lines[0].slice(0, 60)}`);
      return false;
    }
    const headers = new Map<string, string>();
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i];
      const colon = l.indexOf(':');
      if (colon <= 0) continue;
      headers.set(l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim());
    }
    this.status = status;
    this.keepAlive = (headers.get('connection') ?? '').toLowerCase() !== 'close';
    this.h.head(status, headers);
    if (this.st === St.Done) return false; // the handler gave up
    const te = (headers.get('transfer-encoding') ?? '').toLowerCase();
    const cl = headers.get('content-length');
    if (te.includes('chunked')) this.st = St.ChunkSize;
    else if (cl !== undefined) {
      this.bodyLeft = Number(cl);
      if (!(this.bodyLeft >= 0)) {
        this.fail('bad content-length');
        return false;
      }
      if (this.bodyLeft === 0) {
        this.st = St.Done;
        this.h.end();
      } else this.st = St.Body;
    } else if (status === 204 || status === 304) {
      this.st = St.Done;
      this.h.end();
    } else {
      this.bodyLeft = -1;
      this.keepAlive = false;
      this.st = St.Body;
    }
    return true;
  }

  /** Stop parsing this response (the handler refuses it). */
  abort(): void {
    this.st = St.Done;
  }
}
