import { join } from 'node:path';

export * as sms from './gen/tern/sms/v1/sms';
export * as events from './gen/tern/events/v1/events';
export * as analytics from './gen/tern/analytics/v1/analytics';

/** Folder holding the .proto files, for gRPC loaders (NestJS transport, reflection) that read them at run time. */
export const PROTO_ROOT = join(__dirname, '..');
export const SMS_PROTO_PATH = join(PROTO_ROOT, 'tern/sms/v1/sms.proto');
export const ANALYTICS_PROTO_PATH = join(PROTO_ROOT, 'tern/analytics/v1/analytics.proto');

/** google.rpc.Status and BadRequest: the standard rich-error payload of the `grpc-status-details-bin` trailer. */
export * as rpc from './gen/google/rpc/status';
export * as rpcDetails from './gen/google/rpc/error_details';
export { statusEvent } from './status-event';
export { FINAL_STATUSES, STATUS_REASONS, statusAdvances, statusRank } from './status-order';
export {
  classOf,
  isOfClass,
  LANE_NAME,
  mayBeOfClass,
  TRAFFIC_CLASSES,
  trafficClassesNamed,
  type TrafficClass,
} from './traffic-class';
export { encodeMessage, type MessageCodec } from './encode';
export {
  EVENT_ID_PATTERN,
  eventSigningInput,
  SIGNED_EVENTS,
  signatureMatches,
  signedConversionEvent,
  signedSendEvent,
  signEvent,
  type SignedEventFields,
  type SignedEventKind,
} from './event-signing';
export { grpcMethod } from './grpc-method';
export { JsonReadError, protoRegistry, readStrictJson, writeJson } from './proto-json';
export { httpBindings, type HttpBinding } from './http-rules';
export { openApiDocument } from './openapi';
