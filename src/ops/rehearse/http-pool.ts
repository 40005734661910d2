/**
 * A keep-alive connection pool on raw sockets for the rehearsal's short requests (page data, admit
 * polls, renewals, the state document): at most `size` connections from one source address, one
 * request in flight per connection, the rest wait in FIFO order (`urgent` ones first: a listener
 * already under way should not wait behind this machine's backlog of new arrivals, as a real
 * listener's browser never would). Thousands of queued listeners polling their tickets share these
 * few sockets instead of holding one each.
 */
import type net from 'node:net';
import { dial, readyEvent, requestHead, ResponseParser, type Target } from './http-wire.js';

export interface HttpResult {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
  /** wall-clock ms when the request was written and when its answer was complete */
  sentAt: number;
  doneAt: number;
}

export interface PoolOptions {
  target: Target;
  localAddress?: string;
  /** connections at most */
  size: number;
  /** sent with every request (e.g. the rehearsal token) */
  headers?: Record<string, string>;
  /** per request, from when it is written. Default 30 s. */
  timeoutMs?: number;
}

interface Pending {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  timeoutMs: number;
  urgent: boolean;
  resolve(r: HttpResult): void;
  reject(e: Error): void;
  retried: boolean;
}

class Conn {
  socket: net.Socket;
  ready = false;
  used = 0;
  current: Pending | undefined;
  private parser: ResponseParser;
  private status = 0;
  private headers = new Map<string, string>();
  private chunks: Buffer[] = [];
  private sentAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private gotBytes = false;
  dead = false;

  constructor(
    private readonly pool: HttpPool,
    private readonly o: PoolOptions,
  ) {
    this.parser = new ResponseParser({
      head: (status, headers) => {
        this.status = status;
        this.headers = headers;
      },
      body: (d, from, to) => this.chunks.push(Buffer.from(d.subarray(from, to))),
      end: () => this.finish(),
      error: (why) => this.kill(new Error(why)),
    });
    this.socket = dial(o.target, o.localAddress);
    this.socket.once(readyEvent(o.target), () => {
      this.ready = true;
      if (this.current) this.write();
      else this.pool.idle(this);
    });
    this.socket.on('data', (d: Buffer) => {
      this.gotBytes = true;
      this.parser.push(d);
    });
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.kill(new Error(err.code ?? err.message)));
    this.socket.on('close', () => {
      if (this.current && !this.parser.done) this.parser.closed();
      this.kill(new Error('connection closed'));
    });
  }

  run(p: Pending): void {
    this.current = p;
    if (this.ready) this.write();
  }

  private write(): void {
    const p = this.current!;
    this.parser.reset();
    this.chunks = [];
    this.gotBytes = false;
    this.sentAt = Date.now();
    const all = { ...this.o.headers, ...p.headers };
    const head = requestHead(this.o.target, p.method, p.path, all, p.body ? p.body.length : undefined);
    this.socket.write(p.body ? Buffer.concat([Buffer.from(head, 'latin1'), p.body]) : head);
    this.timer = setTimeout(() => this.kill(new Error(`timeout after ${p.timeoutMs} ms`)), p.timeoutMs);
  }

  private finish(): void {
    const p = this.current;
    if (!p) return;
    clearTimeout(this.timer);
    this.current = undefined;
    this.used++;
    const r: HttpResult = {
      status: this.status,
      headers: this.headers,
      body: this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks),
      sentAt: this.sentAt,
      doneAt: Date.now(),
    };
    if (!this.parser.keepAlive) {
      this.dead = true;
      this.socket.destroy();
      this.pool.gone(this);
    } else this.pool.idle(this);
    p.resolve(r);
  }

  kill(err: Error): void {
    clearTimeout(this.timer);
    const p = this.current;
    this.current = undefined;
    if (!this.dead) {
      this.dead = true;
      this.socket.destroy();
      this.pool.gone(this);
    }
    if (!p) return;
    // a keep-alive connection the server closed just as we reused it: send once more
    if (!p.retried && this.used > 0 && !this.gotBytes && !/timeout/.test(err.message)) {
      p.retried = true;
      this.pool.requeue(p);
    } else p.reject(err);
  }
}

