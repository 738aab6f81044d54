export * from './catalog.ts';
export * from './common.ts';
export * from './datasets.ts';
export * from './dlq.ts';
export * from './envelope.ts';
export * from './errors.ts';
export * from './events.ts';
export * from './gold.ts';
export { compile, parseJson, type Validator } from './validate.ts';
