import { describe, expect, it } from 'vitest';
import { LevelMeter, SILENCE_DBFS, dbfsToLevel, rmsDbfs } from '../../src/mix/levels.js';

function tone(dbfs: number, n = 960): Int16Array {
  // Sine RMS = A / sqrt(2).
  const a = Math.sqrt(2) * 32768 * Math.pow(10, dbfs / 20);
  const s = new Int16Array(n);
  for (let i = 0; i < n; i++) s[i] = Math.round(a * Math.sin((2 * Math.PI * 1000 * i) / 48_000));
  return s;
}

describe('rmsDbfs / dbfsToLevel', () => {
  it('measures RMS in dBFS', () => {
    expect(rmsDbfs(new Int16Array(960))).toBe(SILENCE_DBFS);
    expect(rmsDbfs(new Int16Array(0))).toBe(SILENCE_DBFS);
    expect(rmsDbfs(new Int16Array(960).fill(-32768))).toBeCloseTo(0, 5);
    expect(rmsDbfs(tone(-20))).toBeCloseTo(-20, 1);
    expect(rmsDbfs(tone(-40))).toBeCloseTo(-40, 1);
  });

  it('maps dBFS to 0..1', () => {
    expect(dbfsToLevel(-100)).toBe(0);
    expect(dbfsToLevel(-60)).toBe(0);
    expect(dbfsToLevel(-30)).toBeCloseTo(0.5);
    expect(dbfsToLevel(0)).toBe(1);
    expect(dbfsToLevel(3)).toBe(1);
    expect(dbfsToLevel(NaN)).toBe(0);
  });
});

describe('LevelMeter', () => {
  it('attacks fast and releases slowly', () => {
    const m = new LevelMeter();
    m.update(tone(-12));
    const target = dbfsToLevel(-12);
    expect(m.level).toBeGreaterThan(0.8 * target); // one 20 ms frame gets most of the way
    for (let i = 0; i < 5; i++) m.update(tone(-12));
    expect(m.level).toBeCloseTo(target, 2);
    m.update(null);
    expect(m.level).toBeGreaterThan(0.85 * target); // 20 ms of silence barely moves it
    for (let i = 0; i < 50; i++) m.update(null); // 1 s
    expect(m.level).toBeLessThan(0.05);
  });

  it('speaking has hysteresis: on above -45 dBFS, off after 300 ms below -50 dBFS', () => {
    const m = new LevelMeter();
    m.update(tone(-48));
    expect(m.speaking).toBe(false); // between thresholds: does not turn on
    m.update(tone(-40));
    expect(m.speaking).toBe(true);
    // Between -50 and -45 it stays on indefinitely.
    for (let i = 0; i < 30; i++) expect(m.update(tone(-48)).speaking).toBe(true);
    // Below -50: still on for 280 ms, off at 300 ms.
    for (let i = 0; i < 14; i++) expect(m.update(tone(-55)).speaking).toBe(true);
    expect(m.update(tone(-55)).speaking).toBe(false);
    // A short dip below -50 resets the hold once the level comes back.
    m.update(tone(-30));
    for (let i = 0; i < 10; i++) m.update(null);
    m.update(tone(-48));
    for (let i = 0; i < 10; i++) m.update(null);
    expect(m.speaking).toBe(true);
    m.reset();
    expect(m.speaking).toBe(false);
    expect(m.level).toBe(0);
  });

  it('honours options', () => {
    const m = new LevelMeter({ onDb: -20, offDb: -30, holdMs: 100, frameMs: 10 });
    m.update(tone(-25, 480));
    expect(m.speaking).toBe(false);
    m.update(tone(-10, 480));
    expect(m.speaking).toBe(true);
    for (let i = 0; i < 9; i++) m.update(null);
    expect(m.speaking).toBe(true);
    m.update(null);
    expect(m.speaking).toBe(false);
  });
});
