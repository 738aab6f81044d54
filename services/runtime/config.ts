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

/** Where an effective setting came from, lowest precedence first. */
export type ConfigOrigin = 'default' | 'stack' | 'file' | 'env';

export interface ConfigSources {
  /** Environment variables (highest precedence). */
  env?: NodeJS.ProcessEnv;
  /** A config file's parsed JSON (`--config harbour.json`), same shape as the schema. */
  base?: unknown;
  /** Variables written by `npm run stack` (`.harbour/stack.env`): above defaults, below `base` and `env`. */
  stack?: Record<string, string>;
  prefix?: string;
}

export interface EffectiveSetting {
  env: string;
  path: string;
  value: unknown;
  origin: ConfigOrigin;
}

/**
 * Builds a config: defaults ← `stack` ← `base` (e.g. a JSON file) ← environment. Throws
 * `HARBOUR_ERR_CONFIG` naming the env variable (or path) of the first bad value.
 */
export function loadConfig<T extends TSchema>(schema: T, opts: ConfigSources = {}): Static<T> {
  return loadConfigWithOrigins(schema, opts).config;
}

/** `loadConfig` plus every leaf's effective value and the source it came from (`harbour config`). */
export function loadConfigWithOrigins<T extends TSchema>(
  schema: T,
  opts: ConfigSources = {},
): { config: Static<T>; settings: EffectiveSetting[] } {
  const prefix = opts.prefix ?? 'HARBOUR';
  const leaves = configLeaves(schema, prefix);
  const value: Record<string, unknown> = {};
  const applyVars = (vars: Record<string, string | undefined> | undefined) => {
    for (const leaf of leaves) {
      const raw = vars?.[leaf.env];
      if (raw === undefined || raw === '') continue;
      setPath(value, leaf.path, leaf.schema[Kind] === 'Array' ? parseList(leaf.env, raw) : raw);
    }
  };
  applyVars(opts.stack);
  mergeInto(value, structuredClone((opts.base ?? {}) as Record<string, unknown>));
  applyVars(opts.env);
  const withDefaults = Value.Default(schema, value);
  const converted = Value.Convert(schema, withDefaults);
  if (!Value.Check(schema, converted)) {
    const first = Value.Errors(schema, converted).First();
    const path = (first?.path ?? '').split('/').filter(Boolean);
    const leaf = leaves.find((l) => l.path.join('/') === path.join('/'));
    const where = leaf ? `${leaf.env} (${path.join('.')})` : path.join('.') || '(root)';
    throw new HarbourError(ErrorCodes.Config, `config value ${where} is invalid: ${first?.message}`, {
      detail: { path: path.join('.'), env: leaf?.env },
    });
  }
  const has = (vars: Record<string, string | undefined> | undefined, env: string) =>
    vars?.[env] !== undefined && vars[env] !== '';
  const settings = leaves.map((leaf): EffectiveSetting => {
    const origin: ConfigOrigin = has(opts.env, leaf.env)
      ? 'env'
      : getPath(opts.base, leaf.path) !== undefined
        ? 'file'
        : has(opts.stack, leaf.env)
          ? 'stack'
          : 'default';
    return { env: leaf.env, path: leaf.path.join('.'), value: getPath(converted, leaf.path), origin };
  });
  return { config: converted as Static<T>, settings };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge of plain objects (`src` wins; arrays and scalars are replaced, not merged). */
function mergeInto(target: Record<string, unknown>, src: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(src)) {
    if (isPlainObject(v) && isPlainObject(target[k])) mergeInto(target[k], v);
    else target[k] = v;
  }
}

function getPath(source: unknown, path: string[]): unknown {
  let node = source;
  for (const key of path) {
    if (!isPlainObject(node)) return undefined;
    node = node[key];
  }
  return node;
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
