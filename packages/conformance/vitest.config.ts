import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 300_000,
    // One backend per file, one file at a time: switching backends is process-wide.
    fileParallelism: false,
  },
});
