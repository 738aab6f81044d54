/**
 * The infrastructure most pipeline suites start the same way: a nats-server of their own with the
 * stream topology, a fresh database and, for the scraper suites, the fixture HKEX site; and the
 * environment a service process (`startServiceProcess`, `npm start`) needs to reach them.
 */
import { jetstream } from '@nats-io/jetstream';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll } from 'vitest';
import { type Dataset, SCHEMA_VERSION, type Tick } from '../../contracts/index.ts';
import {
  defaultSamplesDir,
  type FixtureSite,
  type FixtureSiteConfig,
  startFixtureSite,
} from '../../ops/fixture-site/index.ts';
import { sleep } from '../../services/runtime/index.ts';
import { ScrapersConfig, tickRunId } from '../../services/scrapers/index.ts';
import { ensureTopology, msgIds, subjects, TopologyConfig } from '../../streams/index.ts';
import { freshDatabase, startTestNats } from './infra.ts';

export type TestNats = Awaited<ReturnType<typeof startTestNats>>;
export type TestDatabase = Awaited<ReturnType<typeof freshDatabase>>;

/** The stream topology's defaults with `overrides` (a test's short ack waits). */
export function testTopology(overrides: Partial<TopologyConfig> = {}): TopologyConfig {
  return { ...(Value.Default(TopologyConfig, {}) as TopologyConfig), ...overrides };
}

export interface SuiteInfra {
  readonly nats: TestNats;
  readonly db: TestDatabase;
  /** Only with the `site` option. */
  readonly site: FixtureSite;
  /** {@link serviceEnv} for this NATS, database and (when started) fixture site, plus `extra`. */
  env<E extends Record<string, string>>(extra?: E): NodeJS.ProcessEnv & E;
}

export interface SuiteInfraOptions {
  /** Settings over the topology defaults (a short ack wait). */
  topology?: Partial<TopologyConfig>;
  /** Starts the fixture HKEX site (the repository's samples) after the database. */
  site?: Omit<FixtureSiteConfig, 'samplesDir'>;
  /** Once NATS, the database and the site are up: migrations, seed data. */
  prepare?: () => Promise<unknown>;
  /** First thing in afterAll, before the site, database and nats-server go: the suite's own services and processes. */
  beforeStop?: () => Promise<unknown>;
}

/**
 * Registers the suite's beforeAll (nats-server with the topology, fresh database, fixture site,
 * `prepare`) and afterAll (`beforeStop`, then site, database, nats-server; each only if it started).
 * The fields of the returned handle are there once beforeAll has run.
 */
export function useSuiteInfra(opts: SuiteInfraOptions = {}): SuiteInfra {
  let nats: TestNats | undefined;
  let db: TestDatabase | undefined;
  let site: FixtureSite | undefined;
  const started = <T>(what: string, v: T | undefined): T => {
    if (v === undefined) throw new Error(`the suite has no ${what} (not started, or not asked for)`);
    return v;
  };
  const infra: SuiteInfra = {
    get nats() {
      return started('nats-server', nats);
    },
    get db() {
      return started('database', db);
    },
    get site() {
      return started('fixture site', site);
    },
    env: <E extends Record<string, string>>(extra: E = {} as E) =>
      serviceEnv({ natsUrl: infra.nats.server.url, postgresUrl: infra.db.url, siteUrl: site?.url }, extra),
  };
  beforeAll(async () => {
    nats = await startTestNats();
    await ensureTopology(nats.nc, nats.jsm, testTopology(opts.topology));
    db = await freshDatabase();
    if (opts.site) site = await startFixtureSite({ samplesDir: defaultSamplesDir(), ...opts.site });
    await opts.prepare?.();
  });
  afterAll(async () => {
    await opts.beforeStop?.();
    await site?.close();
    await db?.drop();
    await nats?.stop();
  });
  return infra;
}

/**
 * The environment of a service process: this process's, with the NATS and Postgres URLs, every
 * HKEX source at `siteUrl` when given, then `extra`.
 */
