/**
 * Incremental scan of a CMAF byte stream (the init segment, then moof+mdat per part) for the parts'
 * sequence numbers (mfhd) and decode times (tfdt). A moof is read in place when a read holds it
 * whole (the usual case) and copied only when split; mdat payloads are skipped. Same technique as
 * bench/edge-stream-client.ts, one instance per listener.
 */

const fourcc = (t: string): number => Buffer.from(t, 'latin1').readUInt32BE(0);
const MOOF = fourcc('moof');
const MFHD = fourcc('mfhd');
const TRAF = fourcc('traf');
const TFDT = fourcc('tfdt');

/** Sequence number and decode time of one moof; -1 when absent. */
export function readMoof(m: Buffer, from: number, to: number): { seq: number; tfdt: number } {
  const out = { seq: -1, tfdt: -1 };
  walk(m, from, to, out);
  return out;
}

function walk(m: Buffer, from: number, to: number, out: { seq: number; tfdt: number }): void {
  let o = from;
  while (o + 8 <= to) {
    const size = m.readUInt32BE(o);
    const type = m.readUInt32BE(o + 4);
    if (size < 8 || o + size > to) return;
    if (type === MFHD && o + 16 <= to) out.seq = m.readUInt32BE(o + 12);
    else if (type === TRAF) walk(m, o + 8, o + size, out);
    else if (type === TFDT && o + 16 <= to)
      out.tfdt = m[o + 8] === 1 && o + 20 <= to ? Number(m.readBigUInt64BE(o + 12)) : m.readUInt32BE(o + 12);
    o += size;
  }
}

export class Mp4PartScanner {
  private hdr = Buffer.allocUnsafe(8);
  private hdrLen = 0;
  private skip = 0;
  private moof: Buffer | undefined;
  private moofLen = 0;

  /** `onPart(seq, tfdt)` per moof; `onError` for a malformed box. */
  constructor(
    private readonly onPart: (seq: number, tfdt: number) => void,
    private readonly onError: (why: string) => void,
  ) {}

  reset(): void {
    this.hdrLen = 0;
    this.skip = 0;
    this.moof = undefined;
  }

  push(d: Buffer, from = 0, to = d.length): void {
    let off = from;
    while (off < to) {
      if (this.moof) {
        const n = Math.min(this.moof.length - this.moofLen, to - off);
        d.copy(this.moof, this.moofLen, off, off + n);
        this.moofLen += n;
        off += n;
        if (this.moofLen === this.moof.length) {
          const m = this.moof;
          this.moof = undefined;
          this.part(m, 0, m.length);
        }
        continue;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, to - off);
        this.skip -= n;
        off += n;
        continue;
      }
      const n = Math.min(8 - this.hdrLen, to - off);
      d.copy(this.hdr, this.hdrLen, off, off + n);
      this.hdrLen += n;
      off += n;
      if (this.hdrLen < 8) return;
      this.hdrLen = 0;
      const size = this.hdr.readUInt32BE(0);
      if (size < 8) {
        this.onError(`MP4 box of size ${size}`);
        this.skip = Infinity;
        return;
      }
      if (this.hdr.readUInt32BE(4) === MOOF) {
        if (to - off >= size - 8) {
          this.part(d, off, off + size - 8);
          off += size - 8;
        } else {
          this.moof = Buffer.allocUnsafe(size - 8);
          this.moofLen = 0;
        }
      } else this.skip = size - 8;
    }
  }

  private part(m: Buffer, from: number, to: number): void {
    const { seq, tfdt } = readMoof(m, from, to);
    this.onPart(seq, tfdt);
  }
}
