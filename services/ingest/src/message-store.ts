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
 * crash or rebalance). Each applied event is appended to the events kept beside the view as accepted (`e`:
 * each event's bytes after their length, 4 bytes big-endian, with only what the view takes from it:
 * `keptForView`), which are folded into it when the view is read, so applying never reads the view nor
 * writes it again. The tenant's stream gets an event only when it moved the message on in the status order
 * (its rank above the one shown, kept in `r`), so a late or repeated event is never streamed; the events and
 * the stream entries are written together: a reader never sees one without the other. A view folded by a
 * version that kept no events (`r` without `e`) keeps the rank it showed in `b`, the rank its events fold
 * from.
 * ARGV: partition, tenant, retention ms, stream max length, then per event: offset, rank, its bytes as
 * published (streamed), its bytes as kept.
 */
const APPLY = `
local applied = redis.call('HMGET', KEYS[1], 'p', 'o', 'r', 't', 'e')
local rank = tonumber(applied[3])
local fields = {}
if applied[5] == false and rank ~= nil then fields = {'b', applied[3]} end
if applied[4] == false then table.insert(fields, 't'); table.insert(fields, ARGV[2]) end
local kept = { applied[5] or '' }
local last = nil
for i = 5, #ARGV, 4 do
  if not (applied[1] == ARGV[1] and tonumber(applied[2]) >= tonumber(ARGV[i])) then
    last = ARGV[i]
    table.insert(kept, struct.pack('>I4', #ARGV[i + 3]) .. ARGV[i + 3])
    local eventRank = tonumber(ARGV[i + 1])
    if rank == nil or eventRank > rank then
      rank = eventRank
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'e', ARGV[i + 2])
    end
  end
end
if last == nil then return 0 end
redis.call('HSET', KEYS[1], 'p', ARGV[1], 'o', last, 'r', rank, 'e', table.concat(kept), unpack(fields))
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
  async getMany(ids: readonly string[]): Promise<(StoredMessage | undefined)[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hmgetBuffer(this.messageKey(id), 't', 'v', 'b', 'e');
    const replies = (await execOrThrow(pipeline)) as (Buffer | null)[][];
    return replies.map(([tenant, accepted, baseRank, kept], index) => {
      if (!tenant || (!accepted && !kept)) return undefined;
      const { view } = foldStatusEvents(
        accepted ? sms.Message.decode(accepted) : undefined,
        baseRank ? Number(baseRank.toString()) : undefined,
        kept ? keptEvents(kept, ids[index]!) : [],
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
        ...events.flatMap(({ event, raw, offset }) => [offset, statusRank(event), raw, keptForView(event)]),
      );
    }
    await execOrThrow(pipeline);
  }
}

/**
 * An event as a view keeps it until read: without what the view has elsewhere (the message's id is the key's,
 * the tenant the view's) or never shows (latencies, labels, cursor, callback, carrier).
 */
function keptForView(event: sms.StatusEvent): Buffer {
  return Buffer.from(
    sms.StatusEvent.encode({
      ...event,
      messageId: '',
      tenantId: '',
      deliveryLatencyMs: 0,
      endToEndLatencyMs: 0,
      labels: {},
      cursor: '',
      callbackUrl: '',
      mccMnc: '',
    }).finish(),
  );
}

/** A view's kept events (see APPLY), in the order applied, each with its message's id again. */
function keptEvents(kept: Buffer, messageId: string): sms.StatusEvent[] {
  const events: sms.StatusEvent[] = [];
  for (let at = 0; at < kept.length;) {
    const length = kept.readUInt32BE(at);
    events.push({ ...sms.StatusEvent.decode(kept.subarray(at + 4, at + 4 + length)), messageId });
    at += 4 + length;
  }
  return events;
}
