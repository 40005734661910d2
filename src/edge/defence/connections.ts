/**
 * Concurrent connections per client address, in a fixed table of counters (no allocation per
 * address). Past the cap a new connection gets a prebuilt 429 and is closed before any parsing.
 * Behind a proxy (trustProxy) every connection comes from the proxy: the cap is then off, and the
 * proxy's own limits apply.
 */
import type { Socket } from 'node:net';
import { hash32 } from './hash.js';

export class ConnectionCap {
  private readonly counts: Int32Array;
  private readonly mask: number;
  /** Connections refused since start. */
  refused = 0;

  constructor(
    public max: number,
    slotsBits = 16,
  ) {
    this.counts = new Int32Array(1 << slotsBits);
    this.mask = (1 << slotsBits) - 1;
  }

  /** Counts `socket` against its address until it closes; false (not counted) when over the cap. */
  admit(socket: Socket): boolean {
    if (this.max <= 0) return true;
    const slot = hash32(socket.remoteAddress ?? '') & this.mask;
    if (this.counts[slot]! >= this.max) {
      this.refused++;
      return false;
    }
    this.counts[slot]!++;
    socket.once('close', () => {
      this.counts[slot]!--;
    });
    return true;
  }
}
