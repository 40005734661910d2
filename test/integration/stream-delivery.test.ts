/**
 * Stream delivery (`stream.mp4`) through a standalone edge process in front of an origin process:
 * listeners hear the published tone with no gap (decoded with ffmpeg), the origin's request rate
 * stays flat as stream listeners grow, an ffmpeg listener on the LL-HLS URL keeps working, and
 * bad input (unknown / scheduled Spaces, bad ids, forged and expired tokens, too many streams from
 * one address, a client that never reads, headers that never end, a hang-up mid-part) gets a clear
 * answer without harming the other listeners.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenSigner } from '../../src/origin/tokens.js';
import {
  createSpace,
  scrapeMetrics,
  signedInClient,
  startOriginAndEdge,
  whipUrlFor,
  type TestSpace,
  type TribuneHandle,
} from '../support/server.js';
import { hasTone, longestSilenceMs } from '../support/spectrum.js';
import { StreamClient } from '../support/stream-client.js';
import { ToneGenerator } from '../support/tone.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient } from '../support/whip-client.js';

const run = promisify(execFile);
const PER_ADDRESS = 40;

/** Decodes fMP4/Opus bytes (or a URL) with ffmpeg into 48 kHz mono PCM; ffmpeg must print no error. */
async function ffmpegPcm(input: Buffer | string, extra: string[] = []): Promise<Int16Array> {
  const args = ['-v', 'error', ...extra, '-i', typeof input === 'string' ? input : 'pipe:0'];
  args.push('-f', 's16le', '-ac', '1', '-ar', '48000', '-');
  const child = spawn('ffmpeg', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => (err += String(d)));
  if (typeof input !== 'string') child.stdin.end(input);
  else child.stdin.end();
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(err, `ffmpeg ${args.join(' ')}`).toBe('');
  expect(code).toBe(0);
  const buf = Buffer.concat(out);
  return new Int16Array(buf.buffer, buf.byteOffset, Math.floor(buf.byteLength / 2));
}

const sum = (m: Map<string, number>, name: string): number => m.get(name) ?? 0;

