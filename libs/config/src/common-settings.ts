import { z } from 'zod';
import { env, setting } from './config';

/** Settings every Tern service has. A service's own schema spreads these and adds its keys. */
export const commonSettings = {
  kafkaBrokers: setting(
    'TERN_KAFKA_BROKERS',
    'Kafka bootstrap servers, comma-separated host:port',
    env.list(),
  ),
  kafkaTls: setting(
    'TERN_KAFKA_TLS',
    'Connect to the brokers over TLS (a SSL or SASL_SSL listener)',
    env.bool().default(false),
  ),
  kafkaTlsCaFile: setting(
    'TERN_KAFKA_TLS_CA_FILE',
    'PEM CA bundle that signed the brokers’ certificates (unset: the system’s CAs)',
    env.string().optional(),
  ),
  kafkaSaslMechanism: setting(
    'TERN_KAFKA_SASL_MECHANISM',
    'SASL authentication to the brokers (with TERN_KAFKA_SASL_USERNAME and _PASSWORD); unset: none',
    env.oneOf(['plain', 'scram-sha-256', 'scram-sha-512'] as const).optional(),
  ),
  kafkaSaslUsername: setting(
    'TERN_KAFKA_SASL_USERNAME',
    'SASL user of this service',
    env.string().optional(),
  ),
  kafkaSaslPassword: setting(
    'TERN_KAFKA_SASL_PASSWORD',
    'SASL password of this service',
    env.string().optional(),
    true,
  ),
  kafkaClientId: setting(
    'TERN_KAFKA_CLIENT_ID',
    'Kafka client id prefix (default: the service name)',
    env.string().optional(),
  ),
  kafkaTopicNamespace: setting(
    'TERN_KAFKA_TOPIC_NAMESPACE',
    'Prefix of every topic and consumer group name (<namespace>.sms.accepted), for platforms that share a Kafka cluster; unset: none',
    env
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,100}$/, 'must be lowercase letters, digits, - and _')
      .optional(),
  ),
  kafkaSessionTimeoutMs: setting(
    'TERN_KAFKA_SESSION_TIMEOUT_MS',
    'Consumer group session timeout: how soon the partitions of a crashed instance move to the others (and a restarted one gets to work)',
    env.int(6000, 300_000).default(10_000),
  ),
  newGroupStartsAt: setting(
    'TERN_KAFKA_NEW_GROUP_STARTS_AT',
    'Where a consumer group with no committed offsets starts on the work topics (latest: only new records)',
    env.oneOf(['earliest', 'latest'] as const).default('earliest'),
  ),
  httpPort: setting(
    'TERN_HTTP_PORT',
    'Port of the health (/health/live, /health/ready) and metrics (/metrics) endpoint; 0 picks a free one',
    env.port().default(8080),
  ),
  logLevel: setting(
    'TERN_LOG_LEVEL',
    'Log level',
    env.oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const).default('info'),
  ),
  otlpEndpoint: setting(
    'TERN_OTLP_ENDPOINT',
    'OTLP/HTTP traces endpoint (e.g. http://collector:4318/v1/traces); unset: traces are not exported',
    env.url().optional(),
  ),
  traceSampleRatio: setting(
    'TERN_TRACE_SAMPLE_RATIO',
    'share of messages traced end to end when traces are exported (decided where a trace begins, followed downstream); without TERN_OTLP_ENDPOINT nothing is recorded, trace ids still reach logs and Kafka headers',
    env.ratio().default(0.1),
  ),
  heapGrowingPercent: setting(
    'TERN_HEAP_GROWING_PERCENT',
    "How far V8's old generation may grow between full garbage collections, in percent of what the last one kept (V8's --heap-growing-percent); 0: V8's own choice, which falls with the heap's limit (30% in a 512Mi pod's heap, 300% from 2 GB of old space up)",
    env.int(0, 1000).default(300),
  ),
  shutdownTimeoutMs: setting(
    'TERN_SHUTDOWN_TIMEOUT_MS',
    'How long a stop may take (finish the in-flight batch, commit, leave the group) before exiting anyway',
    env.int(1000, 300_000).default(25_000),
  ),
};

/**
 * Settings of services that take both priority (OTP, transactional) and bulk (marketing) work: how far bulk
 * work yields to priority work in the process (`BulkPacer`).
 */
export const bulkPaceSettings = {
  bulkYieldDelayMs: setting(
    'TERN_BULK_YIELD_DELAY_MS',
    'Event-loop delay (ms, p99 over half a second) above which marketing slows in this process while OTP or transactional traffic is about; 0: marketing is never slowed',
    env.int(0, 10_000).default(10),
  ),
  bulkMinRate: setting(
    'TERN_BULK_MIN_RATE',
    'Marketing messages a second this process lets through however busy it is',
    env.int(1, 1_000_000).default(50),
  ),
};

