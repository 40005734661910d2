/**
 * The listener hot path's own HTTP/1.1 connection handling, in front of Node's `http.Server`.
 *
 * Measured on this project's machine, Node's http layer (IncomingMessage, ServerResponse, header
 * validation, 'finish'/'close' bookkeeping) costs about 60% more CPU per cached answer than nginx;
 * the same answer written as one prebuilt buffer to the socket costs less than nginx does. So the
 * server's 'connection' listener is replaced: a connection starts here, and each request head is
 * read with a small, strict parser. `GET`/`HEAD` under `/hls/` are answered by the edge's hot path
 * through RawResponse (the subset of ServerResponse it uses). Anything else — another method or
 * path, a body, an upgrade, an odd or oversized head — hands the connection, with the bytes read so
 * far, to Node's own connection listener, which owns it from then on (fastify's routes, Node's own
 * errors and limits). Requests on one connection are answered in order, one at a time.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface RawRequestHead {
  method: 'GET' | 'HEAD';
  url: string;
  /** Lower-cased names; the first value of a repeated header. */
  headers: Record<string, string>;
  keepAlive: boolean;
}

/** Most header lines a raw request may have (more: handed to Node). */
const MAX_HEADERS = 64;
/** A head longer than this is handed to Node (which answers 431 past its own limit). */
export const MAX_HEAD_BYTES = 16 * 1024;
const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const VALUE_RE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Parses `buf[0, end)` (the head, without its final CRLFCRLF). Null when the request is not one the
 * raw path takes: then Node's parser sees the very same bytes and decides.
 */
export function parseRequestHead(buf: Buffer, end: number, prefix = '/hls/'): RawRequestHead | null {
  const text = buf.toString('latin1', 0, end);
  const lines = text.split('\r\n');
  const first = lines[0]!;
  const sp1 = first.indexOf(' ');
  const sp2 = first.lastIndexOf(' ');
  if (sp1 <= 0 || sp2 <= sp1) return null;
  const method = first.slice(0, sp1);
  if (method !== 'GET' && method !== 'HEAD') return null;
  const url = first.slice(sp1 + 1, sp2);
  if (!url.startsWith(prefix) || url.includes(' ')) return null;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f-\xff]/.test(url)) return null;
  const version = first.slice(sp2 + 1);
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return null;
  if (lines.length - 1 > MAX_HEADERS) return null;
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon);
    if (!TOKEN_RE.test(name)) return null;
    const value = line.slice(colon + 1).trim();
    if (!VALUE_RE.test(value)) return null;
    const key = name.toLowerCase();
    // Bodies, upgrades and expectations are Node's business.
    if (key === 'transfer-encoding' || key === 'upgrade' || key === 'expect') return null;
    if (key === 'content-length' && value !== '0') return null;
    if (!(key in headers)) headers[key] = value;
  }
  const conn = headers.connection?.toLowerCase();
  const keepAlive = version === 'HTTP/1.1' ? conn !== 'close' : conn === 'keep-alive';
  return { method, url, headers, keepAlive };
}

