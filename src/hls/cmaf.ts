/**
 * CMAF / fragmented-MP4 packaging of a live Opus stream: one init segment (ftyp+moov with `dOps`) and one
 * moof+mdat fragment per LL-HLS part.
 *
 * Why a hand-written box writer and not mediabunny (checked against mediabunny 1.61, isobmff-muxer.js):
 *  - Its fragmented muxer only closes a fragment when the *next* packet arrives, and decides so by comparing
 *    float-second timestamps with `minimumFragmentDuration`; with 20 ms packets rounding makes some fragments
 *    11 packets long (measured: 2776 fragments for 30000 packets instead of 3000), so parts are not exactly
 *    `partFrames` packets. The only way to force a boundary (`_muxer.forceFragmentFinalization`) is internal and
 *    writes the fragment's last sample with a duration of 0, breaking the timeline.
 *  - It keeps every finalized chunk (`finalizedChunks`, for the final `mfra`) for the life of the Output: memory
 *    grows without bound on a never-ending live stream.
 * Opus in ISOBMFF needs only a dozen small boxes, so they are written here: pure, integer time arithmetic,
 * zero added latency (a part is emitted as soon as its last packet is pushed).
 */
import { OPUS_CHANNELS, OPUS_FRAME_SAMPLES, OPUS_PRE_SKIP, OPUS_SAMPLE_RATE } from './encoder.js';

export const CMAF_TIMESCALE = OPUS_SAMPLE_RATE;
const TRACK_ID = 1;

// ---------------------------------------------------------------- box helpers

type Bytes = Uint8Array;

function concat(chunks: readonly Bytes[]): Bytes {
  let len = 0;
  for (const c of chunks) len += c.byteLength;
  const out = new Uint8Array(len);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

function u8(v: number): Bytes {
  return Uint8Array.of(v & 0xff);
}
function u16(v: number): Bytes {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, v);
  return b;
}
function u32(v: number): Bytes {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
}
function u64(v: number): Bytes {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v));
  return b;
}
function ascii(s: string): Bytes {
  return new TextEncoder().encode(s);
}
function zeros(n: number): Bytes {
  return new Uint8Array(n);
}

function box(type: string, ...payload: Bytes[]): Bytes {
  const body = concat(payload);
  return concat([u32(8 + body.byteLength), ascii(type), body]);
}
function fullBox(type: string, version: number, flags: number, ...payload: Bytes[]): Bytes {
  return box(type, u8(version), u8(flags >> 16), u16(flags & 0xffff), ...payload);
}

const UNITY_MATRIX = concat([0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000].map(u32));

// ---------------------------------------------------------------- init segment

export interface OpusInitOptions {
  channels?: number;
  preSkip?: number;
  inputSampleRate?: number;
}

/** ftyp + moov for a single Opus audio track at a 48 kHz timescale, ready for fragments (mvex/trex). */
export function buildOpusInitSegment(opts: OpusInitOptions = {}): Bytes {
  const channels = opts.channels ?? OPUS_CHANNELS;
  const preSkip = opts.preSkip ?? OPUS_PRE_SKIP;
  const ftyp = box('ftyp', ascii('iso6'), u32(0), ascii('iso6'), ascii('cmfc'), ascii('iso5'), ascii('mp41'));
  const mvhd = fullBox(
    'mvhd',
    0,
    0,
    u32(0), // creation_time
    u32(0), // modification_time
    u32(1000), // timescale
    u32(0), // duration (unknown: fragmented)
    u32(0x00010000), // rate 1.0
    u16(0x0100), // volume 1.0
    zeros(10),
    UNITY_MATRIX,
    zeros(24), // pre_defined
    u32(TRACK_ID + 1), // next_track_ID
  );
  const tkhd = fullBox(
    'tkhd',
    0,
    0x3, // enabled | in_movie
    u32(0),
    u32(0),
    u32(TRACK_ID),
    u32(0), // reserved
    u32(0), // duration
    zeros(8),
    u16(0), // layer
    u16(0), // alternate_group
    u16(0x0100), // volume
    u16(0),
    UNITY_MATRIX,
    u32(0), // width
    u32(0), // height
  );
  const mdhd = fullBox(
    'mdhd',
    0,
    0,
    u32(0),
    u32(0),
    u32(CMAF_TIMESCALE),
    u32(0),
    u16(0x55c4 /* und */),
    u16(0),
  );
  const hdlr = fullBox('hdlr', 0, 0, u32(0), ascii('soun'), zeros(12), ascii('SoundHandler\0'));
  // https://opus-codec.org/docs/opus_in_isobmff.html section 4.3.2 (all fields big-endian)
  const dOps = box(
    'dOps',
    u8(0), // Version
    u8(channels), // OutputChannelCount
    u16(preSkip),
    u32(opts.inputSampleRate ?? OPUS_SAMPLE_RATE),
    u16(0), // OutputGain
    u8(0), // ChannelMappingFamily 0: mono/stereo
  );
  const opusEntry = box(
    'Opus',
    zeros(6),
    u16(1), // data_reference_index
    zeros(8), // reserved
    u16(channels),
    u16(16), // samplesize
    u16(0), // pre_defined
    u16(0), // reserved
    u32(CMAF_TIMESCALE * 65536), // samplerate 16.16
    dOps,
  );
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, 0, u32(1), opusEntry),
    fullBox('stts', 0, 0, u32(0)),
    fullBox('stsc', 0, 0, u32(0)),
    fullBox('stsz', 0, 0, u32(0), u32(0)),
    fullBox('stco', 0, 0, u32(0)),
  );
  const dinf = box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1)));
  const minf = box('minf', fullBox('smhd', 0, 0, u16(0), u16(0)), dinf, stbl);
  const trak = box('trak', tkhd, box('mdia', mdhd, hdlr, minf));
  const trex = fullBox('trex', 0, 0, u32(TRACK_ID), u32(1), u32(OPUS_FRAME_SAMPLES), u32(0), u32(0));
  return concat([ftyp, box('moov', mvhd, trak, box('mvex', trex))]);
}

