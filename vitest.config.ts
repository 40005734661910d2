import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Media tests start real WebRTC stacks and browsers: run files one at a time on 2 cores.
    fileParallelism: false,
    reporters: ['default'],
  },
});
