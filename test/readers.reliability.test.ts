/**
 * The read-only services under kill -9, on real Postgres and nats-server: the exporter killed in the
 * middle of streaming a workbook, the monitor killed between refreshes. They hold no state of their
 * own, so what a kill may cost is one response: the test checks that the client can tell a cut
 * download from a whole one (the chunked body ends without its last chunk: an error, never a
 * short file passed off as complete) and that the restarted process answers at once with the full
 * workbook, its sheets and rows equal to gold, and the monitor's series.
 * Default (CI): one kill each; `npm run test:chaos` (HARBOUR_CHAOS=1) kills each 10 times.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readWorkbook } from './support/exporter.ts';
import { createGoldTables, generatedStocks, seedGold } from './support/gold.ts';
import { testDir } from './support/infra.ts';
import { freePort, type ServiceProcess, startServiceProcess, until } from './support/service-process.ts';
import { useSuiteInfra } from './support/suite.ts';

const CHAOS = process.env.HARBOUR_CHAOS === '1';
const KILLS = CHAOS ? 10 : 1;
const STOCKS = generatedStocks(40);
/** Five years of 40 stocks: a workbook of ~4 MB, more than loopback socket buffers hold, so a kill cuts it. */
const FROM = '2022-01-01';
const TO = '2026-10-30';

/**
 * GETs `url`; with `onBytes` it reads slowly and lets that see the running total (to act mid-body). Resolves with the body and whether
 * it ended cleanly (`complete`) or was cut (`error` set).
 */
function download(
  url: string,
  onBytes?: (n: number) => void,
): Promise<{ status: number; body: Buffer; complete: boolean; error?: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let status = 0;
    let total = 0;
    const done = (complete: boolean, error?: string) =>
      resolve({ status, body: Buffer.concat(chunks), complete, ...(error ? { error } : {}) });
    const req = request(url, (res) => {
      status = res.statusCode ?? 0;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        total += c.length;
        if (!onBytes) return;
        onBytes(total);
        res.pause();
        setTimeout(() => res.resume(), 20);
      });
      res.on('end', () => done(res.complete));
      res.on('error', (err) => done(false, (err as NodeJS.ErrnoException).code ?? err.message));
    });
    req.on('error', (err) => done(false, (err as NodeJS.ErrnoException).code ?? err.message));
    req.end();
  });
}

describe('read-only services under kill -9', () => {
  let child: ServiceProcess | undefined;
  const infra = useSuiteInfra({
    prepare: async () => {
      await createGoldTables(infra.db.pool);
      await seedGold(infra.db.pool, { stocks: STOCKS, from: FROM, to: TO });
    },
    beforeStop: async () => child?.stop('SIGKILL'),
  });

  const baseEnv = async () =>
    infra.env({ HARBOUR_OPS_PORT: String(await freePort()), HARBOUR_LOG_LEVEL: 'warn' });

  it(`exporter: a download cut by kill -9 is seen as cut (${KILLS}×); after a restart the whole workbook comes`, {
    timeout: CHAOS ? 900_000 : 180_000,
  }, async () => {
    const port = await freePort();
    const env = { ...(await baseEnv()), HARBOUR_EXPORTER_PORT: String(port) };
    const log = join(await testDir('readers-log'), 'exporter.log');
    const start = async () => {
      child = await startServiceProcess('exporter', env, log);
      await until(
        () =>
          fetch(`http://127.0.0.1:${port}/healthz`).then(
            (r) => r.ok,
            () => false,
          ),
        30_000,
        'the exporter',
      );
    };
    const codes = STOCKS.map((s) => s.code);
    const url = `http://127.0.0.1:${port}/export.xlsx?codes=${codes.join(',')}&from=${FROM}&to=${TO}`;

    let cut!: Awaited<ReturnType<typeof download>>;
    for (let k = 0; k < KILLS; k++) {
      await start();
      let killing: Promise<void> | undefined;
      // Past the first 64 KiB, at a different point each time.
      const at = 64 * 1024 * (1 + Math.random() * 4);
      cut = await download(url, (n) => {
        if (n > at && !killing) killing = child!.stop('SIGKILL');
      });
      await killing;
      expect(cut.status).toBe(200);
      expect(cut.complete).toBe(false);
      await expect(readWorkbook(cut.body)).rejects.toThrow();
    }

    const t0 = Date.now();
    await start();
    const whole = await download(url);
    const restartMs = Date.now() - t0;
    expect(whole).toMatchObject({ status: 200, complete: true });
    const wb = await readWorkbook(whole.body);
    const { rows } = await infra.db.pool.query<{ code: string; n: string }>(
      `select code, count(*) as n from gold.daily_prices where trade_date between $1 and $2 group by code`,
      [FROM, TO],
    );
    const sheets = wb.worksheets.slice(1); // Summary first, then one sheet per stock: title, header, rows
    expect(sheets).toHaveLength(codes.length);
    const dataRows = sheets.reduce((a, ws) => a + ws.actualRowCount - 2, 0);
    const goldRows = rows.reduce((a, r) => a + Number(r.n), 0);
    console.log(
      `exporter kill -9 (${KILLS}×): last cut after ${cut.body.length} bytes (${cut.error ?? 'no terminating chunk'}); ` +
        `restart + whole export ${restartMs} ms, ${whole.body.length} bytes, ${sheets.length} stock sheets, ${dataRows} price rows (gold ${goldRows})`,
    );
    expect(dataRows).toBe(goldRows);
    await child!.stop('SIGTERM');
    child = undefined;
  });

  it(`monitor: killed between refreshes (${KILLS}×), the restarted process exports the same series`, {
    timeout: CHAOS ? 600_000 : 60_000,
  }, async () => {
    const env = { ...(await baseEnv()), HARBOUR_MONITOR_REFRESH_EVERY_MS: '500' };
    const metrics = () =>
      fetch(`http://127.0.0.1:${env.HARBOUR_OPS_PORT}/metrics`).then(
        (r) => (r.ok ? r.text() : ''),
        () => '',
      );
    const series = (text: string) =>
      new Set(
        text
          .split('\n')
          .filter((l) => l.startsWith('harbour_monitor_') || l.startsWith('harbour_stream_'))
          .map((l) => l.replace(/ [^ ]+$/, '')),
      );
    const log = join(await testDir('readers-log'), 'monitor.log');
    child = await startServiceProcess('monitor', env, log);
    let before = new Set<string>();
    await until(
      async () => {
        before = series(await metrics());
        return [...before].some((s) => s.startsWith('harbour_monitor_source_up{source="jetstream"}'));
      },
      30_000,
      'the monitor series',
    );
    let after = new Set<string>();
    for (let k = 0; k < KILLS; k++) {
      await new Promise((r) => setTimeout(r, Math.random() * 500));
      await child.stop('SIGKILL');
      expect(await metrics()).toBe('');
      child = await startServiceProcess('monitor', env, log);
      await until(
        async () => {
          after = series(await metrics());
          return [...before].every((s) => after.has(s));
        },
        30_000,
        'the same series after the restart',
      );
    }
    console.log(
      `monitor kill -9 (${KILLS}×): ${before.size} series before, ${after.size} after the restarts`,
    );
    expect(after.size).toBeGreaterThan(0);
    await child.stop('SIGTERM');
    child = undefined;
  });
});
