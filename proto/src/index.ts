import { join } from 'node:path';

export * as sms from './gen/tern/sms/v1/sms';
export * as events from './gen/tern/events/v1/events';

/** Folder holding the .proto files, for gRPC loaders (NestJS transport, reflection) that read them at run time. */
export const PROTO_ROOT = join(__dirname, '..');
export const SMS_PROTO_PATH = join(PROTO_ROOT, 'tern/sms/v1/sms.proto');
