// Test files run side by side (scripts/test-all.sh). Each integration file gets a topic namespace of its own
// (its topics, DLQs and consumer groups) and each jest worker a Redis database of its own, so two files
// running side by side never read each other's records or keys. Set up by isolated-environment.ts
// (jest.config.js).
// End-to-end platform runs name their own topics, and take their worker's database of the e2e range.
import { namespaced, type TopicSpec } from '@tern/kafka';

export const TOPIC_NAMESPACE_ENV = 'TERN_KAFKA_TOPIC_NAMESPACE';
/**
 * The first Redis database of a tier's jest workers: 0 is a developer's, 1 the benchmarks' (bench-redis.ts), the
 * integration workers' from 2, the e2e platform runs' from 8 (Redis has 16).
 */
const FIRST_WORKER_REDIS_DB = { integration: 2, e2e: 8 } as const;
/**
 * Databases per worker: an e2e worker may run two platforms at once (a routing suite's baseline while its
 * smart run settles), each on a database of its own.
 */
const WORKER_REDIS_DBS = { integration: 1, e2e: 2 } as const;
const REDIS_DATABASES = 16;

/** The test file's topic namespace ('' outside an isolated test file). */
export function testNamespace(): string {
  return process.env[TOPIC_NAMESPACE_ENV] ?? '';
}

/** A platform topic as the test file's services name it on the cluster. */
export function testTopic<T extends TopicSpec>(def: T): T {
  return namespaced(def, testNamespace());
}

/** A topic's, a DLQ's or a consumer group's name as the test file's services use it on the cluster. */
export function testClusterName(declared: string): string {
  return testNamespace() ? `${testNamespace()}.${declared}` : declared;
}

/** The declared name of a topic of the test file's namespace, as a plain kafkajs consumer reports it. */
export function declaredTopicName(onCluster: string): string {
  const prefix = testNamespace() ? `${testNamespace()}.` : '';
  return onCluster.startsWith(prefix) ? onCluster.slice(prefix.length) : onCluster;
}

/**
 * This jest worker's number among the workers of every jest run on the machine: each run numbers its own from
 * 1, and a run started beside another (scripts/test-all.sh) is told where its numbers begin.
 */
const workerNumber = () =>
  Number(process.env['JEST_WORKER_ID'] ?? 1) + Number(process.env['TERN_TEST_WORKERS_BEFORE'] ?? 0);

/** The Redis URL of one of this jest worker's own databases (`slot` below its tier's WORKER_REDIS_DBS). */
export function workerRedisUrl(
  redisUrl: string,
  tier: keyof typeof FIRST_WORKER_REDIS_DB = 'integration',
  workerId = workerNumber(),
  slot = 0,
): string {
  if (slot >= WORKER_REDIS_DBS[tier]) throw new Error(`a ${tier} worker has no Redis database ${slot}`);
  const db = FIRST_WORKER_REDIS_DB[tier] + (workerId - 1) * WORKER_REDIS_DBS[tier] + slot;
  if (db >= REDIS_DATABASES)
    throw new Error(`${tier} worker ${workerId} is past Redis's ${REDIS_DATABASES} databases`);
  const url = new URL(redisUrl);
  url.pathname = `/${db}`;
  return url.toString();
}
