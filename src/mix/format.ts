/** Audio format inside the mixer (docs/architecture.md "Audio format"). */
export const MIX_SAMPLE_RATE = 48_000;
/** One mixer frame: 20 ms. */
export const MIX_FRAME_MS = 20;
/** Samples per 20 ms mono frame at 48 kHz. */
export const MIX_FRAME_SAMPLES = (MIX_SAMPLE_RATE * MIX_FRAME_MS) / 1000;
/** Hard ceiling on speakers per Space (config `limits.maxSpeakers` may be lower, never higher). */
export const MIX_MAX_SPEAKERS = 13;
