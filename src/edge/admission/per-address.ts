/**
 * Per-client-address state of the gate, bounded: a token bucket of new joins per address (a flood
 * from one address is refused, others are not harmed), and the address tags tokens carry.
 */
import { addressTag } from './tokens.js';

const MAX_ADDRESSES = 100_000;

export class JoinLimiter {
  /** address -> [tokens, refilled at] */
  private readonly buckets = new Map<string, [number, number]>();

  constructor(
    readonly perMinute: number,
    private readonly now: () => number,
  ) {}

  /** Takes one join for `address`; false when its bucket is empty. */
  take(address: string): boolean {
    const t = this.now();
    const b = this.buckets.get(address) ?? [this.perMinute, t];
    const tokens = Math.min(this.perMinute, b[0] + ((t - b[1]) * this.perMinute) / 60_000);
    if (this.buckets.size >= MAX_ADDRESSES && !this.buckets.has(address)) this.buckets.clear();
    this.buckets.set(address, [tokens >= 1 ? tokens - 1 : tokens, t]);
    return tokens >= 1;
  }

  /** Seconds until one more join is allowed from an address that just ran out. */
  get retryAfterSec(): number {
    return Math.ceil(60 / this.perMinute);
  }
}

/** Address tags (a keyed hash each), remembered for recent addresses. */
export class AddressTags {
  private readonly tags = new Map<string, string>();

  constructor(private readonly key: Buffer) {}

  of(address: string): string {
    let t = this.tags.get(address);
    if (t === undefined) {
      if (this.tags.size >= MAX_ADDRESSES) this.tags.clear();
      t = addressTag(this.key, address);
      this.tags.set(address, t);
    }
    return t;
  }
}
