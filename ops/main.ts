/**
 * `npm run stack` — start the local infrastructure and print its URLs until Ctrl-C.
 * `npm run demo`  — run the whole pipeline once on embedded defaults against the fixture HKEX site.
 * The only place in ops/ that reads the environment and installs signal handlers.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runDemo } from './demo.ts';
import { startStack } from './launcher/stack.ts';

const { values, positionals } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: process.env.HARBOUR_DATA_DIR ?? '.harbour' },
    s3: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const dataDir = resolve(values['data-dir'] ?? '.harbour');
const externalPgUrl = process.env.HARBOUR_PG_URL;
const print = (line: string) => console.log(line);

switch (positionals[0]) {
  case 'demo': {
    await runDemo({ dataDir, print, ...(externalPgUrl ? { externalPgUrl } : {}) });
    break;
  }
  case 'stack': {
    const stack = await startStack({
      dataDir,
      objectStore: values.s3 ? 's3' : 'fs',
      ...(externalPgUrl ? { externalPgUrl } : {}),
      log: print,
    });
    print('Harbour stack is up (Ctrl-C to stop):');
    for (const [what, where] of Object.entries(stack.describe())) print(`  ${what.padEnd(12)} ${where}`);
    await new Promise<void>((done) => {
      const stop = () => {
        print('stopping…');
        void stack.stop().then(done);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    break;
  }
  default:
    console.error('usage: tsx ops/main.ts <demo|stack> [--data-dir DIR] [--s3]');
    process.exit(2);
}