export class HttpPool {
  private readonly conns = new Set<Conn>();
  private readonly free: Conn[] = [];
  private readonly queue: Pending[] = [];
  private qHead = 0;
  private readonly urgentQueue: Pending[] = [];
  private uHead = 0;
  private closed = false;
  /** requests answered, and failed at the transport */
  answered = 0;
  failed = 0;

  constructor(readonly o: PoolOptions) {}

  get waiting(): number {
    return this.queue.length - this.qHead + this.urgentQueue.length - this.uHead;
  }

  get connections(): number {
    return this.conns.size;
  }

  request(
    method: string,
    path: string,
    opts: { headers?: Record<string, string>; body?: Buffer; timeoutMs?: number; urgent?: boolean } = {},
  ): Promise<HttpResult> {
    if (this.closed) return Promise.reject(new Error('pool closed'));
    return new Promise<HttpResult>((resolve, reject) => {
      const p: Pending = {
        method,
        path,
        headers: opts.headers,
        body: opts.body,
        timeoutMs: opts.timeoutMs ?? this.o.timeoutMs ?? 30_000,
        urgent: opts.urgent ?? false,
        resolve: (r) => {
          this.answered++;
          resolve(r);
        },
        reject: (e) => {
          this.failed++;
          reject(e);
        },
        retried: false,
      };
      this.dispatch(p);
    });
  }

  get(
    path: string,
    opts: { headers?: Record<string, string>; timeoutMs?: number; urgent?: boolean } = {},
  ): Promise<HttpResult> {
    return this.request('GET', path, opts);
  }

  /** @internal a connection is free */
  idle(c: Conn): void {
    const next = this.take();
    if (next) c.run(next);
    else this.free.push(c);
  }

  /** @internal a connection is gone */
  gone(c: Conn): void {
    this.conns.delete(c);
    const i = this.free.indexOf(c);
    if (i >= 0) this.free.splice(i, 1);
    // work still waiting gets a new connection
    if (!this.closed && this.waiting > 0 && this.conns.size < this.o.size) this.open(this.take()!);
  }

  /** @internal */
  requeue(p: Pending): void {
    this.dispatch(p);
  }

  close(): void {
    this.closed = true;
    for (const c of [...this.conns]) c.kill(new Error('pool closed'));
    while (this.waiting > 0) this.take()!.reject(new Error('pool closed'));
  }

  private dispatch(p: Pending): void {
    if (this.closed) return p.reject(new Error('pool closed'));
    let c = this.free.pop();
    while (c && c.dead) c = this.free.pop();
    if (c) return c.run(p);
    if (this.conns.size < this.o.size) return this.open(p);
    if (p.urgent) this.urgentQueue.push(p);
    else this.queue.push(p);
  }

  private open(p: Pending): void {
    const c = new Conn(this, this.o);
    this.conns.add(c);
    c.run(p);
  }

  private take(): Pending | undefined {
    if (this.uHead < this.urgentQueue.length) {
      const p = this.urgentQueue[this.uHead++];
      if (this.uHead > 1024 && this.uHead * 2 > this.urgentQueue.length) {
        this.urgentQueue.splice(0, this.uHead);
        this.uHead = 0;
      }
      return p;
    }
    if (this.qHead >= this.queue.length) return undefined;
    const p = this.queue[this.qHead++];
    if (this.qHead > 1024 && this.qHead * 2 > this.queue.length) {
      this.queue.splice(0, this.qHead);
      this.qHead = 0;
    }
    return p;
  }
}

/** JSON body of an answer, or undefined when it is not JSON. */
export function jsonOf<T>(r: HttpResult): T | undefined {
  try {
    return JSON.parse(r.body.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}
