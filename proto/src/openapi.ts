import {
  ScalarType,
  type DescEnum,
  type DescField,
  type DescFile,
  type DescMessage,
  type DescMethod,
} from '@bufbuild/protobuf';
import { httpBindings } from './http-rules';

type Schema = Record<string, unknown>;

/** The problem+json body of every error (RFC 9457), with Tern's code and field violations. */
const PROBLEM: Schema = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string', description: 'The HTTP status, in words' },
    status: { type: 'integer' },
    detail: { type: 'string', description: 'What went wrong, for a person' },
    code: {
      type: 'string',
      description: 'A stable code, e.g. INVALID_NUMBER, RATE_LIMITED, UNAUTHENTICATED',
    },
    violations: {
      type: 'array',
      description: 'The request fields at fault (proto field names: `to`, `messages[3].body`)',
      items: {
        type: 'object',
        required: ['field', 'description'],
        properties: { field: { type: 'string' }, description: { type: 'string' } },
      },
    },
    retryAfterMs: { type: 'integer', description: 'For RATE_LIMITED: when to try again' },
  },
};

/**
 * The OpenAPI 3.1 document of a service's HTTP bindings, from the same descriptors as the gRPC API: paths
 * from the `google.api.http` rules, schemas from the messages as proto3 JSON writes them (camelCase keys,
 * enum names, RFC 3339 times, "600s" durations), descriptions from the .proto comments.
 */
export function openApiDocument(serviceName: string, info: { title: string; version: string }): Schema {
  const schemas: Record<string, Schema> = { Problem: PROBLEM };
  const paths: Record<string, Record<string, Schema>> = {};
  for (const binding of httpBindings(serviceName)) {
    const { method } = binding;
    if (binding.body === '*') addMessage(method.input, schemas);
    addMessage(method.output, schemas);
    const idempotent = method.input.fields.some((f) => f.name === 'client_reference');
    const parameters: Schema[] = [
      ...binding.variables.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      ...(idempotent
        ? [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              description: 'The client_reference: the same key returns the first message (duplicate: true)',
              schema: { type: 'string', minLength: 1 },
            },
          ]
        : []),
    ];
    paths[binding.template] ??= {};
    paths[binding.template]![binding.verb.toLowerCase()] = {
      operationId: binding.rpc,
      summary: binding.rpc,
      description: comment(method.parent.file, methodPath(method)),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(binding.body === '*'
        ? { requestBody: { required: true, content: { 'application/json': { schema: ref(method.input) } } } }
        : {}),
      responses: {
        '200': { description: 'OK', content: { 'application/json': { schema: ref(method.output) } } },
        default: {
          description:
            'An error: 400 invalid input, 401 no or unknown key, 404 not found, 409 conflict, 429 rate limited (Retry-After), 503 retry later',
          content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: {
      schemas,
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } },
    },
    security: [{ apiKey: [] }],
  };
}

const ref = (message: DescMessage) => ({ $ref: `#/components/schemas/${message.typeName}` });

function addMessage(message: DescMessage, schemas: Record<string, Schema>): void {
  if (schemas[message.typeName] || wellKnown(message)) return;
  const properties: Record<string, Schema> = {};
  schemas[message.typeName] = {
    type: 'object',
    description: comment(message.file, messagePath(message)),
    properties,
    // Read strictly: a key the message does not have is refused.
    additionalProperties: false,
  };
  for (const field of message.fields) {
    properties[field.jsonName] = {
      ...nullable(fieldSchema(field, schemas)),
      description: comment(message.file, [
        ...messagePath(message),
        2,
        message.proto.field.indexOf(field.proto),
      ]),
    };
  }
}

function fieldSchema(field: DescField, schemas: Record<string, Schema>): Schema {
  switch (field.fieldKind) {
    case 'scalar':
      return scalarSchema(field.scalar);
    case 'enum':
      return enumSchema(field.enum);
    case 'message':
      return messageSchema(field.message, schemas);
    case 'list':
      return {
        type: 'array',
        items:
          field.listKind === 'scalar'
            ? scalarSchema(field.scalar)
            : field.listKind === 'enum'
              ? enumSchema(field.enum)
              : messageSchema(field.message, schemas),
      };
    case 'map':
      return {
        type: 'object',
        additionalProperties:
          field.mapKind === 'scalar'
            ? scalarSchema(field.scalar)
            : field.mapKind === 'enum'
              ? enumSchema(field.enum)
              : messageSchema(field.message, schemas),
      };
  }
}

function messageSchema(message: DescMessage, schemas: Record<string, Schema>): Schema {
  switch (message.typeName) {
    case 'google.protobuf.Timestamp':
      return { type: 'string', format: 'date-time' };
    case 'google.protobuf.Duration':
      return { type: 'string', pattern: '^-?[0-9]+(\\.[0-9]{1,9})?s$', description: 'e.g. "600s"' };
  }
  addMessage(message, schemas);
  return ref(message);
}

/** Proto3 JSON reads null as a field's default: every field's schema allows it. */
function nullable(schema: Schema): Schema {
  const type = schema['type'] as string | string[] | undefined;
  if (type === undefined)
    return { anyOf: [...((schema['anyOf'] as Schema[] | undefined) ?? [schema]), { type: 'null' }] };
  return { ...schema, type: [...(Array.isArray(type) ? type : [type]), 'null'] };
}

const wellKnown = (message: DescMessage) => message.typeName.startsWith('google.protobuf.');

/** Proto3 JSON writes an enum's value name, and reads its number too. */
function enumSchema(desc: DescEnum): Schema {
  return {
    anyOf: [
      { type: 'string', enum: desc.values.map((v) => v.name) },
      { type: 'integer', format: 'int32' },
    ],
  };
}

function scalarSchema(scalar: ScalarType): Schema {
  switch (scalar) {
    case ScalarType.STRING:
      return { type: 'string' };
    case ScalarType.BYTES:
      return { type: 'string', contentEncoding: 'base64' };
    case ScalarType.BOOL:
      return { type: 'boolean' };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return { type: 'number' };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: 'integer', format: 'int32' };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: 'integer', format: 'int64', minimum: 0, maximum: 4294967295 };
    default:
      // 64-bit integers are strings in proto3 JSON (numbers are read too).
      return { type: ['string', 'integer'], pattern: '^-?[0-9]+$' };
  }
}

function messagePath(message: DescMessage): number[] {
  if (message.parent) {
    return [...messagePath(message.parent), 3, message.parent.proto.nestedType.indexOf(message.proto)];
  }
  return [4, message.file.proto.messageType.indexOf(message.proto)];
}

function methodPath(method: DescMethod): number[] {
  const service = method.parent;
  return [
    6,
    service.file.proto.service.indexOf(service.proto),
    2,
    service.proto.method.indexOf(method.proto),
  ];
}

/** The leading comment of the element at `path` in its .proto file, as one paragraph of text. */
function comment(file: DescFile, path: number[]): string | undefined {
  const location = file.proto.sourceCodeInfo?.location.find(
    (l) => l.path.length === path.length && l.path.every((p, i) => p === path[i]),
  );
  const text = location?.leadingComments
    ?.split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('buf:lint'))
    .join(' ');
  return text || undefined;
}
