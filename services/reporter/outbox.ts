import { createHash } from 'node:crypto';
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import type pg from 'pg';
import { type Migration, migrate } from '../runtime/index.ts';
import type { SmtpConfig } from './config.ts';

/**
 * Sent-email ledger: one row per event key (`report:<job>:<date>`, `alert:<rule key>`). An email is
 * sent while its row is locked (`select … for update`), and marked sent in the same transaction
 * once the SMTP server accepted it, so a redelivered tick, a second run or a second reporter never
 * sends the same event twice. The one gap: the SMTP server accepts but the commit is lost (crash
 * at that instant); then it is sent again, with the same Message-ID, which mail clients collapse.
 */
export const REPORTER_MIGRATIONS: readonly Migration[] = [
  {
    id: '001-sent-emails',
    sql: `
      create schema if not exists reporter;
      create table reporter.sent_emails (
        event_key text primary key,
        kind text not null,
        subject text,
        recipients text,
        message_id text,
        created_at timestamptz not null default now(),
        sent_at timestamptz
      );
      create index sent_emails_sent_at on reporter.sent_emails (sent_at);`,
  },
];

export function migrateReporter(pool: pg.Pool): Promise<string[]> {
  return migrate(pool, 'reporter', REPORTER_MIGRATIONS);
}

export function createMailer(cfg: SmtpConfig): Transporter {
  return nodemailer.createTransport({
    host: cfg.host,
    port: cfg.port,
    secure: cfg.secure,
    requireTLS: cfg.requireTls,
    ...(cfg.user ? { auth: { user: cfg.user, pass: cfg.pass } } : {}),
    tls: { rejectUnauthorized: cfg.rejectUnauthorized },
    connectionTimeout: cfg.timeoutMs,
    greetingTimeout: cfg.timeoutMs,
    socketTimeout: cfg.timeoutMs,
  });
}

/** Stable Message-ID of an event: a resend after a lost commit is recognisably the same mail. */
export function messageIdFor(key: string, from: string): string {
  const domain = /@([^>\s]+)/.exec(from)?.[1] ?? 'harbour.local';
  return `<harbour-${createHash('sha256').update(key).digest('hex').slice(0, 32)}@${domain}>`;
}

export type SendOutcome = 'sent' | 'duplicate';

/**
 * Sends the mail `build()` makes unless `key` was sent before. `build` runs only when a send is
 * due (the report's workbook is not built for a duplicate).
 */
export async function sendOnce(
  pool: pg.Pool,
  mailer: Transporter,
  key: string,
  kind: string,
  build: () => Promise<SendMailOptions & { subject: string; from: string; to: string[] }>,
): Promise<SendOutcome> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query(
      'insert into reporter.sent_emails (event_key, kind) values ($1, $2) on conflict (event_key) do nothing',
      [key, kind],
    );
    const { rows } = await client.query<{ sent_at: Date | null }>(
      'select sent_at from reporter.sent_emails where event_key = $1 for update',
      [key],
    );
    if (rows[0]?.sent_at) {
      await client.query('commit');
      return 'duplicate';
    }
    const mail = await build();
    const messageId = messageIdFor(key, mail.from);
    await mailer.sendMail({
      ...mail,
      messageId,
      headers: { ...(mail.headers as object), 'X-Harbour-Event': key },
    });
    await client.query(
      `update reporter.sent_emails set sent_at = now(), subject = $2, recipients = $3, message_id = $4
       where event_key = $1`,
      [key, mail.subject, mail.to.join(', '), messageId],
    );
    await client.query('commit');
    return 'sent';
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
