/**
 * Goertzel single-frequency power, for tests and diagnostics. Pure.
 *
 * The result is normalised so that a sinusoid of amplitude A (in sample units) whose frequency falls
 * on a bin of the analysed window yields about A^2; silence yields 0. Off-bin tones leak (rectangular window),
 * so analyse windows spanning a whole number of periods when comparing tones.
 */
export function goertzelPower(
  samples: Int16Array | Float32Array,
  sampleRate: number,
  freq: number,
  start = 0,
  length = samples.length - start,
): number {
  const n = Math.max(0, Math.min(length, samples.length - start));
  if (n === 0 || !(sampleRate > 0)) return 0;
  const w = (2 * Math.PI * freq) / sampleRate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  const end = start + n;
  for (let i = start; i < end; i++) {
    const s0 = samples[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  const half = n / 2;
  return Math.max(0, power) / (half * half);
}

export interface DominantFrequencyOptions {
  minHz?: number;
  maxHz?: number;
  stepHz?: number;
}

/** Scans [minHz, maxHz] in stepHz steps and returns the frequency with the most Goertzel power. */
export function dominantFrequency(
  samples: Int16Array | Float32Array,
  sampleRate: number,
  opts: DominantFrequencyOptions = {},
): number {
  const minHz = opts.minHz ?? 20;
  const maxHz = Math.min(opts.maxHz ?? sampleRate / 2, sampleRate / 2);
  const stepHz = opts.stepHz ?? 5;
  let best = minHz;
  let bestPower = -1;
  for (let f = minHz; f <= maxHz; f += stepHz) {
    const p = goertzelPower(samples, sampleRate, f);
    if (p > bestPower) {
      bestPower = p;
      best = f;
    }
  }
  return best;
}
