import { KindGuard, type TSchema } from '@sinclair/typebox';
import { IsoDate, IsoInstant } from '../../contracts/common.ts';
import { type Dataset, rowSchemas } from '../../contracts/datasets.ts';

/**
 * Logical column types of Harbour's lake files and how each is stored:
 *
 * | type        | Parquet physical / logical                    | JS value written              | JS value read back        | DuckDB type   |
 * |-------------|-----------------------------------------------|-------------------------------|---------------------------|---------------|
 * | `string`    | BYTE_ARRAY / STRING (UTF8)                    | `string`                      | `string`                  | VARCHAR       |
 * | `double`    | DOUBLE                                        | `number`                      | `number`                  | DOUBLE        |
 * | `int64`     | INT64                                         | safe-integer `number`/`bigint`| `number` (or `bigint`)    | BIGINT        |
 * | `int32`     | INT32                                         | integer `number`              | `number`                  | INTEGER       |
 * | `boolean`   | BOOLEAN                                       | `boolean`                     | `boolean`                 | BOOLEAN       |
 * | `date`      | INT32 / DATE                                  | `yyyy-mm-dd` (or `Date`)      | `yyyy-mm-dd`              | DATE          |
 * | `timestamp` | INT64 / TIMESTAMP(MILLIS, adjustedToUTC)      | ISO-8601 instant (or `Date`)  | ISO-8601 `…Z` string      | TIMESTAMPTZ   |
 */
export type ParquetColumnType = 'string' | 'double' | 'int64' | 'int32' | 'boolean' | 'date' | 'timestamp';

export interface ParquetColumn {
  name: string;
  type: ParquetColumnType;
  nullable: boolean;
}

/**
 * Columns the compactor adds to every lake row, from the envelope and the stream:
 * `_seq` is the JetStream stream sequence of the envelope the row came from.
 */
export const META_COLUMNS: readonly ParquetColumn[] = Object.freeze([
  { name: '_seq', type: 'int64', nullable: false },
  { name: '_key', type: 'string', nullable: false },
  { name: '_as_of', type: 'date', nullable: false },
  { name: '_fetched_at', type: 'timestamp', nullable: false },
  { name: '_run_id', type: 'string', nullable: false },
  { name: '_source_url', type: 'string', nullable: false },
] satisfies ParquetColumn[]);

export interface ColumnsForOptions {
  /** Append {@link META_COLUMNS} after the row's own columns (default true). */
  meta?: boolean;
}

/**
 * Parquet columns of a contracts row schema (a TypeBox `Type.Object`), in property order, followed by
 * {@link META_COLUMNS} unless `meta: false`. Mapping: `Type.String` → string, except `IsoDate`-patterned
 * (or `format: 'date'`) → date and `IsoInstant`-patterned (or `format: 'date-time'`) → timestamp;
 * `Type.Number` → double; `Type.Integer` → int32 when its declared bounds fit 32 bits, int64 otherwise;
 * `Type.Boolean` → boolean; literal unions → the literals' type; `Type.Null` in a union, or an optional
 * property, → nullable. Anything else (arrays, objects, mixed unions) throws.
 */
export function columnsFor(schema: TSchema, opts: ColumnsForOptions = {}): ParquetColumn[] {
  if (!KindGuard.IsObject(schema)) throw new TypeError('columnsFor: expected a Type.Object row schema');
  const required = new Set(schema.required ?? []);
  const columns: ParquetColumn[] = [];
  for (const [name, prop] of Object.entries(schema.properties)) {
    const { type, nullable } = columnTypeOf(prop, name);
    columns.push({ name, type, nullable: nullable || !required.has(name) });
  }
  if (opts.meta ?? true) {
    const names = new Set(columns.map((c) => c.name));
    for (const meta of META_COLUMNS) {
      if (names.has(meta.name))
        throw new TypeError(`columnsFor: row property ${meta.name} collides with a meta column`);
      columns.push({ ...meta });
    }
  }
  return columns;
}

/** Lake columns of a dataset: its row columns then the meta columns. */
export function datasetColumns(dataset: Dataset, opts: ColumnsForOptions = {}): ParquetColumn[] {
  return columnsFor(rowSchemas[dataset], opts);
}

function columnTypeOf(schema: TSchema, name: string): { type: ParquetColumnType; nullable: boolean } {
  if (KindGuard.IsUnion(schema)) {
    const members = schema.anyOf.filter((m) => !KindGuard.IsNull(m));
    const nullable = members.length < schema.anyOf.length;
    const types = new Set(members.map((m) => columnTypeOf(m, name).type));
    // An integer-or-number union widens to double.
    if (types.size === 2 && types.has('double') && (types.has('int64') || types.has('int32'))) {
      return { type: 'double', nullable };
    }
    const [only] = types;
    if (types.size !== 1 || only === undefined) {
      throw new TypeError(`columnsFor: column ${name} mixes types (${[...types].join(', ') || 'null only'})`);
    }
    return { type: only, nullable };
  }
  if (KindGuard.IsString(schema)) {
    if (schema.pattern === IsoDate.pattern || schema.format === 'date')
      return { type: 'date', nullable: false };
    if (schema.pattern === IsoInstant.pattern || schema.format === 'date-time') {
      return { type: 'timestamp', nullable: false };
    }
    return { type: 'string', nullable: false };
  }
  if (KindGuard.IsInteger(schema)) {
    const min = schema.minimum ?? schema.exclusiveMinimum;
    const max = schema.maximum ?? schema.exclusiveMaximum;
    const fits32 = min !== undefined && max !== undefined && min >= -(2 ** 31) && max <= 2 ** 31 - 1;
    return { type: fits32 ? 'int32' : 'int64', nullable: false };
  }
  if (KindGuard.IsNumber(schema)) return { type: 'double', nullable: false };
  if (KindGuard.IsBoolean(schema)) return { type: 'boolean', nullable: false };
  if (KindGuard.IsLiteral(schema)) {
    const value = schema.const;
    if (typeof value === 'string') return { type: 'string', nullable: false };
    if (typeof value === 'boolean') return { type: 'boolean', nullable: false };
    return { type: Number.isInteger(value) ? 'int64' : 'double', nullable: false };
  }
  throw new TypeError(`columnsFor: column ${name} has an unsupported schema kind`);
}
