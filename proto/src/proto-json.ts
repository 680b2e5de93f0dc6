import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createFileRegistry,
  fromBinary,
  fromJson,
  toBinary,
  toJson,
  type DescMessage,
  type FileRegistry,
  type JsonValue,
} from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import type { MessageCodec } from './grpc-method';

/** Every message's descriptor (a FileDescriptorSet, made by `pnpm generate`), for strict proto3-JSON parsing. */
const DESCRIPTOR_SET_PATH = join(__dirname, '..', 'src/gen/descriptors.binpb');

let registry: FileRegistry | undefined;
/** Every Tern file, message and service descriptor (protobuf-es), read once. */
export function protoRegistry(): FileRegistry {
  registry ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTOR_SET_PATH)));
  return registry;
}

function messageSchema(typeName: string): DescMessage {
  const schema = protoRegistry().getMessage(typeName);
  if (!schema) throw new Error(`no descriptor for ${typeName}: run pnpm generate`);
  return schema;
}

/** Why a JSON value is not the message it should be, with the field at fault (proto field names). */
export class JsonReadError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'JsonReadError';
  }
}

/**
 * Proto3 canonical JSON, read strictly (protobuf-es, from the descriptors): an unknown key, a number where a
 * string belongs, an array for a map, an unreadable timestamp or a Duration not written as "600s" are
 * refused with the field named, instead of being read as something else. The result is re-encoded and read
 * by the generated codec (ts-proto), so handlers see the same values as from protobuf.
 */
export function readStrictJson<T>(codec: MessageCodec<T>, typeName: string, json: JsonValue): T {
  const schema = messageSchema(typeName);
  try {
    return codec.decode(toBinary(schema, fromJson(schema, json)));
  } catch (e) {
    throw new JsonReadError(`invalid JSON ${typeName}: ${(e as Error).message}`, faultyField(schema, json));
  }
}

/** A message as proto3 canonical JSON (enum names, int64 as strings, RFC 3339 times), defaults included. */
export function writeJson<T>(codec: MessageCodec<T>, typeName: string, value: T): JsonValue {
  const schema = messageSchema(typeName);
  return toJson(schema, fromBinary(schema, codec.encode(value).finish()), { alwaysEmitImplicit: true });
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
