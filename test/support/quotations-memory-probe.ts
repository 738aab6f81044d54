/**
 * Child process of `quotations-big.test.ts`: downloads and parses one day's Daily Quotations from
 * `<baseUrl>` in a fresh process and prints `{ rows, gemRows, bytes, ms, maxRssMb }` as JSON, so the
 * test can read this process's peak RSS alone. Modes:
 * - `stream`: `fetchQuotations` as the scrapers run it (streamed, stops after the quotations section);
 * - `whole`: the same streaming decode/parse, but the whole body is read (every byte of the report);
 * - `buffered`: the body buffered whole, decoded to one string and parsed (the way before streaming).
 *
 *   npx tsx test/support/quotations-memory-probe.ts <baseUrl> <yyyy-mm-dd> <stream|whole|buffered>
 */
import { Value } from '@sinclair/typebox/value';
import { SourcesConfig } from '../../services/scrapers/config.ts';
import { createHttpClient } from '../../services/scrapers/http/index.ts';
import {
  decodeLatin1,
  latin1Lines,
  parseQuotations,
  QuotationsStreamParser,
} from '../../services/scrapers/parsers/index.ts';
import { fetchQuotations, quotationsUrls } from '../../services/scrapers/sources.ts';

const [baseUrl, date, mode] = process.argv.slice(2);
if (!baseUrl || !date || !['stream', 'whole', 'buffered'].includes(mode ?? '')) {
  console.error('usage: quotations-memory-probe.ts <baseUrl> <yyyy-mm-dd> <stream|whole|buffered>');
  process.exit(2);
}
const sources = { ...(Value.Default(SourcesConfig, {}) as SourcesConfig), hkexBaseUrl: baseUrl };
const http = createHttpClient({});
const started = performance.now();
let rows = 0;
let gemRows = 0;
let bytes = 0;
if (mode === 'stream') {
  const got = await fetchQuotations({ http, sources }, date);
  rows = got.rows.length;
  gemRows = got.rows.filter((r) => r.board === 'gem').length;
} else {
  for (const [board, url] of Object.entries(quotationsUrls(baseUrl, date)) as ['main' | 'gem', string][]) {
    let parsed: ReturnType<typeof parseQuotations>;
    if (mode === 'whole') {
      const parser = new QuotationsStreamParser({ board });
      const lines = latin1Lines((l: string) => parser.line(l));
      await http.request({
        method: 'GET',
        url,
        sink: () => ({
          write(chunk) {
            bytes += chunk.length;
            lines.write(chunk);
            return false;
          },
        }),
      });
      lines.end();
      parsed = parser.end();
    } else {
      const res = await http.request({ method: 'GET', url });
      bytes += res.body.length;
      parsed = parseQuotations(decodeLatin1(res.body), { board });
    }
    rows += parsed.rows.length;
    if (board === 'gem') gemRows += parsed.rows.length;
  }
}
await http.close();
const ms = Math.round(performance.now() - started);
console.log(
  JSON.stringify({ rows, gemRows, bytes, ms, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }),
);
