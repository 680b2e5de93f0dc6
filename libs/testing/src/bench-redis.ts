import { Redis } from 'ioredis';

/**
 * The Redis database benchmarks run on: `./tern bench`'s (isolation.ts: 0 is a developer's, the tests take
 * 2-15). Benchmarks need the machine to themselves, so they never run beside one another.
 */
export const BENCH_REDIS_DB = 1;

/**
 * Where a service's benchmark runs the service's Redis: the benchmarks' database, emptied now and by
 * `clear()` when the run is done. A run leaves tens of thousands of keys kept for days (attempts, ledgers,
 * idempotency keys); left in the developer's database they weighed on every later run of the shared Redis
 * (after a few dozen runs 2.8 million keys, 1.75 GB, and 46 s append-only-file rewrites during a
 * `./tern bench`, whose accept → submit p99 went from 266-481 ms to 680-1,033).
 */
export async function benchRedis(redisUrl: string): Promise<{ url: string; clear: () => Promise<void> }> {
  const url = new URL(redisUrl);
  url.pathname = `/${BENCH_REDIS_DB}`;
  const clear = async () => {
    const redis = new Redis(url.toString(), { maxRetriesPerRequest: 2 });
    try {
      await redis.flushdb();
    } finally {
      redis.disconnect();
    }
  };
  await clear();
  return { url: url.toString(), clear };
}
