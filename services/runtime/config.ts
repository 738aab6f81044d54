import { Kind, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ErrorCodes, HarbourError } from '../../contracts/index.ts';

/**
 * Config loading shared by every entry point. A config is one TypeBox schema whose nested objects
 * carry `default: {}` so that defaults fill in all the way down. Each leaf can be set by an
 * environment variable named from its path: `HARBOUR_` + path in UPPER_SNAKE, e.g.
 * `compactor.flushAgeMs` → `HARBOUR_COMPACTOR_FLUSH_AGE_MS`. Arrays are comma-separated.
 */
export interface ConfigLeaf {
  path: string[];
  env: string;
  schema: TSchema;
}

export function envName(prefix: string, path: string[]): string {
  return [prefix, ...path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())].join('_');
}

/** Every settable leaf of a schema; unions of objects contribute the properties of all variants. */
export function configLeaves(schema: TSchema, prefix = 'HARBOUR', path: string[] = []): ConfigLeaf[] {
  const objects = objectVariants(schema);
  if (!objects.length) return [{ path, env: envName(prefix, path), schema }];
  const seen = new Map<string, ConfigLeaf>();
  for (const obj of objects) {
    for (const [key, child] of Object.entries(obj.properties as Record<string, TSchema>)) {
      for (const leaf of configLeaves(child, prefix, [...path, key]))
        if (!seen.has(leaf.env)) seen.set(leaf.env, leaf);
    }
  }
  return [...seen.values()];
}

function objectVariants(schema: TSchema): TSchema[] {
  if (schema[Kind] === 'Object') return [schema];
  if (schema[Kind] === 'Union') return (schema.anyOf as TSchema[]).filter((s) => s[Kind] === 'Object');
  return [];
}

/**
 * Builds a config: defaults ← `base` (e.g. a JSON file) ← environment. Throws `HARBOUR_ERR_CONFIG`
 * naming the env variable (or path) of the first bad value.
 */
export function loadConfig<T extends TSchema>(
  schema: T,
  opts: { env?: NodeJS.ProcessEnv; base?: unknown; prefix?: string } = {},
): Static<T> {
  const prefix = opts.prefix ?? 'HARBOUR';
  const value = structuredClone((opts.base ?? {}) as Record<string, unknown>);
  for (const leaf of configLeaves(schema, prefix)) {
    const raw = opts.env?.[leaf.env];
    if (raw === undefined || raw === '') continue;
    setPath(value, leaf.path, leaf.schema[Kind] === 'Array' ? parseList(leaf.env, raw) : raw);
  }
  const withDefaults = Value.Default(schema, value);
  const converted = Value.Convert(schema, withDefaults);
  if (Value.Check(schema, converted)) return converted as Static<T>;
  const first = Value.Errors(schema, converted).First();
  const path = (first?.path ?? '').split('/').filter(Boolean);
  const leaf = configLeaves(schema, prefix).find((l) => l.path.join('/') === path.join('/'));
  const where = leaf ? `${leaf.env} (${path.join('.')})` : path.join('.') || '(root)';
  throw new HarbourError(ErrorCodes.Config, `config value ${where} is invalid: ${first?.message}`, {
    detail: { path: path.join('.'), env: leaf?.env },
  });
}

/** A list variable: comma-separated, or a JSON array (lists of objects, e.g. `HARBOUR_SCHEDULER_JOBS`). */
function parseList(env: string, raw: string): unknown[] {
  if (!raw.trimStart().startsWith('[')) return raw.split(',').map((s) => s.trim());
  try {
    const list: unknown = JSON.parse(raw);
    if (Array.isArray(list)) return list;
  } catch {}
  throw new HarbourError(ErrorCodes.Config, `config value ${env} is not a JSON array`, { detail: { env } });
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

/** Markdown table of every setting: env variable, default, description. The README's table comes from this. */
export function configTable(schema: TSchema, prefix = 'HARBOUR'): string {
  const lines = ['| variable | default | meaning |', '|---|---|---|'];
  for (const leaf of configLeaves(schema, prefix)) {
    const def = leaf.schema.default === undefined ? '' : `\`${JSON.stringify(leaf.schema.default)}\``;
    lines.push(`| \`${leaf.env}\` | ${def} | ${(leaf.schema.description ?? '').replace(/\|/g, '\\|')} |`);
  }
  return lines.join('\n');
}
