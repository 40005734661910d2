import { writeFile } from 'node:fs/promises';
import { ToneGenerator } from './tone.js';

export interface ToneWavOptions {
  freqHz: number;
  seconds: number;
  sampleRate?: number;
  /** 0..1 of full scale */
  amplitude?: number;
  /** tone on for onMs at the start of every periodMs, silence otherwise */
  burst?: { periodMs: number; onMs: number };
}

/** 16-bit little-endian mono PCM WAV bytes. */
export function encodeWav(samples: Int16Array, sampleRate: number): Buffer {
  const dataBytes = samples.length * 2;
  const buf = Buffer.alloc(44 + dataBytes);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + dataBytes, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16); // fmt chunk size
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(sampleRate, 24);
  buf.writeUInt32LE(sampleRate * 2, 28); // byte rate
  buf.writeUInt16LE(2, 32); // block align
  buf.writeUInt16LE(16, 34); // bits per sample
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < samples.length; i++) buf.writeInt16LE(samples[i], 44 + i * 2);
  return buf;
}

/** Parse a 16-bit PCM WAV (first channel only). */
export function decodeWav(buf: Buffer): { sampleRate: number; channels: number; samples: Int16Array } {
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('wav: not a RIFF/WAVE file');
  }
  let off = 12;
  let sampleRate = 0;
  let channels = 0;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      if (buf.readUInt16LE(off + 8) !== 1 || buf.readUInt16LE(off + 22) !== 16)
        throw new Error('wav: not 16-bit PCM');
      channels = buf.readUInt16LE(off + 10);
      sampleRate = buf.readUInt32LE(off + 12);
    } else if (id === 'data') {
      const n = Math.floor(Math.min(size, buf.length - off - 8) / (2 * channels));
      const samples = new Int16Array(n);
      for (let i = 0; i < n; i++) samples[i] = buf.readInt16LE(off + 8 + i * 2 * channels);
      return { sampleRate, channels, samples };
    }
    off += 8 + size + (size & 1);
  }
  throw new Error('wav: no data chunk');
}

/** Tone samples as writeToneWav would write them. */
export function renderTone(opts: ToneWavOptions): Int16Array {
  const gen = new ToneGenerator({
    freqHz: opts.freqHz,
    sampleRate: opts.sampleRate ?? 48_000,
    amplitude: opts.amplitude ?? 0.5,
    continuous: !opts.burst,
    autoBurst: opts.burst,
  });
  return gen.render(opts.seconds);
}

/**
 * Write a 16-bit mono PCM WAV with a sine (optionally in bursts), e.g. for Chromium's
 * `--use-file-for-fake-audio-capture=path` (Chromium loops the file).
 */
export async function writeToneWav(path: string, opts: ToneWavOptions): Promise<void> {
  await writeFile(path, encodeWav(renderTone(opts), opts.sampleRate ?? 48_000));
}
