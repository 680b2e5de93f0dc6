import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** How an event id was met: for the first time, again at the same place (a redelivery), or elsewhere. */
export type EventSighting = 'first' | 'redelivered' | 'replayed';

/**
 * The send events' ids seen per tenant, shared by every ingest instance through Redis, each kept while its
 * message could still be sent (afterwards the event is refused as expired anyway). An id comes with the
 * record's place in the topic: the same record read again after a crash or rebalance is a redelivery, to
 * be answered as before; the same id from anywhere else is a replay.
 */
export class SendEventLedger {
  constructor(private readonly redis: Redis) {}

  async sight(tenantId: string, eventId: string, place: string, keepUntil: Date): Promise<EventSighting> {
    // Hashed: ids are producers' data; the key stays short and safe.
    const key = `tern:ingest:event:${tenantId}:${createHash('sha256').update(eventId).digest('base64url')}`;
    const ttlMs = Math.max(1000, keepUntil.getTime() - Date.now());
    const held = await this.redis.set(key, place, 'PX', ttlMs, 'NX', 'GET');
    if (held === null) return 'first';
    return held === place ? 'redelivered' : 'replayed';
  }
}
