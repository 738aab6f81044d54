import { Value } from '@sinclair/typebox/value';
import type { ParsedMail } from 'mailparser';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerNames, streamNames } from '../../streams/index.ts';
import { cellValue, readWorkbook } from '../../test/support/exporter.ts';
import { createGoldTables, reserveCcassChanges, seedGold } from '../../test/support/gold.ts';
import { serviceDeps } from '../../test/support/infra.ts';
import { type SmtpSink, startSmtpSink } from '../../test/support/smtp.ts';
import { publishTick, useSuiteInfra } from '../../test/support/suite.ts';
import { stockSheetName } from '../gold/index.ts';
import type { Service } from '../runtime/index.ts';
import { createMailer, ReporterConfig, runDaily, startReporter } from './index.ts';

const D = '2026-10-30';
const WATCH = ['00700', '00005', '02319', '99999'];

let smtp: SmtpSink | undefined;
const inbox: { mail: ParsedMail; rcpt: string[]; user: string | undefined }[] = [];
let reporter: Service | undefined;

function config(): ReporterConfig {
  const c = Value.Default(ReporterConfig, {}) as ReporterConfig;
  return {
    ...c,
    watchList: WATCH,
    smtp: {
      ...c.smtp,
      host: '127.0.0.1',
      port: smtp!.port,
      requireTls: true,
      rejectUnauthorized: false, // smtp-server's built-in self-signed certificate
      user: 'harbour',
      pass: 'letmein',
      from: 'Harbour <harbour@example.test>',
      to: ['father@example.test'],
    },
    alerts: { ...c.alerts, lookbackDays: 1, ccassMovePctIssued: 1, to: ['alerts@example.test'] },
    retryBaseDelayMs: 100,
  };
}

