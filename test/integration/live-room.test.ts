/**
 * Live state through the one-process server: listeners counted by the built-in edge from their
 * state-document polls, reactions aggregated into the document, and the hosts' view of both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiveDoc } from '../../src/live/types.js';
import {
  createSpace,
  signedInClient,
  startTribune,
  type TestSpace,
  type TribuneHandle,
} from '../support/server.js';
import { waitFor } from '../support/wait.js';

describe('live room state through the built-in edge', () => {
  let server: TribuneHandle;
  let space: TestSpace;
  const stop = new AbortController();

  /** A player: long-polls the state document with its own lid until stopped. */
  const poll = async (lid: string, signal: AbortSignal, seen: (d: LiveDoc) => void) => {
    let v: number | undefined;
    while (!signal.aborted) {
      const q = v === undefined ? `?lid=${lid}` : `?v=${v}&lid=${lid}`;
      try {
        const res = await fetch(`${server.url}${space.stateUrl}${q}`, { signal });
        if (res.ok) {
          const doc = (await res.json()) as LiveDoc;
          v = doc.v;
          seen(doc);
        } else await res.arrayBuffer();
      } catch {
        return;
      }
    }
  };

  beforeAll(async () => {
    server = await startTribune();
    space = await createSpace(server.url, 'Counted');
  }, 60_000);

  afterAll(async () => {
    stop.abort();
    await server?.stop();
  });

  it('counts 200 players exactly, within seconds, and sees 50 of them leave', async () => {
    let latest: LiveDoc | undefined;
    const players = Array.from({ length: 200 }, (_, i) => {
      const ac = new AbortController();
      stop.signal.addEventListener('abort', () => ac.abort());
      const lid = `listener-${i.toString().padStart(4, '0')}`;
      void poll(lid, ac.signal, (d) => {
        if (!latest || d.v > latest.v) latest = d;
      });
      return { lid, ac };
    });
    const t0 = Date.now();
    await waitFor('the count to reach 200', () => latest?.listeners === 200, { timeoutMs: 15_000 });
    console.log(`200 players counted ${Date.now() - t0} ms after they started polling`);
    expect((await space.hostClient.participants(space.id)).listeners).toBe(200);
    for (const p of players.slice(0, 50)) {
      p.ac.abort();
      await fetch(`${server.url}${space.leaveUrl}`, { method: 'POST', body: JSON.stringify({ lid: p.lid }) });
    }
    const t1 = Date.now();
    await waitFor('the count to drop to 150', () => latest?.listeners === 150, { timeoutMs: 15_000 });
    console.log(`50 leavers counted out ${Date.now() - t1} ms after their beacons`);
  }, 60_000);

  it('aggregates reactions into the document; unknown emoji are refused', async () => {
    const react = (emoji: string, lid: string) =>
      fetch(`${server.url}${space.reactionsUrl}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ emoji, lid }),
      });
    const bad = await react('💩', 'reactor-0001');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('UNKNOWN_EMOJI');
    const seen: Record<string, number> = {};
    const ac = new AbortController();
    stop.signal.addEventListener('abort', () => ac.abort());
    let lastSeq = 0;
    void poll('reaction-watcher', ac.signal, (d) => {
      if (d.reactions.seq !== lastSeq) {
        lastSeq = d.reactions.seq;
        for (const [e, n] of Object.entries(d.reactions.counts)) seen[e] = (seen[e] ?? 0) + (n ?? 0);
      }
    });
    for (let i = 0; i < 6; i++) expect((await react('👏', `reactor-${1000 + i}`)).status).toBe(202);
    for (let i = 0; i < 3; i++) expect((await react('🔥', `reactor-${2000 + i}`)).status).toBe(202);
    await waitFor('the reactions in the document', () => seen['👏'] === 6 && seen['🔥'] === 3, {
      timeoutMs: 10_000,
    });
    ac.abort();
  });

  it("shows hosts a sample of signed-in listeners, from the edge's reports", async () => {
    const fan = await signedInClient(server.url, 'fan');
    const fanId = (await fan.me()).user!.id;
    const grant = await fan.listen(space.id);
    expect(grant.token).toBeTruthy();
    const ac = new AbortController();
    stop.signal.addEventListener('abort', () => ac.abort());
    void (async () => {
      let v: number | undefined;
      while (!ac.signal.aborted) {
        const q = `?lid=fan-listener-1&token=${grant.token}${v === undefined ? '' : `&v=${v}`}`;
        const res = await fetch(`${server.url}${grant.stateUrl}${q}`, { signal: ac.signal }).catch(
          () => undefined,
        );
        if (!res) return;
        if (res.ok) v = ((await res.json()) as LiveDoc).v;
      }
    })();
    await waitFor('the fan in the listener sample', async () =>
      (await space.hostClient.participants(space.id)).listenerSample.some((u) => u.id === fanId),
    );
    ac.abort();
  });
});
