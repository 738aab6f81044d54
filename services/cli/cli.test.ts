import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { freePort } from '../../ops/launcher/free-port.ts';
import { type CliRun, repoRoot, runHarbour, withoutHarbourEnv } from '../../test/support/cli.ts';
import { harbourConfigSchema } from '../host.ts';
import { loadConfigWithOrigins, writeStackSettings } from '../runtime/index.ts';
import { parseDataset, parseKind } from './commands.ts';

/** A working directory without a `.harbour/stack.env`, whatever runs in the repository. */
const emptyDir = await mkdtemp(join(tmpdir(), 'harbour-cli-'));

function harbour(args: string[], env: Record<string, string> = {}, cwd = emptyDir): Promise<CliRun> {
  return runHarbour(args, { cwd, env: { ...withoutHarbourEnv(), ...env } });
}

type Shown = { settings: { env: string; value: unknown; origin: string }[] };
const settingOf = (out: string, env: string) =>
  (JSON.parse(out) as Shown).settings.find((s) => s.env === env);

describe('configuration sources', () => {
  it('takes each setting from env over --config over the stack file over the default, and says which', () => {
    const { config, settings } = loadConfigWithOrigins(harbourConfigSchema(), {
      stack: {
        HARBOUR_NATS_URL: 'nats://127.0.0.1:1111',
        HARBOUR_POSTGRES_URL: 'postgres://a:b@127.0.0.1:2222/h',
        HARBOUR_EXPORTER_PORT: '3333',
      },
      base: { postgres: { url: 'postgres://a:b@127.0.0.1:4444/h' }, exporter: { port: 5555 } },
      env: { HARBOUR_EXPORTER_PORT: '6666' },
    });
    const of = (env: string) => settings.find((s) => s.env === env);
    expect(of('HARBOUR_NATS_URL')).toMatchObject({ value: 'nats://127.0.0.1:1111', origin: 'stack' });
    expect(of('HARBOUR_POSTGRES_URL')).toMatchObject({
      value: 'postgres://a:b@127.0.0.1:4444/h',
      origin: 'file',
    });
    expect(of('HARBOUR_EXPORTER_PORT')).toMatchObject({ value: 6666, origin: 'env' });
    expect(of('HARBOUR_EXPORTER_HOST')).toMatchObject({ value: '127.0.0.1', origin: 'default' });
    expect((config as { exporter: { port: number } }).exporter.port).toBe(6666);
  });

  it('`harbour config` refuses an invalid value naming its variable, exit 1', async () => {
    const r = await harbour(['config'], { HARBOUR_EXPORTER_PORT: 'abc' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^HARBOUR_ERR_CONFIG: config value HARBOUR_EXPORTER_PORT \(exporter\.port\) is invalid/,
    );
    expect(r.stdout).toBe('');
  });

  it('`harbour config` shows effective values with their origin and hides secrets', async () => {
    const r = await harbour(['config', '--json'], {
      HARBOUR_EXPORTER_PORT: '9191',
      HARBOUR_EXPORTER_TOKEN: 'a-secret-token-of-24-chars',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(settingOf(r.stdout, 'HARBOUR_EXPORTER_PORT')).toMatchObject({ value: 9191, origin: 'env' });
    expect(settingOf(r.stdout, 'HARBOUR_EXPORTER_TOKEN')).toMatchObject({ value: '***', origin: 'env' });
    expect(settingOf(r.stdout, 'HARBOUR_POSTGRES_URL')).toMatchObject({
      value: 'postgres://harbour:***@127.0.0.1:5432/harbour',
      origin: 'default',
    });
    expect(r.stdout).not.toContain('a-secret-token');
    const table = await harbour(['config'], { HARBOUR_EXPORTER_PORT: '9191' });
    expect(table.stdout).toContain('| `HARBOUR_EXPORTER_PORT` | `9191` | env |');
  });

  it('reads the stack settings file of the working directory, and ignores it once its stack is gone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'harbour-cli-'));
    const path = join(dir, '.harbour', 'stack.env');
    await writeStackSettings(path, { HARBOUR_NATS_URL: 'nats://127.0.0.1:4999' }, process.pid);
    const live = await harbour(['config', '--json'], {}, dir);
    expect(settingOf(live.stdout, 'HARBOUR_NATS_URL')).toMatchObject({
      value: 'nats://127.0.0.1:4999',
      origin: 'stack',
    });
    // A pid no process has (above the kernel's pid_max): the stack died without cleaning up.
    await writeStackSettings(path, { HARBOUR_NATS_URL: 'nats://127.0.0.1:4999' }, 4_194_305);
    const stale = await harbour(['config', '--json'], {}, dir);
    expect(stale.code).toBe(0);
    expect(settingOf(stale.stdout, 'HARBOUR_NATS_URL')).toMatchObject({ origin: 'default' });
    expect(stale.stderr).toContain(`ignoring ${path}`);
  });
});

describe('connection errors', () => {
  it('name the host and the setting to check', async () => {
    const closed = await freePort();
    const pgDown = await harbour(['lake', 'ls'], {
      HARBOUR_POSTGRES_URL: `postgres://harbour:harbour@127.0.0.1:${closed}/harbour`,
    });
    expect(pgDown.code).toBe(1);
    expect(pgDown.stderr).toContain(
      `HARBOUR_ERR_UNREACHABLE: cannot reach Postgres at 127.0.0.1:${closed} (HARBOUR_POSTGRES_URL)`,
    );
    const natsDown = await harbour(['lake', 'ls'], {
      HARBOUR_POSTGRES_URL: inject('pgUrl'),
      HARBOUR_NATS_URL: `nats://127.0.0.1:${closed}`,
    });
    expect(natsDown.code).toBe(1);
    expect(natsDown.stderr).toContain(
      `HARBOUR_ERR_UNREACHABLE: cannot reach NATS at 127.0.0.1:${closed} (HARBOUR_NATS_URL)`,
    );
  });
});

describe('trace', () => {
  it('refuses an unknown model before connecting, naming the known ones', async () => {
    const r = await harbour(['trace', 'prices', '--code', '700', '--date', '2026-12-04']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^HARBOUR_ERR_CONFIG: unknown model "prices"; known: .*daily_prices/);
  });
});

describe('dataset names where a kind is asked for', () => {
  it('maps datasets to page kinds and page kinds to datasets', () => {
    expect(parseKind('quotes')).toBe('quotations');
    expect(parseKind('fundamentals')).toBe('quote');
    expect(parseKind('ccass')).toBe('ccass');
    expect(parseKind('securities')).toBe('securities');
    expect(() => parseKind('prices')).toThrow(/quotes/);
    expect(parseDataset('quotations')).toBe('quotes');
    expect(parseDataset('quote')).toBe('fundamentals');
    expect(() => parseDataset('stocklist')).toThrow(/--dataset must be one of/);
  });

  it('`parse fundamentals` prints what `parse quote` prints', async () => {
    const file = join(
      repoRoot,
      'test',
      'fixtures',
      'hkex',
      'quote',
      '00653-2026-01-26-eng-getequityquote.from-capture-json.jsonp',
    );
    const [byKind, byDataset] = await Promise.all([
      harbour(['parse', 'quote', file]),
      harbour(['parse', 'fundamentals', file]),
    ]);
    expect(byKind.code, byKind.stderr).toBe(0);
    expect(JSON.parse(byKind.stdout).rows[0].code).toBe('00653');
    expect(byDataset.stdout).toBe(byKind.stdout);
  });
});