// ---------------------------------------------------------------- media fragments

/** Every Opus packet is a sync sample: sample_depends_on = 2 (does not depend on others), not non-sync. */
const SYNC_SAMPLE_FLAGS = 0x02000000;

export interface FragmentSample {
  data: Bytes;
  /** In timescale units (48 kHz samples). */
  duration: number;
}

/** moof + mdat for one run of samples starting at `baseMediaDecodeTime` (48 kHz units). */
export function buildFragment(
  sequenceNumber: number,
  baseMediaDecodeTime: number,
  samples: readonly FragmentSample[],
): Bytes {
  if (samples.length === 0) throw new RangeError('A fragment needs at least one sample');
  const moofFor = (dataOffset: number): Bytes => {
    const tfhd = fullBox(
      'tfhd',
      0,
      0x020000 | 0x000008 | 0x000020, // default-base-is-moof | default duration | default flags
      u32(TRACK_ID),
      u32(OPUS_FRAME_SAMPLES),
      u32(SYNC_SAMPLE_FLAGS),
    );
    const tfdt = fullBox('tfdt', 1, 0, u64(baseMediaDecodeTime));
    const trun = fullBox(
      'trun',
      0,
      0x000001 | 0x000100 | 0x000200, // data offset | sample duration | sample size
      u32(samples.length),
      u32(dataOffset),
      ...samples.flatMap((s) => [u32(s.duration), u32(s.data.byteLength)]),
    );
    return box('moof', fullBox('mfhd', 0, 0, u32(sequenceNumber)), box('traf', tfhd, tfdt, trun));
  };
  const moofSize = moofFor(0).byteLength; // size does not depend on the offset value
  const moof = moofFor(moofSize + 8);
  const mdat = box('mdat', ...samples.map((s) => s.data));
  return concat([moof, mdat]);
}

// ---------------------------------------------------------------- packager

export interface CmafPart {
  /** moof + mdat. */
  bytes: Uint8Array;
  durationSec: number;
  /** tfdt of the part, in 48 kHz samples. */
  firstSampleTime: number;
  /** Number of Opus packets in the part. */
  frames: number;
  /** mfhd sequence number (1-based). */
  sequence: number;
}

export interface CmafPackagerOptions {
  /** Opus packets per part (default 10 = 200 ms). */
  partFrames?: number;
  preSkip?: number;
  onInit: (bytes: Uint8Array) => void;
  onPart: (part: CmafPart) => void;
}

/**
 * Turns 20 ms Opus packets into an init segment and one fragment per `partFrames` packets. The decode timeline is
 * owned by the packager: it starts at the first packet's timestamp and advances by each packet's duration, so
 * tfdt is continuous across parts even if a caller's clock jitters. Each part starts with a sync sample (every
 * Opus packet is one).
 */
export class CmafPackager {
  readonly partFrames: number;
  readonly init: Uint8Array;
  private pending: FragmentSample[] = [];
  private pendingStart = 0;
  private nextDecodeTime: number | undefined;
  private sequence = 1;
  private initSent = false;

  constructor(private readonly opts: CmafPackagerOptions) {
    this.partFrames = opts.partFrames ?? 10;
    if (!Number.isInteger(this.partFrames) || this.partFrames < 1)
      throw new RangeError('partFrames must be >= 1');
    this.init = buildOpusInitSegment({ preSkip: opts.preSkip });
  }

  /**
   * Adds one Opus packet. `timestamp` is in 48 kHz samples; only the first one is used, to anchor the timeline.
   * Emits the init segment before the first part, and a part synchronously when this packet completes one.
   */
  push(packet: Uint8Array, timestamp: number, durationSamples = OPUS_FRAME_SAMPLES): void {
    if (!this.initSent) {
      this.initSent = true;
      this.opts.onInit(this.init);
    }
    if (this.nextDecodeTime === undefined) {
      if (!Number.isSafeInteger(timestamp) || timestamp < 0)
        throw new RangeError(`Bad timestamp ${timestamp}`);
      this.nextDecodeTime = timestamp;
    }
    if (this.pending.length === 0) this.pendingStart = this.nextDecodeTime;
    this.pending.push({ data: packet, duration: durationSamples });
    this.nextDecodeTime += durationSamples;
    if (this.pending.length >= this.partFrames) this.flush();
  }

  /** Emits the pending, possibly short, part (call at end of stream). No-op when nothing is pending. */
  flush(): void {
    if (this.pending.length === 0) return;
    const samples = this.pending;
    this.pending = [];
    const sequence = this.sequence++;
    const total = samples.reduce((acc, s) => acc + s.duration, 0);
    this.opts.onPart({
      bytes: buildFragment(sequence, this.pendingStart, samples),
      durationSec: total / CMAF_TIMESCALE,
      firstSampleTime: this.pendingStart,
      frames: samples.length,
      sequence,
    });
  }
}
