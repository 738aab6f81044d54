import { type Static, Type } from '@sinclair/typebox';
import { IsoInstant, SCHEMA_VERSION } from './common.ts';
import { compile } from './validate.ts';

/**
 * `harbour.dlq.<stage>`: a message a stage refused. The original payload travels base64-encoded
 * so nothing is lost even when it was not valid UTF-8 or JSON; replay re-publishes it as is.
 */
export const DlqMessage = Type.Object(
  {
    schema_version: Type.Literal(SCHEMA_VERSION),
    stage: Type.String({ minLength: 1 }),
    /** An error code from the catalogue (`HARBOUR_ERR_…`). */
    code: Type.String({ pattern: '^HARBOUR_ERR_[A-Z_]+$' }),
    reason: Type.String(),
    /** Field path or other structured detail of the error. */
    detail: Type.Record(Type.String(), Type.Unknown()),
    original_subject: Type.String(),
    /** Stream sequence of the original message, or null when it did not come from a stream. */
    original_seq: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
    payload_base64: Type.String(),
    failed_at: IsoInstant,
  },
  { additionalProperties: false },
);

export type DlqMessage = Static<typeof DlqMessage>;
export const dlqMessageValidator = compile(DlqMessage, 'DLQ message');
