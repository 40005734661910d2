/**
 * Brownout tier 2 on the hot path: a Space's new state versions reach this edge's players every
 * 3 s at most. A poll for a newer version than the edge has is held until 3 s after the last new
 * version this edge got, then answered (a new load, shared by every held poll).
 */
import type { EdgeDefence } from './defence/shield.js';
import type { HotRequest, HotResponse } from './hot-types.js';

const SLOW_STATE_MS = 3000;

export interface SlowStates {
  /** Holds a state poll (answered later by `answer`); false when it is not to be held. */
  hold(res: HotResponse, id: string, rawQuery: string, req: HotRequest): boolean;
  /** A state document of Space `id` was answered with this cache outcome. */
  noteVersion(id: string, outcome: string): void;
  close(): void;
}

export function createSlowStates(
  now: () => number,
  defence: EdgeDefence | undefined,
  answer: (req: HotRequest, res: HotResponse, id: string, rawQuery: string) => void,
  fail: (res: HotResponse, err: unknown) => void,
): SlowStates {
  /** Per Space: when this edge last got a new state version, and the polls held until 3 s after it. */
  type Held = { res: HotResponse; run: () => void };
  const stateSlow = new Map<string, { at: number; held: Held[]; timer?: NodeJS.Timeout }>();
  const hold = (res: HotResponse, id: string, rawQuery: string, req: HotRequest): boolean => {
    const s = stateSlow.get(id);
    const t = now();
    if (!s || t - s.at >= SLOW_STATE_MS) return false;
    s.held.push({
      res,
      run: () => {
        if (res.destroyed || res.writableEnded) return;
        try {
          answer(req, res, id, rawQuery);
        } catch (err) {
          fail(res, err); // one poll's failure never strands the others
        }
      },
    });
    s.timer ??= setTimeout(
      () => {
        stateSlow.delete(id); // the next new version (a MISS) starts a new 3 s
        for (const h of s.held) h.run();
      },
      SLOW_STATE_MS - (t - s.at),
    );
    return true;
  };
  const noteVersion = (id: string, outcome: string): void => {
    if (outcome !== 'MISS' || !defence?.brownout.sheds(2)) return;
    const t = now();
    const s = stateSlow.get(id);
    if (s) {
      s.at = t;
      return;
    }
    if (stateSlow.size >= 100_000)
      for (const [k, v] of stateSlow) if (!v.timer && t - v.at >= SLOW_STATE_MS) stateSlow.delete(k);
    if (stateSlow.size < 100_000) stateSlow.set(id, { at: t, held: [] });
  };
  return {
    hold,
    noteVersion,
    close() {
      // Held polls are cut: their players poll again (this edge restarted, or another one).
      for (const s of stateSlow.values()) {
        clearTimeout(s.timer);
        for (const h of s.held) h.res.destroy();
      }
      stateSlow.clear();
    },
  };
}
