/**
 * Signed passes that are good once (a proof-of-work challenge, a no-JavaScript delay pass): their
 * nonce is remembered until the pass expires. Entries are made only by a valid pass (each one cost
 * work or time), the map is capped, and when it is full the edge refuses (BROWNOUT) rather than
 * forget, so a replay never slips through.
 */
export type RedeemResult = 'ok' | 'replayed' | 'full';

export class OneUse {
  /** nonce -> expiry (ms), in redemption order. */
  private readonly redeemed = new Map<string, number>();

  constructor(private readonly max: number) {}

  has(nonce: string): boolean {
    return this.redeemed.has(nonce);
  }

  /** Marks `nonce` used until `expiresAtMs`. */
  redeem(nonce: string, expiresAtMs: number, nowMs: number): RedeemResult {
    if (this.redeemed.has(nonce)) return 'replayed';
    this.sweep(nowMs, false);
    if (this.redeemed.size >= this.max) {
      this.sweep(nowMs, true);
      if (this.redeemed.size >= this.max) return 'full';
    }
    this.redeemed.set(nonce, expiresAtMs);
    return 'ok';
  }

  get size(): number {
    return this.redeemed.size;
  }

  /**
   * Forgets nonces whose pass has expired (it is refused anyway). Cheap pass: from the oldest
   * redemption until the first one still live; `full`: every entry.
   */
  private sweep(now: number, full: boolean): void {
    for (const [n, e] of this.redeemed) {
      if (e <= now) this.redeemed.delete(n);
      else if (!full) break;
    }
  }
}
