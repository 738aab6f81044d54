import { type Static, type TObject, Type } from '@sinclair/typebox';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';
import { type ExportParams, stockCode } from '../gold/index.ts';
import { SHEET_KINDS, type SheetKind } from './config.ts';

export type { ExportParams };

/**
 * Query parameters of the exporter's routes: a TypeBox schema per route (validated by fastify's
 * ajv before the handler runs) plus the checks a schema cannot express (real calendar dates,
 * from ≤ to, range length, the items of comma lists). Every failure is a `ParamError` (`HARBOUR_ERR_BAD_PARAMETER`) naming the
 * parameter, answered as 400 `{ error: 'bad_parameter', parameter, message }`.
 */
export class ParamError extends HarbourError {
  readonly parameter: string;
  constructor(parameter: string, message: string) {
    super(ErrorCodes.BadParameter, message, { detail: { parameter } });
    this.name = 'ParamError';
    this.parameter = parameter;
  }
}

const DATE = '^\\d{4}-\\d{2}-\\d{2}$';
const CODE_LIST = '^\\s*\\d{1,5}\\s*(,\\s*\\d{1,5}\\s*)*,?\\s*$';

const codesParam = Type.String({
  minLength: 1,
  // A sanity bound only: maxUrlBytes and maxCodes (config) are the real limits.
  maxLength: 16_384,
  pattern: CODE_LIST,
  description: 'comma-separated HKEX stock codes of 1–5 digits (00700 or 700)',
});
const codeParam = Type.String({
  pattern: '^\\s*\\d{1,5}\\s*$',
  description: 'one HKEX stock code of 1–5 digits',
});
const fromParam = Type.String({ pattern: DATE, description: 'first date, yyyy-mm-dd' });
const toParam = Type.String({ pattern: DATE, description: 'last date, yyyy-mm-dd' });
const sheetsParam = Type.String({
  maxLength: 64,
  pattern: '^[a-z, ]*$',
  description: `comma-separated sheet kinds: ${SHEET_KINDS.join(', ')}`,
});

export const ExportQuery = Type.Object(
  { codes: codesParam, from: fromParam, to: toParam, sheets: Type.Optional(sheetsParam) },
  { additionalProperties: false },
);
export type ExportQuery = Static<typeof ExportQuery>;

export const StocksQuery = Type.Object(
  { q: Type.Optional(Type.String({ maxLength: 64, description: 'code prefix or part of the name' })) },
  { additionalProperties: false },
);
export type StocksQuery = Static<typeof StocksQuery>;

export const PricesQuery = Type.Object(
  { code: codeParam, from: fromParam, to: toParam },
  { additionalProperties: false },
);
export type PricesQuery = Static<typeof PricesQuery>;

export const CcassQuery = Type.Object(
  {
    code: codeParam,
    date: Type.Optional(
      Type.String({
        pattern: DATE,
        description: 'holding date yyyy-mm-dd (the latest on or before it; default latest)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CcassQuery = Static<typeof CcassQuery>;

export interface ParamLimits {
  maxCodes: number;
  maxRangeDays: number;
  defaultSheets: readonly SheetKind[];
}

/** `700` → `00700`; throws naming `parameter` for anything but 1–5 digits (and 0). */
export function normaliseCode(raw: string, parameter = 'code'): string {
  const code = stockCode(raw);
  if (code === null) {
    throw new ParamError(
      parameter,
      `${parameter}: "${clip(raw.trim())}" is not an HKEX stock code (1–5 digits, e.g. 00700)`,
    );
  }
  return code;
}

export function parseCodes(raw: string, maxCodes: number, parameter = 'codes'): string[] {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (!items.length) throw new ParamError(parameter, `${parameter}: give at least one stock code`);
  const codes = [...new Set(items.map((s) => normaliseCode(s, parameter)))];
  if (codes.length > maxCodes) {
    throw new ParamError(
      parameter,
      `${parameter}: ${codes.length} codes asked, at most ${maxCodes} per request`,
    );
  }
  return codes;
}

/** A real calendar date `yyyy-mm-dd` (2026-02-30 is refused). */
export function parseDate(raw: string, parameter: string): string {
  const s = raw.trim();
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!d || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== s) {
    throw new ParamError(parameter, `${parameter}: "${clip(s)}" is not a date yyyy-mm-dd`);
  }
  return s;
}

/** Days from `from` to `to`, both included. */
export function rangeDays(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1;
}

export function parseRange(
  rawFrom: string,
  rawTo: string,
  maxRangeDays: number,
): { from: string; to: string } {
  const from = parseDate(rawFrom, 'from');
  const to = parseDate(rawTo, 'to');
  if (from > to) throw new ParamError('from', `from (${from}) is after to (${to})`);
  const days = rangeDays(from, to);
  if (days > maxRangeDays) {
    throw new ParamError(
      'to',
      `to: the range ${from}…${to} spans ${days} days, at most ${maxRangeDays} are allowed`,
    );
  }
  return { from, to };
}

export function parseSheets(raw: string | undefined, defaults: readonly SheetKind[]): SheetKind[] {
  if (raw === undefined) return [...defaults];
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (!items.length) return [...defaults];
  for (const s of items) {
    if (!(SHEET_KINDS as readonly string[]).includes(s)) {
      throw new ParamError('sheets', `sheets: unknown sheet "${clip(s)}"; known: ${SHEET_KINDS.join(', ')}`);
    }
  }
  // Always in the workbook's order, whatever order the caller used.
  return SHEET_KINDS.filter((k) => items.includes(k));
}

/** Checks and normalises an export request (the schema already checked the shapes). */
export function parseExportParams(q: ExportQuery, limits: ParamLimits): ExportParams {
  const codes = parseCodes(q.codes, limits.maxCodes);
  const { from, to } = parseRange(q.from, q.to, limits.maxRangeDays);
  return { codes, from, to, sheets: parseSheets(q.sheets, limits.defaultSheets) };
}

/** Turns one ajv error of a querystring schema into a message naming the parameter. */
export function describeSchemaError(
  schema: TObject,
  err: { instancePath?: string; keyword?: string; params?: Record<string, unknown>; message?: string },
  query: unknown,
): ParamError {
  if (err.keyword === 'additionalProperties') {
    const name = String(err.params?.additionalProperty ?? '?');
    return new ParamError(
      name,
      `unknown parameter "${clip(name)}"; known: ${Object.keys(schema.properties).join(', ')}`,
    );
  }
  if (err.keyword === 'required') {
    const name = String(err.params?.missingProperty ?? '?');
    const desc = (schema.properties[name] as { description?: string } | undefined)?.description;
    return new ParamError(name, `${name} is required${desc ? ` (${desc})` : ''}`);
  }
  const name = (err.instancePath ?? '').replace(/^\//, '').split('/')[0] || '?';
  const desc = (schema.properties[name] as { description?: string } | undefined)?.description;
  const value = (query as Record<string, unknown> | undefined)?.[name];
  if (Array.isArray(value)) return new ParamError(name, `${name} was given more than once; give it once`);
  const shown = typeof value === 'string' ? ` "${clip(value)}"` : '';
  return new ParamError(name, `${name}${shown} is invalid: ${desc ?? err.message ?? 'bad value'}`);
}

function clip(s: string, max = 40): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
