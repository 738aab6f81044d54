import { describe, expect, it } from 'vitest';
import {
  type CcassRow,
  decodeEnvelope,
  ErrorCodes,
  HarbourError,
  parseEnvelope,
  SCHEMA_VERSION,
  tickValidator,
} from './index.ts';

const row: CcassRow = {
  code: '00700',
  holding_date: '2019-10-29',
  row_type: 'participant',
  participant_id: 'C00019',
  participant_name: 'HSBC',
  address: 'HK',
  shareholding: 1_234_567,
  pct_issued: 0.01,
  participants: null,
};
const envelope = {
  schema_version: SCHEMA_VERSION,
  dataset: 'ccass',
  key: '00700',
  as_of: '2019-10-29',
  source_url: 'http://127.0.0.1/sdw/search/searchsdw.aspx',
  fetched_at: '2019-10-30T01:00:00.000Z',
  run_id: 'run-1',
  rows: [row, { ...row, participant_id: null, participant_name: 'SOMEONE *' }],
};

function codeAndPath(fn: () => unknown): { code: string; path: unknown; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HarbourError);
    const e = err as HarbourError;
    return { code: e.code, path: e.detail?.path, message: e.message };
  }
  throw new Error('expected a rejection');
}

describe('envelope contract', () => {
  it('accepts a valid CCASS envelope and keeps its rows typed', () => {
    const env = parseEnvelope(structuredClone(envelope));
    expect(env.dataset).toBe('ccass');
    expect(env.rows).toHaveLength(2);
    expect(decodeEnvelope(JSON.stringify(envelope)).rows[1]).toMatchObject({ participant_id: null });
  });

  it('rejects a header field, naming it', () => {
    const bad = { ...envelope, as_of: '29/10/2019' };
    const e = codeAndPath(() => parseEnvelope(bad));
    expect(e.code).toBe(ErrorCodes.SchemaInvalid);
    expect(e.path).toBe('/as_of');
    expect(e.message).toContain('/as_of');
  });

  it('rejects a date that is not on the calendar', () => {
    const bad = structuredClone(envelope);
    (bad.rows[0] as Record<string, unknown>).holding_date = '2026-02-30';
    expect(codeAndPath(() => parseEnvelope(bad)).path).toBe('/rows/0/holding_date');
  });

  it('rejects an unknown dataset and extra fields', () => {
    expect(codeAndPath(() => parseEnvelope({ ...envelope, dataset: 'options' })).path).toBe('/dataset');
    expect(codeAndPath(() => parseEnvelope({ ...envelope, extra: 1 })).code).toBe(ErrorCodes.SchemaInvalid);
  });

  it('rejects a bad row, naming the row index and the field', () => {
    const bad = structuredClone(envelope);
    (bad.rows[1] as Record<string, unknown>).shareholding = '1,234';
    const e = codeAndPath(() => parseEnvelope(bad));
    expect(e.path).toBe('/rows/1/shareholding');
    expect(e.message).toMatch(/rows\/1\/shareholding/);
  });

  it('validates rows against the dataset named in the envelope', () => {
    const bad = { ...envelope, dataset: 'quotes' };
    expect(codeAndPath(() => parseEnvelope(bad)).path).toMatch(/^\/rows\/0\//);
  });

  it('refuses bytes that are not JSON with its own code', () => {
    expect(codeAndPath(() => decodeEnvelope('{"dataset":')).code).toBe(ErrorCodes.NotJson);
  });

  it('checks other wire types too', () => {
    expect(
      tickValidator.check({
        schema_version: 1,
        job: 'quotes',
        scheduled_at: '2026-10-02T10:30:00.000Z',
        date: '2026-10-02',
        dataset: 'quotes',
        catch_up: false,
      }),
    ).toBe(true);
    expect(
      tickValidator.problems({
        schema_version: 1,
        job: '',
        scheduled_at: 'now',
        date: '2026-10-02',
        catch_up: false,
      }),
    ).toHaveLength(2);
  });
});
