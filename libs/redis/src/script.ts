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

/** One item of a `batchedRedisScript` call: the keys and arguments its Lua sees as KEYS and ARGV. */
export interface ScriptItem {
  keys: readonly string[];
  args: readonly Arg[];
}

/**
 * Items one call of a `batchedRedisScript` takes at most: a call per item cost Redis and the caller more than
 * the item's own commands (an EVALSHA, its reply, a command object in ioredis), and a call this size holds
 * Redis for about half a millisecond (a status view's run cost it 11-13 µs).
 */
export const ITEMS_PER_CALL = 50;

/**
 * A Lua script written for one item (its KEYS, ARGV and return value as with `redisScript`) that runs for
 * many items in one call: `run` sends up to ITEMS_PER_CALL items a call, runs the script for each in turn
 * (a call is atomic; each item sees the writes of those before it) and answers each item's return value in
 * order (nil and false as null). An item that raises an error fails its call, after the items before it in
 * the call (as in a pipeline). A call's ARGV holds per item its key count, its argument count and its
 * arguments; its KEYS every item's keys in turn. Worth it when an item runs several commands: for one plain
 * command an item a pipeline costs Redis less (the Lua moves the client's cost into Redis, the one process
 * that does not scale out: operations.md, Benchmark).
 */
export function batchedRedisScript(redis: Redis, name: string, lua: string) {
  const script = redisScript(
    redis,
    name,
    'dynamic',
    `local results, k, a = {}, 1, 1
local one = function(KEYS, ARGV)
${lua}
end
while a <= #ARGV do
  local keyCount, argCount = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local result = one({unpack(KEYS, k, k + keyCount - 1)}, {unpack(ARGV, a + 2, a + 1 + argCount)})
  if result == nil then result = false end
  results[#results + 1] = result
  k, a = k + keyCount, a + 2 + argCount
end
return results`,
  );
  return {
    run: async (items: readonly ScriptItem[]): Promise<unknown[]> => {
      const calls: Promise<unknown>[] = [];
      for (let from = 0; from < items.length; from += ITEMS_PER_CALL) {
        const chunk = items.slice(from, from + ITEMS_PER_CALL);
        const keys = chunk.flatMap((item) => item.keys);
        const args = chunk.flatMap((item) => [item.keys.length, item.args.length, ...item.args]);
        calls.push(script.run(keys.length, ...keys, ...args));
      }
      return ((await Promise.all(calls)) as unknown[][]).flat(1);
    },
  };
}
