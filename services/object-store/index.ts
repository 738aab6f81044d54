export {
  createObjectStore,
  FsObjectStoreConfig,
  ObjectStoreConfig,
  type ObjectStoreConfigInput,
  parseObjectStoreConfig,
  S3ObjectStoreConfigSchema,
} from './config.ts';
export { FS_TEMP_DIR, FsObjectStore, type FsObjectStoreConfig as FsObjectStoreOptions } from './fs-store.ts';
export {
  type ByteRange,
  compareKeys,
  type GetOptions,
  type ListOptions,
  type ObjectAsyncBuffer,
  type ObjectInfo,
  type ObjectStore,
  type OpOptions,
  openAsyncBuffer,
  type PutBody,
  type PutOptions,
  validateKey,
  validatePrefix,
} from './object-store.ts';
export { MIN_PART_SIZE, S3ObjectStore, type S3ObjectStoreConfig } from './s3-store.ts';
