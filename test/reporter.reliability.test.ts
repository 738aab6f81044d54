/**
 * The reporter under kill -9, on real nats-server, Postgres and an SMTP server: report ticks for
 * several business dates are queued, the reporter (its own process, as deployed) is killed at random
 * moments while it builds and sends, and restarted. Afterwards every report and alert of the ledger
 * was delivered, each under its stable Message-ID, and a mail arrived more than once only where a
 * kill fell between the SMTP server's acceptance and the ledger commit (at most once per kill).
 * Default (CI) size is small; `npm run test:chaos` (HARBOUR_CHAOS=1) runs more dates and kills.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCalendar } from '../services/scheduler/index.ts';
import { consumerNames, streamNames } from '../streams/index.ts';
import { createGoldTables, seedGold } from './support/gold.ts';
import { consumerExists, testDir } from './support/infra.ts';
import { logTail, type ServiceProcess, startServiceProcess, until } from './support/service-process.ts';
import { type SmtpSink, startSmtpSink } from './support/smtp.ts';
import { publishTick, useSuiteInfra } from './support/suite.ts';

const CHAOS = process.env.HARBOUR_CHAOS === '1';
const DATES = CHAOS ? 20 : 8;
const KILLS = CHAOS ? 10 : 3;
const LAST = '2026-10-30';
/** The SMTP server takes this long to answer each DATA: kills land between acceptance and commit too. */
const SMTP_DELAY_MS = 150;

describe('reporter crash test: kill -9 at random moments', () => {
  let smtp: SmtpSink | undefined;
  const inbox: { messageId: string; subject: string }[] = [];
  let child: ServiceProcess | undefined;

  beforeAll(async () => {
    smtp = await startSmtpSink(
      { authOptional: true, disabledCommands: ['STARTTLS'] },
      (mail) => inbox.push({ messageId: mail.messageId ?? '', subject: mail.subject ?? '' }),
      SMTP_DELAY_MS,
    );
  });
  afterAll(async () => smtp?.close());
  const infra = useSuiteInfra({
    prepare: async () => {
      await createGoldTables(infra.db.pool);
      await seedGold(infra.db.pool, { from: '2026-05-01', to: LAST });
    },
    beforeStop: async () => child?.stop('SIGKILL'),
  });

  it(`every report and alert is delivered after ${KILLS} kill -9s of the reporter`, {
    timeout: CHAOS ? 900_000 : 240_000,
  }, async () => {
    const logPath = join(await testDir('reporter-log'), 'reporter.log');
    const env = infra.env({
      HARBOUR_OPS_PORT: '0',
      HARBOUR_LOG_LEVEL: 'warn',
      HARBOUR_REPORTER_WATCH_LIST: '00700,00005,02319,00001,00388',
      HARBOUR_REPORTER_SMTP_HOST: '127.0.0.1',
      HARBOUR_REPORTER_SMTP_PORT: String(smtp!.port),
      HARBOUR_REPORTER_SMTP_TO: 'father@example.test',
      HARBOUR_REPORTER_ALERTS_CCASS_MOVE_PCT_ISSUED: '0.05',
      HARBOUR_REPORTER_ALERTS_MAX_PER_TICK: '6',
      HARBOUR_REPORTER_ACK_WAIT_MS: '3000',
      HARBOUR_REPORTER_RETRY_BASE_DELAY_MS: '200',
    });
    const start = async () => {
      child = await startServiceProcess('reporter', env, logPath);
    };
    await start();
    // The reporter creates its consumer (deliver policy `new`): ticks published before it would be skipped.
    await until(
      () => consumerExists(infra.nats.jsm, streamNames.ticks, consumerNames.reporter),
      30_000,
      'the reporter consumer',
    );
    const dates = createCalendar().tradingDays('2026-09-01', LAST).slice(-DATES);
    for (const date of dates) {
      await publishTick(infra.nats, {
        job: 'report-daily',
        date,
        scheduledAt: `${date}T12:00:00.000Z`,
        msgId: `report-daily:${date}`,
      });
    }
    const drained = async () => {
      const info = await infra.nats.jsm.consumers.info(streamNames.ticks, consumerNames.reporter);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    };

    const t0 = Date.now();
    const killedAfter: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      const before = inbox.length;
      await until(
        async () => inbox.length > before || (await drained()),
        60_000,
        'a mail before the next kill',
      );
      if (await drained()) break;
      await new Promise((r) => setTimeout(r, Math.random() * 600));
      await child!.stop('SIGKILL');
      killedAfter.push(inbox.length);
      await start();
    }
    await until(drained, CHAOS ? 600_000 : 120_000, 'every tick to be handled').catch(async (err) => {
      console.error(await logTail(logPath));
      throw err;
    });
    await child!.stop('SIGTERM');
    child = undefined;

    const { rows: ledger } = await infra.db.pool.query<{
      event_key: string;
      message_id: string | null;
      sent: boolean;
    }>(
      `select event_key, message_id, sent_at is not null as sent from reporter.sent_emails order by event_key`,
    );
    const copies = new Map<string, number>();
    for (const m of inbox) copies.set(m.messageId, (copies.get(m.messageId) ?? 0) + 1);
    const resent = [...copies.values()].reduce((a, n) => a + n - 1, 0);
    const reports = ledger.filter((l) => l.event_key.startsWith('report:'));
    console.log(
      `reporter crash test: ${dates.length} report ticks, ${killedAfter.length} kill -9s (after mail ${killedAfter.join(', ')}), ` +
        `done in ${Date.now() - t0} ms; ledger ${ledger.length} emails (${reports.length} reports, ` +
        `${ledger.length - reports.length} alerts); SMTP received ${inbox.length} mails, ${copies.size} distinct Message-IDs, ${resent} resent`,
    );
    expect(killedAfter.length).toBeGreaterThan(0);
    expect(reports.map((r) => r.event_key)).toEqual(dates.map((d) => `report:report-daily:${d}`));
    expect(ledger.length).toBeGreaterThan(reports.length); // alerts were part of the run too
    expect(ledger.filter((l) => !l.sent)).toEqual([]);
    // Every ledger email arrived, and nothing arrived that the ledger does not know.
    expect([...copies.keys()].sort()).toEqual(ledger.map((l) => l.message_id).sort());
    expect(resent).toBeLessThanOrEqual(killedAfter.length);
  });
});
