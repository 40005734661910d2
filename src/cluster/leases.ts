/**
 * Which origin runs which live Space: a lease per Space in Redis, with a heartbeat and a fencing
 * token (several origins; see src/cluster/README in the architecture notes of cluster.ts).
 *
 * - Key `tribune:space-owner:<id>` = `<fence> <originId> <url>`, with a TTL of `leaseMs`. Taken
 *   with a Lua script that only sets it when absent (or already ours), so two origins claiming one
 *   Space at once get one winner; the loser learns the owner's id and URL (to forward to it).
 * - The fencing token comes from `INCR tribune:space-fence:<id>`: each new holder gets a larger one.
 *   The holder records it in the control-plane database (Storage.fenceSpaceMedia) and passes it with
 *   every write about the Space's media, so a holder that lost the lease without knowing it (frozen,
 *   cut off) is refused there (LEASE_LOST), however late its write arrives.
 * - One heartbeat every leaseMs/3 renews every lease this origin holds in one script call
 *   (compare-and-pexpire); a lease found taken is lost at once (`onLost`). One found expired that
 *   nobody claimed since (its fence counter unchanged) is taken back with the same token.
 * - `holds(id)` is local and costs nothing: true while the last confirmed renewal (measured from
 *   when it was *sent*) is younger than `leaseMs` minus a safety margin. Media writes check it, so a
 *   holder stops writing before anyone else can have taken the Space.
 * - Redis down is not a reason to stop a live Space (nobody else can claim it either): while Redis
 *   cannot be reached, a lease is confirmed instead by `stillOurs` (the fence the holder wrote next
 *   to the Space's recording on the shared data dir is still its own). An origin cut off from Redis
 *   while the others are not sees the new holder's fence there at its next heartbeat, and stops.
 *
 * Any Redis failure or malformed reply in claim/owner raises 503 STORE_UNAVAILABLE.
 */
import type { Redis } from 'ioredis';
import { TribuneError } from '../errors.js';
import { MAX_REPLY_BYTES, shared } from '../shared/redis.js';

export const OWNER_KEY = 'tribune:space-owner:';
export const FENCE_KEY = 'tribune:space-fence:';

/** `fence originId url`: what the owner key holds. */
const OWNER_RE = /^([1-9][0-9]{0,15}) ([A-Za-z0-9_.:-]{1,64}) (https?:\/\/[^\s/]{1,255})$/;

export interface LeaseOwner {
  fence: number;
  originId: string;
  url: string;
}

export type ClaimResult = { ok: true; fence: number } | { ok: false; owner: LeaseOwner };

const CLAIM = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local f, o = string.match(cur, '^(%d+) (%S+) ')
  if o == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return {1, cur}
  end
  return {0, cur}
end
local f = redis.call('INCR', KEYS[2])
local v = f .. ' ' .. ARGV[1] .. ' ' .. ARGV[2]
redis.call('SET', KEYS[1], v, 'PX', ARGV[3])
return {1, v}`;

/**
 * KEYS: owner key, fence key, owner key, fence key...; ARGV[1]: ttl, ARGV[2..]: the values we expect.
 * Returns 1/0 per Space. A lease that expired while nobody else claimed it (the fence counter still
 * at our token: e.g. Redis was unreachable for longer than the lease) is taken again as it was, so
 * an outage of Redis does not stop every Space when Redis returns.
 */
const RENEW = `
local out = {}
for i = 1, #ARGV - 1 do
  local ok = 0
  local v = ARGV[i + 1]
  local cur = redis.call('GET', KEYS[2 * i - 1])
  if cur == v then
    redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[1])
    ok = 1
  elseif not cur and redis.call('GET', KEYS[2 * i]) == string.match(v, '^(%d+) ') then
    redis.call('SET', KEYS[2 * i - 1], v, 'PX', ARGV[1])
    ok = 1
  end
  out[i] = ok
