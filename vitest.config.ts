import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'services/**/*.test.ts',
      'streams/**/*.test.ts',
      'contracts/**/*.test.ts',
      'ops/**/*.test.ts',
      'test/**/*.test.ts',
      'grafana/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**', 'test/chaos/**'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
