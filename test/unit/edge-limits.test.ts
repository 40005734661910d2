import { describe, expect, it } from 'vitest';
import { openFilesWarning, parseOpenFilesLimit, RECOMMENDED_OPEN_FILES } from '../../src/edge/limits.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max processes             95148                95148                processes
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('open-files limit', () => {
  it('reads the soft limit from /proc/self/limits text', () => {
    expect(parseOpenFilesLimit(LIMITS)).toBe(1024);
    expect(parseOpenFilesLimit(LIMITS.replace('1024 ', 'unlimited '))).toBe(Infinity);
    expect(parseOpenFilesLimit('nothing here')).toBeUndefined();
  });

  it('warns only below the recommended limit, naming the fix', () => {
    expect(openFilesWarning(1024)).toMatch(/open-files limit is 1024.*ulimit -n 65536/);
    expect(openFilesWarning(RECOMMENDED_OPEN_FILES)).toBeUndefined();
    expect(openFilesWarning(Infinity)).toBeUndefined();
  });
});
