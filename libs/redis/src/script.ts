import type { ChainableCommander, Redis } from 'ioredis';

type Arg = string | number | Buffer;
type Call = (...args: Arg[]) => Promise<unknown>;

/**
 * A Lua script registered once per connection (EVALSHA, falling back to EVAL when Redis lost it), so a hot
 * path sends the script's hash, not its text. `run` calls it; `queue` adds it to a pipeline. With
 * `numberOfKeys: 'dynamic'` the first argument of each call says how many keys follow.
 */
export function redisScript(redis: Redis, name: string, numberOfKeys: number | 'dynamic', lua: string) {
  redis.defineCommand(name, numberOfKeys === 'dynamic' ? { lua } : { numberOfKeys, lua });
  return {
    run: (...args: Arg[]): Promise<unknown> => (redis as unknown as Record<string, Call>)[name]!(...args),
    queue: (pipeline: ChainableCommander, ...args: Arg[]): void => {
      void (pipeline as unknown as Record<string, Call>)[name]!(...args);
    },
  };
}

/** A pipeline's replies, or its first error. */
export async function execOrThrow(pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
  const results = (await pipeline.exec()) ?? [];
  return results.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}
