import { encodeMessage, sms, statusRank } from '@tern/contracts';
import type { Redis } from 'ioredis';
import { foldStatusEvents } from './domain/message-view';
import { TransientError } from '@tern/kafka';
import { batchedRedisScript, execOrThrow, redisScript } from '@tern/redis';

/** Create the view unless it exists (a repeat of the same accept must not reset a message further along). */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 't', ARGV[1], 'v', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
`;

/*
 * A message's view is kept in one of two formats, both read by every version from this one on (`read`):
 * - events (`TERN_STATUS_VIEW_FORMAT=events`, the default): the view as accepted (`v`) and the status events
 *   applied since, appended to `e` (each event's bytes after their length, 4 bytes big-endian, with only what
 *   the view takes from it: `keptForView`), folded into `v` when the view is read, from the rank `b` (absent:
 *   `v` is the view as accepted). Applying a status neither reads the view nor writes it again.
 * - folded (`TERN_STATUS_VIEW_FORMAT=folded`, and every version before the events format): `v` is the view
 *   with every status applied, showing rank `r`. Applying reads the view and its kept events, folds, writes
 *   `v` and drops `e`, so it can run beside instances that append (an upgrade's overlap). A version before
 *   the events format cannot: it would fold `v` without `e` (see operations.md, Upgrading).
 * Both keep `r` (the rank shown, for the stream) and the last applied (partition, offset) in `p`, `o`.
 */

/**
 * The Lua both scripts apply events with: for each event of ARGV from `first` on (`step` arguments each:
 * offset, rank, bytes as published, ...) not applied yet, `onApplied` runs and the stream gets the event when
 * it moves the message on; `last` is the last offset applied, and the script returns 0 when there is none.
 * Expects `applied` (p, o of the key) and `rank` (the rank shown).
 */
const applyEach = (first: number, step: number, onApplied = '') => `local last = nil
for i = ${first}, #ARGV, ${step} do
  if not (applied[1] == ARGV[1] and tonumber(applied[2]) >= tonumber(ARGV[i])) then
    last = ARGV[i]
    ${onApplied}
    local eventRank = tonumber(ARGV[i + 1])
    if rank == nil or eventRank > rank then
      rank = eventRank
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'e', ARGV[i + 2])
    end
  end
