import { parseArgs } from 'node:util';

/**
 * Command-line flags of the benchmarks, on `node:util` `parseArgs` (strict: an unknown flag or a
 * missing value is an error). Each flag is declared once with its kind and default; numbers accept
 * `_` separators (`--records 1_000_000`) and are checked, so a typo stops the run instead of
 * benchmarking NaN.
 */
type Spec =
  | { kind: 'int'; default: number; min: number }
  | { kind: 'ints'; default: number[]; min: number }
  | { kind: 'string'; default: string | null }
  | { kind: 'list'; default: string[] | null }
  | { kind: 'choice'; default: string; choices: readonly string[] }
  | { kind: 'switch' };

type ValueOf<S extends Spec> = S extends { kind: 'int' }
  ? number
  : S extends { kind: 'ints' }
    ? number[]
    : S extends { kind: 'string' }
      ? S['default'] extends null
        ? string | null
        : string
      : S extends { kind: 'list' }
        ? S['default'] extends null
          ? string[] | null
          : string[]
        : S extends { kind: 'choice'; choices: readonly (infer C)[] }
          ? C
          : boolean;

export type Flags<T extends Record<string, Spec>> = { [K in keyof T]: ValueOf<T[K]> };

export const int = (value: number, min = 1) => ({ kind: 'int', default: value, min }) as const;
export const ints = (value: number[], min = 1) => ({ kind: 'ints', default: value, min }) as const;
export const str = <D extends string | null>(value: D) => ({ kind: 'string', default: value }) as const;
export const list = <D extends string[] | null>(value: D) => ({ kind: 'list', default: value }) as const;
export const choice = <C extends string>(value: C, choices: readonly C[]) =>
  ({ kind: 'choice', default: value, choices }) as const;
/** A boolean that is false unless given (`--keep`, `--no-results`). */
export const on = () => ({ kind: 'switch' }) as const;

function toInt(flag: string, raw: string, min: number): number {
  const n = Number(raw.replaceAll('_', ''));
  if (raw.trim() === '' || !Number.isSafeInteger(n) || n < min)
    throw new Error(`--${flag} needs an integer ≥ ${min}, got "${raw}"`);
  return n;
}

/**
 * Parses `argv` against `spec`; throws an Error naming the flag on anything it does not accept
 * (`hint`, when given, is appended to the message of an unknown or malformed flag).
 */
export function readFlags<T extends Record<string, Spec>>(spec: T, argv: string[], hint?: string): Flags<T> {
  const options = Object.fromEntries(
    Object.entries(spec).map(([name, s]) => [
      name,
      { type: s.kind === 'switch' ? 'boolean' : 'string' } as const,
    ]),
  );
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (!code.startsWith('ERR_PARSE_ARGS')) throw err;
    throw new Error(hint ? `${(err as Error).message} (${hint})` : (err as Error).message);
  }
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(spec)) {
    const raw = values[name];
    if (s.kind === 'switch') {
      out[name] = raw === true;
      continue;
    }
    if (typeof raw !== 'string') {
      out[name] = s.default;
      continue;
    }
    if (s.kind === 'int') out[name] = toInt(name, raw, s.min);
    else if (s.kind === 'ints') out[name] = raw.split(',').map((v) => toInt(name, v, s.min));
    else if (s.kind === 'list') out[name] = raw.split(',');
    else if (s.kind === 'choice') {
      if (!s.choices.includes(raw))
        throw new Error(`--${name} is one of ${s.choices.join(', ')}, got "${raw}"`);
      out[name] = raw;
    } else out[name] = raw;
  }
  return out as Flags<T>;
}
