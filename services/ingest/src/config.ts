import {
  bulkPaceSettings,
  commonSettings,
  env,
  type FilesCheck,
  grpcTlsSettings,
  redisSettings,
  setting,
  TenantDirectory,
  tenantSettings,
} from '@tern/config';
import { loadNumberRanges } from './number-ranges-file';

/** Settings of the ingest service (TERN_* environment variables). */
export const ingestSettings = {
  ...commonSettings,
  ...tenantSettings,
  ...grpcTlsSettings,
  ...bulkPaceSettings,
  deployment: setting(
    'TERN_INGEST_DEPLOYMENT',
    'Name of this ingest deployment: its consumer groups are tern-ingest-<name>-*; deployments with their own Redis need their own name',
    env
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes')
      .default('default'),
  ),
  grpcPort: setting(
    'TERN_GRPC_PORT',
    'Port of the public gRPC API; 0 picks a free one',
    env.port().default(50051),
  ),
  apiHttpPort: setting(
    'TERN_API_HTTP_PORT',
    'Port of the public HTTP/JSON API (the unary gRPC calls; HTTPS with the gRPC certificate when it is set); 0 picks a free one',
    env.port().default(8090),
  ),
  smppPort: setting(
    'TERN_SMPP_PORT',
    "Port of the SMPP 3.4 server for customers' ESMEs (accounts in the tenants file); 0 picks a free one",
    env.port().default(2775),
  ),
  smppTlsPort: setting(
    'TERN_SMPP_TLS_PORT',
    'Port of the SMPP server over TLS (the gRPC certificate), served only when that certificate is set; 0 picks a free one',
    env.port().default(3550),
  ),
  ...redisSettings('for idempotency, rate limits and the status views, shared by every ingest instance'),
  numberRangesFile: setting(
    'TERN_NUMBER_RANGES_FILE',
    'YAML or JSON file of number ranges (prefix, MCC+MNC, carrier name) used to enrich recipients; reloaded when it changes',
    env.string().optional(),
  ),
  numberRangesReloadMs: setting(
    'TERN_NUMBER_RANGES_RELOAD_MS',
    'How often the number ranges file is looked at for changes',
    env.int(100, 600_000).default(2000),
  ),
  maxSegments: setting(
    'TERN_MAX_SEGMENTS',
    'Longest message accepted, in SMS segments',
    env.int(1, 255).default(10),
  ),
  idempotencyHours: setting(
    'TERN_IDEMPOTENCY_TTL_HOURS',
    'How long a client_reference returns its first message',
    env.int(24, 24 * 30).default(48),
  ),
  statusRetentionHours: setting(
    'TERN_STATUS_RETENTION_HOURS',
    'How long GetMessage can read a message after its last status change',
    env.int(1, 24 * 90).default(7 * 24),
  ),
  statusViewFormat: setting(
    'TERN_STATUS_VIEW_FORMAT',
    'How status views are kept: events (each status appended, folded when read) or folded (each status folded into the view; while upgrading from a version before the events format, see operations.md)',
    env.oneOf(['events', 'folded'] as const).default('events'),
  ),
  statusStreamMaxLen: setting(
    'TERN_STATUS_STREAM_MAX_EVENTS',
    'Status events kept per tenant for StreamStatus to resume from (approximate)',
    env.int(1000, 100_000_000).default(1_000_000),
  ),
  // Each status stream holds a blocking Redis connection of its own.
  statusStreamsPerTenant: setting(
    'TERN_STATUS_STREAMS_PER_TENANT',
    'StreamStatus calls one tenant may hold open on one instance at once; more answer RESOURCE_EXHAUSTED',
    env.int(1, 10_000).default(20),
  ),
  statusStreamsMax: setting(
    'TERN_STATUS_STREAMS_MAX',
    'StreamStatus calls open on one instance at once, all tenants together',
    env.int(1, 100_000).default(2_000),
  ),
};

/** The files ingest reads at start-up, read and validated the same way (`--check-config`). */
export const checkIngestFiles: FilesCheck<typeof ingestSettings> = (config, environment) => {
  TenantDirectory.load(config.tenantsFile, environment);
  loadNumberRanges(config.numberRangesFile);
};
