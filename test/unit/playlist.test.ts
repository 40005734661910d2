import { describe, expect, it } from 'vitest';
import {
  advancePartLimit,
  classifyBlockingRequest,
  renderMasterPlaylist,
  renderMediaPlaylist,
  type BlockingState,
  type MediaPlaylistInput,
} from '../../src/hls/playlist.js';

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);
const parts5 = Array.from({ length: 5 }, () => ({ durationSec: 0.2 }));

function live(overrides: Partial<MediaPlaylistInput> = {}): MediaPlaylistInput {
  return {
    targetDurationSec: 1,
    partTargetSec: 0.2,
    segments: [10, 11, 12, 13, 14].map((msn) => ({
      msn,
      durationSec: 1,
      programDateTimeMs: T0 + (msn - 10) * 1000,
      parts: parts5,
    })),
    current: { msn: 15, programDateTimeMs: T0 + 5000, parts: [{ durationSec: 0.2 }, { durationSec: 0.2 }] },
    ended: false,
    ...overrides,
  };
}

describe('renderMediaPlaylist (live)', () => {
  const text = renderMediaPlaylist(live());
  const lines = text.trimEnd().split('\n');

  it('has the LL-HLS header tags in order', () => {
    expect(lines.slice(0, 8)).toEqual([
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      '#EXT-X-TARGETDURATION:1',
      '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6,HOLD-BACK=3.0',
      '#EXT-X-PART-INF:PART-TARGET=0.2',
      '#EXT-X-MEDIA-SEQUENCE:10',
      '#EXT-X-INDEPENDENT-SEGMENTS',
      '#EXT-X-MAP:URI="init.mp4"',
    ]);
    expect(text).not.toContain('#EXT-X-ENDLIST');
    expect(text).not.toContain('PLAYLIST-TYPE');
  });

  it('lists every segment with a PROGRAM-DATE-TIME and EXTINF', () => {
    for (const msn of [10, 11, 12, 13, 14]) {
      const uriAt = lines.indexOf(`seg/${msn}.m4s`);
      expect(uriAt).toBeGreaterThan(0);
      expect(lines[uriAt - 1]).toBe('#EXTINF:1.0,');
    }
    expect(lines.filter((l) => l.startsWith('#EXT-X-PROGRAM-DATE-TIME:'))).toHaveLength(6);
    expect(lines).toContain(`#EXT-X-PROGRAM-DATE-TIME:${new Date(T0).toISOString()}`);
  });

  it('lists parts only for the 3 most recent segments plus the one in progress', () => {
    const partLines = lines.filter((l) => l.startsWith('#EXT-X-PART:'));
    expect(partLines).toHaveLength(3 * 5 + 2);
    expect(text).not.toContain('part/11.');
    expect(partLines[0]).toBe('#EXT-X-PART:DURATION=0.2,URI="part/12.0.m4s",INDEPENDENT=YES');
    expect(partLines.at(-1)).toBe('#EXT-X-PART:DURATION=0.2,URI="part/15.1.m4s",INDEPENDENT=YES');
    // parts of a completed segment come before its EXTINF
    expect(lines.indexOf('#EXT-X-PART:DURATION=0.2,URI="part/14.4.m4s",INDEPENDENT=YES')).toBe(
      lines.indexOf('seg/14.m4s') - 2,
    );
  });

  it('ends with the preload hint for the next part', () => {
    expect(lines.at(-1)).toBe('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part/15.2.m4s"');
    expect(lines.at(-2)).toContain('part/15.1.m4s');
  });

  it('hints part 0 of the next segment right after a segment closes', () => {
    const t = renderMediaPlaylist(live({ current: { msn: 15, parts: [] } }));
    expect(t.trimEnd().split('\n').at(-1)).toBe('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part/15.0.m4s"');
    expect(t).not.toContain(new Date(T0 + 5000).toISOString());
  });

  it('renders an empty live playlist before any media', () => {
    const t = renderMediaPlaylist({ targetDurationSec: 1, partTargetSec: 0.2, segments: [], ended: false });
    expect(t).toContain('#EXT-X-MEDIA-SEQUENCE:0');
    expect(t).toContain('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part/0.0.m4s"');
    expect(t).not.toContain('#EXTINF');
  });
});

