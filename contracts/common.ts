import { FormatRegistry, Type } from '@sinclair/typebox';

/**
 * A real calendar date (`2026-02-30` fails), so every reader and the Parquet DATE columns agree.
 * Results are memoised (bounded): a batch of envelopes repeats a handful of dates thousands of times, and
 * the Date round trip was 90% of validation time.
 */
const checkedDates = new Map<string, boolean>();
const CHECKED_DATES_MAX = 4096;
FormatRegistry.Set('date', (v) => {
  const known = checkedDates.get(v);
  if (known !== undefined) return known;
  const t = Date.parse(`${v}T00:00:00Z`);
  const ok = !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === v;
  if (checkedDates.size >= CHECKED_DATES_MAX) checkedDates.clear();
  checkedDates.set(v, ok);
  return ok;
});

/** Version of every wire payload and lake row layout defined in `contracts/`; bump on breaking change. */
export const SCHEMA_VERSION = 1;

/** HKEX stock code, always 5 digits zero-padded (`00700`). */
export const StockCode = Type.String({ pattern: '^[0-9]{5}$', description: 'HKEX stock code, 5 digits' });
/** Calendar date `yyyy-mm-dd` (Hong Kong local date). */
export const IsoDate = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}$',
  format: 'date',
  description: 'date yyyy-mm-dd',
});
/** Instant as ISO-8601 with zone, e.g. `2026-10-02T08:30:00.000Z`. */
export const IsoInstant = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$',
  description: 'ISO-8601 instant',
});
export const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
export const NullableString = Type.Union([Type.String(), Type.Null()]);
export const NonNegativeNumber = Type.Number({ minimum: 0 });
