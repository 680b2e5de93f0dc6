export * from './tokens';
export * from './health';
export * from './kafka-health';
export * from './nest-logger';
export * from './service-kit.module';
export * from './run-service';
export {
  GrpcServer,
  grpcTlsFromSettings,
  callingOperator,
  operatorGuard,
  OPERATOR_AUTH_HEADER,
  type GrpcServerOptions,
  type GrpcTls,
} from './grpc-server';
export { untilPortFree } from './port-wait';
export { PeriodicJob } from './periodic-job';
export { BulkPacer, type BulkPaceSettings } from './bulk-pace';
export { HttpServer, serveWithTlsFiles } from './tls-files';
export { followOperators, followTenants, type Followed } from './followed-files';