/**
 * Settings of the services that read each topic with a group per traffic class (risk, the router, the
 * connectors): which classes an instance takes. Both by default; instances of one class each let an operator
 * run marketing in processes of their own, at a lower CPU priority (or on other nodes), so a login code
 * never waits for the CPU behind a campaign (operations.md, Traffic classes apart).
 */
export const trafficClassSettings = {
  trafficClasses: setting(
    'TERN_TRAFFIC_CLASSES',
    'Traffic classes this instance takes, comma-separated: priority (OTP, transactional), bulk (marketing)',
    env
      .list()
      .pipe(z.array(z.enum(['priority', 'bulk'], { message: 'must be priority or bulk' })))
      .default(['priority', 'bulk']),
  ),
};

/**
 * How topics are made, for the processes that make them (`tern-create-topics`, and the router for a lane the
 * routing table adds while running): on a production cluster every topic has three replicas and takes a write
 * once two have it.
 */
export const topicSettings = {
  replicationFactor: setting(
    'TERN_KAFKA_REPLICATION_FACTOR',
    'Replicas of each partition of a topic this process creates',
    env.int(1, 7).default(1),
  ),
  minInsyncReplicas: setting(
    'TERN_KAFKA_MIN_INSYNC_REPLICAS',
    'min.insync.replicas of each topic this process creates (unset: the broker default)',
    env.int(1, 7).optional(),
  ),
};

/** Settings of services that read or write the analytics store. */
export const clickhouseSettings = {
  clickhouseUrl: setting(
    'TERN_CLICKHOUSE_URL',
    'ClickHouse HTTP endpoint, e.g. http://127.0.0.1:8123, or https:// for TLS (a user and password, if any, in the URL)',
    env.url(),
    true,
  ),
  clickhouseDatabase: setting(
    'TERN_CLICKHOUSE_DATABASE',
    'ClickHouse database of the platform (created and migrated at start-up)',
    env.string().default('tern'),
  ),
  clickhouseTlsCaFile: setting(
    'TERN_CLICKHOUSE_TLS_CA_FILE',
    'PEM CA bundle that signed the ClickHouse server’s certificate, for https:// (unset: the system’s CAs)',
    env.string().optional(),
  ),
};

/**
 * The key that stands for recipients in analytics: dlr stores each attempt's recipient as its HMAC, and the
 * operators' console finds a recipient's messages by the same HMAC. A secret, the same in both.
 */
export const analyticsHashSettings = {
  analyticsHashKey: setting(
    'TERN_ANALYTICS_HASH_KEY',
    'Key of the HMAC that stands for recipients in analytics (counts distinct numbers without storing them)',
    env.string().min(16, 'at least 16 characters'),
    true,
  ),
};

/**
 * Settings of services that serve gRPC (the public API, the operators' APIs). With a certificate and key,
 * the server speaks TLS only; with a client CA too, it requires client certificates signed by it (mutual
 * TLS, for operators' tools and service-to-service calls). The files are read again while running, so a
 * rotated certificate (a renewed Secret) takes effect without a restart.
 */
export const grpcTlsSettings = {
  grpcTlsCertFile: setting(
    'TERN_GRPC_TLS_CERT_FILE',
    'PEM certificate chain the gRPC server presents; with TERN_GRPC_TLS_KEY_FILE it serves TLS only (unset: plaintext, for local runs)',
    env.string().optional(),
  ),
  grpcTlsKeyFile: setting(
    'TERN_GRPC_TLS_KEY_FILE',
    'PEM private key of TERN_GRPC_TLS_CERT_FILE',
    env.string().optional(),
  ),
  grpcTlsClientCaFile: setting(
    'TERN_GRPC_TLS_CLIENT_CA_FILE',
    'PEM CA bundle: when set, clients must present a certificate signed by it (mutual TLS)',
    env.string().optional(),
  ),
  grpcTlsReloadMs: setting(
    'TERN_GRPC_TLS_RELOAD_MS',
    'How often the certificate, key and client CA files are read again (rotation without restart)',
    env.int(1000, 3_600_000).default(60_000),
  ),
};

/**
 * Settings of services that share state in Redis; `purpose` says what this service keeps there. The URL
 * carries the credentials (`redis://user:password@host:6379/0`; `rediss://` for TLS), so it is a secret.
 */
export function redisSettings(purpose: string) {
  return {
    redisUrl: setting(
      'TERN_REDIS_URL',
      `Redis ${purpose}; redis://user:password@host:port/db, or rediss:// for TLS`,
      env.url(),
      true,
    ),
    redisTlsCaFile: setting(
      'TERN_REDIS_TLS_CA_FILE',
      'PEM CA bundle that signed the Redis server’s certificate, for rediss:// (unset: the system’s CAs)',
      env.string().optional(),
    ),
  };
}
