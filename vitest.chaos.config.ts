import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.ts';

/** `npm run test:chaos`: the long variants of the reliability tests (1M records, 30 s outages). */
export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: ['test/**/*.reliability.test.ts'],
      exclude: ['**/node_modules/**'],
      env: { HARBOUR_CHAOS: '1' },
      testTimeout: 3_600_000,
    },
  }),
);
