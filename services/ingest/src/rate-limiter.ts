import type { Redis } from 'ioredis';
import { redisScript } from './redis-script';

/**
 * Token bucket per key in Redis, shared by every instance and exact under concurrency (one script, one
 * clock: Redis's). Grants as many of the wanted tokens as the bucket holds, so a batch is cut, not refused.
 */
const TAKE = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
if now > at then tokens = math.min(burst, tokens + (now - at) * rate / 1000) end
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(math.max(now, at)))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
local retry = 0
if granted < want then retry = math.ceil((1 - tokens) / rate * 1000) end
return {granted, retry}
`;

export interface Grant {
  granted: number;
  /** When the next token arrives, if not all were granted. */
  retryAfterMs: number;
}

export class RateLimiter {
  private readonly takeTokens;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    this.takeTokens = redisScript(redis, 'ternIngestTakeTokens', 1, TAKE);
  }

  async take(key: string, rate: { perSecond: number; burst: number }, want: number): Promise<Grant> {
    if (want === 0) return { granted: 0, retryAfterMs: 0 };
    const [granted, retryAfterMs] = (await this.takeTokens.run(
      `${this.prefix}${key}`,
      rate.perSecond,
      rate.burst,
      want,
    )) as [number, number];
    return { granted, retryAfterMs };
  }
}
