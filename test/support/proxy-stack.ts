/**
 * The stack the proxy tests put nginx or Varnish in front of: an origin process, a standalone edge
 * process (TRIBUNE_TRUST_PROXY=true, 2 streams per listener address) and two live Spaces: a public
 * one with a speaker publishing a 660 Hz tone, and one that requires sign-in. Plus the small HTTP
 * client the tests use (own keep-alive agent, source address, timing) and edge metric reads.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { parseMediaPlaylist, type MediaPlaylist } from './llhls-client.js';
import {
  createSpace,
  freePort,
  scrapeMetrics,
  startTribune,
  whipUrlFor,
  type TestSpace,
  type TribuneHandle,
} from './server.js';
import { ToneGenerator } from './tone.js';
import { NodeWhipClient } from './whip-client.js';

export const TONE_HZ = 660;
/** Streams the edge allows per listener address (TRIBUNE_EDGE_STREAMS_PER_ADDRESS). */
export const STREAMS_PER_ADDRESS = 2;
/** hls.segmentParts: 5 parts of 200 ms per 1 s segment. */
export const SEGMENT_PARTS = 5;

export interface Stack {
  origin: TribuneHandle;
  edge: TribuneHandle;
  /** Public, live, with a speaker. */
  space: TestSpace;
  /** Requires sign-in, live, nobody on stage. */
  closed: TestSpace;
  /** A listen token for `closed`. */
  closedToken: string;
  stop(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const secret = randomBytes(32).toString('hex');
  const edgePort = await freePort();
  const origin = await startTribune({
    args: ['origin'],
    env: { TRIBUNE_PUBLIC_EDGE_URL: `http://127.0.0.1:${edgePort}`, TRIBUNE_TOKEN_SECRET: secret },
  });
  const speaker = new NodeWhipClient({ record: false, receive: false });
  let edge: TribuneHandle | undefined;
  const stop = async (): Promise<void> => {
    speaker.abruptClose();
    await edge?.stop();
    await origin.stop();
  };
  try {
    edge = await startTribune({
      args: ['edge', '--origin', origin.url],
      env: {
        PORT: String(edgePort),
        TRIBUNE_TOKEN_SECRET: secret,
        TRIBUNE_TRUST_PROXY: 'true',
        TRIBUNE_EDGE_STREAMS_PER_ADDRESS: String(STREAMS_PER_ADDRESS),
      },
    });
    const space = await createSpace(origin.url, 'Proxied');
    await speaker.publish({
      whipUrl: whipUrlFor(origin.url, space.id, 'Solo'),
      token: space.hostToken,
      source: new ToneGenerator({ freqHz: TONE_HZ, amplitude: 0.3 }),
    });
    const closed = await createSpace(origin.url, 'Members only', { requireSignIn: true });
    const { token } = await closed.hostClient.listen(closed.id);
    if (!token) throw new Error('no listen token for a Space that requires sign-in');
    return { origin, edge, space, closed, closedToken: token, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** performance.now() when the whole answer had arrived */
  at: number;
  /** the proxy's verdict (X-Proxy-Cache), '' when it did not use its cache */
  cache: string;
  json<T = Record<string, unknown>>(): T;
}

export interface GetOptions {
  headers?: Record<string, string>;
  localAddress?: string;
  method?: string;
  body?: string;
}

/** A keep-alive HTTP client with enough sockets for a burst of concurrent identical requests. */
export class Client {
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 512 });

  get(url: string, opts: GetOptions = {}): Promise<Got> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        url,
        {
          agent: opts.localAddress ? false : this.agent,
          method: opts.method ?? 'GET',
          headers: opts.headers,
          localAddress: opts.localAddress,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const body = Buffer.concat(chunks);
            const xc = res.headers['x-proxy-cache'];
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body,
              at: performance.now(),
              cache: typeof xc === 'string' ? xc : '',
              json: <T>() => JSON.parse(body.toString()) as T,
            });
          });
        },
      );
      req.on('error', reject);
      req.end(opts.body);
    });
  }

  /** `urls` all at once; answers in request order. */
  burst(urls: string[], opts: GetOptions = {}): Promise<Got[]> {
    return Promise.all(urls.map((u) => this.get(u, opts)));
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Edge counters (its own /metrics, never through the proxy): requests it received, refusals. */
export async function edgeCounts(edge: TribuneHandle): Promise<{ requests: number; unauthorized: number }> {
  const m = await scrapeMetrics(edge.url);
  return {
    requests: m.get('tribune_edge_requests_total') ?? NaN,
    unauthorized: m.get('tribune_edge_unauthorized_requests_total') ?? 0,
  };
}

/** Edge requests made while `fn` runs (nothing else talks to the edge's HLS paths meanwhile). */
export async function edgeRequestsDuring<T>(
  edge: TribuneHandle,
  fn: () => Promise<T>,
): Promise<{ result: T; edgeRequests: number }> {
  const before = (await edgeCounts(edge)).requests;
  const result = await fn();
  return { result, edgeRequests: (await edgeCounts(edge)).requests - before };
}

/**
 * The live media playlist as it is now: from the origin (the edge caches it up to 1 s, and asks
 * would count as edge requests).
 */
export async function livePlaylist(stack: Stack, spaceId: string, token?: string): Promise<MediaPlaylist> {
  const res = await fetch(`${stack.origin.url}/origin/spaces/${spaceId}/audio.m3u8`, {
    headers: token ? { 'x-tribune-listen-token': token } : undefined,
  });
  if (!res.ok) throw new Error(`audio.m3u8 -> ${res.status}`);
  return parseMediaPlaylist(await res.text());
}

export function nextPart(p: { msn: number; part: number }): { msn: number; part: number } {
  return p.part + 1 < SEGMENT_PARTS ? { msn: p.msn, part: p.part + 1 } : { msn: p.msn + 1, part: 0 };
}

/** The answer fetched for the request (nginx MISS/EXPIRED, Varnish MISS), not from the cache. */
export const fetched = (g: Got): boolean => g.cache === 'MISS' || g.cache === 'EXPIRED';

/** ms after the first answer that each other answer arrived, sorted. */
export function lagsAfterFirst(answers: Got[]): number[] {
  const first = Math.min(...answers.map((a) => a.at));
  return answers.map((a) => a.at - first).sort((a, b) => a - b);
}

export const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
