import { type Static, Type } from '@sinclair/typebox';
import { IsoDate, IsoInstant, SCHEMA_VERSION } from './common.ts';
import { type Dataset, DatasetName, type RowsByDataset, rowValidators } from './datasets.ts';
import { ErrorCodes, HarbourError } from './errors.ts';
import { compile, parseJson } from './validate.ts';

/**
 * What a scraper publishes on `harbour.raw.<dataset>`: one fetched unit (a page, a report, a workbook)
 * and the rows parsed from it. The compactor validates rows against the dataset's row schema.
 */
export const EnvelopeHeader = Type.Object(
  {
    schema_version: Type.Literal(SCHEMA_VERSION),
    dataset: DatasetName,
    /** The unit's key within the dataset and date, e.g. the stock code for CCASS, `all` for a full report. */
    key: Type.String({ minLength: 1, maxLength: 200 }),
    as_of: IsoDate,
    source_url: Type.String({ minLength: 1 }),
    fetched_at: IsoInstant,
    run_id: Type.String({ minLength: 1 }),
    rows: Type.Array(Type.Unknown()),
  },
  { additionalProperties: false },
);

export interface Envelope<D extends Dataset = Dataset>
  extends Omit<Static<typeof EnvelopeHeader>, 'rows' | 'dataset'> {
  dataset: D;
  rows: RowsByDataset[D][];
}

const headerValidator = compile(EnvelopeHeader, 'envelope');

/** Validates header and every row; the error's `detail.path` names the field, e.g. `/rows/3/shareholding`. */
export function parseEnvelope(value: unknown): Envelope {
  const env = headerValidator.parse(value);
  const rowValidator = rowValidators[env.dataset];
  for (let i = 0; i < env.rows.length; i++) {
    const row = env.rows[i];
    if (rowValidator.check(row)) continue;
    const [problem] = rowValidator.problems(row, 1);
    const [sub, msg] = splitProblem(problem ?? '/: invalid');
    const path = `/rows/${i}${sub === '/' ? '' : sub}`;
    throw new HarbourError(ErrorCodes.SchemaInvalid, `envelope is invalid at ${path}: ${msg}`, {
      detail: { path, problems: rowValidator.problems(row).map((p) => `/rows/${i}${p}`) },
    });
  }
  return env as Envelope;
}

export function decodeEnvelope(data: Uint8Array | string): Envelope {
  return parseEnvelope(parseJson(data));
}

function splitProblem(problem: string): [string, string] {
  const at = problem.indexOf(': ');
  return at < 0 ? ['/', problem] : [problem.slice(0, at), problem.slice(at + 2)];
}
