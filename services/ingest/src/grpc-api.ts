import * as grpc from '@grpc/grpc-js';
import {
  encodeMessage,
  grpcMethod,
  type MessageCodec,
  PROTO_ROOT,
  rpc,
  rpcDetails,
  sms,
  SMS_PROTO_PATH,
} from '@tern/contracts';
import type { Logger } from '@tern/telemetry';
import { GrpcServer, type GrpcTls } from '@tern/service-kit';
import type { Redis } from 'ioredis';
import type { Acceptor, ApiPath, ItemOutcome } from './acceptor';
import type { Violation } from './domain/send-request';
import type { ConversionIntake } from './conversion-intake';
import type { MessageStore } from './message-store';
import { checkStartFrom, CursorError, StatusStreamReader, type StartFrom } from './status-stream';
import type { Tenant, TenantDirectory } from '@tern/config';

export const SMS_SERVICE = sms.SmsServiceDefinition.fullName;
/**
 * Error details stay well inside the 8 KiB of headers a default gRPC client accepts (the status message and
 * its details travel as trailers; over the limit a client sees RESOURCE_EXHAUSTED instead of the error):
 * at most this many field violations, the rest counted, and echoed field names and texts cut short.
 */
const MAX_VIOLATIONS = 8;
const MAX_FIELD_CHARS = 64;
const MAX_TEXT_CHARS = 100;
export const API_KEY_HEADER = 'x-api-key';
type CallerPath = Extract<ApiPath, 'grpc' | 'http'>;
export const MAX_BATCH = 1000;

const method = <Req, Res>(
  name: string,
  req: MessageCodec<Req>,
  res: MessageCodec<Res>,
  responseStream = false,
) => grpcMethod(SMS_SERVICE, name, req, res, responseStream);

/** SmsService for grpc-js, from the generated codecs (ts-proto): the same types the rest of Tern uses. */
export const smsServiceDefinition = {
  sendMessage: method('SendMessage', sms.SendMessageRequest, sms.SendMessageResponse),
  sendBatch: method('SendBatch', sms.SendBatchRequest, sms.SendBatchResponse),
  getMessage: method('GetMessage', sms.GetMessageRequest, sms.Message),
  streamStatus: method('StreamStatus', sms.StreamStatusRequest, sms.StatusEvent, true),
  streamStatusBatches: method('StreamStatusBatches', sms.StreamStatusRequest, sms.StatusEventBatch, true),
  reportConversion: method('ReportConversion', sms.ReportConversionRequest, sms.ReportConversionResponse),
} satisfies grpc.ServiceDefinition;

/**
 * A gRPC error with the standard rich details (google.rpc.Status in `grpc-status-details-bin`): a
 * `tern.sms.v1.ErrorDetail`, and a `google.rpc.BadRequest` built from the same violations when fields broke.
 */
export class ApiError extends Error {
  readonly detail: sms.ErrorDetail | undefined;
  private readonly violations: readonly Violation[];

  constructor(
    readonly code: grpc.status,
    message: string,
    detail?: { code: string; violations?: readonly Violation[] },
    readonly trailers: Record<string, string> = {},
    /** For RESOURCE_EXHAUSTED: when to try again (google.rpc.RetryInfo). */
    readonly retryAfterMs?: number,
  ) {
    super(cut(message, 2 * MAX_TEXT_CHARS));
    this.violations = capViolations(detail?.violations ?? []);
    this.detail = detail && {
      code: detail.code,
      message,
      violations: this.violations.map((v) => ({
        field: v.field,
        description: `${v.code}: ${v.description}`,
      })),
    };
  }

  toServiceError(): Partial<grpc.StatusObject> {
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(this.trailers)) metadata.set(k, v);
    if (this.detail) {
      const details = [
        {
          typeUrl: 'type.googleapis.com/tern.sms.v1.ErrorDetail',
          value: encodeMessage(sms.ErrorDetail, this.detail),
        },
      ];
      if (this.violations.length > 0) {
        const badRequest: rpcDetails.BadRequest = {
          fieldViolations: this.violations.map((v) => ({
            field: v.field,
            description: v.description,
            reason: v.code,
          })),
        };
        details.push({
          typeUrl: 'type.googleapis.com/google.rpc.BadRequest',
          value: encodeMessage(rpcDetails.BadRequest, badRequest),
        });
      }
      if (this.retryAfterMs !== undefined) {
        const retryDelay = {
          seconds: Math.floor(this.retryAfterMs / 1000),
          nanos: (this.retryAfterMs % 1000) * 1_000_000,
        };
        details.push({
          typeUrl: 'type.googleapis.com/google.rpc.RetryInfo',
          value: encodeMessage(rpcDetails.RetryInfo, { retryDelay }),
        });
      }
      const status = encodeMessage(rpc.Status, { code: this.code, message: this.message, details });
      metadata.set('grpc-status-details-bin', Buffer.from(status));
    }
    return { code: this.code, details: this.message, metadata };
  }
}

