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
import type { MessageCodec } from './encode';

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
  const badDuration = durationFault(schema, json);
  if (badDuration) {
    throw new JsonReadError(`invalid JSON ${typeName}: a Duration is written like "600s"`, badDuration);
  }
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

/** A Duration in proto3 JSON, whole: protobuf-es 2.17 reads "600s*" as 600 s (its pattern has no end). */
const DURATION = /^-?[0-9]+(\.[0-9]{1,9})?s$/;

/** The path of the first Duration field whose text is not exactly a Duration, or undefined. */
function durationFault(schema: DescMessage, json: JsonValue, path: string[] = []): string | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  for (const [key, value] of Object.entries(json)) {
    const field = schema.fields.find((f) => f.jsonName === key || f.name === key);
    if (!field || value === null) continue;
    const message =
      field.fieldKind === 'message' || (field.fieldKind === 'list' && field.listKind === 'message')
        ? field.message
        : undefined;
    if (!message) continue;
    const values = field.fieldKind === 'list' && Array.isArray(value) ? value : [value];
    for (const [i, item] of values.entries()) {
      const at = field.fieldKind === 'list' ? `${field.name}[${i}]` : field.name;
      if (message.typeName === 'google.protobuf.Duration') {
        if (typeof item === 'string' && !DURATION.test(item)) return [...path, at].join('.');
      } else {
        const inner = durationFault(message, item ?? null, [...path, at]);
        if (inner) return inner;
      }
    }
  }
  return undefined;
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
      // So does an item's of a list of messages: the first item the message refuses.
      if (field.fieldKind === 'list' && field.listKind === 'message' && Array.isArray(value)) {
        const item = field.message;
        const bad = value.findIndex((v) => {
          try {
            fromJson(item, v);
            return false;
          } catch {
            return true;
          }
        });
        if (bad >= 0) return faultyField(item, value[bad] ?? null, [...path, `${field.name}[${bad}]`]);
      }
      return [...path, field.name].join('.');
    }
  }
  return path.join('.') || undefined;
}
