/**
 * Splits a CMAF byte stream (init segment ftyp+moov, then moof+mdat fragments) read from the network
 * into runs of complete top-level boxes, whatever the chunking: several fragments in one read, or
 * one fragment across several reads. Only complete boxes are handed on, so a connection cut in the
 * middle of a fragment never leaves half a fragment in the SourceBuffer's parser.
 */

/** Largest top-level box accepted (a 200 ms Opus part is ~1 kB; the init segment is ~1 kB). */
const MAX_BOX_BYTES = 16 * 1024 * 1024;

export interface BoxRun {
  /** Complete boxes, ending at a box that closes a unit (moov or mdat): ready to append. */
  bytes: Uint8Array<ArrayBuffer>;
  /** The run contains an init segment (moov). */
  init: boolean;
  /** Number of media fragments (mdat) in the run. */
  fragments: number;
}

export class Mp4BoxSplitter {
  private buf: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  /** Bytes of `buf` already known to be complete boxes (scanned). */
  private scanned = 0;
  /** End of the last complete box that closes a unit (moov, mdat) within `scanned`. */
  private flushable = 0;
  private init = false;
  private fragments = 0;

  /** Bytes held back (an incomplete box, or a moof still waiting for its mdat). */
  get pending(): number {
    return this.buf.length;
  }

  /** Forgets everything held back (a new connection starts at a box boundary). */
  reset(): void {
    this.buf = new Uint8Array(0);
    this.scanned = this.flushable = this.fragments = 0;
    this.init = false;
  }

  /** Adds a network chunk; returns the complete units it finished (or null). Throws on garbage. */
  push(chunk: Uint8Array): BoxRun | null {
    if (chunk.length === 0) return null;
    const next = new Uint8Array(this.buf.length + chunk.length);
    next.set(this.buf, 0);
    next.set(chunk, this.buf.length);
    this.buf = next;
    const view = new DataView(next.buffer, next.byteOffset, next.byteLength);
    while (this.buf.length - this.scanned >= 8) {
      let size = view.getUint32(this.scanned);
      const type = String.fromCharCode(...this.buf.subarray(this.scanned + 4, this.scanned + 8));
      if (size === 1) {
        if (this.buf.length - this.scanned < 16) break;
        size = Number(view.getBigUint64(this.scanned + 8));
      }
      if (size < 8 || size > MAX_BOX_BYTES || !/^[\x20-\x7e]{4}$/.test(type))
        throw new Error(`invalid MP4 box "${type}" of ${size} bytes`);
      if (this.buf.length - this.scanned < size) break;
      this.scanned += size;
      if (type === 'moov') this.init = true;
      if (type === 'moov' || type === 'mdat') this.flushable = this.scanned;
      if (type === 'mdat') this.fragments++;
    }
    if (this.flushable === 0) return null;
    const run: BoxRun = {
      bytes: this.buf.slice(0, this.flushable),
      init: this.init,
      fragments: this.fragments,
    };
    this.buf = this.buf.slice(this.flushable);
    this.scanned -= this.flushable;
    this.flushable = 0;
    this.fragments = 0;
    this.init = false;
    return run;
  }
}
