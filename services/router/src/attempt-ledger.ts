import { redisScript } from '@tern/redis';
import type { Redis } from 'ioredis';

/** The channel of an attempt is decided once: the first claim wins, a redelivered request gets the same. */
const CLAIM = `
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return redis.call('HGET', KEYS[1], ARGV[1])
`;

/**
 * Which channel each attempt of a message went to, shared by every router instance. It makes attempts
 * idempotent (a retry request delivered twice routes attempt n to one channel, which the connector then
 * submits once) and gives a retry every channel the message already used, whoever asked for the retry.
 */
export class AttemptLedger {
  private readonly claimScript;

  constructor(private readonly redis: Redis) {
    this.claimScript = redisScript(redis, 'ternRouterClaimAttempt', 1, CLAIM);
  }

  /** Attempt number → channel id. */
  async attempts(messageId: string): Promise<Map<number, string>> {
    const all = await this.redis.hgetall(key(messageId));
    return new Map(Object.entries(all).map(([attempt, channel]) => [Number(attempt), channel]));
  }

  /** Records `channelId` for the attempt unless one was recorded before; returns the attempt's channel. */
  async claim(messageId: string, attempt: number, channelId: string, keepMs: number): Promise<string> {
    return (await this.claimScript.run(key(messageId), attempt, channelId, Math.max(1000, keepMs))) as string;
  }
}

const key = (messageId: string) => `tern:router:attempts:${messageId}`;
