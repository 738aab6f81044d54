import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ErrorCodes, HarbourError } from './errors.ts';

/** A compiled validator: `check` is a type guard, `parse` throws a coded error naming the first bad field. */
export interface Validator<T extends TSchema> {
  readonly schema: T;
  check(value: unknown): value is Static<T>;
  /** Returns the value typed, or throws `HARBOUR_ERR_SCHEMA_INVALID` with `detail.path` = the failing field. */
  parse(value: unknown): Static<T>;
  /** Every problem as `path: message`, empty when valid. */
  problems(value: unknown, limit?: number): string[];
}

export function compile<T extends TSchema>(schema: T, what: string): Validator<T> {
  const compiled = TypeCompiler.Compile(schema);
  const problems = (value: unknown, limit = 10): string[] => {
    const out: string[] = [];
    for (const e of compiled.Errors(value)) {
      out.push(`${e.path || '/'}: ${e.message}`);
      if (out.length >= limit) break;
    }
    return out;
  };
  return {
    schema,
    check: (value): value is Static<T> => compiled.Check(value),
    parse(value) {
      if (compiled.Check(value)) return value;
      const first = compiled.Errors(value).First();
      const path = first?.path || '/';
      throw new HarbourError(
        ErrorCodes.SchemaInvalid,
        `${what} is invalid at ${path}: ${first?.message ?? 'unknown problem'}`,
        { detail: { path, problems: problems(value) } },
      );
    },
    problems,
  };
}

/** Parses JSON bytes/text; a non-JSON payload is `HARBOUR_ERR_NOT_JSON`. */
export function parseJson(data: Uint8Array | string): unknown {
  try {
    return JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data));
  } catch (cause) {
    throw new HarbourError(ErrorCodes.NotJson, `payload is not JSON: ${(cause as Error).message}`, { cause });
  }
}
