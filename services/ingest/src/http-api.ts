import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JsonValue } from '@bufbuild/protobuf';
import {
  httpBindings,
  JsonReadError,
  openApiDocument,
  readStrictJson,
  sms,
  writeJson,
  type HttpBinding,
  type MessageCodec,
} from '@tern/contracts';
import { HttpServer, type GrpcTls } from '@tern/service-kit';
import type { Logger } from '@tern/telemetry';
import { problem, problemOfGrpc, type Problem } from './domain/http-problem';
import { API_KEY_HEADER, ApiError, SMS_SERVICE, type GrpcApi } from './grpc-api';

/** As the gRPC API: a batch of 1,000 messages of up to 10 segments each is several MB. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const IDEMPOTENCY_HEADER = 'idempotency-key';
export const OPENAPI_PATH = '/v1/openapi.json';

/** The OpenAPI document of the HTTP API, generated from sms.proto (also kept as docs/api/openapi.json). */
export const smsOpenApi = () => openApiDocument(SMS_SERVICE, { title: 'Tern SMS API', version: 'v1' });

/** A request the HTTP layer refuses before any handler sees it. */
class Refused extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
}

export interface HttpApiDeps {
  api: GrpcApi;
  /** The gRPC API's certificate and key, served here too (HTTPS); re-read every `reloadMs`. */
  tls?: GrpcTls | undefined;
  log: Logger;
}

/**
 * The public API as HTTP/JSON: SmsService's unary calls at the paths of their `google.api.http` rules
 * (gRPC-JSON transcoding from the same descriptors), handled by the gRPC API's own handlers, so keys, rate
 * limits, idempotency and validation are one implementation. Bodies are proto3 JSON, read strictly; errors
 * are application/problem+json with the code and field violations the gRPC error carries.
 */
export class HttpApi {
  private readonly bindings = httpBindings(SMS_SERVICE);
  private readonly openApi = JSON.stringify(smsOpenApi());
  private readonly server: HttpServer;

  constructor(private readonly deps: HttpApiDeps) {
    this.server = new HttpServer((req, res) => void this.handle(req, res), deps.tls, deps.log);
  }

  listen(host: string, port: number): Promise<number> {
    return this.server.listen(host, port);
  }

  /** Stops taking connections; calls in progress finish. */
  close(): Promise<void> {
    return this.server.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://api').pathname;
    if (req.method === 'GET' && path === OPENAPI_PATH) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(this.openApi);
      return;
    }
    try {
      const found = this.route(req.method ?? 'GET', path);
      const request = await this.request(req, found.binding, found.variables);
      const key = header(req, API_KEY_HEADER) ?? bearer(header(req, 'authorization'));
      const response = await this.deps.api.call(found.binding.rpc, key, request);
      const output = found.binding.method.output;
      const body = writeJson(codecOf(output.name), output.typeName, response);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    } catch (error) {
      this.fail(res, error, path);
    }
  }

  private route(verb: string, path: string): { binding: HttpBinding; variables: Record<string, string> } {
    const matching = this.bindings
      .map((binding) => ({ binding, variables: binding.match(path) }))
      .filter((m): m is { binding: HttpBinding; variables: Record<string, string> } => !!m.variables);
    const found = matching.find((m) => m.binding.verb === verb);
    if (found) return found;
    if (matching.length === 0) throw new Refused(problem(404, 'NOT_FOUND', `no API at ${path}`));
    const allowed = matching.map((m) => m.binding.verb).join(', ');
    throw new Refused(problem(405, 'METHOD_NOT_ALLOWED', `${path} takes ${allowed}`));
  }

  /** The call's request message: the JSON body and the path's variables, read strictly. */
  private async request(
    req: IncomingMessage,
    binding: HttpBinding,
    variables: Record<string, string>,
  ): Promise<unknown> {
    const json: Record<string, JsonValue> = binding.body === '*' ? await jsonBody(req) : {};
    const input = binding.method.input;
    const fieldOf = (name: string) => input.fields.find((f) => f.name === name)!;
    const given = (name: string) => json[name] ?? json[fieldOf(name).jsonName];
    const setField = (name: string, value: string, code: string, description: string) => {
      const field = fieldOf(name);
      const current = given(name);
      if (current !== undefined && current !== value) {
        throw new Refused(problem(400, code, description, { violations: [{ field: name, description }] }));
      }
      delete json[field.jsonName];
      json[name] = value;
    };
    for (const [name, value] of Object.entries(variables)) {
      setField(name, value, 'PATH_MISMATCH', `${name} differs between the path and the body`);
    }
    const idempotencyKey = header(req, IDEMPOTENCY_HEADER);
    if (idempotencyKey !== undefined) {
      if (!input.fields.some((f) => f.name === 'client_reference')) {
        throw new Refused(
          problem(
            400,
            'IDEMPOTENCY_KEY_NOT_APPLICABLE',
            `Idempotency-Key is not taken by ${binding.rpc}: each message carries its own client_reference`,
          ),
        );
      }
      setField(
        'client_reference',
        idempotencyKey,
        'IDEMPOTENCY_KEY_MISMATCH',
        'the Idempotency-Key header and client_reference differ; send one of them',
      );
    }
    try {
      return readStrictJson(codecOf(input.name), input.typeName, json);
    } catch (error) {
      if (!(error instanceof JsonReadError)) throw error;
      const field = error.field ?? '';
      throw new Refused(
        problem(400, 'INVALID_JSON', error.message, { violations: [{ field, description: error.message }] }),
      );
    }
  }

  private fail(res: ServerResponse, error: unknown, path: string): void {
    let body: Problem;
    if (error instanceof Refused) body = error.problem;
    else if (error instanceof ApiError)
      body = problemOfGrpc(error.code, error.message, error.detail, error.retryAfterMs);
    else {
      this.deps.log.error({ err: error, path }, 'HTTP call failed');
      body = problem(
        503,
        'UNAVAILABLE',
        'temporarily unable to accept; retry with the same client_reference',
      );
    }
    const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
    if (body.retryAfterMs !== undefined) headers['retry-after'] = String(Math.ceil(body.retryAfterMs / 1000));
    if (body.status === 401) headers['www-authenticate'] = `ApiKey header="${API_KEY_HEADER}"`;
    res.writeHead(body.status, headers).end(JSON.stringify(body));
  }
}

/** The ts-proto codec of a tern.sms.v1 message. */
function codecOf(name: string): MessageCodec<unknown> {
  const codec = (sms as unknown as Record<string, MessageCodec<unknown> | undefined>)[name];
  if (!codec) throw new Error(`no codec for tern.sms.v1.${name}`);
  return codec;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

const bearer = (authorization: string | undefined) => /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1];

/** The body as a JSON object: application/json, at most MAX_BODY_BYTES. */
async function jsonBody(req: IncomingMessage): Promise<Record<string, JsonValue>> {
  const type = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new Refused(problem(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the request as application/json'));
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw new Refused(problem(413, 'TOO_LARGE', `the body is over ${MAX_BODY_BYTES} bytes`));
    }
    chunks.push(chunk);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new Refused(problem(400, 'INVALID_JSON', `the body is not JSON: ${(error as Error).message}`));
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Refused(problem(400, 'INVALID_JSON', 'the body must be a JSON object'));
  }
  return parsed as Record<string, JsonValue>;
}
