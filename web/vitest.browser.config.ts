import { defineConfig } from 'vitest/config';

// The browser tests (e2e/): Debian's Chromium through playwright-core
// against the real `pier serve` binary ($PIER_BIN, else ../bin/pier).
export default defineConfig({
  test: {
    include: ['e2e/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    reporters: ['verbose'],
  },
});
