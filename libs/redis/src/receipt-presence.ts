import type { Redis } from 'ioredis';
import { execOrThrow } from './script';

/**
 * Which channels can deliver receipts to the platform now: SMPP connectors mark a channel while one of its
 * binds that receives (transceiver or receiver) is bound, and dlr asks before it calls a receipt missing.
 * While no bind can receive, an SMSC queues its receipts, so a receipt cannot be late; retrying then would
 * send a second copy of messages that were delivered. The mark expires on its own when a connector dies.
 */
export class ReceiptPresence {
  constructor(
    private readonly redis: Redis,
    private readonly ttlMs = 5_000,
  ) {}

  async mark(channelIds: readonly string[]): Promise<void> {
    if (channelIds.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const id of channelIds) pipeline.set(presenceKey(id), '1', 'PX', this.ttlMs);
    await execOrThrow(pipeline);
  }

  async receiving(channelId: string): Promise<boolean> {
    return (await this.redis.exists(presenceKey(channelId))) === 1;
  }
}

const presenceKey = (channelId: string) => `tern:smpp:receiving:${channelId}`;
