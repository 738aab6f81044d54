/**
 * Starts the fixture HKEX site standalone:
 *   npx tsx ops/fixture-site/main.ts --port 8080 [--host 127.0.0.1] [--seed 1] [--stocks 40]
 *     [--today yyyy-mm-dd] [--samples <dir>] [--ccass-history-days 365 (0 = whole history)]
 *     [--quotations-min-bytes 25000000] [--securities-layout 2025|2021] [--quote-token-ttl-ms 86400000]
 * Prints the base URL; Ctrl-C stops it.
 */
import { parseArgs } from 'node:util';
import { createLogger } from '../../services/runtime/logger.ts';
import { defaultSamplesDir, PATHS, startFixtureSite } from './index.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    seed: { type: 'string', default: '1' },
    stocks: { type: 'string', default: '40' },
    today: { type: 'string' },
    samples: { type: 'string' },
    'ccass-history-days': { type: 'string' },
    'quote-token-ttl-ms': { type: 'string' },
    'quotations-min-bytes': { type: 'string' },
    'securities-layout': { type: 'string' },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(
    'usage: npx tsx ops/fixture-site/main.ts [--port 8080] [--host 127.0.0.1] [--seed 1] [--stocks 40] [--today yyyy-mm-dd] [--samples dir] [--ccass-history-days 365] [--quotations-min-bytes N] [--securities-layout 2025|2021] [--quote-token-ttl-ms 86400000] [--quiet]',
  );
  process.exit(0);
}

const layout = values['securities-layout'];
if (layout !== undefined && layout !== '2021' && layout !== '2025') {
  console.error(`--securities-layout: expected 2025 or 2021, got "${layout}"`);
  process.exit(2);
}

const int = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name}: expected a non-negative integer, got "${v}"`);
    process.exit(2);
  }
  return n;
};

const logger = createLogger({ name: 'fixture-site', level: values.quiet ? 'warn' : 'info' });
const site = await startFixtureSite(
  {
    port: int('port', values.port),
    host: values.host,
    samplesDir: values.samples ?? defaultSamplesDir(),
    seed: int('seed', values.seed),
    stocks: int('stocks', values.stocks),
    ...(values.today ? { today: values.today } : {}),
    ...(values['ccass-history-days']
      ? { ccassHistoryDays: int('ccass-history-days', values['ccass-history-days']) }
      : {}),
    ...(values['quote-token-ttl-ms']
      ? { quoteTokenTtlMs: int('quote-token-ttl-ms', values['quote-token-ttl-ms']) }
      : {}),
    ...(values['quotations-min-bytes']
      ? { quotationsMinBytes: int('quotations-min-bytes', values['quotations-min-bytes']) }
      : {}),
    ...(layout === '2021' || layout === '2025' ? { securitiesLayout: layout } : {}),
  },
  { logger },
);

console.log(site.url);
if (!values.quiet) {
  console.log(`  CCASS search      ${site.url}${PATHS.ccassSearch}`);
  console.log(
    `  CCASS stock list  ${site.url}${PATHS.ccassStockList}?sortby=stockcode&shareholdingdate=YYYYMMDD`,
  );
  console.log(`  Daily quotations  ${site.url}${PATHS.quotationsDir}dYYMMDDe.htm`);
  console.log(`  Securities list   ${site.url}${PATHS.securities}`);
  console.log(`  Equities (token)  ${site.url}${PATHS.equitiesPage}?sc_lang=en`);
  console.log(
    `  Quote widget      ${site.url}${PATHS.quoteWidget}?sym=700&token=<token>&lang=eng&callback=cb`,
  );
  console.log(`  Faults / stats    ${site.url}${PATHS.faults}  ${site.url}${PATHS.stats}`);
}

const stop = () => {
  site.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
