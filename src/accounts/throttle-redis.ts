/**
 * The sign-in throttle of throttle.ts, same policy, with its counters in Redis so that every origin
 * sees the same failures. Each key (handle, address) is a hash {f: failures, l: last failure at,
 * u: locked until} that expires once its failures are forgotten, plus a counter of attempts in
 * flight that expires by itself (a crashed origin cannot hold a slot for long). Checking and
 * recording are Lua scripts, so parallel attempts on several origins cannot slip past the limit.
 *
 * Any Redis failure (down, timeout, wrong type, a field that is not a number) is 503
 * STORE_UNAVAILABLE: sign-in fails closed, since failing open would lift the password-guessing
 * limit for as long as an attacker can keep Redis unreachable.
 */
import type { Redis } from 'ioredis';
import { intArray, shared } from '../shared/redis.js';
import type { SigninCheck, SigninThrottleOptions } from './throttle.js';

/** An attempt that passed the throttle; `end` must be awaited (it records the outcome in Redis). */
export interface SharedSigninAttempt {
  fail(): Promise<void>;
  succeed(): Promise<void>;
  release(): Promise<void>;
}

export type SharedSigninCheck =
  { ok: true; attempt: SharedSigninAttempt } | { ok: false; retryAfterSec: number };

/** Either throttle: the in-memory one (one origin) or this one. */
export interface SigninGate {
  begin(handle: string, address: string): SigninCheck | SharedSigninCheck | Promise<SharedSigninCheck>;
}

/** Attempts in flight are forgotten after this long (an attempt takes one scrypt, well under it). */
const PENDING_TTL_MS = 30_000;

// Reads a key's hash; a field that is present but not a plain number is refused (malformed).
const READ = `
local function num(key, field)
  local v = redis.call('HGET', key, field)
  if not v then return 0 end
  if #v > 20 then return redis.error_reply('TRIBUNE_MALFORMED field too large') end
  local n = tonumber(v)
  if not n or n ~= n or n < 0 then return redis.error_reply('TRIBUNE_MALFORMED field') end
  return n
end
local function pend(key)
  local v = redis.call('GET', key)
  if not v then return 0 end
  local n = tonumber(v)
  if not n or #v > 20 then return redis.error_reply('TRIBUNE_MALFORMED pending') end
  return n
end
local function entry(i)
  local k = KEYS[2 * i - 1]
  local e = { f = num(k, 'f'), l = num(k, 'l'), u = num(k, 'u'), p = pend(KEYS[2 * i]) }
  for _, v in pairs(e) do if type(v) == 'table' then return v end end
  return e
end
local function quiet(e, now, window)
  return e.u <= now and now - math.max(e.l, e.u) >= window
end
`;

// KEYS: hash, pending (handle), hash, pending (address). ARGV: now, freeFailures, windowMs, pendingTtl.
const BEGIN = `${READ}
local now, free, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local wait = 0
for i = 1, 2 do
  local e = entry(i)
  if e.err then return e end
  local w = 0
  if e.u > now then w = e.u - now
  elseif e.f > 0 and e.p == 0 and quiet(e, now, window) then w = 0
  else
    local f = e.f
    local busy
    if f < free then busy = f + e.p >= free else busy = e.p > 0 end
    if busy then w = 1000 end
  end
  if w > wait then wait = w end
end
if wait > 0 then return {0, math.ceil(wait)} end
for i = 1, 2 do
  redis.call('INCR', KEYS[2 * i])
  redis.call('PEXPIRE', KEYS[2 * i], ARGV[4])
end
return {1, 0}
`;

// KEYS as BEGIN. ARGV: now, outcome (failure|success|aborted), freeFailures, windowMs, baseDelayMs, maxDelayMs.
const END = `${READ}
local now, outcome = tonumber(ARGV[1]), ARGV[2]
local free, window, base, max = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
for i = 1, 2 do
  local e = entry(i)
  if e.err then return e end
  local k, pk = KEYS[2 * i - 1], KEYS[2 * i]
  if e.p > 1 then redis.call('DECR', pk) else redis.call('DEL', pk) end
  if outcome == 'failure' then
    if quiet(e, now, window) then e.f = 0 end
    e.f = e.f + 1
    e.l = now
    if e.f >= free then
      local d = e.f - free
      local delay = max
      if d < 40 then delay = math.min(max, base * 2 ^ d) end
      e.u = now + delay
    end
    redis.call('HSET', k, 'f', e.f, 'l', e.l, 'u', e.u)
    redis.call('PEXPIRE', k, math.max(1, math.ceil(math.max(e.l, e.u) + window - now)))
  end
end
if outcome == 'success' then redis.call('DEL', KEYS[1]) end
return {1, 0}
`;

type Scripted = Redis & {
  tribuneSigninBegin(...args: (string | number)[]): Promise<unknown>;
  tribuneSigninEnd(...args: (string | number)[]): Promise<unknown>;
};

export class RedisSigninThrottle implements SigninGate {
  private readonly redis: Scripted;
  private readonly now: () => number;
  private readonly freeFailures: number;
  private readonly windowMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    redis: Redis,
    opts: SigninThrottleOptions = {},
    private readonly prefix = 'tribune:signin:',
  ) {
    this.now = opts.now ?? Date.now;
    this.freeFailures = opts.freeFailures ?? 5;
    this.windowMs = opts.windowMs ?? 15 * 60_000;
    this.baseDelayMs = opts.baseDelayMs ?? 2_000;
    this.maxDelayMs = opts.maxDelayMs ?? 15 * 60_000;
    if (!('tribuneSigninBegin' in redis)) {
      redis.defineCommand('tribuneSigninBegin', { numberOfKeys: 4, lua: BEGIN });
      redis.defineCommand('tribuneSigninEnd', { numberOfKeys: 4, lua: END });
    }
    this.redis = redis as Scripted;
  }

  /** The Redis keys of a sign-in's counters: the handle's hash and attempts in flight, the address's. */
  private keysFor(handle: string, address: string): string[] {
    const h = `${this.prefix}h:${handle.toLowerCase()}`;
    const a = `${this.prefix}a:${address}`;
    return [h, `${h}:p`, a, `${a}:p`];
  }

  async begin(handle: string, address: string): Promise<SharedSigninCheck> {
    const keys = this.keysFor(handle, address);
    const [ok, waitMs] = await shared(
      () =>
        this.redis.tribuneSigninBegin(...keys, this.now(), this.freeFailures, this.windowMs, PENDING_TTL_MS),
      (r) => intArray(r, 2),
    );
    if (!ok) return { ok: false, retryAfterSec: Math.max(1, Math.ceil(waitMs / 1000)) };
    let done = false;
    const end = async (outcome: 'failure' | 'success' | 'aborted'): Promise<void> => {
      if (done) return;
      done = true;
      await shared(
        () =>
          this.redis.tribuneSigninEnd(
            ...keys,
            this.now(),
            outcome,
            this.freeFailures,
            this.windowMs,
            this.baseDelayMs,
            this.maxDelayMs,
          ),
        (r) => intArray(r, 2),
      );
    };
    return {
      ok: true,
      attempt: { fail: () => end('failure'), succeed: () => end('success'), release: () => end('aborted') },
    };
  }
}