describe('renderMediaPlaylist (VOD)', () => {
  const text = renderMediaPlaylist(live({ ended: true, current: undefined }));
  it('is a VOD playlist with ENDLIST and no LL-HLS tags', () => {
    expect(text).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(text.trimEnd().split('\n').at(-1)).toBe('#EXT-X-ENDLIST');
    for (const tag of ['#EXT-X-PART', '#EXT-X-PRELOAD-HINT', '#EXT-X-SERVER-CONTROL'])
      expect(text).not.toContain(tag);
    expect(text.match(/#EXTINF:/g)).toHaveLength(5);
    expect(text).toContain('#EXT-X-MAP:URI="init.mp4"');
  });
});

describe('renderMasterPlaylist', () => {
  it('points at audio.m3u8 with BANDWIDTH and CODECS="opus"', () => {
    const lines = renderMasterPlaylist({ bandwidth: 48_000.2 }).trimEnd().split('\n');
    expect(lines[0]).toBe('#EXTM3U');
    expect(lines).toContain('#EXT-X-STREAM-INF:BANDWIDTH=48001,CODECS="opus"');
    expect(lines.at(-1)).toBe('audio.m3u8');
  });
});

describe('classifyBlockingRequest', () => {
  // Segments 0..4 complete, last part 5.2 published (segment 5 in progress).
  const s: BlockingState = {
    lastSegmentMsn: 4,
    lastPart: { msn: 5, part: 2 },
    segmentParts: 5,
    partTargetSec: 0.2,
    ended: false,
  };
  const c = (q: Record<string, unknown>, st: BlockingState = s) => classifyBlockingRequest(q, st);

  it('is ready without directives', () => expect(c({})).toEqual({ kind: 'ready' }));
  it('is ready for existing segments and parts', () => {
    expect(c({ _HLS_msn: '4' })).toEqual({ kind: 'ready' });
    expect(c({ _HLS_msn: '0' })).toEqual({ kind: 'ready' });
    expect(c({ _HLS_msn: '5', _HLS_part: '2' })).toEqual({ kind: 'ready' });
    expect(c({ _HLS_msn: '4', _HLS_part: '9' })).toEqual({ kind: 'ready' }); // later parts exist
  });
  it('waits for exactly the next part and the segment in progress', () => {
    expect(c({ _HLS_msn: '5', _HLS_part: '3' })).toEqual({ kind: 'wait', msn: 5, part: 3 });
    expect(c({ _HLS_msn: '5' })).toEqual({ kind: 'wait', msn: 5 });
    expect(c({ _HLS_msn: '6' })).toEqual({ kind: 'wait', msn: 6 });
  });
  it('rejects _HLS_part without _HLS_msn', () => {
    expect(c({ _HLS_part: '1' }).kind).toBe('bad-request');
  });
  it('rejects malformed values', () => {
    for (const v of ['-1', 'abc', '1.5', '', ' 3', '1e3', ['1', '2'], '9999999999999999999']) {
      expect(c({ _HLS_msn: v }).kind, String(v)).toBe('bad-request');
      expect(c({ _HLS_msn: '5', _HLS_part: v }).kind, String(v)).toBe('bad-request');
    }
  });
  it('rejects an msn more than 2 segments past the last one', () => {
    expect(c({ _HLS_msn: '6' }).kind).toBe('wait'); // last + 2
    expect(c({ _HLS_msn: '7' }).kind).toBe('bad-request');
    expect(c({ _HLS_msn: '1000', _HLS_part: '0' }).kind).toBe('bad-request');
  });
  it('rejects a part beyond the Advance Part Limit', () => {
    expect(advancePartLimit(0.2)).toBe(15);
    expect(advancePartLimit(2)).toBe(3);
    // last published part is 5.2; 5.17 (= 8.2) is exactly 15 parts ahead
    expect(c({ _HLS_msn: '6', _HLS_part: '4' }).kind).toBe('wait');
    expect(c({ _HLS_msn: '5', _HLS_part: '17' }).kind).toBe('wait'); // exactly 15 ahead
    expect(c({ _HLS_msn: '5', _HLS_part: '18' }).kind).toBe('bad-request');
    expect(c({ _HLS_msn: '6', _HLS_part: '50' }).kind).toBe('bad-request');
  });
  it('handles a store with no media yet', () => {
    const empty: BlockingState = { lastSegmentMsn: -1, segmentParts: 5, partTargetSec: 0.2, ended: false };
    expect(c({ _HLS_msn: '0', _HLS_part: '0' }, empty)).toEqual({ kind: 'wait', msn: 0, part: 0 });
    expect(c({ _HLS_msn: '1' }, empty).kind).toBe('wait');
    expect(c({ _HLS_msn: '2' }, empty).kind).toBe('bad-request');
  });
  it('never blocks once ended, but still rejects malformed input', () => {
    const ended = { ...s, ended: true };
    expect(c({ _HLS_msn: '6', _HLS_part: '3' }, ended)).toEqual({ kind: 'ready' });
    expect(c({ _HLS_msn: 'x' }, ended).kind).toBe('bad-request');
  });
});
