import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { execOrThrow } from './script';

/**
 * How long a receipt can sit in a connector (taken from its SMSC, not yet written to Kafka) while the
 * connector still says it forwards without trouble: a forward pending longer than a second is trouble, and
 * connectors say so within their next mark, once a second. dlr lets this much pass after an attempt's due
 * time, and after a channel's trouble ends, before it looks for the attempt's receipt in Kafka.
 */
export const RECEIPT_FORWARD_LAG_MS = 3_000;

/** One connector's word on one channel: its binds receive, and its receipts reach Kafka since `since`. */
export interface ChannelReceiving {
  channelId: string;
  /** Since when every receipt it took reached Kafka in time; undefined while one is stuck or was refused. */
  since: number | undefined;
}

/**
 * Which channels deliver their receipts to the platform now, and since when without a gap. Each connector
 * marks the channels it has a bind that receives (transceiver or receiver) for, once a second; dlr asks
 * before it calls a receipt missing.
 * - No connector marks a channel: no bind can receive, so its SMSC queues the receipts and none can be late;
 *   retrying then would send a second copy of messages that were delivered.
 * - A connector has a receipt it took but cannot write (Kafka away, or the write refused and the SMSC told
 *   to send it again): that receipt is on its way, so nothing of the channel is called missing until every
 *   connector forwards again, and what they held is in Kafka.
 * Each connector writes its own field, with the time it expires: a connector that dies stops counting on
 * its own (its SMSC sends what it never acknowledged to another bind).
 */
export class ReceiptPresence {
  private readonly member = randomUUID();

  constructor(
    private readonly redis: Redis,
    private readonly ttlMs = 5_000,
  ) {}

  /** This connector's channels that can receive now; those it marked before and not now are unmarked. */
  async mark(channels: readonly ChannelReceiving[], unmark: readonly string[] = []): Promise<void> {
    if (channels.length === 0 && unmark.length === 0) return;
    const expires = Date.now() + this.ttlMs;
    const pipeline = this.redis.pipeline();
    for (const { channelId, since } of channels) {
      pipeline.hset(presenceKey(channelId), this.member, `${since ?? '-'}:${expires}`);
      pipeline.pexpire(presenceKey(channelId), this.ttlMs);
    }
    for (const channelId of unmark) pipeline.hdel(presenceKey(channelId), this.member);
    await execOrThrow(pipeline);
  }

  /**
   * Since when the channel's receipts have reached Kafka without a gap, by every connector that can receive
   * them: 'none' when no connector can (its SMSC holds them), 'stuck' while one has receipts it cannot write.
   */
  async receivingSince(channelId: string, now = Date.now()): Promise<number | 'none' | 'stuck'> {
    const fields = await this.redis.hgetall(presenceKey(channelId));
    let latest: number | 'none' | 'stuck' = 'none';
    const gone: string[] = [];
    for (const [member, value] of Object.entries(fields)) {
      const [since = '-', expires = '0'] = value.split(':');
      if (Number(expires) <= now) gone.push(member);
      else if (since === '-') latest = 'stuck';
      else if (latest !== 'stuck') latest = Math.max(latest === 'none' ? 0 : latest, Number(since));
    }
    // Connectors that died leave their fields behind; they stopped counting when they expired.
    if (gone.length > 0) await this.redis.hdel(presenceKey(channelId), ...gone);
    return latest;
  }
}

const presenceKey = (channelId: string) => `tern:smpp:receipts-flowing:${channelId}`;