async function until(cond: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Publishes a report tick and waits until the reporter has acked it. */
async function tick(msgId: string): Promise<void> {
  const { seq } = await publishTick(infra.nats, {
    job: 'report-daily',
    date: D,
    scheduledAt: `${D}T12:00:00.000Z`,
    msgId,
  });
  await until(async () => {
    const info = await infra.nats.jsm.consumers.info(streamNames.ticks, consumerNames.reporter);
    return info.ack_floor.stream_seq >= seq && info.num_ack_pending === 0;
  });
}

const alerts = () => inbox.filter((m) => m.mail.subject?.startsWith('Harbour alert:'));
const reports = () => inbox.filter((m) => m.mail.subject?.startsWith('Harbour daily report'));

beforeAll(async () => {
  smtp = await startSmtpSink(
    {
      onAuth(auth, _session, cb) {
        if (auth.username === 'harbour' && auth.password === 'letmein') cb(null, { user: auth.username });
        else cb(new Error('bad credentials'));
      },
    },
    (mail, session) =>
      inbox.push({
        mail,
        rcpt: session.envelope.rcptTo.map((r) => r.address),
        user: session.user as string | undefined,
      }),
  );
});
afterAll(async () => smtp?.close());
const infra = useSuiteInfra({ prepare: seed, beforeStop: async () => reporter?.close() });

/**
 * CCASS on `date` re-served with one participant of `code` holding `changeShares` more than before
 * (change_shares; change_pct_issued = change_shares ÷ issued shares × 100, as the view derives it).
 */
async function moveCcassHolding(
  pool: pg.Pool,
  date: string,
  code: string,
  participantKey: string,
  changeShares: number,
): Promise<void> {
  await reserveCcassChanges(pool, [date], async (client, stage) => {
    const { rowCount } = await client.query(
      `update ${stage} set shareholding = prev_shareholding + $3::float8, kind = 'changed'
       where code = $1 and participant_key = $2`,
      [code, participantKey, changeShares],
    );
    if (rowCount !== 1) throw new Error(`no CCASS row ${code} ${participantKey} on ${date}`);
  });
}

/** The gold tables with one engineered event of each alert rule on D. */
async function seed(): Promise<void> {
  const db = infra.db;
  await createGoldTables(db.pool);
  await seedGold(db.pool, { from: '2026-05-01', to: D });
  // Engineer one event of each rule on D.
  await db.pool.query(
    `update gold.daily_prices p set close = m.h + 1, high = m.h + 1
     from (select max(high) as h from gold.daily_prices
           where code = '00700' and trade_date >= date_trunc('month', $1::date) and trade_date < $1::date) m
     where p.code = '00700' and p.trade_date = $1::date`,
    [D],
  );
  await db.pool.query(
    `update gold.rolling_directed_volume r set dv_30d_trading = case when p.dv > 0 then -5000000 else 5000000 end
     from (select dv_30d_trading as dv from gold.rolling_directed_volume
           where code = '00005' and trade_date < $1::date order by trade_date desc limit 1) p
     where r.code = '00005' and r.trade_date = $1::date`,
    [D],
  );
  // CCASS is served per set (gold.ccass_changes is a view): re-serve D with C00010 up 2.5 % of issued.
  await moveCcassHolding(db.pool, D, '02319', 'C00010', 98_250_000);
}

describe('reporter on a real nats-server, Postgres and SMTP server', () => {
  it('creates its consumer on TICKS for its job', async () => {
    reporter = await startReporter(config(), await serviceDeps({ nc: infra.nats.nc, pool: infra.db.pool }));
    const info = await infra.nats.jsm.consumers.info(streamNames.ticks, consumerNames.reporter);
    expect(info.config).toMatchObject({
      filter_subject: 'harbour.tick.report-daily',
      ack_policy: 'explicit',
      deliver_policy: 'new',
      max_ack_pending: 1,
    });
  });

  it('on its tick, emails the daily report with the workbook attached', async () => {
    await tick('report-daily:1');
    await until(() => reports().length === 1);
    const { mail, rcpt, user } = reports()[0]!;
    expect(rcpt).toEqual(['father@example.test']);
    expect(user).toBe('harbour');
    expect(mail.subject).toBe('Harbour daily report 30/10/2026: 4 stocks, data quality: 1 issue');
    expect(mail.from?.value[0]).toMatchObject({ name: 'Harbour', address: 'harbour@example.test' });
    const html = mail.html as string;
    expect(html).toContain('Top movers');
    expect(html).toContain('Directed-volume leaders');
    expect(html).toContain('CCASS concentration changes');
    expect(html).toContain('ccass: 23 of 39 expected rows on 30/10/2026'); // the seeded short day
    expect(html).toContain('No prices for 99999');
    // The biggest mover of the day leads the table, with its signed change.
    const { rows } = await infra.db.pool.query(
      `select code, name, change_pct::float8 as chg from gold.daily_prices
       where code = any($1) and trade_date = $2 order by abs(change_pct) desc limit 1`,
      [WATCH, D],
    );
    const top = rows[0];
    const moversTable = html.slice(html.indexOf('Top movers'), html.indexOf('Directed-volume leaders'));
    const firstRow = moversTable.slice(moversTable.indexOf('<tr>', moversTable.indexOf('</tr>')));
    expect(firstRow).toContain(`${top.code} ${top.name}`);
    expect(firstRow).toContain(`${top.chg > 0 ? '+' : ''}${top.chg.toFixed(2)}`);
    expect(mail.text).toContain('Data quality: 1 issue(s)');

    expect(mail.attachments).toHaveLength(1);
    const att = mail.attachments[0]!;
    expect(att.filename).toBe('harbour-watchlist-2026-10-30.xlsx');
    expect(att.contentType).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    const wb = await readWorkbook(att.content);
    expect(wb.worksheets.map((w) => w.name)).toEqual([
      'Summary',
      stockSheetName('00700', 'TENCENT'),
      'CCASS 00700',
      stockSheetName('00005', 'HSBC HOLDINGS'),
      'CCASS 00005',
      stockSheetName('02319', 'MENGNIU DAIRY'),
      'CCASS 02319',
    ]);
    const summary = wb.getWorksheet('Summary')!;
    expect(cellValue(summary.getCell('A6'))).toBe('99999');
    const { rows: c } = await infra.db.pool.query(
      "select close::float8 as close from gold.daily_prices where code = '00700' and trade_date = $1",
      [D],
    );
    expect(cellValue(summary.getCell('C3'))).toBe(c[0].close);
  });

  it('sends one email per market event, to the alert recipients', async () => {
    const subjects = alerts().map((a) => a.mail.subject);
    const { rows } = await infra.db.pool.query(
      "select close::float8 as close from gold.daily_prices where code = '00700' and trade_date = $1",
      [D],
    );
    const close = rows[0].close as number;
    expect(subjects).toContain(
      `Harbour alert: 00700 TENCENT closed at ${close.toLocaleString('en-US', { minimumFractionDigits: 3 })} above the month high ${(close - 1).toLocaleString('en-US', { minimumFractionDigits: 3 })} on 30/10/2026`,
    );
    expect(subjects).toContain(
      'Harbour alert: 02319 MENGNIU DAIRY CCASS: CITIBANK N.A. (C00010) +2.50 % of issued shares on 30/10/2026',
    );
    expect(
      subjects.some((s) =>
        /^Harbour alert: 00005 HSBC HOLDINGS 30-day directed volume turned (positive \(\+5,000,000\)|negative \(-5,000,000\)) on 30\/10\/2026$/.test(
          s ?? '',
        ),
      ),
    ).toBe(true);
    const keys = alerts().map((a) => a.mail.headers.get('x-harbour-event'));
    expect(new Set(keys).size).toBe(keys.length);
    for (const a of alerts()) {
      expect(a.rcpt).toEqual(['alerts@example.test']);
      expect(a.mail.html).toContain('Harbour sends each event once');
      expect(a.mail.messageId).toMatch(/^<harbour-[0-9a-f]{32}@example\.test>$/);
    }
    const { rows: ledger } = await infra.db.pool.query(
      "select count(*)::int as n from reporter.sent_emails where kind like 'alert:%' and sent_at is not null",
    );
    expect(ledger[0].n).toBe(alerts().length);
  });

  it('the same tick again sends nothing twice; a new event later is sent once', async () => {
    const before = inbox.length;
    await tick('report-daily:again'); // e.g. a second scheduler outside the dedup window, or a manual re-run
    const direct = await runDaily(
      {
        pool: infra.db.pool,
        mailer: createMailer(config().smtp),
        config: config(),
        logger: (await serviceDeps({ nc: infra.nats.nc })).logger,
      },
      'report-daily',
      D,
    );
    expect(direct.report).toBe('duplicate');
    expect(direct.alerts.length).toBeGreaterThanOrEqual(3);
    expect(direct.alerts.every((a) => a.outcome === 'duplicate')).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(inbox.length).toBe(before);

    // A new CCASS move on the same date: only its alert goes out.
    await moveCcassHolding(infra.db.pool, D, '02319', 'B01451', -68_775_000);
    await tick('report-daily:third');
    await until(() => inbox.length === before + 1);
    expect(inbox[inbox.length - 1]?.mail.subject).toBe(
      'Harbour alert: 02319 MENGNIU DAIRY CCASS: GOLDMAN SACHS (ASIA) SECURITIES LIMITED (B01451) -1.75 % of issued shares on 30/10/2026',
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(inbox.length).toBe(before + 1);
    expect(reports()).toHaveLength(1);
  });

  it('a failed send (SMTP refuses the login) leaves the event unsent, and the next run sends it', async () => {
    const D2 = '2026-10-29';
    const logger = (await serviceDeps({ nc: infra.nats.nc })).logger;
    const bad = { ...config(), smtp: { ...config().smtp, pass: 'wrong' } };
    await expect(
      runDaily(
        { pool: infra.db.pool, mailer: createMailer(bad.smtp), config: bad, logger },
        'report-daily',
        D2,
      ),
    ).rejects.toThrow(/Invalid login|bad credentials|535/);
    const { rows } = await infra.db.pool.query(
      'select sent_at from reporter.sent_emails where event_key = $1',
      [`report:report-daily:${D2}`],
    );
    expect(rows.filter((r) => r.sent_at !== null)).toEqual([]);
    const ok = await runDaily(
      { pool: infra.db.pool, mailer: createMailer(config().smtp), config: config(), logger },
      'report-daily',
      D2,
    );
    expect(ok.report).toBe('sent');
    await until(() => reports().some((r) => r.mail.subject?.startsWith('Harbour daily report 29/10/2026')));
  });
});
