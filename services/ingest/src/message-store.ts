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
 * crash or rebalance). Each applied event is kept beside the view as accepted (`e1`..`en`, in the order
 * applied) and folded into it when the view is read, so applying never reads the view back nor writes it
 * again. The tenant's stream gets an event only when it moved the message on in the status order (its rank
 * above the one shown, kept in `r`), so a late or repeated event is never streamed; the events and the stream
 * entries are written together: a reader never sees one without the other.
 * A view folded by a version that kept no events (no `n`) keeps the rank it showed in `b`, the rank the kept
 * events fold from.
 * ARGV: partition, tenant, retention ms, stream max length, then per event: offset, rank, event bytes.
 */
const APPLY = `
local applied = redis.call('HMGET', KEYS[1], 'p', 'o', 'r', 'n', 't')
local rank = tonumber(applied[3])
local n = tonumber(applied[4])
local fields = {}
if n == nil then
  n = 0
  if rank ~= nil then fields = {'b', applied[3]} end
end
if applied[5] == false then table.insert(fields, 't'); table.insert(fields, ARGV[2]) end
local last = nil
for i = 5, #ARGV, 3 do
  if not (applied[1] == ARGV[1] and tonumber(applied[2]) >= tonumber(ARGV[i])) then
    last = ARGV[i]
    n = n + 1
    table.insert(fields, 'e' .. n)
    table.insert(fields, ARGV[i + 2])
    local eventRank = tonumber(ARGV[i + 1])
    if rank == nil or eventRank > rank then
      rank = eventRank
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'e', ARGV[i + 2])
    end
  end
end
if last == nil then return 0 end
redis.call('HSET', KEYS[1], 'p', ARGV[1], 'o', last, 'n', n, 'r', rank, unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
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

  /** The views, each folded from the view as accepted and the events applied to it, in one round trip. */
  async getMany(messageIds: readonly string[]): Promise<(StoredMessage | undefined)[]> {
    if (messageIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of messageIds) pipeline.hgetallBuffer(this.messageKey(id));
    const replies = (await execOrThrow(pipeline)) as Record<string, Buffer>[];
    return replies.map((fields) => {
      const tenant = fields.t;
      const count = fields.n ? Number(fields.n.toString()) : 0;
      if (!tenant || (!fields.v && count === 0)) return undefined;
      const events: sms.StatusEvent[] = [];
      for (let i = 1; i <= count; i++) events.push(sms.StatusEvent.decode(fields[`e${i}`]!));
      const { view } = foldStatusEvents(
        fields.v ? sms.Message.decode(fields.v) : undefined,
        fields.b ? Number(fields.b.toString()) : undefined,
        events,
      );
      return { tenantId: tenant.toString(), view: view! };
    });
  }

  /**
   * Applies `sms.status` records (of one partition or several, each message's in offset order): one script
   * call per message, with all its events of the call.
   */
  async apply(records: readonly StatusRecord[]): Promise<void> {
    const byMessage = new Map<string, StatusRecord[]>();
    for (const record of records) {
      const events = byMessage.get(record.event.messageId);
      if (events) events.push(record);
      else byMessage.set(record.event.messageId, [record]);
    }
    const pipeline = this.redis.pipeline();
    for (const [id, events] of byMessage) {
      const { tenantId } = events[0]!.event;
      this.applyEvents.queue(
        pipeline,
        this.messageKey(id),
        this.streamKey(tenantId),
        events[0]!.partition,
        tenantId,
        this.retentionMs,
        this.streamMaxLen,
        ...events.flatMap(({ event, raw, offset }) => [offset, statusRank(event), raw]),
      );
    }
    await execOrThrow(pipeline);
  }
}
