/**
 * Arrival profiles of a rehearsal (pure): when each simulated listener arrives, in ms from the
 * rehearsal's start, and the bounds every rehearsal is held to.
 *
 * - `ramp`: N listeners spread evenly over T seconds (listener i at i·T/N).
 * - `step`: N listeners at once, released as fast as the tool allows (MAX_RATE per second).
 * - `lobby`: N listeners who open a scheduled Space and wait for its start; they arrive like a ramp
 *   over T seconds (T = 0: a step), then wait.
 */

export type ProfileName = 'ramp' | 'step' | 'lobby';
export const PROFILES: readonly ProfileName[] = ['ramp', 'step', 'lobby'];

/** Listeners one process may simulate. */
export const MAX_LISTENERS = 1_000_000;
/** Arrivals per second. */
export const MAX_RATE = 100_000;
/** Any duration of a rehearsal (arrival window, hold, lobby wait), seconds. */
export const MAX_SECONDS = 3600;

export interface ProfileSpec {
  profile: ProfileName;
  listeners: number;
  /** ramp / lobby: arrivals spread over this many seconds */
  overSeconds: number;
}

export class RehearsalBoundsError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'RehearsalBoundsError';
  }
}

/** Throws RehearsalBoundsError when a profile asks for too much (or for nonsense). */
export function checkProfile(p: ProfileSpec): void {
  if (!PROFILES.includes(p.profile))
    throw new RehearsalBoundsError(`profile must be one of ${PROFILES.join(', ')}`);
  if (!Number.isInteger(p.listeners) || p.listeners < 1)
    throw new RehearsalBoundsError('listeners must be a whole number of at least 1');
  if (p.listeners > MAX_LISTENERS)
    throw new RehearsalBoundsError(`at most ${MAX_LISTENERS} listeners per process (asked ${p.listeners})`);
  if (!Number.isFinite(p.overSeconds) || p.overSeconds < 0)
    throw new RehearsalBoundsError('over-seconds must be a number of seconds >= 0');
  if (p.overSeconds > MAX_SECONDS)
    throw new RehearsalBoundsError(`over-seconds: at most ${MAX_SECONDS} s (asked ${p.overSeconds})`);
  if (p.profile === 'ramp' && p.overSeconds === 0)
    throw new RehearsalBoundsError('a ramp needs over-seconds > 0 (or use --profile step)');
  const rate = arrivalRate(p);
  if (rate > MAX_RATE)
    throw new RehearsalBoundsError(
      `${Math.round(rate)} arrivals/s is over the bound of ${MAX_RATE}/s: spread them over more seconds`,
    );
}

/** Arrivals per second the profile asks for (a step: the bound itself). */
export function arrivalRate(p: ProfileSpec): number {
  if (p.profile === 'step' || p.overSeconds === 0) return Math.min(MAX_RATE, p.listeners);
  return p.listeners / p.overSeconds;
}

/** How long the arrivals take, ms. */
export function arrivalWindowMs(p: ProfileSpec): number {
  const t = arrivalTimes(p);
  return t.length ? t[t.length - 1] : 0;
}

/**
 * Arrival offsets (ms from the start, non-decreasing, integers) for every listener. A step releases
 * its listeners at MAX_RATE per second (10,000 listeners: within 100 ms).
 */
export function arrivalTimes(p: ProfileSpec): Float64Array {
  checkProfile(p);
  const n = p.listeners;
  const out = new Float64Array(n);
  const spreadMs = p.profile === 'step' || p.overSeconds === 0 ? 0 : p.overSeconds * 1000;
  const minStepMs = 1000 / MAX_RATE;
  for (let i = 0; i < n; i++) {
    const even = spreadMs > 0 ? (i * spreadMs) / n : 0;
    out[i] = Math.floor(Math.max(even, i * minStepMs));
  }
  return out;
}

/** Listener i goes to worker i mod k: each worker gets an evenly spread share of every profile. */
export function shareOf(
  times: Float64Array,
  worker: number,
  workers: number,
): { index: number[]; at: number[] } {
  const index: number[] = [];
  const at: number[] = [];
  for (let i = worker; i < times.length; i += workers) {
    index.push(i);
    at.push(times[i]);
  }
  return { index, at };
}
