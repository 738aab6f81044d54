import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ErrorCodes, HarbourError } from '../../contracts/errors.ts';
import { FsObjectStore } from './fs-store.ts';
import type { ObjectStore } from './object-store.ts';
import { MIN_PART_SIZE, S3ObjectStore, type S3ObjectStoreConfig } from './s3-store.ts';

export const FsObjectStoreConfig = Type.Object({
  backend: Type.Literal('fs', {
    default: 'fs',
    description: 'Object store backend: `fs` (local directory) or `s3`',
  }),
  root: Type.String({
    minLength: 1,
    default: '.harbour/lake',
    description: 'fs backend: directory of the lake (relative to the working directory)',
  }),
});

export const S3ObjectStoreConfigSchema = Type.Object({
  backend: Type.Literal('s3'),
  endpoint: Type.Optional(
    Type.String({
      minLength: 1,
      description: 's3 backend: endpoint URL, e.g. http://127.0.0.1:4568 (omit for AWS)',
    }),
  ),
  bucket: Type.String({ minLength: 1, description: 's3 backend: bucket name' }),
  region: Type.String({ minLength: 1, default: 'us-east-1', description: 's3 backend: region' }),
  accessKeyId: Type.Optional(
    Type.String({ description: 's3 backend: access key id (omit for the SDK default chain)' }),
  ),
  secretAccessKey: Type.Optional(Type.String({ description: 's3 backend: secret access key' })),
  prefix: Type.String({ default: '', description: 's3 backend: key prefix inside the bucket, e.g. `lake/`' }),
  forcePathStyle: Type.Boolean({
    default: true,
    description: 's3 backend: path-style URLs (MinIO, s3rver…)',
  }),
  partSize: Type.Optional(
    Type.Integer({
      minimum: MIN_PART_SIZE,
      description: 's3 backend: multipart part size in bytes (default 8 MiB)',
    }),
  ),
});

/** Where the lake lives. Defaults to the `fs` backend at `.harbour/lake`. */
export const ObjectStoreConfig = Type.Union([FsObjectStoreConfig, S3ObjectStoreConfigSchema], {
  default: {},
});
export type ObjectStoreConfig = Static<typeof ObjectStoreConfig>;

/** What `createObjectStore` accepts: a parsed config, or one with defaults still to fill in. */
export type ObjectStoreConfigInput =
  | { backend?: 'fs'; root?: string }
  | ({ backend: 's3' } & Omit<S3ObjectStoreConfig, 'region' | 'prefix' | 'forcePathStyle'> & {
        region?: string;
        prefix?: string;
        forcePathStyle?: boolean;
      });

/** Fills defaults and validates; throws `HARBOUR_ERR_CONFIG` naming the first bad field. */
export function parseObjectStoreConfig(input: unknown): ObjectStoreConfig {
  const value = Value.Default(ObjectStoreConfig, Value.Clone(input ?? {}));
  if (Value.Check(ObjectStoreConfig, value)) return value;
  // Report against the variant the caller meant, not the union.
  const meant =
    typeof value === 'object' && value !== null && (value as { backend?: unknown }).backend === 's3'
      ? S3ObjectStoreConfigSchema
      : FsObjectStoreConfig;
  const first = Value.Errors(meant, value).First() ?? Value.Errors(ObjectStoreConfig, value).First();
  const path = first?.path || '/';
  throw new HarbourError(
    ErrorCodes.Config,
    `object store config is invalid at ${path}: ${first?.message ?? '?'}`,
    {
      detail: { path },
    },
  );
}

/** Builds the configured backend (nothing is contacted until the first call). */
export function createObjectStore(config: ObjectStoreConfigInput | ObjectStoreConfig): ObjectStore {
  const cfg = parseObjectStoreConfig(config);
  if (cfg.backend === 'fs') return new FsObjectStore({ root: cfg.root });
  const { backend: _backend, ...s3 } = cfg;
  return new S3ObjectStore(s3);
}
