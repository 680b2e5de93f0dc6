import { execFileSync } from 'node:child_process';
import { startContainers } from './containers';

/** Endpoints of the real infrastructure a test talks to. */
export interface Infra {
  kafkaBrokers: string[];
  clickhouseUrl: string;
  redisUrl: string;
}

export const INFRA_ENV = {
  kafka: 'TERN_KAFKA_BROKERS',
  clickhouse: 'TERN_CLICKHOUSE_URL',
  redis: 'TERN_REDIS_URL',
} as const;

const START_HINT =
  'start local infrastructure with `deploy/local/infra.sh up` and export its endpoints with ' +
  '`eval "$(deploy/local/infra.sh env)"` (or run the tests with `./tern test`, which does both)';

/** The infrastructure named by TERN_* variables; fails at once, saying how to start it, when any is missing. */
export function infraFromEnv(env: NodeJS.ProcessEnv = process.env): Infra {
  const missing = Object.values(INFRA_ENV).filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new Error(`integration tests need ${missing.join(', ')}: ${START_HINT}`);
  }
  return {
    kafkaBrokers: (env[INFRA_ENV.kafka] ?? '').split(',').map((b) => b.trim()),
    clickhouseUrl: env[INFRA_ENV.clickhouse] ?? '',
    redisUrl: env[INFRA_ENV.redis] ?? '',
  };
}

export function dockerAvailable(): boolean {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

export interface StartedInfra {
  infra: Infra;
  stop(): Promise<void>;
}

/**
 * Jest global setup: uses TERN_* endpoints when set; otherwise, where a Docker engine answers, starts Kafka,
 * ClickHouse and Redis with testcontainers and exports their endpoints; otherwise fails with the command to run.
 */
export async function provideInfra(env: NodeJS.ProcessEnv = process.env): Promise<StartedInfra> {
  const complete = Object.values(INFRA_ENV).every((name) => env[name]);
  if (complete) return { infra: infraFromEnv(env), stop: () => Promise.resolve() };
  if (!dockerAvailable()) infraFromEnv(env); // throws with the hint
  const started = await startContainers();
  env[INFRA_ENV.kafka] = started.infra.kafkaBrokers.join(',');
  env[INFRA_ENV.clickhouse] = started.infra.clickhouseUrl;
  env[INFRA_ENV.redis] = started.infra.redisUrl;
  return started;
}
