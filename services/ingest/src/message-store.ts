import { sms, statusRank } from '@tern/contracts';
import type { Redis } from 'ioredis';
import { foldStatusEvents } from './domain/message-view';
import { execOrThrow, redisScript } from '@tern/redis';

/** Create the view unless it exists (a repeat of the same accept must not reset a message further along). */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 't', ARGV[1], 'v', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
`;

/**
 * Apply a message's status events of one partition, in offset order, each exactly once: an event is skipped
 * when its (partition, offset) or a later one of the same partition was applied already (redelivery after a
 * crash or rebalance). The tenant's stream gets an event only when it moved the message on in the status
 * order (its rank above the one shown), so a late or repeated event is never streamed. The view (folded
 * from the same events by the caller) is written with the rank of the status it shows, together with the
 * stream entries: a reader never sees one without the other.
 * ARGV: partition, tenant, view, retention ms, stream max length, then per event: offset, rank, event bytes.
 */
const APPLY = `
local applied = redis.call('HMGET', KEYS[1], 'p', 'o', 'r')
local rank = tonumber(applied[3])
local last = nil
for i = 6, #ARGV, 3 do
  if not (applied[1] == ARGV[1] and tonumber(applied[2]) >= tonumber(ARGV[i])) then
    last = ARGV[i]
    local eventRank = tonumber(ARGV[i + 1])
    if rank == nil or eventRank > rank then
      rank = eventRank
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'e', ARGV[i + 2])
    end
  end
end
if last == nil then return 0 end
redis.call('HSET', KEYS[1], 't', ARGV[2], 'v', ARGV[3], 'p', ARGV[1], 'o', last)
if rank ~= nil then redis.call('HSET', KEYS[1], 'r', rank) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`;

/** A `sms.status` record to apply, with where it was read. */
export interface StatusRecord {
  event: sms.StatusEvent;
  /** The event's bytes as published: what its stream entry carries (not encoded again). */
  raw: Buffer;
  partition: number;
  offset: string;
}

export interface StoredMessage {
  tenantId: string;
  view: sms.Message;
}

/**
 * Ingest's own read model: each message's view (GetMessage) and each tenant's ordered stream of status
 * events (StreamStatus), kept in Redis from `sms.status`. Views live `retentionMs`; a tenant's stream keeps
 * about `streamMaxLen` events.
 */
export class MessageStore {
  private readonly createView;
  private readonly applyEvents;

  constructor(
    private readonly redis: Redis,
    private readonly retentionMs: number,
    private readonly streamMaxLen: number,
  ) {
    this.createView = redisScript(redis, 'ternIngestCreateView', 1, CREATE);
    this.applyEvents = redisScript(redis, 'ternIngestApplyEvents', 2, APPLY);
  }

  private messageKey(messageId: string): string {
    return `tern:ingest:msg:${messageId}`;
  }

  streamKey(tenantId: string): string {
    return `tern:ingest:events:${tenantId}`;
  }

  async create(items: readonly { tenantId: string; view: sms.Message }[]): Promise<void> {
    if (items.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const { tenantId, view } of items) {
      const bytes = Buffer.from(sms.Message.encode(view).finish());
      this.createView.queue(pipeline, this.messageKey(view.messageId), tenantId, bytes, this.retentionMs);
    }
    await execOrThrow(pipeline);
  }

  async get(messageId: string): Promise<StoredMessage | undefined> {
    return (await this.getMany([messageId]))[0];
  }

  /** The views with the rank of the status each shows (undefined: no status applied yet), in one round trip. */
  private async getRanked(
    messageIds: readonly string[],
  ): Promise<({ stored: StoredMessage; rank: number | undefined } | undefined)[]> {
    const pipeline = this.redis.pipeline();
    for (const id of messageIds) pipeline.hmgetBuffer(this.messageKey(id), 't', 'v', 'r');
    const replies = (await execOrThrow(pipeline)) as [Buffer | null, Buffer | null, Buffer | null][];
    return replies.map(([tenant, bytes, rank]) =>
      tenant && bytes
        ? {
            stored: { tenantId: tenant.toString(), view: sms.Message.decode(bytes) },
            rank: rank ? Number(rank.toString()) : undefined,
          }
        : undefined,
    );
  }

  async getMany(messageIds: readonly string[]): Promise<(StoredMessage | undefined)[]> {
    if (messageIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of messageIds) pipeline.hmgetBuffer(this.messageKey(id), 't', 'v');
    const replies = (await execOrThrow(pipeline)) as [Buffer | null, Buffer | null][];
    return replies.map(([tenant, bytes]) =>
      tenant && bytes ? { tenantId: tenant.toString(), view: sms.Message.decode(bytes) } : undefined,
    );
  }

  /**
   * Applies `sms.status` records (of one partition or several, each message's in offset order): each
   * message's view is read once, its events folded into it, and written once with its stream entries.
   */
  async apply(records: readonly StatusRecord[]): Promise<void> {
    const byMessage = new Map<string, StatusRecord[]>();
    for (const record of records) {
      const events = byMessage.get(record.event.messageId);
      if (events) events.push(record);
      else byMessage.set(record.event.messageId, [record]);
    }
    const ids = [...byMessage.keys()];
    const found = await this.getRanked(ids);
    const pipeline = this.redis.pipeline();
    ids.forEach((id, i) => {
      const events = byMessage.get(id)!;
      const { view } = foldStatusEvents(
        found[i]?.stored.view,
        found[i]?.rank,
        events.map((r) => r.event),
      );
      const args = events.flatMap(({ event, raw, offset }) => [offset, statusRank(event), raw]);
      const tenantId = found[i]?.stored.tenantId ?? events[0]!.event.tenantId;
      this.applyEvents.queue(
        pipeline,
        this.messageKey(id),
        this.streamKey(tenantId),
        events[0]!.partition,
        tenantId,
        Buffer.from(sms.Message.encode(view!).finish()),
        this.retentionMs,
        this.streamMaxLen,
        ...args,
      );
    });
    await execOrThrow(pipeline);
  }
}
