/**
 * `npm run stack [-- --s3] [--fixture-site]` — start the local infrastructure, write its settings to
 *   `<data dir>/stack.env` (read by `npm start` and `npm run harbour`), print them, run until Ctrl-C.
 * `npm run demo`  — run the whole pipeline once on embedded defaults against the fixture HKEX site.
 * The only place in ops/ that reads the environment and installs signal handlers.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  readStackSettings,
  removeStackSettings,
  stackSettingsPath,
  writeStackSettings,
} from '../services/runtime/index.ts';
import { runDemo } from './demo.ts';
import { defaultSamplesDir, startFixtureSite } from './fixture-site/index.ts';
import { preferredPort } from './launcher/free-port.ts';
import { leaveSignalsToCaller } from './launcher/postgres.ts';
import { startPrometheus } from './launcher/prometheus.ts';
import { DEFAULT_PORTS, startStack } from './launcher/stack.ts';

const { values, positionals } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: process.env.HARBOUR_DATA_DIR ?? '.harbour' },
    s3: { type: 'boolean', default: false },
    'fixture-site': { type: 'boolean', default: false },
    serve: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const dataDir = resolve(values['data-dir'] ?? '.harbour');
const externalPgUrl = process.env.HARBOUR_PG_URL;
const print = (line: string) => console.log(line);
const untilSignal = () =>
  new Promise<void>((done) => {
    leaveSignalsToCaller();
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
    const running = readStackSettings(stackSettingsPath(dataDir));
    if (running && !running.stale) {
      console.error(
        `a stack is already running on ${dataDir} (pid ${running.pid}; its settings are in ${running.path})`,
      );
      process.exit(1);
    }
    const stack = await startStack({
      dataDir,
      objectStore: values.s3 ? 's3' : 'fs',
      defaultPorts: true,
      ...(externalPgUrl ? { externalPgUrl } : {}),
      log: print,
      supervise: true,
    });
    const settings: Record<string, string> = {
      HARBOUR_NATS_URL: stack.nats.url,
      HARBOUR_POSTGRES_URL: stack.postgres.url,
    };
    if (stack.objectStore.backend === 'fs') {
      settings.HARBOUR_OBJECT_STORE_BACKEND = 'fs';
      settings.HARBOUR_OBJECT_STORE_ROOT = stack.objectStore.root;
    } else {
      const s3 = stack.objectStore;
      Object.assign(settings, {
        HARBOUR_OBJECT_STORE_BACKEND: 's3',
        HARBOUR_OBJECT_STORE_ENDPOINT: s3.endpoint,
        HARBOUR_OBJECT_STORE_BUCKET: s3.bucket,
        HARBOUR_OBJECT_STORE_REGION: s3.region,
        HARBOUR_OBJECT_STORE_ACCESS_KEY_ID: s3.accessKeyId,
        HARBOUR_OBJECT_STORE_SECRET_ACCESS_KEY: s3.secretAccessKey,
      });
    }
    const site = values['fixture-site']
      ? await startFixtureSite({ samplesDir: defaultSamplesDir(), seed: 1, stocks: 40 })
      : undefined;
    if (site) {
      // Every source on the local fixture site; it is local, so the polite per-host rate of the real
      // sites would only slow a backfill down.
      Object.assign(settings, {
        HARBOUR_SCRAPERS_SOURCES_CCASS_BASE_URL: site.url,
        HARBOUR_SCRAPERS_SOURCES_HKEX_BASE_URL: site.url,
        HARBOUR_SCRAPERS_SOURCES_QUOTE_BASE_URL: site.url,
        HARBOUR_SCRAPERS_HTTP_REQUESTS_PER_SECOND: '50',
        HARBOUR_SCRAPERS_HTTP_BURST: '20',
      });
    }
    print('Harbour stack is up (Ctrl-C to stop):');
    for (const [what, where] of Object.entries(stack.describe())) print(`  ${what.padEnd(12)} ${where}`);
    if (site) print(`  ${'HKEX'.padEnd(12)} ${site.url} (fixture site: every source points here)`);
    const prometheus = await startPrometheus({
      dataDir: join(dataDir, 'prometheus'),
      port: await preferredPort(DEFAULT_PORTS.prometheus),
      targets: [`127.0.0.1:${process.env.HARBOUR_OPS_PORT ?? 9464}`],
    }).catch((err: unknown) => {
      print(`  prometheus   not started: ${(err as Error).message}`);
      return undefined;
    });
    if (prometheus)
      print(`  ${'prometheus'.padEnd(12)} ${prometheus.url} (scrapes \`npm start\` on its ops port)`);
    const ports: [string, number | undefined, number][] = [
      ['nats-server', stack.nats.port, DEFAULT_PORTS.nats],
      [
        'postgres',
        stack.postgres.embedded ? Number(new URL(stack.postgres.url).port) : undefined,
        DEFAULT_PORTS.postgres,
      ],
      ['prometheus', prometheus?.port, DEFAULT_PORTS.prometheus],
    ];
    for (const [name, port, usual] of ports)
      if (port !== undefined && port !== usual) print(`  (${name}: port ${usual} was in use, took ${port})`);
    const settingsPath = stackSettingsPath(dataDir);
    await writeStackSettings(settingsPath, settings);
    print(`Settings written to ${settingsPath}: \`npm start\` and \`npm run harbour\` in this`);
    print('directory use them without exports (exported HARBOUR_* variables and --config still win).');
    await untilSignal();
    print('stopping…');
    await removeStackSettings(settingsPath);
    print(`${settingsPath} removed`);
    await prometheus?.stop().then(() => print('prometheus stopped'));
    await site?.close().then(() => print('fixture site stopped'));
    await stack.stop();
    break;
  }
  default:
    console.error(
      'usage: tsx ops/main.ts <demo|stack> [--data-dir DIR] [--s3] [--fixture-site (stack: also serve the fixture HKEX site)] [--serve (demo: keep running until Ctrl-C)]',
    );
    process.exit(2);
}
process.exit(0);
