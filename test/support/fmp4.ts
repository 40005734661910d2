/**
 * Minimal, pure fragmented-MP4 reader for tests: enough to pull Opus packets out of CMAF parts
 * (moof + mdat) and to read the timescale / Opus header from an init segment (ftyp + moov).
 * No dependencies; works on Uint8Array (Buffer is fine).
 */

export interface Box {
  type: string;
  /** offset of the box header in the buffer */
  start: number;
  /** total size including the header */
  size: number;
  /** offset of the payload (after size/type/largesize) */
  payloadStart: number;
  end: number;
}

export interface InitInfo {
  trackId: number;
  timescale: number;
  /** sample entry four-cc, e.g. 'Opus' */
  codec: string;
  channelCount: number;
  sampleRate: number;
  /** Opus pre-skip from dOps (samples at 48 kHz), if present */
  preSkip?: number;
  /** trex defaults */
  defaultSampleDuration: number;
  defaultSampleSize: number;
}

export interface FragmentSample {
  data: Uint8Array;
  duration: number;
  /** decode time in track timescale */
  dts: number;
}

export interface Fragment {
  sequenceNumber: number;
  trackId: number;
  baseMediaDecodeTime: number;
  samples: FragmentSample[];
}

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function fourcc(buf: Uint8Array, at: number): string {
  return String.fromCharCode(buf[at], buf[at + 1], buf[at + 2], buf[at + 3]);
}

/** Iterate the boxes laid out between start and end (one level). Throws on a truncated box. */
export function readBoxes(buf: Uint8Array, start = 0, end = buf.byteLength): Box[] {
  const dv = view(buf);
  const out: Box[] = [];
  let off = start;
  while (off + 8 <= end) {
    let size = dv.getUint32(off);
    const type = fourcc(buf, off + 4);
    let header = 8;
    if (size === 1) {
      if (off + 16 > end) throw new Error(`fmp4: truncated largesize box ${type} at ${off}`);
      size = Number(dv.getBigUint64(off + 8));
      header = 16;
    } else if (size === 0) {
      size = end - off;
    }
    if (size < header || off + size > end) {
      throw new Error(`fmp4: box ${type} at ${off} has size ${size}, exceeds buffer end ${end}`);
    }
    out.push({ type, start: off, size, payloadStart: off + header, end: off + size });
    off += size;
  }
  if (off !== end) throw new Error(`fmp4: ${end - off} trailing bytes at ${off}`);
  return out;
}

/** First box of `type` reached by the path (e.g. ['moov','trak','mdia','mdhd']), or undefined. */
export function findBox(buf: Uint8Array, path: string[], start = 0, end = buf.byteLength): Box | undefined {
  const [head, ...rest] = path;
  for (const b of readBoxes(buf, start, end)) {
    if (b.type !== head) continue;
    if (rest.length === 0) return b;
    const found = findBox(buf, rest, b.payloadStart, b.end);
    if (found) return found;
  }
  return undefined;
}

