import { sms, statusAdvances, statusRank } from '@tern/contracts';
import type { Redis } from 'ioredis';
import { applyStatusEvent } from './domain/message-view';
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
 * Apply one status event exactly once: skipped when this record (partition, offset) or a later one of the
 * same partition was applied already (redelivery after a crash or rebalance). The view is written with the
 * rank of the status it shows; the tenant's stream gets the event only when it moved the message on in the
 * status order (ARGV[8], the event's rank, above the stored one), so a late or repeated event is never
 * streamed. View and stream entry are written together: a reader never sees one without the other.
 */
const APPLY = `
local applied = redis.call('HMGET', KEYS[1], 'p', 'o', 'r')
if applied[1] == ARGV[1] and tonumber(applied[2]) >= tonumber(ARGV[2]) then return '' end
local advances = applied[3] == false or tonumber(ARGV[8]) > tonumber(applied[3])
redis.call('HSET', KEYS[1], 't', ARGV[3], 'v', ARGV[4], 'p', ARGV[1], 'o', ARGV[2])
if advances then redis.call('HSET', KEYS[1], 'r', ARGV[8]) end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if not advances then return '' end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], '*', 'e', ARGV[5])
`;

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
  private readonly applyEvent;

  constructor(
    private readonly redis: Redis,
    private readonly retentionMs: number,
    private readonly streamMaxLen: number,
  ) {
    this.createView = redisScript(redis, 'ternIngestCreateView', 1, CREATE);
    this.applyEvent = redisScript(redis, 'ternIngestApplyEvent', 2, APPLY);
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
    return (await this.getRanked(messageId))?.stored;
  }

  /** The view with the rank of the status it shows (undefined: no status applied yet). */
  private async getRanked(
    messageId: string,
  ): Promise<{ stored: StoredMessage; rank: number | undefined } | undefined> {
    const [tenant, bytes, rank] = await this.redis.hmgetBuffer(this.messageKey(messageId), 't', 'v', 'r');
    if (!tenant || !bytes) return undefined;
    return {
      stored: { tenantId: tenant.toString(), view: sms.Message.decode(bytes) },
      rank: rank ? Number(rank.toString()) : undefined,
    };
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
   * Applies one `sms.status` record; returns the stream cursor it got, or undefined when it did not move the
   * message on (already applied, or behind the status shown).
   */
  async apply(
    event: sms.StatusEvent,
    position: { partition: number; offset: string },
  ): Promise<string | undefined> {
    const found = await this.getRanked(event.messageId);
    const view = applyStatusEvent(found?.stored.view, event, statusAdvances(found?.rank, event));
    const tenantId = found?.stored.tenantId ?? event.tenantId;
    const cursor = (await this.applyEvent.run(
      this.messageKey(event.messageId),
      this.streamKey(tenantId),
      position.partition,
      position.offset,
      tenantId,
      Buffer.from(sms.Message.encode(view).finish()),
      Buffer.from(sms.StatusEvent.encode(event).finish()),
      this.retentionMs,
      this.streamMaxLen,
      statusRank(event),
    )) as string;
    return cursor === '' ? undefined : cursor;
  }
}
