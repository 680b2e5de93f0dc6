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
export async function benchRedis(
  redisUrl: string,
): Promise<{ url: string; clear: () => Promise<void>; cpuSeconds: () => Promise<number> }> {
  const url = new URL(redisUrl);
  url.pathname = `/${BENCH_REDIS_DB}`;
  const once = async <T>(use: (redis: Redis) => Promise<T>): Promise<T> => {
    const redis = new Redis(url.toString(), { maxRetriesPerRequest: 2 });
    try {
      return await use(redis);
    } finally {
      redis.disconnect();
    }
  };
  const clear = async () => {
    await once((redis) => redis.flushdb());
  };
  await clear();
  return { url: url.toString(), clear, cpuSeconds: () => once(redisCpuSeconds) };
}

/**
 * The CPU the Redis server has used since it started, its threads' (`INFO cpu`), not its children's: what a
 * benchmark's service asks of Redis, the platform's one process that does not scale out, counted over a
 * phase as the service's own CPU is. Every client of the server counts, so nothing else may use it meanwhile.
 */
async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => {
    const value = new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1];
    if (value === undefined) throw new Error(`Redis's INFO cpu has no ${name}`);
    return Number(value);
  };
  return field('used_cpu_user') + field('used_cpu_sys');
}
