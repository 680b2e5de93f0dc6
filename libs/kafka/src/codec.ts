import type { BinaryWriter } from '@bufbuild/protobuf/wire';

/** What ts-proto generates for every message: binary and proto3-JSON codecs. */
export interface ProtoCodec<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: Uint8Array, length?: number): T;
  fromJSON(object: unknown): T;
  toJSON(message: T): unknown;
}

export const CONTENT_TYPE_HEADER = 'content-type';
export const PROTOBUF_CONTENT_TYPE = 'application/x-protobuf';
export const JSON_CONTENT_TYPE = 'application/json';

export function encodeValue<T>(codec: ProtoCodec<T>, value: T): Buffer {
  const bytes = codec.encode(value).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Why a record's bytes could not become a value; carried into the DLQ record. */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

/**
 * Decodes a record value. Protobuf binary unless the content-type header says JSON, which only topics that
 * accept external producers allow (proto3 canonical JSON mapping).
 */
export function decodeValue<T>(
  codec: ProtoCodec<T>,
  value: Buffer | null,
  contentType: string | undefined,
  acceptsJson: boolean,
): T {
  if (value === null) throw new DecodeError('record has no value (tombstone)');
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  if (type === JSON_CONTENT_TYPE) {
    if (!acceptsJson) throw new DecodeError('JSON values are not accepted on this topic');
    let parsed: unknown;
    try {
      parsed = JSON.parse(value.toString('utf8'));
    } catch (e) {
      throw new DecodeError(`invalid JSON: ${(e as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new DecodeError('JSON value must be an object');
    }
    return codec.fromJSON(parsed);
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
