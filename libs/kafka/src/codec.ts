import type { JsonValue } from '@bufbuild/protobuf';
import { JsonReadError, type MessageCodec, readStrictJson } from '@tern/contracts';

/** What ts-proto generates for every message: binary and proto3-JSON codecs. */
export interface ProtoCodec<T> extends MessageCodec<T> {
  fromJSON(object: unknown): T;
  toJSON(message: T): unknown;
}

export const CONTENT_TYPE_HEADER = 'content-type';
export const PROTOBUF_CONTENT_TYPE = 'application/x-protobuf';
export const JSON_CONTENT_TYPE = 'application/json';

/** Why a record's bytes could not become a value; carried into the DLQ record, with the field at fault. */
export class DecodeError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** Strict proto3 JSON (see readStrictJson), its fault as a DecodeError naming the field. */
function decodeStrictJson<T>(codec: ProtoCodec<T>, typeName: string, json: JsonValue): T {
  try {
    return readStrictJson(codec, typeName, json);
  } catch (e) {
    if (e instanceof JsonReadError) throw new DecodeError(e.message, e.field);
    throw e;
  }
}

/**
 * Decodes a record value. Protobuf binary unless the content-type header says JSON, which only topics that
 * accept external producers allow (`jsonTypeName`: proto3 canonical JSON of that message, read strictly).
 */
export function decodeValue<T>(
  codec: ProtoCodec<T>,
  value: Buffer | null,
  contentType: string | undefined,
  jsonTypeName: string | undefined,
): T {
  if (value === null) throw new DecodeError('record has no value (tombstone)');
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  if (type === JSON_CONTENT_TYPE) {
    if (!jsonTypeName) throw new DecodeError('JSON values are not accepted on this topic');
    let parsed: JsonValue;
    try {
      parsed = JSON.parse(value.toString('utf8')) as JsonValue;
    } catch (e) {
      throw new DecodeError(`invalid JSON: ${(e as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new DecodeError('JSON value must be an object');
    }
    return decodeStrictJson(codec, jsonTypeName, parsed);
  }
  if (type !== undefined && type !== PROTOBUF_CONTENT_TYPE) {
    throw new DecodeError(`unsupported content-type "${type}"`);
  }
  try {
    return codec.decode(value);
  } catch (e) {
    throw new DecodeError(`invalid protobuf: ${(e as Error).message}`);
  }
}
