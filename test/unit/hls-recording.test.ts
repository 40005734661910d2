import { describe, expect, it } from 'vitest';
import { renderMediaPlaylist } from '../../src/hls/playlist.js';
import {
  formatIndexLine,
  parseIndex,
  parseIndexLine,
  parseVodPlaylist,
  trimmedSegmentCount,
} from '../../src/hls/recording.js';

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);
const seg = (msn: number, durationSec = 1) => ({ msn, durationSec, programDateTimeMs: T0 + msn * 1000 });

describe('segment index lines', () => {
  it('round-trips an entry, size included', () => {
    const line = formatIndexLine({ ...seg(3), size: 1234 });
    expect(line.endsWith('\n')).toBe(true);
    expect(parseIndexLine(line.trim())).toEqual({ ...seg(3), size: 1234 });
  });

  it('rejects torn, foreign or invalid lines and drops a bad size', () => {
    expect(parseIndexLine('{"msn":5,"dur')).toBeNull();
    expect(parseIndexLine('null')).toBeNull();
    expect(parseIndexLine('{"msn":-1,"durationSec":1,"programDateTimeMs":0}')).toBeNull();
    expect(parseIndexLine('{"msn":1,"durationSec":0,"programDateTimeMs":0}')).toBeNull();
    expect(parseIndexLine('{"msn":1.5,"durationSec":1,"programDateTimeMs":0}')).toBeNull();
    expect(parseIndexLine('{"msn":1,"durationSec":1,"programDateTimeMs":0,"size":0}')).toEqual({
      msn: 1,
      durationSec: 1,
      programDateTimeMs: 0,
    });
  });
});

describe('parseIndex', () => {
  it('keeps segments in order from msn 0, restarts on a repeated msn and ignores gaps and torn lines', () => {
    const text = [seg(0), seg(1), seg(2), seg(1, 0.4), seg(5)].map(formatIndexLine).join('') + '{"msn":2,"d';
    expect(parseIndex(text)).toEqual([seg(0), seg(1, 0.4)]);
    expect(parseIndex('')).toEqual([]);
    expect(parseIndex(formatIndexLine(seg(1)))).toEqual([]);
  });
});

describe('parseVodPlaylist', () => {
  it('reads back the segments of a final playlist', () => {
    const segments = [seg(0), seg(1), seg(2, 0.4)];
    const text = renderMediaPlaylist({ targetDurationSec: 1, partTargetSec: 0.2, segments, ended: true });
    expect(parseVodPlaylist(text)).toEqual(segments);
  });

  it('is undefined without EXT-X-ENDLIST', () => {
    expect(parseVodPlaylist('')).toBeUndefined();
    expect(parseVodPlaylist('#EXTM3U\n#EXTINF:1.0,\nseg/0.m4s\n')).toBeUndefined();
  });
});

describe('trimmedSegmentCount', () => {
  const history = [seg(0), seg(1), seg(2), seg(3, 0.4)];

  it('leaves out the whole segments that end at or before the trim', () => {
    expect(trimmedSegmentCount(history, 0)).toBe(0);
    expect(trimmedSegmentCount(history, 0.999)).toBe(0);
    expect(trimmedSegmentCount(history, 1)).toBe(1);
    expect(trimmedSegmentCount(history, 2.5)).toBe(2);
    expect(trimmedSegmentCount(history, 3.2)).toBe(3);
  });

  it('refuses a trim that leaves nothing', () => {
    expect(() => trimmedSegmentCount(history, 3.4)).toThrow(/leaves nothing of the 3.4 s recording/);
    expect(() => trimmedSegmentCount([], 1)).toThrow(/leaves nothing/);
  });
});
