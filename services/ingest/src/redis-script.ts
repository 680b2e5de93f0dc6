import type { ChainableCommander, Redis } from 'ioredis';

type Arg = string | number | Buffer;
type Call = (...args: Arg[]) => Promise<unknown>;

/**
 * A Lua script registered once per connection (EVALSHA, falling back to EVAL when Redis lost it), so a hot
 * path sends the script's hash, not its text. `run` calls it; `queue` adds it to a pipeline.
 */
export function redisScript(redis: Redis, name: string, numberOfKeys: number, lua: string) {
  redis.defineCommand(name, { numberOfKeys, lua });
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
