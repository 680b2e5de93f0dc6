import type { Redis } from 'ioredis';
import { redisScript } from './script';

/**
 * Token buckets in Redis, shared by every instance and exact under concurrency: one script checks and
 * takes from all the named buckets at once, on one clock (Redis's). It grants as many of the wanted
 * tokens as every bucket can spare, so a batch is cut rather than refused, and a token is never taken
 * from one bucket (a country) when another (the channel) has none. A bucket's `reserve` is left to
 * callers that name none: lower-class traffic asks with a reserve and takes only what is above it.
 */
const TAKE = `
local want = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local granted = want
local tokens = {}
for i = 1, #KEYS do
  local rate = tonumber(ARGV[i * 3 - 1])
  local burst = tonumber(ARGV[i * 3])
  local reserve = tonumber(ARGV[i * 3 + 1])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local level = tonumber(state[1]) or burst
  local at = tonumber(state[2]) or now
  if now > at then level = math.min(burst, level + (now - at) * rate / 1000) end
  tokens[i] = level
  granted = math.max(0, math.min(granted, math.floor(level - reserve)))
end
local retry = 0
for i = 1, #KEYS do
  local rate = tonumber(ARGV[i * 3 - 1])
  local burst = tonumber(ARGV[i * 3])
  local reserve = tonumber(ARGV[i * 3 + 1])
  local level = tokens[i] - granted
  redis.call('HSET', KEYS[i], 'tokens', tostring(level), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil(burst / rate * 1000) + 1000)
  if granted < want and level < reserve + 1 then
    retry = math.max(retry, math.ceil((reserve + 1 - level) / rate * 1000))
  end
end
return {granted, retry, now}
`;

export interface Bucket {
  key: string;
  perSecond: number;
  burst: number;
  /** Tokens this caller must leave in the bucket (for higher-priority callers); default 0. */
  reserve?: number;
}

export interface Grant {
  granted: number;
  /** When the next token can be granted, if not all were. */
  retryAfterMs: number;
  /**
   * When the tokens were taken, on the buckets' clock (Redis's, ms): in any span of these times the grants
   * hold to rate × span + burst, however late each caller gets to its grant.
   */
  at: number;
}

export class TokenBuckets {
  private readonly takeTokens;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    this.takeTokens = redisScript(redis, 'ternTakeTokens', 'dynamic', TAKE);
  }

  /** Takes up to `want` tokens from every bucket, leaving each bucket's `reserve` in it. */
  async take(buckets: readonly Bucket[], want: number): Promise<Grant> {
    if (want === 0 || buckets.length === 0) return { granted: want, retryAfterMs: 0, at: Date.now() };
    const args: (string | number)[] = [buckets.length, ...buckets.map((b) => `${this.prefix}${b.key}`), want];
    // A reserve as deep as the bucket would starve the lower class for good; it always gets the last token.
    for (const b of buckets)
      args.push(b.perSecond, b.burst, Math.max(0, Math.min(b.reserve ?? 0, b.burst - 1)));
    const [granted, retryAfterMs, at] = (await this.takeTokens.run(...args)) as [number, number, number];
    return { granted, retryAfterMs, at };
  }
}
