/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   the client is proto-loader's dynamic one on purpose: it knows nothing of Tern's generated types. */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_ROOT, rpc, rpcDetails, sms, SMS_PROTO_PATH } from '@tern/contracts';
import { wrappers, type IWrapper } from 'protobufjs';

// Timestamps as Dates both ways, as a team would set protobufjs up for its own code (before every load below).
const timestampAsDate = {
  fromObject: (value: Date) => ({ seconds: value.getTime() / 1000, nanos: (value.getTime() % 1000) * 1e6 }),
  toObject: (message: { seconds: number; nanos: number }) =>
    new Date(message.seconds * 1000 + message.nanos / 1e6),
};
wrappers['.google.protobuf.Timestamp'] = timestampAsDate as unknown as IWrapper;

/**
 * A client that knows nothing of Tern's code: loaded from the .proto files at run time, as any team with
 * the proto and stock grpc-js would do. Fields are camelCase, enums their names, int64 strings.
 */
const loaderOptions = { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true };
const definition = protoLoader.loadSync(SMS_PROTO_PATH, { ...loaderOptions, includeDirs: [PROTO_ROOT] });
const loaded = grpc.loadPackageDefinition(definition) as unknown as {
  tern: { sms: { v1: { SmsService: grpc.ServiceClientConstructor } } };
};

// Plain objects as proto-loader produces them.
/* eslint-disable @typescript-eslint/no-explicit-any */
export type Plain = Record<string, any>;

export class PlainClient {
  readonly raw: grpc.Client;

  /** `credentials`: TLS trusting the server's CA when it serves TLS; plaintext by default. */
  constructor(port: number, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()) {
    this.raw = new loaded.tern.sms.v1.SmsService(`127.0.0.1:${port}`, credentials);
  }

  unary(method: string, request: Plain, apiKey?: string): Promise<Plain> {
    const metadata = new grpc.Metadata();
    if (apiKey !== undefined) metadata.set('x-api-key', apiKey);
    return new Promise((resolve, reject) => {
      (this.raw as any)[method](request, metadata, (error: grpc.ServiceError | null, response: Plain) =>
        error ? reject(error) : resolve(response),
      );
    });
  }

  /**
   * Collects a status stream's events into an array until cancelled; with `batches`, from
   * StreamStatusBatches, noting how many events each response carried.
   */
  stream(
    request: Plain,
    apiKey: string,
    method: 'streamStatus' | 'streamStatusBatches' = 'streamStatus',
  ): {
    events: Plain[];
    arrivals: number[];
    batchSizes: number[];
    error: Promise<grpc.ServiceError>;
    cancel(): void;
  } {
    const metadata = new grpc.Metadata();
    metadata.set('x-api-key', apiKey);
    const call = (this.raw as any)[method](request, metadata) as grpc.ClientReadableStream<Plain>;
    const events: Plain[] = [];
    // When each event arrived (Date.now()), for latency measurements.
    const arrivals: number[] = [];
    const batchSizes: number[] = [];
    call.on('data', (response: Plain) => {
      const received = method === 'streamStatus' ? [response] : (response['events'] as Plain[]);
      batchSizes.push(received.length);
      for (const event of received) {
        events.push(event);
        arrivals.push(Date.now());
      }
    });
    const error = new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
    return { events, arrivals, batchSizes, error, cancel: () => call.cancel() };
  }

  close(): void {
    this.raw.close();
  }
}

