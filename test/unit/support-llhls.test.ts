import { writeFfmpegOpusFmp4 } from '../fixtures/ffmpeg-fmp4.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dominantFrequency } from '../../src/mix/goertzel.js';
import { readBoxes } from '../support/fmp4.js';
import { LlHlsListener, fetchAllPcm, parseMediaPlaylist } from '../support/llhls-client.js';
import { waitFor } from '../support/wait.js';
import { concatPcm } from '../support/spectrum.js';

const PART_MS = 200;
const PARTS_PER_SEG = 5;

/**
 * A toy LL-HLS origin: part k (= msn k/5, part k%5) is published at t0 + (k+1) * 200 ms, its bytes
 * are the ffmpeg fragments in a loop. Blocking reloads and preload-hint requests wait for the part.
 */
function toyOrigin(init: Buffer, fragments: Buffer[], opts: { endAfterParts?: number } = {}) {
  const t0 = performance.now();
  const published = () => {
    const n = Math.floor((performance.now() - t0) / PART_MS);
    return opts.endAfterParts !== undefined ? Math.min(n, opts.endAfterParts) : n;
  };
  const ended = () => opts.endAfterParts !== undefined && published() >= opts.endAfterParts;
  const partBytes = (k: number) => fragments[k % fragments.length];
  const waitFor = async (k: number) => {
    while (published() <= k && !ended()) await new Promise((r) => setTimeout(r, 5));
    return published() > k;
  };
  const playlist = () => {
    const n = published();
    const lines = ['#EXTM3U', '#EXT-X-VERSION:9', '#EXT-X-TARGETDURATION:1'];
    if (ended()) lines.push('#EXT-X-PLAYLIST-TYPE:VOD');
    else
      lines.push(
        '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6',
        '#EXT-X-PART-INF:PART-TARGET=0.2',
      );
    const segs = Math.floor(n / PARTS_PER_SEG);
    const first = Math.max(0, segs - 6);
    lines.push(`#EXT-X-MEDIA-SEQUENCE:${first}`, '#EXT-X-MAP:URI="init.mp4"');
    for (let s = first; s < segs; s++) {
      if (!ended() && s >= segs - 3)
        for (let p = 0; p < PARTS_PER_SEG; p++)
          lines.push(`#EXT-X-PART:DURATION=0.2,URI="part/${s}.${p}.m4s",INDEPENDENT=YES`);
      lines.push('#EXTINF:1.0,', `seg/${s}.m4s`);
    }
    if (ended()) lines.push('#EXT-X-ENDLIST');
    else {
      for (let p = 0; p < n % PARTS_PER_SEG; p++)
        lines.push(`#EXT-X-PART:DURATION=0.2,URI="part/${segs}.${p}.m4s"`);
      lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part/${segs}.${n % PARTS_PER_SEG}.m4s"`);
    }
    return lines.join('\n') + '\n';
  };
  const stats = { blockingReloads: 0, hintWaits: 0, inits: 0 };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const p = url.pathname;
      let m: RegExpExecArray | null;
      if (p.endsWith('/master.m3u8')) {
        res.end('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=40000,CODECS="opus"\naudio.m3u8\n');
      } else if (p.endsWith('/audio.m3u8')) {
        const msn = url.searchParams.get('_HLS_msn');
        if (msn !== null) {
          stats.blockingReloads++;
          await waitFor(Number(msn) * PARTS_PER_SEG + Number(url.searchParams.get('_HLS_part') ?? 0));
        }
        res.end(playlist());
      } else if (p.endsWith('/init.mp4')) {
        stats.inits++;
        res.end(init);
      } else if ((m = /\/part\/(\d+)\.(\d+)\.m4s$/.exec(p))) {
        const k = Number(m[1]) * PARTS_PER_SEG + Number(m[2]);
        if (published() <= k) stats.hintWaits++;
        if (!(await waitFor(k))) {
          res.statusCode = 404;
          res.end();
        } else res.end(partBytes(k));
      } else if ((m = /\/seg\/(\d+)\.m4s$/.exec(p))) {
        const s = Number(m[1]);
        res.end(
          Buffer.concat(Array.from({ length: PARTS_PER_SEG }, (_, i) => partBytes(s * PARTS_PER_SEG + i))),
        );
      } else {
        res.statusCode = 404;
        res.end();
      }
    })();
  });
  return { server, stats, t0 };
}

