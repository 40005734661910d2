/**
 * A Space engine in green-room mode (src/media/space-engine.ts, in process, driven tick by tick):
 * it packages nothing until goLive, whose first part starts the timeline where it is told (0 for a
 * new Space) and is stamped with the wall clock of the start.
 */
import { describe, expect, it } from 'vitest';
import { TribuneError } from '../../src/errors.js';
import type { EngineEvent, SpaceMediaConfig } from '../../src/media/protocol.js';
import { SpaceEngine } from '../../src/media/space-engine.js';
import { parseFragments } from '../support/fmp4.js';

const config = (greenRoom: boolean): SpaceMediaConfig => ({
  partFrames: 10,
  opusBitrate: 32_000,
  maxBufferedFrames: 6,
  maxSpeakers: 13,
  timelineStartSamples: 0,
  greenRoom,
});

function engine(greenRoom: boolean): { space: SpaceEngine; events: EngineEvent[] } {
  const events: EngineEvent[] = [];
  return { space: new SpaceEngine('s1', config(greenRoom), (e) => events.push(e)), events };
}

const media = (events: EngineEvent[]) => events.filter((e) => e.type === 'init' || e.type === 'part');

describe('a Space engine in green-room mode', () => {
  it('packages nothing while a green room; goLive starts the program with its timeline at the start', () => {
    const { space, events } = engine(true);
    for (let i = 0; i < 100; i++) space.tick(); // 2 s of green room
    expect(media(events)).toEqual([]);

    const t0 = Date.now();
    space.goLive(0);
    space.goLive(0); // idempotent
    for (let i = 0; i < 20; i++) space.tick();
    const out = media(events);
    expect(out.map((e) => e.type)).toEqual(['init', 'part', 'part']);
    const [first, second] = out.slice(1) as Extract<EngineEvent, { type: 'part' }>[];
    expect(parseFragments(first!.bytes)[0]!.baseMediaDecodeTime).toBe(0);
    expect(parseFragments(second!.bytes)[0]!.baseMediaDecodeTime).toBe(10 * 960);
    expect(first!.programDateTimeMs).toBeGreaterThanOrEqual(t0);
    space.close();
  });

  it('continues a given timeline, and refuses to go live once closed or with a bad start', () => {
    const { space, events } = engine(true);
    expect(() => space.goLive(-1)).toThrow(TribuneError);
    space.goLive(48_000 * 7);
    for (let i = 0; i < 10; i++) space.tick();
    const part = media(events).find((e) => e.type === 'part') as Extract<EngineEvent, { type: 'part' }>;
    expect(parseFragments(part.bytes)[0]!.baseMediaDecodeTime).toBe(48_000 * 7);
    space.close();
    const closed = engine(true).space;
    closed.close();
    expect(() => closed.goLive(0)).toThrow(expect.objectContaining({ code: 'SPACE_ENDED' }));
  });

  it('a live engine packages from its first tick, as before', () => {
    const { space, events } = engine(false);
    for (let i = 0; i < 10; i++) space.tick();
    expect(media(events).map((e) => e.type)).toEqual(['init', 'part']);
    space.close();
  });
});