end
return out`;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export function parseOwner(v: unknown): LeaseOwner | undefined {
  if (typeof v !== 'string' || v.length > MAX_REPLY_BYTES) return undefined;
  const m = OWNER_RE.exec(v);
  if (!m) return undefined;
  const fence = Number(m[1]);
  return Number.isSafeInteger(fence) ? { fence, originId: m[2], url: m[3] } : undefined;
}

interface Held {
  value: string;
  fence: number;
  /** When the renewal that last confirmed it was sent (ms). */
  confirmedAt: number;
}

export interface SpaceLeasesOptions {
  originId: string;
  /** This origin's base URL, for the others to forward to. */
  url: string;
  leaseMs: number;
  /** A lease this origin held is gone (expired, taken): stop its media now. */
  onLost(spaceId: string, fence: number): void;
  /** Confirms leases while Redis is unreachable: true when nobody newer took the Space (see above). */
  stillOurs?: (spaceId: string, fence: number) => Promise<boolean>;
  now?: () => number;
}

export class SpaceLeases {
  private readonly held = new Map<string, Held>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private renewing = false;
  /** A holder stops trusting its lease this long before it could expire in Redis. */
  private readonly marginMs: number;

  constructor(
    private readonly client: Redis,
    private readonly opts: SpaceLeasesOptions,
  ) {
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(opts.originId)) throw new Error(`bad origin id ${opts.originId}`);
    if (!/^https?:\/\/[^\s/]{1,255}$/.test(opts.url)) throw new Error(`bad origin URL ${opts.url}`);
    this.now = opts.now ?? Date.now;
    this.marginMs = Math.max(100, Math.round(opts.leaseMs * 0.2));
  }

  get originId(): string {
    return this.opts.originId;
  }

  get url(): string {
    return this.opts.url;
  }

  /** Starts the heartbeat (every leaseMs/3). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.renew(), Math.max(50, Math.floor(this.opts.leaseMs / 3)));
    this.timer.unref();
  }

  /**
   * Takes the Space's lease if nobody holds it (or renews it if we do). The loser gets the owner.
   * STORE_UNAVAILABLE when Redis fails or answers something malformed.
   */
  async claim(spaceId: string): Promise<ClaimResult> {
    const sentAt = this.now();
    const reply = await shared(
      () =>
        this.client.eval(
          CLAIM,
          2,
          OWNER_KEY + spaceId,
          FENCE_KEY + spaceId,
          this.opts.originId,
          this.opts.url,
          String(this.opts.leaseMs),
        ),
      (r) => {
        if (!Array.isArray(r) || r.length !== 2 || (r[0] !== 0 && r[0] !== 1)) return undefined;
        const owner = parseOwner(r[1]);
        return owner ? { won: r[0] === 1, owner, value: r[1] as string } : undefined;
      },
    );
    if (!reply.won) return { ok: false, owner: reply.owner };
    if (reply.owner.originId !== this.opts.originId) throw new TribuneError('STORE_UNAVAILABLE');
    this.held.set(spaceId, { value: reply.value, fence: reply.owner.fence, confirmedAt: sentAt });
    return { ok: true, fence: reply.owner.fence };
  }

  /** Who holds the Space's lease now (null: nobody). STORE_UNAVAILABLE on failure or a malformed reply. */
  async owner(spaceId: string): Promise<LeaseOwner | null> {
    return shared(
      () => this.client.get(OWNER_KEY + spaceId),
      (r) => (r === null ? null : parseOwner(r)),
    );
  }

  /** The holders of many Spaces' leases, in order, with one MGET per 1,000 (the sweep). */
  async owners(spaceIds: readonly string[]): Promise<(LeaseOwner | null)[]> {
    const out: (LeaseOwner | null)[] = [];
    for (let i = 0; i < spaceIds.length; i += 1000) {
      const keys = spaceIds.slice(i, i + 1000).map((id) => OWNER_KEY + id);
      const page = await shared(
        () => this.client.mget(keys),
        (r) => {
          if (!Array.isArray(r) || r.length !== keys.length) return undefined;
          const parsed = r.map((v) => (v === null ? null : parseOwner(v)));
          return parsed.includes(undefined) ? undefined : (parsed as (LeaseOwner | null)[]);
        },
      );
      out.push(...page);
    }
    return out;
  }

  /** Local and instant: this origin holds the lease and may still write (see the margin). */
  holds(spaceId: string): boolean {
    const h = this.held.get(spaceId);
    return !!h && this.now() - h.confirmedAt < this.opts.leaseMs - this.marginMs;
  }

  /** The fencing token of a lease held here. */
  fence(spaceId: string): number | undefined {
    return this.held.get(spaceId)?.fence;
  }

  heldIds(): string[] {
    return [...this.held.keys()];
  }

  /** Gives a lease back (the Space ended, or this origin stops): another origin can claim it at once. */
  async release(spaceId: string): Promise<void> {
    const h = this.held.get(spaceId);
    if (!h) return;
    this.held.delete(spaceId);
    await this.client.eval(RELEASE, 1, OWNER_KEY + spaceId, h.value).catch(() => undefined);
  }

  /** One heartbeat: renews every lease held; those found gone or taken are lost. */
  async renew(): Promise<void> {
    if (this.renewing || this.held.size === 0) return;
    this.renewing = true;
    const ids = [...this.held.keys()];
    const values = ids.map((id) => this.held.get(id)!.value);
    const sentAt = this.now();
    try {
      const r = await this.client.eval(
        RENEW,
        ids.length * 2,
        ...ids.flatMap((id) => [OWNER_KEY + id, FENCE_KEY + id]),
        String(this.opts.leaseMs),
        ...values,
      );
      if (!Array.isArray(r) || r.length !== ids.length) throw new Error('malformed renew reply');
      ids.forEach((id, i) => {
        const h = this.held.get(id);
        if (!h || h.value !== values[i]) return; // released or re-claimed meanwhile
        if (r[i] === 1) h.confirmedAt = sentAt;
        else this.lose(id, h);
      });
    } catch {
      // Redis unreachable: fall back to the fence on the shared data dir (never past it: stop).
      const check = this.opts.stillOurs;
      if (check)
        await Promise.all(
          ids.map(async (id, i) => {
            const h = this.held.get(id);
            if (!h || h.value !== values[i]) return;
            if (await check(id, h.fence).catch(() => false)) h.confirmedAt = sentAt;
            else this.lose(id, h);
          }),
        );
    } finally {
      this.renewing = false;
    }
    for (const [id, h] of this.held) if (!this.holds(id)) this.lose(id, h);
  }

  /** Stops the heartbeat and releases every lease (a clean stop: others take over at once). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.heldIds().map((id) => this.release(id)));
  }

  private lose(id: string, h: Held): void {
    if (this.held.get(id) !== h) return;
    this.held.delete(id);
    this.opts.onLost(id, h.fence);
  }
}