/** Parse an init segment (ftyp + moov) produced by mediabunny / ffmpeg. */
export function parseInit(buf: Uint8Array): InitInfo {
  const dv = view(buf);
  const tkhd = findBox(buf, ['moov', 'trak', 'tkhd']);
  const mdhd = findBox(buf, ['moov', 'trak', 'mdia', 'mdhd']);
  const stsd = findBox(buf, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd']);
  if (!tkhd || !mdhd || !stsd) throw new Error('fmp4: init segment lacks tkhd/mdhd/stsd');

  const tkhdVersion = buf[tkhd.payloadStart];
  const trackId = dv.getUint32(tkhd.payloadStart + 4 + (tkhdVersion === 1 ? 16 : 8));
  const mdhdVersion = buf[mdhd.payloadStart];
  const timescale = dv.getUint32(mdhd.payloadStart + 4 + (mdhdVersion === 1 ? 16 : 8));

  // stsd: fullbox header(4) + entry_count(4), then sample entries
  const entryStart = stsd.payloadStart + 8;
  const entry = readBoxes(buf, entryStart, stsd.end)[0];
  if (!entry) throw new Error('fmp4: empty stsd');
  // AudioSampleEntry: 6 reserved + 2 data_ref_index + 8 reserved + channelcount(2) + samplesize(2)
  //   + pre_defined(2) + reserved(2) + samplerate(4, 16.16) = 28 bytes, then child boxes
  const p = entry.payloadStart;
  const channelCount = dv.getUint16(p + 16);
  const sampleRate = dv.getUint32(p + 24) >>> 16;
  let preSkip: number | undefined;
  const children = p + 28 <= entry.end ? safeBoxes(buf, p + 28, entry.end) : [];
  const dOps = children.find((b) => b.type === 'dOps');
  if (dOps) {
    // Version(1) OutputChannelCount(1) PreSkip(2, BE) InputSampleRate(4) OutputGain(2) ChannelMappingFamily(1)
    preSkip = dv.getUint16(dOps.payloadStart + 2);
  }

  let defaultSampleDuration = 0;
  let defaultSampleSize = 0;
  const trex = findBox(buf, ['moov', 'mvex', 'trex']);
  if (trex) {
    // fullbox(4) track_ID(4) default_sample_description_index(4) duration(4) size(4) flags(4)
    defaultSampleDuration = dv.getUint32(trex.payloadStart + 12);
    defaultSampleSize = dv.getUint32(trex.payloadStart + 16);
  }
  return {
    trackId,
    timescale,
    codec: entry.type,
    channelCount,
    sampleRate,
    preSkip,
    defaultSampleDuration,
    defaultSampleSize,
  };
}

function safeBoxes(buf: Uint8Array, start: number, end: number): Box[] {
  try {
    return readBoxes(buf, start, end);
  } catch {
    return [];
  }
}

/**
 * Parse every moof (+ the mdat that follows it) in `buf`: a CMAF part, a whole segment (several
 * moof/mdat pairs), or a complete fragmented file (ftyp/moov/mfra are skipped).
 */
export function parseFragments(
  buf: Uint8Array,
  init?: Pick<InitInfo, 'defaultSampleDuration' | 'defaultSampleSize'>,
): Fragment[] {
  const dv = view(buf);
  const top = readBoxes(buf);
  const out: Fragment[] = [];
  for (const moof of top) {
    if (moof.type !== 'moof') continue;
    const mfhd = readBoxes(buf, moof.payloadStart, moof.end).find((b) => b.type === 'mfhd');
    const sequenceNumber = mfhd ? dv.getUint32(mfhd.payloadStart + 4) : 0;
    for (const traf of readBoxes(buf, moof.payloadStart, moof.end)) {
      if (traf.type !== 'traf') continue;
      const kids = readBoxes(buf, traf.payloadStart, traf.end);
      const tfhd = kids.find((b) => b.type === 'tfhd');
      if (!tfhd) throw new Error('fmp4: traf without tfhd');
      const tfhdFlags = dv.getUint32(tfhd.payloadStart) & 0xffffff;
      let q = tfhd.payloadStart + 4;
      const trackId = dv.getUint32(q);
      q += 4;
      let baseDataOffset = moof.start; // default-base-is-moof, and the de-facto default for the first traf
      if (tfhdFlags & 0x000001) {
        baseDataOffset = Number(dv.getBigUint64(q));
        q += 8;
      }
      if (tfhdFlags & 0x000002) q += 4; // sample_description_index
      let defDuration = init?.defaultSampleDuration ?? 0;
      let defSize = init?.defaultSampleSize ?? 0;
      if (tfhdFlags & 0x000008) {
        defDuration = dv.getUint32(q);
        q += 4;
      }
      if (tfhdFlags & 0x000010) {
        defSize = dv.getUint32(q);
      }
      // (default_sample_flags 0x20 follows; irrelevant here)

      let baseMediaDecodeTime = 0;
      const tfdt = kids.find((b) => b.type === 'tfdt');
      if (tfdt) {
        baseMediaDecodeTime =
          buf[tfdt.payloadStart] === 1
            ? Number(dv.getBigUint64(tfdt.payloadStart + 4))
            : dv.getUint32(tfdt.payloadStart + 4);
      }

      const samples: FragmentSample[] = [];
      let dts = baseMediaDecodeTime;
      let nextDataOffset = baseDataOffset;
      for (const trun of kids) {
        if (trun.type !== 'trun') continue;
        const flags = dv.getUint32(trun.payloadStart) & 0xffffff;
        let r = trun.payloadStart + 4;
        const count = dv.getUint32(r);
        r += 4;
        let dataOffset = nextDataOffset;
        if (flags & 0x000001) {
          dataOffset = baseDataOffset + dv.getInt32(r);
          r += 4;
        }
        if (flags & 0x000004) r += 4; // first_sample_flags
        for (let i = 0; i < count; i++) {
          let duration = defDuration;
          let size = defSize;
          if (flags & 0x000100) {
            duration = dv.getUint32(r);
            r += 4;
          }
          if (flags & 0x000200) {
            size = dv.getUint32(r);
            r += 4;
          }
          if (flags & 0x000400) r += 4; // sample flags
          if (flags & 0x000800) r += 4; // composition time offset (signed in v1)
          if (dataOffset + size > buf.byteLength) {
            throw new Error(`fmp4: sample ${i} [${dataOffset}, +${size}) outside buffer (${buf.byteLength})`);
          }
          samples.push({ data: buf.subarray(dataOffset, dataOffset + size), duration, dts });
          dataOffset += size;
          dts += duration;
        }
        nextDataOffset = dataOffset;
      }
      out.push({ sequenceNumber, trackId, baseMediaDecodeTime, samples });
    }
  }
  return out;
}

/** All sample payloads (Opus packets for an Opus track) of every fragment in `buf`, in order. */
export function extractSamples(
  buf: Uint8Array,
  init?: Pick<InitInfo, 'defaultSampleDuration' | 'defaultSampleSize'>,
): Uint8Array[] {
  return parseFragments(buf, init).flatMap((f) => f.samples.map((s) => s.data));
}
