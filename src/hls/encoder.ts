import { createRequire } from 'node:module';

// @discordjs/opus is a CommonJS native addon; load it through require so NodeNext ESM resolution stays happy.
const require = createRequire(import.meta.url);
const { OpusEncoder: NativeOpusEncoder } = require('@discordjs/opus') as typeof import('@discordjs/opus');

export const OPUS_SAMPLE_RATE = 48_000;
export const OPUS_CHANNELS = 1;
/** 20 ms at 48 kHz. */
export const OPUS_FRAME_SAMPLES = 960;
/**
 * Encoder delay of libopus at 48 kHz (OPUS_GET_LOOKAHEAD for the AUDIO/VOIP applications): the number of
 * decoded samples to discard at the start, written as PreSkip in the `dOps` box.
 */
export const OPUS_PRE_SKIP = 312;

/** 48 kHz mono Opus encoder: one 20 ms PCM frame in, one Opus packet out. */
export class OpusEncoder {
  private readonly native: InstanceType<typeof NativeOpusEncoder>;

  constructor(readonly bitrate = 32_000) {
    if (!Number.isInteger(bitrate) || bitrate < 6_000 || bitrate > 510_000) {
      throw new RangeError(`Opus bitrate must be an integer in [6000, 510000], got ${bitrate}`);
    }
    this.native = new NativeOpusEncoder(OPUS_SAMPLE_RATE, OPUS_CHANNELS);
    this.native.setBitrate(bitrate);
  }

  /** Encodes exactly 960 samples (20 ms) of signed 16-bit mono PCM. */
  encode(pcm: Int16Array): Uint8Array {
    if (pcm.length !== OPUS_FRAME_SAMPLES) {
      throw new RangeError(`Opus frames must be ${OPUS_FRAME_SAMPLES} samples, got ${pcm.length}`);
    }
    // Int16Array is host-endian; every platform Node supports here is little-endian, as libopus expects.
    const out = this.native.encode(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
}