describe('stream delivery through a standalone edge', () => {
  let origin: TribuneHandle;
  let edge: TribuneHandle;
  let space: TestSpace;
  let secret: string;
  const speaker = new NodeWhipClient({ record: false });
  const streamUrl = (id: string, q = ''): string => `${edge.url}/hls/spaces/${id}/stream.mp4${q}`;

  beforeAll(async () => {
    ({ origin, edge, secret } = await startOriginAndEdge({
      TRIBUNE_EDGE_STREAMS_PER_ADDRESS: String(PER_ADDRESS),
    }));
    space = await createSpace(origin.url, 'Streamed');
    await speaker.publish({
      whipUrl: whipUrlFor(origin.url, space.id, 'Solo'),
      token: space.hostToken,
      source: new ToneGenerator({ freqHz: 660, amplitude: 0.3 }),
    });
  }, 60_000);

  afterAll(async () => {
    speaker.abruptClose();
    await edge?.stop();
    await origin?.stop();
  });

  it('plays the tone to stream listeners with no gap; the origin sees the same requests for 2 or 150 listeners', async () => {
    // A request that never finishes its headers (slowloris): answered 408 in Tribune's shape.
    const slowloris = net.connect(edge.port, '127.0.0.1');
    let slowAnswer = '';
    slowloris.on('data', (d) => (slowAnswer += String(d)));
    slowloris.write(`GET /hls/spaces/${space.id}/stream.mp4 HTTP/1.1\r\nHost: x\r\n`);
    const slowClosed = new Promise<void>((resolve) => slowloris.on('close', () => resolve()));

    const t0 = performance.now();
    const a = new StreamClient({ url: streamUrl(space.id, '?lid=listener-a-0001') });
    const b = new StreamClient({ url: streamUrl(space.id, '?lid=listener-b-0001') });
    expect(await a.started).toBe(200);
    expect(await b.started).toBe(200);
    expect(a.headers['content-type']).toBe('audio/mp4');
    expect(a.headers['transfer-encoding']).toBe('chunked');
    expect(a.headers['cache-control']).toBe('no-store');
    await waitFor('a first fragment', () => a.fragments.length > 0, { timeoutMs: 5000 });
    const firstAudioMs = performance.now() - t0;

    // Phase 1: 2 stream listeners. Phase 2: 150 more (from four other loopback addresses).
    const window = async (): Promise<number> => {
      const before = sum(await scrapeMetrics(origin.url), 'tribune_origin_hls_requests_total');
      const f0 = a.fragments.length;
      await waitFor('3 s of parts', () => a.fragments.length >= f0 + 15, { timeoutMs: 10_000 });
      return sum(await scrapeMetrics(origin.url), 'tribune_origin_hls_requests_total') - before;
    };
    const few = await window();
    // An ffmpeg listener on the standard LL-HLS URL keeps working next to the streams (ffmpeg's HLS
    // reader starts 3 segments from the live end, so let the playlist have them).
    await waitFor('3 segments in the playlist', async () => {
      const text = await (await fetch(`${edge.url}/hls/spaces/${space.id}/audio.m3u8`)).text();
      return (text.match(/#EXTINF/g) ?? []).length >= 3;
    });
    const ffmpegHls = ffmpegPcm(`${edge.url}/hls/spaces/${space.id}/master.m3u8`, ['-t', '3']);
    const crowd = Array.from(
      { length: 150 },
      (_, i) =>
        new StreamClient({
          url: streamUrl(space.id, `?lid=crowd-${String(i).padStart(6, '0')}`),
          localAddress: `127.0.0.${2 + (i % 4)}`,
          keepBytes: false,
        }),
    );
    expect((await Promise.all(crowd.map((c) => c.started))).every((s) => s === 200)).toBe(true);
    await waitFor('every crowd listener has audio', () => crowd.every((c) => c.fragments.length > 0), {
      timeoutMs: 10_000,
    });
    // Stream listeners count like pollers of the state document: by lid, reported to the origin.
    await waitFor('152 listeners in the published count', async () => {
      const doc = (await (await fetch(`${edge.url}/hls/spaces/${space.id}/state.json`)).json()) as {
        listeners: number;
      };
      return doc.listeners === 152;
    });
    const many = await window();
    const edgeMetrics = await scrapeMetrics(edge.url);
    console.log(
      `stream: first audio ${firstAudioMs.toFixed(0)} ms; origin requests per 15 parts: 2 listeners ${few}, 152 listeners ${many}; edge stream listeners ${sum(edgeMetrics, 'tribune_edge_stream_listeners')}`,
    );
    expect(sum(edgeMetrics, 'tribune_edge_stream_listeners')).toBe(152);
    // Independent of N: one playlist and one part per 200 ms, plus reports and state polls.
    expect(many).toBeLessThanOrEqual(few * 1.5 + 5);

    // Every crowd listener got every part since it joined.
    for (const c of crowd) expect(c.missing()).toBe(0);
    crowd.forEach((c) => c.close());
    await waitFor('the crowd is gone from the edge', async () => {
      return sum(await scrapeMetrics(edge.url), 'tribune_edge_stream_listeners') === 2;
    });

    const hls = await ffmpegHls;
    expect(hasTone(hls, 660)).toBe(true);

    // Listener A heard the tone throughout, every part, no gap over 1 s.
    expect(a.missing()).toBe(0);
    expect(a.maxGapMs()).toBeLessThan(1000);
    const pcm = await ffmpegPcm(a.bytes());
    expect(pcm.length).toBeGreaterThan(48_000 * 5);
    expect(hasTone(pcm.subarray(-48_000), 660)).toBe(true);
    // Delivery gaps are checked exactly above (sequence numbers, decode times, arrival gaps); a
    // short silence in the decoded audio can only come from the source (a speaker underrun when
    // this 2-core machine is saturated), never from a missing part.
    expect(longestSilenceMs(pcm)).toBeLessThan(400);
    // Fragments follow the Space's timeline: decode times grow by one part each.
    const f = a.fragments;
    for (let i = 1; i < f.length; i++)
      expect(f[i]!.baseMediaDecodeTime - f[i - 1]!.baseMediaDecodeTime).toBe(f[i - 1]!.samples * 960);

    await slowClosed;
    expect(slowAnswer).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(slowAnswer.slice(slowAnswer.indexOf('\r\n\r\n') + 4))).toMatchObject({
      error: { code: 'REQUEST_TIMEOUT' },
    });
    a.close();
    b.close();
  }, 90_000);

  it('refuses bad stream requests with clear codes', async () => {
    const status = async (url: string, headers?: Record<string, string>) => {
      const c = new StreamClient({ url, headers });
      const s = await c.started;
      if (s !== 200) await c.done;
      return { s, body: c.errorBody ? (JSON.parse(c.errorBody) as { error: { code: string } }) : null, c };
    };
    expect(await status(streamUrl('nope-nope'))).toMatchObject({
      s: 404,
      body: { error: { code: 'SPACE_NOT_FOUND' } },
    });
    expect(await status(streamUrl('bad%20id'))).toMatchObject({
      s: 400,
      body: { error: { code: 'BAD_REQUEST' } },
    });
    expect(await status(streamUrl(space.id, '?lid=x'))).toMatchObject({
      s: 400,
      body: { error: { code: 'BAD_REQUEST' } },
    });

    const host = await signedInClient(origin.url, 'sched');
    const later = await host.createSpace({
      title: 'Later',
      scheduledFor: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(await status(streamUrl(later.id))).toMatchObject({
      s: 409,
      body: { error: { code: 'SPACE_NOT_LIVE' } },
    });
    // Started now: the edge's copy of its state still says 'scheduled' (cached for a second), but a
    // player sent by the page at once is not refused: that copy is read again first. (300 ms: past
    // the live hub's 250 ms between two publishes, so the origin's own doc says 'live' at once.)
    await new Promise((r) => setTimeout(r, 300));
    await host.start(later.id);
    const started = new AbortController();
    const res = await fetch(streamUrl(later.id), { signal: started.signal });
    expect(res.status).toBe(200);
    started.abort();

    // A Space that requires sign-in: no token, a forged one, an expired one → 401; a real one plays.
    const closed = await createSpace(origin.url, 'Members only', { requireSignIn: true });
    const signer = new TokenSigner(Buffer.from(secret, 'utf8'));
    const forged = new TokenSigner(randomBytes(32)).sign({ s: closed.id, r: 'listen', i: 1 });
    const expired = signer.sign({ s: closed.id, r: 'listen', i: 1, e: Math.floor(Date.now() / 1000) - 10 });
    const otherSpace = signer.sign({ s: space.id, r: 'listen', i: Math.floor(Date.now() / 1000) });
    for (const t of [undefined, forged, expired, otherSpace]) {
      const q = t ? `?token=${encodeURIComponent(t)}` : '';
      expect(await status(streamUrl(closed.id, q))).toMatchObject({
        s: 401,
        body: { error: { code: 'LISTEN_TOKEN_REQUIRED' } },
      });
    }
    // A token that expires while its stream plays ends that stream then.
    const expiresSec = Math.floor(Date.now() / 1000) + 2;
    const shortLived = signer.sign({ s: closed.id, r: 'listen', i: 1, e: expiresSec });
    const expiring = new StreamClient({
      url: streamUrl(closed.id, `?token=${encodeURIComponent(shortLived)}`),
    });
    expect(await expiring.started).toBe(200);
    await expiring.done;
    expect(Date.now()).toBeGreaterThanOrEqual(expiresSec * 1000 - 50);
    expect(Date.now()).toBeLessThan(expiresSec * 1000 + 2000);
    const { token } = await closed.hostClient.listen(closed.id);
    const ok = new StreamClient({ url: streamUrl(closed.id), headers: { 'x-tribune-listen-token': token! } });
    expect(await ok.started).toBe(200);
    ok.close();

    // Errors Node's HTTP parser raises come in Tribune's shape too.
    const raw = async (request: string): Promise<string> =>
      new Promise((resolve) => {
        const sock = net.connect(edge.port, '127.0.0.1');
        let text = '';
        sock.on('data', (d) => (text += String(d)));
        sock.on('close', () => resolve(text));
        sock.on('error', () => undefined);
        sock.end(request);
      });
    const huge = await raw(
      `GET /hls/spaces/${space.id}/stream.mp4 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`,
    );
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
    expect(huge).toContain('"code":"HEADERS_TOO_LARGE"');
    const garbage = await raw('NOT HTTP AT ALL\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(garbage).toContain('"code":"BAD_REQUEST"');

    // Thousands of streams from one address: a per-address cap, 429 with Retry-After.
    const mine = Array.from(
      { length: PER_ADDRESS },
      (_, i) =>
        new StreamClient({
          url: streamUrl(space.id, `?lid=capped-${i}-xxxx`),
          localAddress: '127.0.0.9',
          keepBytes: false,
        }),
    );
    expect((await Promise.all(mine.map((c) => c.started))).every((s) => s === 200)).toBe(true);
    const over = await status(streamUrl(space.id), undefined);
    expect(over.s).toBe(200); // another address is not affected
    over.c.close();
    const refused = new StreamClient({ url: streamUrl(space.id), localAddress: '127.0.0.9' });
    expect(await refused.started).toBe(429);
    await refused.done;
    expect(refused.headers['retry-after']).toBeDefined();
    expect(JSON.parse(refused.errorBody)).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    mine.forEach((c) => c.close());
  }, 60_000);

  it('cuts a listener that never reads and survives hang-ups mid-part, without harming the others', async () => {
    const steady = new StreamClient({ url: streamUrl(space.id, '?lid=steady-listener') });
    expect(await steady.started).toBe(200);
    // A client with a tiny receive window that never reads (python3: Node cannot set SO_RCVBUF).
    const py = [
      'import socket,sys,time',
      's=socket.socket()',
      's.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)',
      `s.connect(("127.0.0.1", ${edge.port}))`,
      `s.sendall(b"GET /hls/spaces/${space.id}/stream.mp4 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")`,
      't=time.time()',
      'time.sleep(8)',
      // After the sleep, read everything left: the edge must have closed the connection.
      's.setblocking(True); s.settimeout(2)',
      'try:',
      '  while s.recv(65536): pass',
      '  print("closed", flush=True)',
      'except Exception as e:',
      '  print("open" if isinstance(e, socket.timeout) else "closed", flush=True)',
    ].join('\n');
    const cutBefore = sum(await scrapeMetrics(edge.url), 'tribune_edge_stream_cut_total');
    const t0 = performance.now();
    const never = run('python3', ['-c', py], { timeout: 40_000 });

    // Hang-ups in the middle of a part: read a little, then destroy.
    for (let i = 0; i < 20; i++) {
      const c = new StreamClient({ url: streamUrl(space.id, `?lid=hangup-${i}-xxxx`) });
      await c.started;
      await waitFor('some bytes', () => c.chunks.length > 0);
      c.close();
    }
    await waitFor(
      'the edge cut the listener that never reads',
      async () => sum(await scrapeMetrics(edge.url), 'tribune_edge_stream_cut_total') > cutBefore,
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    console.log(
      `stream: a listener that never reads was cut ${((performance.now() - t0) / 1000).toFixed(1)} s after it connected`,
    );
    const { stdout } = await never;
    expect(stdout.trim()).toBe('closed');
    expect(steady.missing()).toBe(0);
    expect(steady.maxGapMs()).toBeLessThan(1000);
    expect((await fetch(`${edge.url}/healthz`)).status).toBe(200);
    steady.close();
  }, 60_000);

  it('ends every stream with the last chunk when the Space ends', async () => {
    const c = new StreamClient({ url: streamUrl(space.id, '?lid=until-the-end') });
    expect(await c.started).toBe(200);
    await waitFor('audio', () => c.fragments.length > 2);
    expect(await space.end()).toBe(200);
    const done = await c.done;
    expect(done.ended).toBe(true);
    expect(c.missing()).toBe(0);
    // A stream asked of an ended Space (once the edge's copy of its state shows it): 204 and
    // `x-tribune-state: ended`, not an error (a player reconnecting as the Space ends gets this).
    await waitFor('204 for an ended Space', async () => {
      const res = await fetch(streamUrl(space.id));
      await res.arrayBuffer();
      return res.status === 204 && res.headers.get('x-tribune-state') === 'ended';
    });
  }, 30_000);
});
