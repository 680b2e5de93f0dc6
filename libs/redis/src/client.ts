import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { RedisStateGuard } from './state-guard';

/**
 * The Redis client every service uses for its shared state. Commands queue while connecting; after two
 * reconnect attempts a command fails, so an outage surfaces as an error the Kafka consumer retries instead
 * of a hang. Commands issued in the same tick go out as one pipeline (hot paths make several).
 */
export function sharedRedis(config: { redisUrl: string; redisTlsCaFile?: string | undefined }): Redis {
  // rediss:// turns TLS on; a private CA comes from its file (see redisSettings).
  const { redisUrl: url, redisTlsCaFile: caFile } = config;
  const ca = url.startsWith('rediss:') && caFile ? { tls: { ca: [readFileSync(caFile, 'utf8')] } } : {};
  const redis = new Redis(url, { maxRetriesPerRequest: 2, enableAutoPipelining: true, ...ca });
  // Without a listener ioredis prints every failed reconnect to stderr; an outage already shows in the
  // commands that fail (retried by the consumers, logged once a second) and in /health/ready.
  redis.on('error', () => undefined);
  return redis;
}

/** A readiness check of the client, with what its state guard found. */
export function redisHealth(
  redis: Redis,
  guard?: RedisStateGuard,
): () => { ok: boolean; detail: { status: string; stateLostAt?: string } } {
  return () => ({ ok: redis.status === 'ready', detail: { status: redis.status, ...guard?.detail() } });
}