describe('LlHlsListener against a toy LL-HLS origin', () => {
  let dir: string;
  let init: Buffer;
  let fragments: Buffer[];
  const servers: Server[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tribune-llhls-'));
    const out = join(dir, 'out.mp4');
    writeFfmpegOpusFmp4(out);
    const file = readFileSync(out);
    const boxes = readBoxes(file);
    const moov = boxes.find((b) => b.type === 'moov')!;
    init = file.subarray(0, moov.end);
    fragments = [];
    for (let i = 0; i < boxes.length; i++) {
      if (boxes[i].type === 'moof' && boxes[i + 1]?.type === 'mdat' && boxes[i + 1].size > 1000) {
        fragments.push(file.subarray(boxes[i].start, boxes[i + 1].end));
      }
    }
  });
  afterAll(() => {
    servers.forEach((s) => s.close());
    rmSync(dir, { recursive: true, force: true });
  });

  const listen = async (s: Server) => {
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}/hls/spaces/x/master.m3u8`;
  };

  it('parses a live LL-HLS playlist into parts with (msn, part) and the preload hint', () => {
    const pl = parseMediaPlaylist(
      [
        '#EXTM3U',
        '#EXT-X-TARGETDURATION:1',
        '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6',
        '#EXT-X-PART-INF:PART-TARGET=0.2',
        '#EXT-X-MEDIA-SEQUENCE:7',
        '#EXT-X-MAP:URI="init.mp4"',
        '#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:00.000Z',
        '#EXT-X-PART:DURATION=0.2,URI="part/7.0.m4s",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=0.2,URI="part/7.1.m4s",INDEPENDENT=YES',
        '#EXTINF:0.4,',
        'seg/7.m4s',
        '#EXT-X-PART:DURATION=0.2,URI="part/8.0.m4s",INDEPENDENT=YES',
        '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part/8.1.m4s"',
      ].join('\n'),
    );
    expect(pl.canBlockReload).toBe(true);
    expect(pl.partTargetSec).toBe(0.2);
    expect(pl.mapUri).toBe('init.mp4');
    expect(pl.segments).toEqual([{ msn: 7, uri: 'seg/7.m4s', durationSec: 0.4 }]);
    expect(pl.parts.map((p) => `${p.msn}.${p.part}`)).toEqual(['7.0', '7.1', '8.0']);
    expect(pl.preloadHint).toEqual({ msn: 8, part: 1, uri: 'part/8.1.m4s' });
    expect(pl.ended).toBe(false);
  });

  it('plays parts in order from the live edge, as soon as they exist, and decodes them', async () => {
    const origin = toyOrigin(init, fragments);
    const master = await listen(origin.server);
    // a few parts exist already, so the listener must start at the live edge, not the window's start
    await waitFor('5 parts published', () => performance.now() - origin.t0 >= 5 * PART_MS + 100);
    const got: { pcm: Int16Array; t: number; id: string }[] = [];
    const l = new LlHlsListener({ masterUrl: master, onPcm: (pcm, t, id) => got.push({ pcm, t, id }) });
    await l.started;
    await waitFor('7 parts played', () => got.length >= 7);
    await l.stop();
    expect(got.length).toBeGreaterThanOrEqual(6);
    expect(l.missedParts).toBe(0);
    expect(origin.stats.inits).toBe(1);
    expect(origin.stats.hintWaits).toBeGreaterThanOrEqual(5);
    // consecutive ids, starting at the live edge (not at the start of the window)
    const ks = got.map((g) => g.id.split('.').map(Number)).map(([m, p]) => m * 5 + p);
    ks.forEach((k, i) => i > 0 && expect(k).toBe(ks[i - 1] + 1));
    expect(ks[0]).toBeGreaterThanOrEqual(5);
    // each part arrives within ~50 ms of its publication time
    for (let i = 0; i < got.length; i++) {
      const due = origin.t0 + (ks[i] + 1) * PART_MS;
      expect(got[i].t - due).toBeLessThan(60);
      expect(got[i].t - due).toBeGreaterThan(-5);
      expect(got[i].pcm.length).toBe(9600);
    }
    const pcm = concatPcm(got.map((g) => g.pcm));
    expect(dominantFrequency(pcm.subarray(960), 48_000, { minHz: 100, maxHz: 2000 })).toBe(440);
  });

  it('fetchAllPcm reads an ended (VOD) rendition', async () => {
    const origin = toyOrigin(init, fragments, { endAfterParts: 10 });
    const master = await listen(origin.server);
    await expect(fetchAllPcm(master)).rejects.toThrow(/ENDLIST/);
    const vod = await waitFor('the toy Space to end', () => fetchAllPcm(master).catch(() => null));
    expect(vod.segments).toBe(2);
    expect(vod.durationSec).toBe(2);
    expect(vod.pcm.length).toBe(2 * 48_000 - (vod.init.preSkip ?? 0));
    expect(dominantFrequency(vod.pcm.subarray(0, 48_000), 48_000, { minHz: 100, maxHz: 2000 })).toBe(440);
  });
});
