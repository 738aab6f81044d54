/**
 * `npm run stack` — start the local infrastructure and print its URLs until Ctrl-C.
 * `npm run demo`  — run the whole pipeline once on embedded defaults against the fixture HKEX site.
 * The only place in ops/ that reads the environment and installs signal handlers.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runDemo } from './demo.ts';
import { startPrometheus } from './launcher/prometheus.ts';
import { startStack } from './launcher/stack.ts';

const { values, positionals } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: process.env.HARBOUR_DATA_DIR ?? '.harbour' },
    s3: { type: 'boolean', default: false },
    serve: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const dataDir = resolve(values['data-dir'] ?? '.harbour');
const externalPgUrl = process.env.HARBOUR_PG_URL;
const print = (line: string) => console.log(line);
const untilSignal = () =>
  new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });

switch (positionals[0]) {
  case 'demo': {
    try {
      await runDemo({
        dataDir,
        print,
        ...(externalPgUrl ? { externalPgUrl } : {}),
        ...(values.serve ? { keepRunning: untilSignal } : {}),
      });
    } catch (err) {
      console.error(`demo failed: ${(err as Error).stack ?? err}`);
      process.exit(1);
    }
    break;
  }
  case 'stack': {
    const stack = await startStack({
      dataDir,
      objectStore: values.s3 ? 's3' : 'fs',
      ...(externalPgUrl ? { externalPgUrl } : {}),
      log: print,
      supervise: true,
    });
    print('Harbour stack is up (Ctrl-C to stop):');
    for (const [what, where] of Object.entries(stack.describe())) print(`  ${what.padEnd(12)} ${where}`);
    const prometheus = await startPrometheus({
      dataDir: join(dataDir, 'prometheus'),
      targets: [`127.0.0.1:${process.env.HARBOUR_OPS_PORT ?? 9464}`],
    }).catch((err: unknown) => {
      print(`  prometheus   not started: ${(err as Error).message}`);
      return undefined;
    });
    if (prometheus)
      print(`  ${'prometheus'.padEnd(12)} ${prometheus.url} (scrapes \`npm start\` on its ops port)`);
    print('Point `npm start` / `npm run harbour` at it with:');
    print(`  export HARBOUR_NATS_URL=${stack.nats.url} HARBOUR_POSTGRES_URL=${stack.postgres.url}`);
    if (stack.objectStore.backend === 'fs')
      print(`  export HARBOUR_OBJECT_STORE_ROOT=${stack.objectStore.root}`);
    else {
      const s3 = stack.objectStore;
      print(
        `  export HARBOUR_OBJECT_STORE_BACKEND=s3 HARBOUR_OBJECT_STORE_ENDPOINT=${s3.endpoint} HARBOUR_OBJECT_STORE_BUCKET=${s3.bucket} HARBOUR_OBJECT_STORE_ACCESS_KEY_ID=${s3.accessKeyId} HARBOUR_OBJECT_STORE_SECRET_ACCESS_KEY=${s3.secretAccessKey}`,
      );
    }
    await untilSignal();
    print('stopping…');
    await prometheus?.stop();
    await stack.stop();
    break;
  }
  default:
    console.error(
      'usage: tsx ops/main.ts <demo|stack> [--data-dir DIR] [--s3] [--serve (demo: keep running until Ctrl-C)]',
    );
    process.exit(2);
}
process.exit(0);
