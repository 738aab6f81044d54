import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { HKEX_2024_CLOSURES } from '../../test/support/hkex-fixtures.ts';
import { harbourConfigSchema } from '../host.ts';
import { loadConfig } from '../runtime/index.ts';
import { ADDED_CLOSURE_NAME, createCalendar, MarketConfig } from './index.ts';

const run = promisify(execFile);
const repoRoot = new URL('../../', import.meta.url).pathname;

describe('the trading calendar (date-holidays, Hong Kong)', () => {
  const cal = createCalendar();

  it('closes on the Hong Kong holidays of any year, with their names', () => {
    expect(cal.closures(2024).map((c) => c.date)).toEqual(HKEX_2024_CLOSURES);
    const y2027 = cal.closures(2027);
    expect(y2027.map((c) => c.date)).toEqual(
      expect.arrayContaining(['2027-02-08', '2027-02-09', '2027-03-26', '2027-12-27']),
    );
    expect(y2027.find((c) => c.date === '2027-03-26')?.name).toBe('Good Friday');
    expect(y2027.map((c) => c.date)).not.toContain('2027-01-04');
    // Saturdays and Sundays are never listed: they are always closed.
    expect(y2027.map((c) => c.date)).not.toContain('2027-02-06'); // Lunar New Year's Day, a Saturday
    expect(cal.closures(2040).length).toBeGreaterThan(10); // far years too
  });

  it('keeps HKEX half days (Christmas Eve, New Year’s Eve, Lunar New Year’s Eve) as trading days', () => {
    expect(cal.isTradingDay('2024-12-24')).toBe(true);
    expect(cal.isTradingDay('2024-12-31')).toBe(true);
    expect(cal.isTradingDay('2024-02-09')).toBe(true); // Lunar New Year's Eve
    expect(cal.isTradingDay('2024-12-26')).toBe(false);
  });

  it('walks across weekends and holidays', () => {
    expect(cal.previousTradingDay('2026-10-05')).toBe('2026-10-02');
    expect(cal.previousTradingDay('2026-10-02')).toBe('2026-09-30'); // National Day skipped
    expect(cal.nextTradingDay('2027-03-25')).toBe('2027-03-30'); // Good Friday, weekend, Easter Monday
    expect(cal.tradingDays('2024-03-28', '2024-04-05')).toEqual([
      '2024-03-28',
      '2024-04-02',
      '2024-04-03',
      '2024-04-05',
    ]);
    expect(cal.tradingDays('2024-01-01', '2024-12-31')).toHaveLength(262 - HKEX_2024_CLOSURES.length);
  });

  it('adds and removes closures from the market setting', () => {
    const market = Value.Default(MarketConfig, {
      holidaysAdd: ['2027-07-15', '2027-07-17'],
      holidaysRemove: ['2027-03-26'],
    }) as MarketConfig;
    const adjusted = createCalendar(market);
    expect(adjusted.isTradingDay('2027-07-15')).toBe(false);
    expect(adjusted.isTradingDay('2027-03-26')).toBe(true);
    const listed = adjusted.closures(2027);
    expect(listed.find((c) => c.date === '2027-07-15')).toEqual({
      date: '2027-07-15',
      name: ADDED_CLOSURE_NAME,
    });
    expect(listed.map((c) => c.date)).not.toContain('2027-07-17'); // a Saturday: not a weekday closure
    expect(listed.map((c) => c.date)).not.toContain('2027-03-26');
  });

  it('is one setting of the whole configuration (HARBOUR_MARKET_HOLIDAYS_ADD / _REMOVE)', () => {
    const cfg = loadConfig(harbourConfigSchema(), {
      env: {
        HARBOUR_MARKET_HOLIDAYS_ADD: '2027-07-15,2027-07-16',
        HARBOUR_MARKET_HOLIDAYS_REMOVE: '2027-12-27',
      },
    }) as { market: MarketConfig; scrapers: object; scheduler: object; monitor: object };
    expect(cfg.market).toEqual({ holidaysAdd: ['2027-07-15', '2027-07-16'], holidaysRemove: ['2027-12-27'] });
    for (const section of [cfg.scrapers, cfg.scheduler, cfg.monitor])
      expect(section).not.toHaveProperty('holidays');
  });
});

describe('npm run -s harbour -- calendar <year>', () => {
  it("prints the year's non-trading weekdays as JSON", { timeout: 60_000 }, async () => {
    const { stdout } = await run('npm', ['run', '-s', 'harbour', '--', 'calendar', '2027'], {
      cwd: repoRoot,
    });
    const days = JSON.parse(stdout) as { date: string; name: string }[];
    const dates = days.map((d) => d.date);
    expect(dates).toEqual(expect.arrayContaining(['2027-02-08', '2027-02-09', '2027-03-26', '2027-12-27']));
    expect(dates).not.toContain('2027-01-04');
    expect(days[0]).toEqual({ date: '2027-01-01', name: 'The first day of January' });
    expect(days.every((d) => typeof d.name === 'string' && d.name.length > 0)).toBe(true);
  });

  it('follows the market setting and refuses a bad year with a coded error', {
    timeout: 60_000,
  }, async () => {
    const env = { ...process.env, HARBOUR_MARKET_HOLIDAYS_ADD: '2027-01-04' };
    const { stdout } = await run('npm', ['run', '-s', 'harbour', '--', 'calendar', '2027'], {
      cwd: repoRoot,
      env,
    });
    expect(JSON.parse(stdout)).toContainEqual({ date: '2027-01-04', name: ADDED_CLOSURE_NAME });
    const bad = await run('npm', ['run', '-s', 'harbour', '--', 'calendar', '27'], { cwd: repoRoot }).catch(
      (err: { code: number; stderr: string }) => err,
    );
    expect(bad).toMatchObject({ code: 1 });
    expect((bad as { stderr: string }).stderr).toMatch(
      /^HARBOUR_ERR_CONFIG: calendar: expected a four-digit year/,
    );
  });
});
