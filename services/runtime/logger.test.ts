import { describe, expect, it } from 'vitest';
import { captureLog } from '../../test/support/log-capture.ts';
import { harbourConfigSchema } from '../host.ts';
import { loadConfig } from './config.ts';
import { redactUrls } from './logger.ts';

const PG_PASSWORD = 'pg-Secret-4711';
const NATS_PASSWORD = 'nats-Secret-0815';
const TOKEN = 'exporter-token-abcdefghijkl';
const S3_SECRET = 's3-secret-key-XYZ987';
const SMTP_PASS = 'smtp-pass-qwerty';

describe('log redaction', () => {
  const config = loadConfig(harbourConfigSchema(), {
    env: {
      HARBOUR_POSTGRES_URL: `postgres://harbour:${PG_PASSWORD}@db.internal:5432/harbour`,
      HARBOUR_NATS_URL: `nats://a.internal:4222,nats://app:${NATS_PASSWORD}@b.internal:4222`,
      HARBOUR_EXPORTER_TOKEN: TOKEN,
      HARBOUR_OBJECT_STORE_BACKEND: 's3',
      HARBOUR_OBJECT_STORE_BUCKET: 'lake',
      HARBOUR_OBJECT_STORE_ACCESS_KEY_ID: 'AKIAEXAMPLE',
      HARBOUR_OBJECT_STORE_SECRET_ACCESS_KEY: S3_SECRET,
      HARBOUR_REPORTER_SMTP_PASS: SMTP_PASS,
    },
  }) as Record<string, Record<string, unknown>>;

  it('the settings really hold the secrets (else this test could not fail)', () => {
    const all = JSON.stringify(config);
    for (const s of [PG_PASSWORD, NATS_PASSWORD, TOKEN, S3_SECRET, SMTP_PASS]) expect(all).toContain(s);
  });

  it('a log line with the whole config, or a service section of it, shows none of the secrets', () => {
    const { raw: lines, logger } = captureLog('info');
    logger.info(config, 'config at the top of the line');
    logger.info({ config }, 'config under a key');
    logger.child({ service: 'exporter' }).info({ config: config['exporter'] }, 'own section');
    logger.info({ config: config['objectStore'] }, 'object store section');
    logger.info({ config: config['reporter'] }, 'reporter section');
    expect(lines).toHaveLength(5);
    for (const line of lines) {
      for (const s of [PG_PASSWORD, NATS_PASSWORD, TOKEN, S3_SECRET, SMTP_PASS])
        expect(line).not.toContain(s);
    }
    const top = JSON.parse(lines[0] as string);
    // What is not secret stays readable: which server, which user, which key id.
    expect(top.postgres.url).toBe('postgres://harbour:***@db.internal:5432/harbour');
    expect(top.nats.url).toBe('nats://a.internal:4222,nats://app:***@b.internal:4222');
    expect(top.exporter.token).toBe('[redacted]');
    expect(top.objectStore.secretAccessKey).toBe('[redacted]');
    expect(top.objectStore.accessKeyId).toBe('AKIAEXAMPLE');
    expect(JSON.parse(lines[1] as string).config.postgres.url).toBe(top.postgres.url);
    expect(JSON.parse(lines[2] as string).config.token).toBe('[redacted]');
    expect(JSON.parse(lines[4] as string).config.smtp.pass).toBe('[redacted]');
    // Logging redacts the line, not the config the process goes on using.
    expect(config['exporter']?.['token']).toBe(TOKEN);
  });

  it('an unset secret stays visibly empty', () => {
    const { raw: lines, logger } = captureLog('info');
    logger.info({ config: { exporter: { token: '' } } }, 'no token');
    expect(JSON.parse(lines[0] as string).config.exporter.token).toBe('');
  });

  it('redactUrls keeps URLs without a password as they are', () => {
    expect(redactUrls('postgres://127.0.0.1:5432/harbour')).toBe('postgres://127.0.0.1:5432/harbour');
    expect(redactUrls('postgres://u:p@h/db')).toBe('postgres://u:***@h/db');
  });
});
