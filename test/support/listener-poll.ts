/**
 * A listener as the edge sees it: long-polls a Space's state document with its own listener id
 * (`lid`, and a listen token when given) until stopped; stopping sends the leave beacon, as the
 * web page does when it stops listening.
 */
import type { LiveDoc } from '../../src/live/types.js';

export interface StatePoller {
  lid: string;
  latest: LiveDoc | undefined;
  /** Stops polling and sends the leave beacon. */
  stop(): Promise<void>;
}

export function pollState(
  baseUrl: string,
  space: { stateUrl: string; leaveUrl: string },
  lid: string,
  token?: string | null,
): StatePoller {
  const ac = new AbortController();
  const tokenQ = token ? `&token=${encodeURIComponent(token)}` : '';
  const p: StatePoller = {
    lid,
    latest: undefined,
    async stop() {
      ac.abort();
      const res = await fetch(`${baseUrl}${space.leaveUrl}?${tokenQ.slice(1)}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ lid }),
      });
      await res.arrayBuffer();
    },
  };
  void (async () => {
    let v: number | undefined;
    while (!ac.signal.aborted) {
      const q = `?lid=${lid}${tokenQ}${v === undefined ? '' : `&v=${v}`}`;
      try {
        const res = await fetch(`${baseUrl}${space.stateUrl}${q}`, { signal: ac.signal });
        if (res.ok) {
          p.latest = (await res.json()) as LiveDoc;
          v = p.latest.v;
        } else {
          await res.arrayBuffer();
          await new Promise((r) => setTimeout(r, 500));
        }
      } catch {
        return;
      }
    }
  })();
  return p;
}
