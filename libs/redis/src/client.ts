import { Redis } from 'ioredis';
import type { RedisStateGuard } from './state-guard';

/**
 * The Redis client every service uses for its shared state. Commands queue while connecting; after two
 * reconnect attempts a command fails, so an outage surfaces as an error the Kafka consumer retries instead
 * of a hang. Commands issued in the same tick go out as one pipeline (hot paths make several).
 */
export function sharedRedis(url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
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