/** A call's failure: status code, and the rich details a client reads from `grpc-status-details-bin`. */
export async function failure(call: Promise<unknown>): Promise<{
  code: grpc.status;
  message: string;
  violations: { field: string; reason: string }[];
  errorCode: string | undefined;
  /** google.rpc.RetryInfo's delay, in ms. */
  retryDelayMs: number | undefined;
  /** The size of the rich details trailer, in bytes. */
  detailsBytes: number;
}> {
  try {
    await call;
  } catch (e) {
    const error = e as grpc.ServiceError;
    const [bin] = error.metadata?.get('grpc-status-details-bin') ?? [];
    const status = bin ? rpc.Status.decode(bin as Buffer) : undefined;
    const badRequest = status?.details.find((d) => d.typeUrl.endsWith('google.rpc.BadRequest'));
    const ternDetail = status?.details.find((d) => d.typeUrl.endsWith('tern.sms.v1.ErrorDetail'));
    const violations = badRequest
      ? rpcDetails.BadRequest.decode(badRequest.value).fieldViolations.map((v) => ({
          field: v.field,
          reason: v.reason,
        }))
      : [];
    const errorCode = ternDetail ? sms.ErrorDetail.decode(ternDetail.value).code : undefined;
    const retryInfo = status?.details.find((d) => d.typeUrl.endsWith('google.rpc.RetryInfo'));
    const delay = retryInfo ? rpcDetails.RetryInfo.decode(retryInfo.value).retryDelay : undefined;
    const retryDelayMs = delay ? delay.seconds * 1000 + delay.nanos / 1e6 : undefined;
    const detailsBytes = (bin as Buffer | undefined)?.length ?? 0;
    return { code: error.code, message: error.details, violations, errorCode, retryDelayMs, detailsBytes };
  }
  throw new Error('the call succeeded');
}

/** Health checking and reflection clients, from the packages' own .proto files. */
export function healthClient(
  port: number,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): grpc.Client {
  const path = join(
    dirname(require.resolve('grpc-health-check/package.json')),
    'proto/health/v1/health.proto',
  );
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(path, loaderOptions)) as any;
  return new pkg.grpc.health.v1.Health(`127.0.0.1:${port}`, credentials);
}

export function reflectionClient(
  port: number,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): grpc.Client {
  const path = join(
    dirname(require.resolve('@grpc/reflection/package.json')),
    'build/proto/grpc/reflection/v1/reflection.proto',
  );
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(path, loaderOptions)) as any;
  return new pkg.grpc.reflection.v1.ServerReflection(`127.0.0.1:${port}`, credentials);
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface TestTenant {
  id: string;
  apiKey: string;
  eventKeyId: string;
  eventSecret: string;
  perSecond: number;
  burst: number;
  /** Further API keys (a rotation in progress). */
  moreApiKeys?: string[];
  /** Further event keys, their secrets in files (as mounted Secrets are). */
  moreEventKeys?: { id: string; file: string }[];
  /** SMPP accounts, their passwords already hashed (hashPassword). */
  smppAccounts?: {
    systemId: string;
    passwordHash: string;
    maxBinds?: number;
    window?: number;
    messageIdFormat?: 'uuid' | 'hex' | 'decimal';
  }[];
}

/**
 * A tenants file holding only the keys' hashes; event secrets passed by variable or file, as in production.
 * Given a path, it writes that file again (a change the services pick up while running).
 */
export function tenantsFile(
  tenants: TestTenant[],
  path = join(mkdtempSync(join(tmpdir(), 'ingest-')), 'tenants.yaml'),
): { path: string; env: Record<string, string> } {
  const env: Record<string, string> = {};
  const lines = ['tenants:'];
  const hash = (key: string) => createHash('sha256').update(key).digest('hex');
  for (const t of tenants) {
    const variable = `EVENT_KEY_${t.id.toUpperCase().replace(/-/g, '_')}`;
    env[variable] = t.eventSecret;
    const apiKeys = [t.apiKey, ...(t.moreApiKeys ?? [])].map(
      (key, i) => `{ id: k${i}, sha256: ${hash(key)} }`,
    );
    const eventKeys = [
      `{ id: ${t.eventKeyId}, secret: { env: ${variable} } }`,
      ...(t.moreEventKeys ?? []).map((k) => `{ id: ${k.id}, secret: { file: ${k.file} } }`),
    ];
    lines.push(
      `  - id: ${t.id}`,
      `    apiKeys: [${apiKeys.join(', ')}]`,
      `    eventKeys: [${eventKeys.join(', ')}]`,
      `    sendRate: { perSecond: ${t.perSecond}, burst: ${t.burst} }`,
      `    smppAccounts: ${JSON.stringify(t.smppAccounts ?? [])}`,
    );
  }
  writeFileSync(path, lines.join('\n'));
  return { path, env };
}
