import { defineConfig } from 'vitest/config';

// Each test file boots its own app (and, on the embedded defaults, its own in-memory
// PGlite), so files run in parallel across the two cores and tests inside a file in order.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