/** INVALID_ARGUMENT naming the broken fields (the first MAX_VIOLATIONS); one stable code when they share it. */
export function invalid(violations: readonly Violation[]): ApiError {
  const codes = new Set(violations.map((v) => v.code));
  const [only] = codes;
  const shown = capViolations(violations);
  return new ApiError(
    grpc.status.INVALID_ARGUMENT,
    shown.map((v) => `${v.field}: ${v.description}`).join('; '),
    { code: codes.size === 1 && only ? only : 'INVALID_REQUEST', violations },
  );
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The first MAX_VIOLATIONS, short, and one more that counts the rest. */
function capViolations(violations: readonly Violation[]): Violation[] {
  const shown = violations.slice(0, MAX_VIOLATIONS).map((v) => ({
    field: cut(v.field, MAX_FIELD_CHARS),
    code: cut(v.code, MAX_FIELD_CHARS),
    description: cut(v.description, MAX_TEXT_CHARS),
  }));
  const more = violations.length - shown.length;
  if (more > 0) {
    shown.push({ field: '', code: 'MORE_VIOLATIONS', description: `${more} more not shown` });
  }
  return shown;
}

/** The public error of an item that was not accepted. */
function itemError(outcome: Exclude<ItemOutcome, { kind: 'accepted' }>): ApiError {
  switch (outcome.kind) {
    case 'invalid':
      return invalid(outcome.violations);
    case 'rate-limited':
      return new ApiError(
        grpc.status.RESOURCE_EXHAUSTED,
        `send rate of this tenant exceeded; retry in ${outcome.retryAfterMs} ms`,
        { code: 'RATE_LIMITED' },
        { 'retry-after-ms': String(outcome.retryAfterMs) },
        outcome.retryAfterMs,
      );
    case 'conflict':
      return new ApiError(
        outcome.code === 'IDEMPOTENCY_KEY_REUSED' ? grpc.status.ALREADY_EXISTS : grpc.status.ABORTED,
        outcome.description,
        {
          code: outcome.code,
          violations: [{ field: 'client_reference', code: outcome.code, description: outcome.description }],
        },
      );
  }
}

export interface GrpcApiDeps {
  tenants: TenantDirectory;
  acceptor: Acceptor;
  messages: MessageStore;
  conversions: ConversionIntake;
  /** A fresh connection per status stream (blocking reads). */
  streamConnection: () => Redis;
  /** Status streams open at once on this instance: per tenant, and in all. */
  streamLimits: { perTenant: number; total: number };
  /** TLS of the API (plaintext without). */
  tls?: GrpcTls | undefined;
  log: Logger;
}

/** The public API server: SmsService, with gRPC health checking and server reflection. */
export class GrpcApi {
  private readonly server: GrpcServer;
  private readonly streams = new Set<StatusStreamReader>();
  private readonly streamsOf = new Map<string, number>();

  /** The unary calls by RPC name: served over gRPC here, and over HTTP/JSON by HttpApi (see call()). */
  private readonly unaryCalls = {
    SendMessage: (tenant: Tenant, req: sms.SendMessageRequest, path: CallerPath) =>
      this.sendMessage(tenant, req, path),
    SendBatch: (tenant: Tenant, req: sms.SendBatchRequest, path: CallerPath) =>
      this.sendBatch(tenant, req, path),
    GetMessage: (tenant: Tenant, req: sms.GetMessageRequest) => this.getMessage(tenant, req),
    ReportConversion: (tenant: Tenant, req: sms.ReportConversionRequest) =>
      this.reportConversion(tenant, req),
  };

  constructor(private readonly deps: GrpcApiDeps) {
    this.server = new GrpcServer(
      SMS_SERVICE,
      { path: SMS_PROTO_PATH, includeDirs: [PROTO_ROOT] },
      smsServiceDefinition,
      {
        sendMessage: this.unary(this.unaryCalls.SendMessage),
        sendBatch: this.unary(this.unaryCalls.SendBatch),
        getMessage: this.unary(this.unaryCalls.GetMessage),
        reportConversion: this.unary(this.unaryCalls.ReportConversion),
        streamStatus: (call: grpc.ServerWritableStream<sms.StreamStatusRequest, sms.StatusEvent>) =>
          void this.streamStatus(call, (events) => events),
        streamStatusBatches: (
          call: grpc.ServerWritableStream<sms.StreamStatusRequest, sms.StatusEventBatch>,
        ) => void this.streamStatus(call, (events) => [{ events }]),
      },
      // A batch of 1,000 messages of up to 10 segments each is several MB.
      { grpc: { 'grpc.max_receive_message_length': 16 * 1024 * 1024 }, tls: deps.tls, log: deps.log },
    );
  }

  listen(host: string, port: number): Promise<number> {
    return this.server.listen(host, port);
  }

  /** Stops taking calls, lets unary calls finish, ends status streams. */
  async close(): Promise<void> {
    for (const reader of this.streams) reader.close();
    await this.server.close();
  }

  /**
   * A unary call made another way than gRPC (the HTTP/JSON API): the same key check, handler and errors.
   * Rejects with ApiError for what the caller did wrong; any other error is the service's (retry later).
   */
  async call(rpc: string, apiKey: string | undefined, request: unknown): Promise<unknown> {
    const calls = this.unaryCalls as Record<
      string,
      (t: Tenant, req: unknown, path: CallerPath) => Promise<unknown>
    >;
    const handle = calls[rpc];
    if (!handle)
      throw new ApiError(grpc.status.UNIMPLEMENTED, `${rpc} is not a unary call of ${SMS_SERVICE}`);
    return handle(this.authenticateKey(apiKey, 'header'), request, 'http');
  }

  private authenticate(metadata: grpc.Metadata): Tenant {
    const [key] = metadata.get(API_KEY_HEADER);
    return this.authenticateKey(typeof key === 'string' ? key : undefined, 'metadata');
  }

  private authenticateKey(key: string | undefined, carrier: 'metadata' | 'header'): Tenant {
    const tenant = key ? this.deps.tenants.authenticate(key) : undefined;
    if (!tenant) {
      throw new ApiError(
        grpc.status.UNAUTHENTICATED,
        `missing or unknown API key in "${API_KEY_HEADER}" ${carrier}`,
      );
    }
    return tenant;
  }

  private unary<Req, Res>(
    handle: (tenant: Tenant, request: Req, path: CallerPath) => Promise<Res>,
  ): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      let tenant: Tenant;
      try {
        tenant = this.authenticate(call.metadata);
      } catch (error) {
        callback((error as ApiError).toServiceError());
        return;
      }
      handle(tenant, call.request, 'grpc').then(
        (response) => callback(null, response),
        (error: unknown) => callback(this.toStatus(error, call.getPath())),
      );
    };
  }

  private toStatus(error: unknown, path: string): Partial<grpc.StatusObject> {
    if (error instanceof ApiError) return error.toServiceError();
    this.deps.log.error({ err: error, path }, 'call failed');
    return {
      code: grpc.status.UNAVAILABLE,
      details: 'temporarily unable to accept; retry with the same client_reference',
    };
  }

  private async sendMessage(
    tenant: Tenant,
    request: sms.SendMessageRequest,
    path: CallerPath,
  ): Promise<sms.SendMessageResponse> {
    const [outcome] = await this.deps.acceptor.accept(tenant, [request], path);
    if (!outcome) throw new Error('no outcome');
    if (outcome.kind !== 'accepted') throw itemError(outcome);
    return outcome.response;
  }

  private async sendBatch(
    tenant: Tenant,
    request: sms.SendBatchRequest,
    path: CallerPath,
  ): Promise<sms.SendBatchResponse> {
    const count = request.messages.length;
    if (count === 0 || count > MAX_BATCH) {
      throw invalid([
        {
          field: 'messages',
          code: 'INVALID_BATCH',
          description: `1 to ${MAX_BATCH} messages (got ${count})`,
        },
      ]);
    }
    const outcomes = await this.deps.acceptor.accept(tenant, request.messages, path, {
      fieldPrefix: (i) => `messages[${i}].`,
    });
    return {
      results: outcomes.map((outcome, index) =>
        outcome.kind === 'accepted'
          ? { index, accepted: outcome.response, error: undefined }
          : { index, accepted: undefined, error: itemError(outcome).detail },
      ),
    };
  }

  private async getMessage(tenant: Tenant, request: sms.GetMessageRequest): Promise<sms.Message> {
    if (request.messageId === '') {
      throw invalid([{ field: 'message_id', code: 'REQUIRED', description: 'is required' }]);
    }
    const stored = await this.deps.messages.get(request.messageId);
    // Another tenant's message answers exactly like a message that does not exist.
    if (!stored || stored.tenantId !== tenant.id) {
      throw new ApiError(grpc.status.NOT_FOUND, `message ${request.messageId} not found`);
    }
    return stored.view;
  }

  private async reportConversion(
    tenant: Tenant,
    request: sms.ReportConversionRequest,
  ): Promise<sms.ReportConversionResponse> {
    const outcome = await this.deps.conversions.report(tenant.id, request);
    switch (outcome.kind) {
      case 'recorded':
        return outcome.response;
      case 'invalid':
        throw invalid(outcome.violations);
      case 'not-found':
        throw new ApiError(grpc.status.NOT_FOUND, outcome.description);
      case 'in-progress':
        throw new ApiError(
          grpc.status.ABORTED,
          "another report of this message's conversion is being recorded; retry shortly",
          { code: 'REQUEST_IN_PROGRESS' },
        );
      case 'late':
        throw new ApiError(grpc.status.FAILED_PRECONDITION, outcome.description, {
          code: 'CONVERSION_AFTER_VALIDITY',
          violations: [
            { field: 'converted_at', code: 'CONVERSION_AFTER_VALIDITY', description: outcome.description },
          ],
        });
    }
  }

  /** A tenant's status events, each batch the reader hands over written as `responses` make of it. */
  private async streamStatus<Response>(
    call: grpc.ServerWritableStream<sms.StreamStatusRequest, Response>,
    responses: (events: sms.StatusEvent[]) => Response[],
  ): Promise<void> {
    const arrivedAt = new Date();
    let reader: StatusStreamReader | undefined;
    let counted: string | undefined;
    try {
      const tenant = this.authenticate(call.metadata);
      // Neither cursor nor time: events from the moment the call arrived, however long setting up takes.
      const from: StartFrom = call.request.cursor
        ? { cursor: call.request.cursor }
        : { since: call.request.since ?? arrivedAt };
      // A malformed request is told so, whatever the limits (a stream slot is freed only once a cancelled
      // call is seen).
      checkStartFrom(from);
      this.admitStream(tenant);
      counted = tenant.id;
      reader = new StatusStreamReader(this.deps.streamConnection(), this.deps.messages.streamKey(tenant.id));
      this.streams.add(reader);
      call.on('cancelled', () => reader?.close());
      const after = await reader.startAfter(from);
      for await (const events of reader.follow(after)) {
        for (const response of responses(events)) {
          if (!call.write(response)) await new Promise((resolve) => call.once('drain', resolve));
        }
      }
      call.end();
    } catch (error) {
      const apiError =
        error instanceof CursorError
          ? error.kind === 'invalid'
            ? invalid([{ field: 'cursor', code: 'INVALID_CURSOR', description: error.message }])
            : new ApiError(grpc.status.OUT_OF_RANGE, error.message)
          : error;
      if (!call.cancelled) call.emit('error', this.toStatus(apiError, call.getPath()));
    } finally {
      if (reader) {
        reader.close();
        this.streams.delete(reader);
      }
      if (counted !== undefined) this.streamsOf.set(counted, (this.streamsOf.get(counted) ?? 1) - 1);
    }
  }

  /** Counts a tenant's new status stream in, or refuses it: no tenant may take the instance's connections. */
  private admitStream(tenant: Tenant): void {
    const { perTenant, total } = this.deps.streamLimits;
    const open = this.streamsOf.get(tenant.id) ?? 0;
    if (open >= perTenant || this.streams.size >= total) {
      const which = open >= perTenant ? `this tenant's ${perTenant}` : `this instance's ${total}`;
      throw new ApiError(
        grpc.status.RESOURCE_EXHAUSTED,
        `too many status streams open: ${which}; close one, or resume on another instance later`,
        { code: 'TOO_MANY_STREAMS' },
      );
    }
    this.streamsOf.set(tenant.id, open + 1);
  }
}
