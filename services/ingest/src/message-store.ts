import { sms } from '@tern/contracts';
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
 * same partition was applied already (redelivery after a crash or rebalance). The new view and the
 * tenant's stream entry are written together, so a reader never sees one without the other.
 */
const APPLY = `
local applied = redis.call('HMGET', KEYS[1], 'p', 'o')
if applied[1] == ARGV[1] and tonumber(applied[2]) >= tonumber(ARGV[2]) then return '' end
redis.call('HSET', KEYS[1], 't', ARGV[3], 'v', ARGV[4], 'p', ARGV[1], 'o', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
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
    const [tenant, bytes] = await this.redis.hmgetBuffer(this.messageKey(messageId), 't', 'v');
    if (!tenant || !bytes) return undefined;
    return { tenantId: tenant.toString(), view: sms.Message.decode(bytes) };
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

  /** Applies one `sms.status` record; returns the stream cursor it got, or undefined if already applied. */
  async apply(
    event: sms.StatusEvent,
    position: { partition: number; offset: string },
  ): Promise<string | undefined> {
    const stored = await this.get(event.messageId);
    const view = applyStatusEvent(stored?.view, event);
    const tenantId = stored?.tenantId ?? event.tenantId;
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
    )) as string;
    return cursor === '' ? undefined : cursor;
  }
}
