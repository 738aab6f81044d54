/**
 * Poison records and bad input at volume, on real nats-server and Postgres (the long variant of the
 * poison-record and exporter bad-input cases of the compactor and exporter tests):
 *
 * 1. Envelopes that are not JSON or fail their schema, interleaved with good ones on RAW: each poison
 *    record is dead-lettered with its code and original sequence, the compactor keeps going, and the
 *    lake (read with DuckDB) holds every good record once.
 * 2. A stream of malformed export and API requests, many at once: each is answered 400 (naming the
 *    parameter), 404 or 414 with a JSON error, and the exporter serves a good request afterwards.
 *
 * Default (CI) size is small; `npm run test:chaos` (HARBOUR_CHAOS=1) sends many more.
 */
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../contracts/index.ts';
import { CompactorConfig, startCompactor } from '../services/compactor/index.ts';
import { ExporterConfig, startExporter } from '../services/exporter/index.ts';
import { createObjectStore } from '../services/object-store/index.ts';
import { createHealthRegistry, createRegistry, silentLogger } from '../services/runtime/index.ts';
import { consumerNames, streamNames, subjects } from '../streams/index.ts';
import { createGoldTables, seedGold } from './support/gold.ts';
import { freshDatabase, readStream, serviceDeps, testDir, until } from './support/infra.ts';
import { ccassEnvelope, queryLake } from './support/lake.ts';
import { mulberry32 } from './support/market.ts';
import { useSuiteInfra } from './support/suite.ts';

const CHAOS = process.env.HARBOUR_CHAOS === '1';
const GOOD = CHAOS ? 5_000 : 200;
const POISON = CHAOS ? 500 : 20;
const ROWS = 20;
const BAD_REQUESTS = CHAOS ? 5_000 : 300;

describe('poison records among good ones', () => {
  const infra = useSuiteInfra();

  it(`dead-letters ${POISON} poison records with code and sequence, and the lake holds ${GOOD} good envelopes once`, {
    timeout: CHAOS ? 900_000 : 120_000,
  }, async () => {
    const store = createObjectStore({ backend: 'fs', root: await testDir('poison-lake') });
    const deps = await serviceDeps({ nc: infra.nats.nc, pool: infra.db.pool, store });
    const svc = await startCompactor(
      {
        ...(Value.Default(CompactorConfig, {}) as CompactorConfig),
        datasets: ['ccass'],
        spoolDir: await testDir('poison-spool'),
        flushAgeMs: 300,
        mergeEveryMs: 0,
      },
      deps,
    );
    try {
      const rnd = mulberry32(18); // seeded: a failing case can be replayed
      const poisonSeqs = new Map<number, string>();
      let good = 0;
      let poison = 0;
      let lastSeq = 0;
      while (good < GOOD || poison < POISON) {
        const sendPoison = poison < POISON && (good >= GOOD || rnd() < POISON / (GOOD + POISON));
        if (sendPoison) {
          const kind = poison % 3;
          const payload =
            kind === 0
              ? '{"schema_version": 1, "dataset": "ccass", "rows": [' // cut short: not JSON
              : kind === 1
                ? JSON.stringify({ ...ccassEnvelope(`p${poison}`, '2026-10-02', 2), rows: [{ code: '700' }] })
                : JSON.stringify({ ...ccassEnvelope(`p${poison}`, '2026-10-02', 2), as_of: 'yesterday' });
          const ack = await deps.js.publish(subjects.raw('ccass'), payload);
          poisonSeqs.set(ack.seq, kind === 0 ? ErrorCodes.NotJson : ErrorCodes.SchemaInvalid);
          lastSeq = ack.seq;
          poison += 1;
        } else {
          const date = good % 2 ? '2026-10-02' : '2026-10-05';
          const ack = await deps.js.publish(
            subjects.raw('ccass'),
            JSON.stringify(ccassEnvelope(`g${good}`, date, ROWS)),
          );
          lastSeq = ack.seq;
          good += 1;
        }
      }
      const committed = async () =>
        Number(
          (
            await infra.db.pool.query(
              "select coalesce(sum(rows), 0) as n from lake_files where dataset = 'ccass' and status = 'active'",
            )
          ).rows[0].n,
        );
      await until(
        async () => {
          const c = await infra.nats.jsm.consumers.info(streamNames.raw, consumerNames.compactor('ccass'));
          return c.ack_floor.stream_seq === lastSeq && (await committed()) === GOOD * ROWS;
        },
        CHAOS ? 600_000 : 60_000,
        'every envelope settled',
      );
      const dlq = (
        await readStream<{ code: string; original_seq: number; stage: string; reason: string }>(
          infra.nats.jsm,
          streamNames.dlq,
        )
      ).map((m) => m.data);
      expect(dlq.map((d) => d.original_seq).sort((a, b) => a - b)).toEqual(
        [...poisonSeqs.keys()].sort((a, b) => a - b),
      );
      for (const d of dlq) {
        expect(d.stage).toBe('compactor');
        expect(d.code, `seq ${d.original_seq}`).toBe(poisonSeqs.get(d.original_seq));
        expect(d.reason.length).toBeGreaterThan(0);
      }
      const [lake] = await queryLake<{ n: number; ids: number; seqs: number }>(
        infra.db.pool,
        store,
        'ccass',
        'select count(*) as n, count(distinct participant_id) as ids, count(distinct _seq) as seqs from lake',
      );
      expect(lake).toEqual({ n: GOOD * ROWS, ids: GOOD * ROWS, seqs: GOOD });
      console.log(
        `poison records: ${GOOD} good envelopes (${GOOD * ROWS} rows) and ${POISON} poison (${[...poisonSeqs.values()].filter((c) => c === ErrorCodes.NotJson).length} not JSON, ` +
          `${[...poisonSeqs.values()].filter((c) => c === ErrorCodes.SchemaInvalid).length} schema-invalid): ${dlq.length} in the DLQ with their sequence, lake ${lake?.n} rows, each once`,
      );
    } finally {
      await svc.close();
      await store.close();
    }
  });
});