end
if last == nil then return 0 end`;

/**
 * Apply a message's status events of one partition, in offset order, each exactly once (a call runs it for
 * several messages in turn: `batchedRedisScript`): an event is skipped when its (partition, offset) or a
 * later one of the same partition was applied already (redelivery after a crash or rebalance). The tenant's
 * stream gets an event only when it moved the message on in the status order (its rank above the one shown),
 * so a late or repeated event is never streamed; the view and the stream entries are written together: a
 * reader never sees one without the other.
 * APPEND (events format) appends the applied events to `e`; a view folded until now (`r` without `e`) keeps
 * the rank it shows in `b`, the rank the events fold from.
 * ARGV: partition, tenant, retention ms, stream max length, then per event: offset, rank, its bytes as
 * published (streamed), its bytes as kept.
 */
const APPEND = `
local applied = redis.call('HMGET', KEYS[1], 'p', 'o', 'r', 't', 'e')
local rank = tonumber(applied[3])
local fields = {}
if applied[5] == false and rank ~= nil then fields = {'b', applied[3]} end
if applied[4] == false then table.insert(fields, 't'); table.insert(fields, ARGV[2]) end
local kept = { applied[5] or '' }
${applyEach(5, 4, "table.insert(kept, struct.pack('>I4', #ARGV[i + 3]) .. ARGV[i + 3])")}
redis.call('HSET', KEYS[1], 'p', ARGV[1], 'o', last, 'r', rank, 'e', table.concat(kept), unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/**
 * FOLD (folded format): as APPEND, but writes the view the caller folded (from the view and kept events it
 * read, `e` of `keptLength` bytes, and the events given) and drops `e` and `b`. Returns -1, writing nothing,
 * when `e` changed since the caller read it (an instance appending meanwhile): the caller reads again.
 * ARGV: partition, tenant, retention ms, stream max length, view, keptLength, then per event: offset, rank,
 * its bytes as published.
 */
const FOLD = `
local applied = redis.call('HMGET', KEYS[1], 'p', 'o', 'r')
if redis.call('HSTRLEN', KEYS[1], 'e') ~= tonumber(ARGV[6]) then return -1 end
local rank = tonumber(applied[3])
${applyEach(7, 3)}
redis.call('HSET', KEYS[1], 't', ARGV[2], 'v', ARGV[5], 'p', ARGV[1], 'o', last, 'r', rank)
redis.call('HDEL', KEYS[1], 'e', 'b')
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

/** How this instance keeps the views it applies statuses to (both are read): see the formats above. */
export type ViewFormat = 'events' | 'folded';

/** A view as read: folded, with the rank it shows and how many bytes of kept events it was folded from. */
interface ReadView extends StoredMessage {
  rank: number | undefined;
  keptLength: number;
}

/**
 * Ingest's own read model: each message's view (GetMessage) and each tenant's ordered stream of status
 * events (StreamStatus), kept in Redis from `sms.status`. Views live `retentionMs`; a tenant's stream keeps
 * about `streamMaxLen` events.
 */
export class MessageStore {
  private readonly createView;
  private readonly appendEvents;
  private readonly foldEvents;

  constructor(
    private readonly redis: Redis,
    private readonly retentionMs: number,
    private readonly streamMaxLen: number,
    private readonly format: ViewFormat = 'events',
  ) {
    this.createView = batchedRedisScript(redis, 'ternIngestCreateView', CREATE);
    this.appendEvents = batchedRedisScript(redis, 'ternIngestAppendEvents', APPEND);
    this.foldEvents = redisScript(redis, 'ternIngestFoldEvents', 2, FOLD);
  }

  private messageKey(messageId: string): string {
    return `tern:ingest:msg:${messageId}`;
  }

  streamKey(tenantId: string): string {
    return `tern:ingest:events:${tenantId}`;
  }

  async create(items: readonly { tenantId: string; view: sms.Message }[]): Promise<void> {
    await this.createView.run(
      items.map(({ tenantId, view }) => ({
        keys: [this.messageKey(view.messageId)],
        args: [tenantId, encodeMessage(sms.Message, view), this.retentionMs],
      })),
    );
  }

  async get(messageId: string): Promise<StoredMessage | undefined> {
    return (await this.getMany([messageId]))[0];
  }

  async getMany(ids: readonly string[]): Promise<(StoredMessage | undefined)[]> {
    return (await this.read(ids)).map((found) => found && { tenantId: found.tenantId, view: found.view });
  }

  /** The views, in either format, in one round trip. */
  private async read(ids: readonly string[]): Promise<(ReadView | undefined)[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hmgetBuffer(this.messageKey(id), 't', 'v', 'b', 'e', 'r');
    const replies = (await execOrThrow(pipeline)) as (Buffer | null)[][];
    return replies.map(([tenant, view, baseRank, kept, rank], index) => {
      if (!tenant || (!view && !kept)) return undefined;
      // Without kept events, the view is folded and shows `r`; with them, it shows `b` (absent: as accepted).
      const from = kept ? baseRank : rank;
      const folded = foldStatusEvents(
        view ? sms.Message.decode(view) : undefined,
        from ? Number(from.toString()) : undefined,
        kept ? keptEvents(kept, ids[index]!) : [],
      );
      return {
        tenantId: tenant.toString(),
        view: folded.view!,
        rank: folded.rank,
        keptLength: kept?.length ?? 0,
      };
    });
  }

  /**
   * Applies `sms.status` records (of one partition or several, each message's in offset order): each
   * message's events of the call in one run of the script, and many messages' runs in one script call.
   */
  async apply(records: readonly StatusRecord[]): Promise<void> {
    const byMessage = new Map<string, StatusRecord[]>();
    for (const record of records) {
      const events = byMessage.get(record.event.messageId);
      if (events) events.push(record);
      else byMessage.set(record.event.messageId, [record]);
    }
    if (this.format === 'folded') return this.applyFolded(byMessage);
    await this.appendEvents.run(
      [...byMessage].map(([id, events]) => {
        const item = this.scriptItem(id, events[0]!.event.tenantId, events[0]!.partition);
        for (const { event, raw, offset } of events)
          item.args.push(offset, statusRank(event), raw, keptForView(event));
        return item;
      }),
    );
  }

  /** What both view scripts start with: their keys, then partition, tenant, retention, stream length. */
  private scriptItem(id: string, tenantId: string, partition: number) {
    return {
      keys: [this.messageKey(id), this.streamKey(tenantId)],
      args: [partition, tenantId, this.retentionMs, this.streamMaxLen] as (string | number | Buffer)[],
    };
  }

  /** The folded format: each message's view read once, its events folded into it, and written once. */
  private async applyFolded(byMessage: Map<string, StatusRecord[]>): Promise<void> {
    const ids = [...byMessage.keys()];
    const found = await this.read(ids);
    const pipeline = this.redis.pipeline();
    ids.forEach((id, i) => {
      const events = byMessage.get(id)!;
      const { view } = foldStatusEvents(
        found[i]?.view,
        found[i]?.rank,
        events.map((r) => r.event),
      );
      const { keys, args } = this.scriptItem(
        id,
        found[i]?.tenantId ?? events[0]!.event.tenantId,
        events[0]!.partition,
      );
      this.foldEvents.queue(
        pipeline,
        ...keys,
        ...args,
        encodeMessage(sms.Message, view!),
        found[i]?.keptLength ?? 0,
        ...events.flatMap(({ event, raw, offset }) => [offset, statusRank(event), raw]),
      );
    });
    const replies = await execOrThrow(pipeline);
    if (replies.includes(-1)) {
      // The call is applied again, and what was written of it is skipped then as already applied.
      throw new TransientError('a status view took events while it was folded; applying again');
    }
  }
}

/**
 * An event as a view keeps it until read: without what the view has elsewhere (the message's id is the key's,
 * the tenant the view's) or never shows (latencies, labels, cursor, callback, carrier).
 */
function keptForView(event: sms.StatusEvent): Buffer {
  return encodeMessage(sms.StatusEvent, {
    ...event,
    messageId: '',
    tenantId: '',
    deliveryLatencyMs: 0,
    endToEndLatencyMs: 0,
    labels: {},
    cursor: '',
    callbackUrl: '',
    mccMnc: '',
  });
}

/** A view's kept events (see APPEND), in the order applied, each with its message's id again. */
function keptEvents(kept: Buffer, messageId: string): sms.StatusEvent[] {
  const events: sms.StatusEvent[] = [];
  for (let at = 0; at < kept.length;) {
    const length = kept.readUInt32BE(at);
    events.push({ ...sms.StatusEvent.decode(kept.subarray(at + 4, at + 4 + length)), messageId });
    at += 4 + length;
  }
  return events;
}