export function serviceEnv<E extends Record<string, string>>(
  to: { natsUrl: string; postgresUrl: string; siteUrl?: string | undefined },
  extra: E = {} as E,
): NodeJS.ProcessEnv & E {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HARBOUR_NATS_URL: to.natsUrl,
    HARBOUR_POSTGRES_URL: to.postgresUrl,
  };
  if (to.siteUrl) {
    env['HARBOUR_SCRAPERS_SOURCES_CCASS_BASE_URL'] = to.siteUrl;
    env['HARBOUR_SCRAPERS_SOURCES_HKEX_BASE_URL'] = to.siteUrl;
    env['HARBOUR_SCRAPERS_SOURCES_QUOTE_BASE_URL'] = to.siteUrl;
  }
  return { ...env, ...extra };
}

/** Every HKEX source at the fixture site's `siteUrl`. */
export function siteSources(siteUrl: string): ScrapersConfig['sources'] {
  return { ccassBaseUrl: siteUrl, hkexBaseUrl: siteUrl, quoteBaseUrl: siteUrl };
}

/**
 * The scrapers' settings for a test against the fixture site: every source at `siteUrl`, an HTTP
 * client as fast as a local site allows with short retry delays (then `http`), a failed job retried
 * after 100 ms; then `over`.
 */
export function siteScrapersConfig(
  siteUrl: string,
  over: Partial<ScrapersConfig> = {},
  http: Partial<ScrapersConfig['http']> = {},
): ScrapersConfig {
  const defaults = Value.Default(ScrapersConfig, {}) as ScrapersConfig;
  return {
    ...defaults,
    sources: siteSources(siteUrl),
    http: {
      ...defaults.http,
      requestsPerSecond: 100,
      burst: 20,
      retryBaseDelayMs: 20,
      retryMaxDelayMs: 200,
      ...http,
    },
    retryBaseDelayMs: 100,
    ...over,
  };
}

/** The environment variables of a lake in a local directory (`root`). */
export function fsLakeEnv(root: string): {
  HARBOUR_OBJECT_STORE_BACKEND: 'fs';
  HARBOUR_OBJECT_STORE_ROOT: string;
} {
  return { HARBOUR_OBJECT_STORE_BACKEND: 'fs', HARBOUR_OBJECT_STORE_ROOT: root };
}

/**
 * Publishes the tick the scheduler would for `job` at `scheduledAt` (business date `date`), with the
 * scheduler's `Nats-Msg-Id` unless `msgId` is given; returns the id of the run it starts and the
 * stream's acknowledgement.
 */
export async function publishTick(
  nats: Pick<TestNats, 'nc'>,
  tick: { job: string; date: string; scheduledAt: string; dataset?: Dataset; msgId?: string },
): Promise<{ runId: string; seq: number; duplicate: boolean }> {
  const t: Tick = {
    schema_version: SCHEMA_VERSION,
    job: tick.job,
    scheduled_at: tick.scheduledAt,
    date: tick.date,
    ...(tick.dataset ? { dataset: tick.dataset } : {}),
    catch_up: false,
  };
  // The stream deduplicates by msgID, so a publish whose acknowledgement timed out (a server busy
  // with the rest of the suite, or restarting in a reliability test) is safely sent again.
  for (let attempt = 1; ; attempt++) {
    try {
      const ack = await jetstream(nats.nc).publish(subjects.tick(t.job), JSON.stringify(t), {
        msgID: tick.msgId ?? msgIds.tick(t.job, t.scheduled_at),
      });
      return { runId: tickRunId(t.job, t.scheduled_at), seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      if (attempt === 3) throw err;
      await sleep(1_000);
    }
  }
}

/**
 * For each date, the scheduled CCASS run (`ccass-daily` at `ccassTime` UTC) and quotations run
 * (`quotes-daily` at 10:30 UTC); returns their run ids in that order.
 */
export async function publishDailyRuns(
  nats: Pick<TestNats, 'nc'>,
  dates: readonly string[],
  ccassTime = '01:00',
): Promise<string[]> {
  const runIds: string[] = [];
  for (const date of dates) {
    for (const [job, dataset, time] of [
      ['ccass-daily', 'ccass', ccassTime],
      ['quotes-daily', 'quotes', '10:30'],
    ] as const) {
      const { runId } = await publishTick(nats, {
        job,
        date,
        dataset,
        scheduledAt: `${date}T${time}:00.000Z`,
      });
      runIds.push(runId);
    }
  }
  return runIds;
}
