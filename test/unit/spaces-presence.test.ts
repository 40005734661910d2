import { describe, expect, it } from 'vitest';
import { ListenerPresence } from '../../src/spaces/presence.js';
import { parseCursor } from '../../src/spaces/listeners.js';

const pageAll = (p: ListenerPresence, space: string, limit: number, skip = (_: string) => false) => {
  const out: string[][] = [];
  let after = 0;
  for (;;) {
    const page = p.page(space, after, limit, skip);
    out.push(page.users);
    if (page.next === null) return out;
    after = page.next;
  }
};

describe('ListenerPresence', () => {
  it('counts a user once across pages (connections) and forgets them when the last closes', () => {
    const p = new ListenerPresence();
    p.join('s', 'a');
    p.join('s', 'a');
    p.join('s', 'b');
    expect(p.count('s')).toBe(2);
    p.leave('s', 'a');
    expect(p.has('s', 'a')).toBe(true);
    p.leave('s', 'a');
    expect(p.has('s', 'a')).toBe(false);
    expect(p.count('s')).toBe(1);
    p.leave('s', 'a'); // extra leave: nothing
    expect(p.size).toBe(1);
  });

  it('pages in join order with a stable cursor, skipping whoever `skip` names', () => {
    const p = new ListenerPresence();
    for (const u of ['a', 'b', 'c', 'd', 'e']) p.join('s', u);
    p.join('other', 'x');
    expect(pageAll(p, 's', 2)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(pageAll(p, 's', 5)).toEqual([['a', 'b', 'c', 'd', 'e']]);
    expect(pageAll(p, 's', 2, (u) => u === 'c' || u === 'e')).toEqual([['a', 'b'], ['d']]);
    // Someone before the cursor leaves, someone joins: the next page neither repeats nor skips.
    const first = p.page('s', 0, 2, () => false);
    p.leave('s', 'a');
    p.join('s', 'f');
    expect(p.page('s', first.next!, 10, () => false).users).toEqual(['c', 'd', 'e', 'f']);
    // Leaving and coming back puts you at the end.
    p.leave('s', 'b');
    p.join('s', 'b');
    expect(pageAll(p, 's', 10)).toEqual([['c', 'd', 'e', 'f', 'b']]);
    expect(p.page('nobody', 0, 10, () => false)).toEqual({ users: [], next: null });
  });

  it('compacts what leavers leave behind, and stays correct through heavy churn', () => {
    const p = new ListenerPresence();
    const live = new Set<string>();
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 200; i++) {
        const u = `u${(round * 37 + i * 11) % 500}`;
        if (live.has(u)) {
          p.leave('s', u);
          live.delete(u);
        } else {
          p.join('s', u);
          live.add(u);
        }
      }
    }
    const listed = pageAll(p, 's', 7).flat();
    expect(new Set(listed).size).toBe(listed.length);
    expect(new Set(listed)).toEqual(live);
    expect(p.count('s')).toBe(live.size);
  });

  it('holds at most maxEntries pairs; a refused join is not listed', () => {
    const p = new ListenerPresence({ maxEntries: 2 });
    expect(p.join('s', 'a')).toBe(true);
    expect(p.join('t', 'b')).toBe(true);
    expect(p.join('s', 'c')).toBe(false);
    expect(p.join('s', 'a')).toBe(true); // a second page of someone already held
    expect(p.refused).toBe(1);
    expect(p.count('s')).toBe(1);
    p.leave('t', 'b');
    expect(p.join('s', 'c')).toBe(true);
  });
});

describe('listener list cursors', () => {
  it('are base-36 sequence numbers; anything else is BAD_REQUEST', () => {
    expect(parseCursor(undefined)).toBe(0);
    expect(parseCursor('z')).toBe(35);
    expect(parseCursor((123456).toString(36))).toBe(123456);
    for (const bad of ['', '0', '-1', 'A', 'a b', 'zzzzzzzzzzzz', 'zzzzzzzzzzz'])
      expect(() => parseCursor(bad), bad).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
  });
});