const REASONS: Record<number, string> = {
  200: 'OK',
  204: 'No Content',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

let dateLine = '';
let dateSec = 0;
/** `date: …\r\n`, rebuilt once a second (as Node and nginx do). */
function dateHeader(): string {
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  if (sec !== dateSec) {
    dateSec = sec;
    dateLine = `date: ${new Date(sec * 1000).toUTCString()}\r\n`;
  }
  return dateLine;
}

/** The part of IncomingMessage the hot path reads. */
export interface RawRequest {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
  socket: Socket;
}

type CloseListener = () => void;

/** The part of ServerResponse the hot path uses, writing straight to the socket. */
export class RawResponse {
  headersSent = false;
  writableEnded = false;
  private status = 200;
  private headers: readonly string[] = [];
  private chunked = false;
  private readonly closeListeners = new Set<CloseListener>();

  constructor(
    readonly socket: Socket,
    private readonly isHead: boolean,
    readonly keepAlive: boolean,
    private readonly onDone: (res: RawResponse) => void,
  ) {}

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  get statusCode(): number {
    return this.status;
  }

  writeHead(status: number, headers: readonly string[]): this {
    this.status = status;
    this.headers = headers;
    return this;
  }

  /** Sends the head of a streamed (chunked) response now. */
  flushHeaders(): void {
    if (this.headersSent) return;
    this.chunked = true;
    this.socket.write(this.head('transfer-encoding: chunked\r\n'), 'latin1');
  }

  end(body?: Buffer): void {
    if (this.writableEnded) return;
    this.writableEnded = true;
    if (this.chunked) {
      if (!this.isHead && !this.socket.destroyed) this.socket.write('0\r\n\r\n', 'latin1');
    } else {
      let hasLength = false;
      for (let i = 0; i < this.headers.length; i += 2)
        if (this.headers[i] === 'content-length') hasLength = true;
      const extra = hasLength ? '' : `content-length: ${body?.length ?? 0}\r\n`;
      const head = this.head(extra);
      if (body && body.length > 0 && !this.isHead) {
        // One write of head + body: one syscall, as a cached answer should cost.
        const out = Buffer.allocUnsafe(Buffer.byteLength(head, 'latin1') + body.length);
        const n = out.write(head, 0, 'latin1');
        body.copy(out, n);
        this.socket.write(out);
      } else this.socket.write(head, 'latin1');
    }
    this.emitClose();
    this.onDone(this);
  }

  /** The clock second the `date` header of an answer built now would carry. */
  dateSecond(): number {
    dateHeader();
    return dateSec;
  }

  /** The head this response would send for `status` and `headers` (keep-alive), as bytes. */
  headFor(status: number, headers: readonly string[]): Buffer {
    this.status = status;
    this.headers = headers;
    const h = Buffer.from(this.head(''), 'latin1');
    this.headersSent = false;
    return h;
  }

  /** Sends a complete prebuilt answer (head and body; only the head for HEAD). */
  sendPrebuilt(bytes: Buffer, headLength: number): void {
    if (this.writableEnded) return;
    this.headersSent = true;
    this.writableEnded = true;
    this.socket.write(this.isHead ? bytes.subarray(0, headLength) : bytes);
    this.emitClose();
    this.onDone(this);
  }

  destroy(): void {
    this.socket.destroy();
  }

  once(event: 'close', fn: CloseListener): this {
    if (event === 'close') this.closeListeners.add(fn);
    return this;
  }

  removeListener(event: 'close', fn: CloseListener): this {
    if (event === 'close') this.closeListeners.delete(fn);
    return this;
  }

  /** The response is over: finished, or its connection closed. */
  emitClose(): void {
    const fns = [...this.closeListeners];
    this.closeListeners.clear();
    for (const fn of fns) fn();
  }

  private head(extra: string): string {
    this.headersSent = true;
    let h = `HTTP/1.1 ${this.status} ${REASONS[this.status] ?? 'Status'}\r\n`;
    for (let i = 0; i < this.headers.length; i += 2) h += `${this.headers[i]}: ${this.headers[i + 1]}\r\n`;
    return `${h}${extra}${dateHeader()}${this.keepAlive ? 'connection: keep-alive\r\n' : 'connection: close\r\n'}\r\n`;
  }
}

export interface RawFrontOptions {
  /** Answers one raw request (always, for what parseRequestHead accepted). */
  handle(req: RawRequest, res: RawResponse): void;
  /** A partial head older than this gets 408 (slowloris). */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** The 408 answer (Tribune's error shape). */
  timeoutResponse: () => Buffer;
  /**
   * Asked first for every new connection (a per-address cap): false = answer `refusal()` and
   * close, before reading anything.
   */
  accept?: (socket: Socket) => boolean;
  refusal?: () => Buffer;
}

/**
 * Puts the raw front in front of `server`'s own connection listener. Connections the front still
 * holds are destroyed by `server.closeAllConnections()` / `closeIdleConnections()` too.
 */
export function installRawFront(server: Server, opts: RawFrontOptions): void {
  const nodeListeners = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  const toNode = (socket: Socket): void => {
    for (const l of nodeListeners) l.call(server, socket);
  };
  const held = new Set<Socket>();
  const closeAll = server.closeAllConnections.bind(server);
  const closeIdle = server.closeIdleConnections.bind(server);
  server.closeAllConnections = () => {
    closeAll();
    for (const s of held) s.destroy();
  };
  server.closeIdleConnections = () => {
    closeIdle();
    for (const s of held) s.destroy();
  };

  server.on('connection', (socket: Socket) => {
    if (opts.accept && !opts.accept(socket)) {
      socket.on('error', () => undefined);
      const refusal = opts.refusal?.();
      if (refusal) socket.end(refusal);
      else socket.destroy();
      return;
    }
    held.add(socket);
    socket.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    let current: RawResponse | null = null;
    let released = false;

    let timeout = -1;
    const setTimeoutTo = (ms: number): void => {
      if (ms === timeout) return; // re-arming a socket timer per request is measurable on the hot path
      timeout = ms;
      socket.setTimeout(ms);
    };
    const idle = (): void => {
      // No response pending: a partial head must complete soon; an empty connection may idle longer.
      setTimeoutTo(buf.length > 0 ? opts.headersTimeoutMs : opts.keepAliveTimeoutMs);
    };
    const release = (): void => {
      // Hand the connection and what it sent so far to Node, for good.
      released = true;
      held.delete(socket);
      socket.removeListener('data', onData);
      socket.removeListener('timeout', onTimeout);
      socket.removeListener('close', onClose);
      socket.removeListener('end', onEnd);
      setTimeoutTo(0);
      if (buf.length > 0) socket.unshift(buf);
      toNode(socket);
    };
    const done = (res: RawResponse): void => {
      if (res !== current) return;
      current = null;
      if (!res.keepAlive) {
        socket.end();
        return;
      }
      if (buf.length > 0) setImmediate(next);
      else idle();
    };
    const next = (): void => {
      while (!released && current === null && buf.length > 0 && !socket.destroyed) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) {
          if (buf.length > MAX_HEAD_BYTES) return release();
          return idle();
        }
        const head = end <= MAX_HEAD_BYTES ? parseRequestHead(buf, end) : null;
        if (!head) return release();
        buf = buf.subarray(end + 4);
        const res = new RawResponse(socket, head.method === 'HEAD', head.keepAlive, done);
        current = res;
        opts.handle({ method: head.method, url: head.url, headers: head.headers, socket }, res);
        if (current === res) setTimeoutTo(0); // an answer in progress (a load, a stream): no idle timer
      }
      if (!released && current === null && buf.length === 0) idle();
    };
    const onData = (d: Buffer): void => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      if (current !== null) {
        // A client piling requests behind a pending (e.g. streaming) answer: bounded.
        if (buf.length > MAX_HEAD_BYTES) socket.destroy();
        return;
      }
      next();
    };
    const onTimeout = (): void => {
      if (current === null && buf.length > 0) socket.end(opts.timeoutResponse());
      else socket.destroy();
    };
    const onClose = (): void => {
      held.delete(socket);
      current?.emitClose();
    };
    // The client half-closed: as Node's own server does (httpAllowHalfOpen false), a pending
    // answer is abandoned (its loads are left) and the connection closes.
    const onEnd = (): void => {
      if (released) return;
      const pending = current;
      current = null;
      pending?.emitClose();
      socket.end();
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('timeout', onTimeout);
    socket.on('close', onClose);
    socket.on('error', () => undefined);
    idle();
  });
}