describe('malformed requests to the exporter', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    db = await freshDatabase();
    await createGoldTables(db.pool);
    await seedGold(db.pool, { from: '2026-09-01', to: '2026-10-30' });
  });
  afterAll(async () => db?.drop());

  it(`answers ${BAD_REQUESTS} malformed requests with a JSON error and keeps serving`, {
    timeout: CHAOS ? 900_000 : 120_000,
  }, async () => {
    const exporter = await startExporter(
      { ...(Value.Default(ExporterConfig, {}) as ExporterConfig), port: 0 },
      {
        pool: db.pool,
        logger: silentLogger(),
        registry: createRegistry({ defaultMetrics: false }),
        health: createHealthRegistry(),
      },
    );
    try {
      const rnd = mulberry32(19);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      const junk = () =>
        pick([
          'ABC',
          '-1',
          '0',
          '123456',
          '2026-02-30',
          '30/10/2026',
          "'; drop table gold.daily_prices; --",
          '%00',
          '=cmd|calc',
          'x'.repeat(200),
        ]);
      const makers: (() => string)[] = [
        () => `/export.xlsx?codes=${encodeURIComponent(junk())}&from=2026-09-01&to=2026-10-30`,
        () => `/export.xlsx?codes=00700&from=${encodeURIComponent(junk())}&to=2026-10-30`,
        () => `/export.xlsx?codes=00700&from=2026-10-30&to=2026-09-01`,
        () => `/export.xlsx?codes=00700&from=2026-09-01&to=2026-10-30&sheets=${encodeURIComponent(junk())}`,
        () => `/export.xlsx?codes=00700&codes=00005&from=2026-09-01&to=2026-10-30`,
        () => `/export.xlsx?codes=00700&from=2026-09-01&to=2026-10-30&${encodeURIComponent(junk() || 'x')}=1`,
        () =>
          `/export.xlsx?codes=${Array.from({ length: 201 }, (_, i) => i + 1).join(',')}&from=2026-09-01&to=2026-10-30`,
        () => `/api/prices?code=${encodeURIComponent(junk())}&from=2026-09-01&to=2026-10-30`,
        () => `/api/prices?code=99999&from=2026-09-01&to=2026-10-30`,
        () => `/api/ccass?code=00700&date=${encodeURIComponent(junk())}`,
        () => `/api/stocks?q=${'x'.repeat(5000)}`,
      ];
      const statuses = new Map<number, number>();
      let sent = 0;
      const worker = async () => {
        while (sent < BAD_REQUESTS) {
          sent += 1;
          const path = pick(makers)();
          const res = await fetch(`${exporter.url}${path}`);
          const body = (await res.json().catch(() => null)) as { error?: string; parameter?: string } | null;
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          expect([400, 404, 414], `${res.status} for ${path.slice(0, 120)}`).toContain(res.status);
          expect(typeof body?.error, `JSON error for ${path.slice(0, 120)}`).toBe('string');
          if (res.status === 400)
            expect(typeof body?.parameter, `parameter named for ${path.slice(0, 120)}`).toBe('string');
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      // Still serving: a good workbook and a healthy check.
      const good = await fetch(`${exporter.url}/export.xlsx?codes=00700,00005&from=2026-09-01&to=2026-10-30`);
      expect(good.status).toBe(200);
      expect((await good.arrayBuffer()).byteLength).toBeGreaterThan(1000);
      expect((await fetch(`${exporter.url}/healthz`)).status).toBe(200);
      console.log(
        `exporter bad input: ${BAD_REQUESTS} malformed requests (8 at a time) answered ${JSON.stringify(Object.fromEntries(statuses))}; a good export afterwards served`,
      );
    } finally {
      await exporter.close();
    }
  });
});
