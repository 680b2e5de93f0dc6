import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ChannelWait } from '@tern/sms-domain';
import { execOrThrow } from './script';

const BACKLOG_KEY = 'tern:smpp:backlog';

/**
 * How often connectors report their channels' waits and routers read them: the routers hear of a queue that
 * has begun within about twice this, while OTPs keep coming into it.
 */
export const BACKLOG_REPORT_MS = 500;

/**
 * How long each channel's submissions wait in the connectors before they reach its SMSC: an SMSC throttling
 * below its contracted rate, or binds gone, hold them there (up to the connector's wait for a bind). Each
 * connector writes the channels it holds submissions of, every BACKLOG_REPORT_MS, in a field of its own with
 * the time it expires (a connector that dies stops counting on its own); routers read them all as often,
 * and send new messages to channels that take them now rather than into a queue.
 */
export class ChannelBacklog {
  private readonly member = randomUUID();
  private marked = new Set<string>();

  constructor(
    private readonly redis: Redis,
    private readonly ttlMs = 5_000,
  ) {}

  /** This connector's waits now, per channel; channels marked before and not now are unmarked. */
  async mark(waits: ReadonlyMap<string, ChannelWait>): Promise<void> {
    const gone = [...this.marked].filter((channelId) => !waits.has(channelId));
    if (waits.size === 0 && gone.length === 0) return;
    const expires = Date.now() + this.ttlMs;
    const pipeline = this.redis.pipeline();
    for (const [channelId, wait] of waits) {
      pipeline.hset(BACKLOG_KEY, `${channelId}|${this.member}`, `${wait.urgentMs}:${wait.bulkMs}:${expires}`);
    }
    if (gone.length > 0)
      pipeline.hdel(BACKLOG_KEY, ...gone.map((channelId) => `${channelId}|${this.member}`));
    await execOrThrow(pipeline);
    this.marked = new Set(waits.keys());
  }

  /** Every channel some connector holds submissions of, with the longest wait any of them reports. */
  async waits(now = Date.now()): Promise<Map<string, ChannelWait>> {
    const fields = await this.redis.hgetall(BACKLOG_KEY);
    const waits = new Map<string, ChannelWait>();
    const gone: string[] = [];
    for (const [field, value] of Object.entries(fields)) {
      const [urgentMs = 0, bulkMs = 0, expires = 0] = value.split(':').map(Number);
      if (expires <= now) {
        gone.push(field);
        continue;
      }
      const channelId = field.slice(0, field.lastIndexOf('|'));
      const known = waits.get(channelId);
      waits.set(channelId, {
        urgentMs: Math.max(known?.urgentMs ?? 0, urgentMs),
        bulkMs: Math.max(known?.bulkMs ?? 0, bulkMs),
      });
    }
    // Connectors that died leave their fields behind; they stopped counting when they expired.
    if (gone.length > 0) await this.redis.hdel(BACKLOG_KEY, ...gone);
    return waits;
  }
}
