import { redisScript } from './script';
import type { Redis } from 'ioredis';

/** Takes the due members and pushes their time forward by the lease, in one step. */
const LEASE_DUE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], member) end
return due
`;

/**
 * Members due at a time (a Redis sorted set shared by every instance). Due members are leased, not removed:
 * the instance that takes one has `leaseMs` to finish it and remove() it; if it dies, the member comes due
 * again for another instance.
 */
export class LeasedSchedule {
  private readonly leaseDue;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {
    this.leaseDue = redisScript(redis, 'ternLeaseDue', 1, LEASE_DUE);
  }

  async schedule(member: string, at: number): Promise<void> {
    await this.redis.zadd(this.key, at, member);
  }

  async lease(now: number, limit: number, leaseMs: number): Promise<string[]> {
    return (await this.leaseDue.run(this.key, now, limit, now + leaseMs)) as string[];
  }

  async remove(member: string): Promise<void> {
    await this.redis.zrem(this.key, member);
  }
}
