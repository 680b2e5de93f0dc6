import { readFileSync } from 'node:fs';
import {
  createFileRegistry,
  fromBinary,
  fromJson,
  toBinary,
  type DescMessage,
  type FileRegistry,
  type JsonValue,
} from '@bufbuild/protobuf';
import type { BinaryWriter } from '@bufbuild/protobuf/wire';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { DESCRIPTOR_SET_PATH } from '@tern/contracts';

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

let registry: FileRegistry | undefined;
/** Every Tern message's descriptor, read once. */
function messageSchema(typeName: string): DescMessage {
  registry ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTOR_SET_PATH)));
  const schema = registry.getMessage(typeName);
  if (!schema) throw new Error(`no descriptor for ${typeName}: run pnpm generate`);
  return schema;
}

/**
 * Proto3 canonical JSON, read strictly (protobuf-es, from the descriptors): an unknown key, a number where a
 * string belongs, an array for a map, an unreadable timestamp or a Duration not written as "600s" are
 * refused with the field named, instead of being read as something else. The result is re-encoded and read
 * by the generated codec, so handlers see the same values as from protobuf.
 */
function decodeStrictJson<T>(codec: ProtoCodec<T>, typeName: string, json: JsonValue): T {
  const schema = messageSchema(typeName);
  try {
    return codec.decode(toBinary(schema, fromJson(schema, json)));
  } catch (e) {
    const field = faultyField(schema, json);
    throw new DecodeError(`invalid JSON ${typeName}: ${(e as Error).message}`, field);
  }
}

/** The path (proto field names) of the first key whose value the schema refuses, or undefined. */
function faultyField(schema: DescMessage, json: JsonValue, path: string[] = []): string | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return path.join('.') || undefined;
  for (const [key, value] of Object.entries(json)) {
    const field = schema.fields.find((f) => f.jsonName === key || f.name === key);
    if (!field) return [...path, key].join('.');
    try {
      fromJson(schema, { [key]: value ?? null });
    } catch {
      // A message field's own fault lies deeper, unless the message is a well-known type read from text.
      if (field.fieldKind === 'message' && !field.message.typeName.startsWith('google.protobuf.')) {
        return faultyField(field.message, value ?? null, [...path, field.name]);
      }
      return [...path, field.name].join('.');
    }
  }
  return path.join('.') || undefined;
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
