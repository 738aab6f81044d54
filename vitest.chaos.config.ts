import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/**
 * `npm run test:chaos`: only the long variants of the reliability tests (`test/*.reliability.test.ts`: 1M records with 20 kill -9s,
 * 30 s outages, seven node kills on the 3-node cluster). Built from the base config rather than
 * merged with it: a merge would concatenate `include` and run the whole suite again.
 */
export default defineConfig({
  test: {
    ...base.test,
    include: ['test/**/*.reliability.test.ts'],
    exclude: ['**/node_modules/**'],
    env: { HARBOUR_CHAOS: '1' },
    testTimeout: 3_600_000,
  },
});
