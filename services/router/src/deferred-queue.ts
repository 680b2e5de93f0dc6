import { events } from '@tern/contracts';
import { redisScript } from '@tern/redis';
import type { Redis } from 'ioredis';

/** Due entries are leased, not removed: one whose router dies before dispatching comes due again. */
const LEASE_DUE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], member) end
return due
`;

/**
 * Messages that may not be sent before a time (quiet hours, schedules), parked in Redis by that time and
 * shared by the deployment's instances, so a wait of hours holds no Kafka partition and no memory.
 */
export class DeferredQueue {
  private readonly leaseScript;
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    deployment: string,
    private readonly leaseMs = 60_000,
  ) {
    this.key = `tern:router:${deployment}:deferred`;
    this.leaseScript = redisScript(redis, 'ternRouterLeaseDue', 1, LEASE_DUE);
  }

  async park(message: events.SmsMessage, notBefore: number): Promise<void> {
    await this.redis.zadd(this.key, notBefore, encode(message));
  }

  /** Up to `limit` messages whose time has come, each leased to the caller until it calls done(). */
  async leaseDue(
    limit: number,
    now = Date.now(),
  ): Promise<{ message: events.SmsMessage; done: () => Promise<void> }[]> {
    const members = (await this.leaseScript.run(this.key, now, limit, now + this.leaseMs)) as string[];
    return members.map((member) => ({
      message: events.SmsMessage.decode(Buffer.from(member, 'base64')),
      done: async () => {
        await this.redis.zrem(this.key, member);
      },
    }));
  }

  async size(): Promise<number> {
    return this.redis.zcard(this.key);
  }
}

const encode = (message: events.SmsMessage) =>
  Buffer.from(events.SmsMessage.encode(message).finish()).toString('base64');
