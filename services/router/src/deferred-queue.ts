import { encodeMessage, events } from '@tern/contracts';
import { LeasedSchedule } from '@tern/redis';
import type { Redis } from 'ioredis';

/**
 * Messages that may not be sent before a time (quiet hours, schedules), parked in Redis by that time and
 * shared by the deployment's instances, so a wait of hours holds no Kafka partition and no memory. Due
 * entries are leased, not removed: one whose router dies before dispatching comes due again.
 */
export class DeferredQueue {
  private readonly schedule;
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    deployment: string,
    private readonly leaseMs = 60_000,
  ) {
    this.key = `tern:router:${deployment}:deferred`;
    this.schedule = new LeasedSchedule(redis, this.key);
  }

  async park(message: events.SmsMessage, notBefore: number): Promise<void> {
    await this.schedule.schedule(encode(message), notBefore);
  }

  /** Up to `limit` messages whose time has come, each leased to the caller until it calls done(). */
  async leaseDue(
    limit: number,
    now = Date.now(),
  ): Promise<{ message: events.SmsMessage; done: () => Promise<void> }[]> {
    const members = await this.schedule.lease(now, limit, this.leaseMs);
    return members.map((member) => ({
      message: events.SmsMessage.decode(Buffer.from(member, 'base64')),
      done: () => this.schedule.remove(member),
    }));
  }

  async size(): Promise<number> {
    return this.redis.zcard(this.key);
  }
}

const encode = (message: events.SmsMessage) => encodeMessage(events.SmsMessage, message).toString('base64');
