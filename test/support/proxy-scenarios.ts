/**
 * Scenarios the proxy tests run against a proxy in front of the edge (the shipped config, and
 * variants of it that show what a directive is for). Each returns what it saw; callers assert.
 */
import { expect } from 'vitest';
import {
  edgeRequestsDuring,
  lagsAfterFirst,
  livePlaylist,
  nextPart,
  type Client,
  type Got,
  type Stack,
} from './proxy-stack.js';
import { waitFor } from './wait.js';

export const N = 40;
const pad = (i: number): string => String(i).padStart(6, '0');

/**
 * N listeners ask for the same blocking playlist reload, arriving over `spreadMs` (like players
 * do), for a part 400-600 ms away (two after the one being produced): all are waiting when it
 * appears. Returns the answers, the edge requests, and each answer's lag behind the first.
 */
export async function blockingReloadCrowd(
  s: Stack,
  base: string,
  client: Client,
  spreadMs: number,
  tag: string,
): Promise<{ answers: Got[]; edgeRequests: number; lags: number[]; target: string }> {
  const t = nextPart(nextPart((await livePlaylist(s, s.space.id)).preloadHint!));
  const urls = Array.from(
    { length: N },
    (_, i) =>
      `${base}/hls/spaces/${s.space.id}/audio.m3u8?_HLS_msn=${t.msn}&_HLS_part=${t.part}&lid=${tag}-${pad(i)}`,
  );
  const { result, edgeRequests } = await edgeRequestsDuring(s.edge, () =>
    Promise.all(
      urls.map((u, i) =>
        new Promise<void>((r) => setTimeout(r, (i * spreadMs) / N)).then(() => client.get(u)),
      ),
    ),
  );
  for (const g of result) {
    expect(g.status).toBe(200);
    expect(g.body.equals(result[0]!.body)).toBe(true);
  }
  const target = `part/${t.msn}.${t.part}.m4s`;
  expect(result[0]!.body.toString()).toContain(target);
  return { answers: result, edgeRequests, lags: lagsAfterFirst(result), target };
}

/**
 * The live playlist cached once, left to expire (max-age=1; nginx counts whole seconds, so up to
 * 2 s), then asked by N listeners at once. Opens N connections to `base` first, so the crowd
 * arrives together.
 */
export async function expiredPlaylistCrowd(
  s: Stack,
  base: string,
  client: Client,
): Promise<{ answers: Got[]; edgeRequests: number }> {
  await client.burst(Array.from({ length: N }, () => `${base}/healthz`));
  const url = `${base}/hls/spaces/${s.space.id}/audio.m3u8`;
  const fill = await client.get(url);
  expect(fill.status).toBe(200);
  const end = fill.at + 2200;
  await waitFor('the playlist to expire (its TTL, not a synchronisation)', () => performance.now() > end, {
    timeoutMs: 5000,
  });
  const { result, edgeRequests } = await edgeRequestsDuring(s.edge, () =>
    client.burst(Array.from({ length: N }, (_, i) => `${url}?lid=crowd-${pad(i)}`)),
  );
  expect(result.every((g) => g.status === 200)).toBe(true);
  return { answers: result, edgeRequests };
}

/**
 * A blocking reload asked too early (400 HLS_BAD_BLOCKING_REQUEST, no-store), then, once valid
 * (three segments later, about 3 s), by N listeners at once. It asks 5 segments ahead of the
 * playlist it just read, not 3: a segment completing between that read and the request (a busy
 * machine) must not make the "too early" request valid already.
 */
export async function tooEarlyThenCrowd(
  s: Stack,
  base: string,
  client: Client,
): Promise<{ answers: Got[]; edgeRequests: number }> {
  const l = (await livePlaylist(s, s.space.id)).segments.at(-1)!.msn;
  const url = `${base}/hls/spaces/${s.space.id}/audio.m3u8?_HLS_msn=${l + 5}&_HLS_part=2`;
  const early = await client.get(url);
  expect(early.status).toBe(400);
  expect(early.json()).toMatchObject({ error: { code: 'HLS_BAD_BLOCKING_REQUEST' } });
  expect(early.headers['cache-control']).toBe('no-store');
  await waitFor(
    'three more segments',
    async () => (await livePlaylist(s, s.space.id)).segments.at(-1)!.msn >= l + 3,
    { timeoutMs: 10_000, intervalMs: 100 },
  );
  const { result, edgeRequests } = await edgeRequestsDuring(s.edge, () =>
    client.burst(Array.from({ length: N }, (_, i) => `${url}&lid=again-${pad(i)}`)),
  );
  expect(result.map((g) => g.status)).toEqual(Array(N).fill(200));
  return { answers: result, edgeRequests };
}

/** X-Proxy-Cache values seen, with counts: "MISS 1, HIT 39". */
export function verdicts(answers: Got[]): string {
  const m = new Map<string, number>();
  for (const a of answers) m.set(a.cache || '-', (m.get(a.cache || '-') ?? 0) + 1);
  return [...m].map(([k, v]) => `${k} ${v}`).join(', ');
}
