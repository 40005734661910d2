/**
 * A Space's real-time channel (`GET /api/spaces/:id/events`, server-sent events) opened from Node
 * with a signed-in client's cookies, every event kept with the time it arrived.
 */
import type { TribuneClient } from '../../src/client/index.js';
import { waitFor } from './wait.js';

export interface SseEvent {
  event: string;
  data: unknown;
  atMs: number;
}

export interface SseStream {
  events: SseEvent[];
  /** Resolves once the response headers arrived (the server registered the stream). */
  opened: Promise<void>;
  /** The events named `name` from index `from` on. */
  of<T = unknown>(name: string, from?: number): Array<{ data: T; atMs: number }>;
  /** Waits for an event named `name` (from index `from` on) whose data passes `test`. */
  waitFor<T = unknown>(
    name: string,
    test: (data: T) => boolean,
    opts?: { from?: number; timeoutMs?: number; what?: string },
  ): Promise<{ data: T; atMs: number }>;
  /** The response ended or broke (e.g. its origin died): a page would reconnect now. */
  readonly ended: boolean;
  close(): void;
}

export function openEvents(baseUrl: string, client: TribuneClient, spaceId: string): SseStream {
  const ac = new AbortController();
  const events: SseEvent[] = [];
  let resolveOpen!: () => void;
  let rejectOpen!: (err: unknown) => void;
  const opened = new Promise<void>((res, rej) => {
    resolveOpen = res;
    rejectOpen = rej;
  });
  void opened.catch(() => undefined); // closed before it opened: only a waiting caller cares
  let ended = false;
  void (async () => {
    try {
      const res = await fetch(`${baseUrl}/api/spaces/${encodeURIComponent(spaceId)}/events`, {
        headers: { cookie: client.cookieHeader() ?? '', accept: 'text/event-stream' },
        signal: ac.signal,
      });
      if (!res.ok) throw new Error(`events: HTTP ${res.status} ${await res.text()}`);
      resolveOpen();
      const decoder = new TextDecoder();
      let buf = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data) events.push({ event, data: JSON.parse(data) as unknown, atMs: Date.now() });
        }
      }
    } catch (err) {
      rejectOpen(err);
    } finally {
      ended = true;
    }
  })();
  const of = <T>(name: string, from = 0) =>
    events
      .slice(from)
      .filter((e) => e.event === name)
      .map((e) => ({ data: e.data as T, atMs: e.atMs }));
  return {
    events,
    opened,
    get ended() {
      return ended;
    },
    of,
    waitFor: <T>(
      name: string,
      test: (data: T) => boolean,
      opts: { from?: number; timeoutMs?: number; what?: string } = {},
    ) =>
      waitFor(opts.what ?? `a '${name}' event`, () => of<T>(name, opts.from).find((e) => test(e.data)), {
        timeoutMs: opts.timeoutMs ?? 10_000,
        intervalMs: 20,
      }),
    close: () => ac.abort(),
  };
}
