import { createHash } from 'node:crypto';
import { execOrThrow, redisScript } from '@tern/redis';
import type { Redis } from 'ioredis';
import type { SmppOrigin } from './domain/smpp-submit';

/**
 * Adds one part of a concatenated message and answers the message id its parts share (the first part's
 * pick), then the parts' texts in order once every one is in. The parts stay until `forget` (after the
 * message was accepted): a last part refused for now (throttled) can be sent again and complete it.
 */
const ADD_PART = `
redis.call('HSETNX', KEYS[1], 'id', ARGV[1])
redis.call('HSET', KEYS[1], 'p' .. ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local id = redis.call('HGET', KEYS[1], 'id')
local total = tonumber(ARGV[4])
if redis.call('HLEN', KEYS[1]) - 1 < total then return {id} end
local fields = {}
for i = 1, total do fields[i] = 'p' .. i end
local texts = redis.call('HMGET', KEYS[1], unpack(fields))
table.insert(texts, 1, id)
return texts
`;

/**
 * Takes one of an account's binds, deployment-wide: a sorted set of bind ids scored by when they expire
 * (renewed by their instance while open), so binds of an instance that died free themselves.
 */
const TAKE_BIND = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

export interface PartKey {
  tenantId: string;
  source: string;
  destination: string;
  reference: number;
  total: number;
}

/**
 * What the SMPP server keeps in Redis, shared by every ingest instance: the binds each account holds, the
 * parts of concatenated messages until all arrived (whichever bind or instance they came through), and each
 * SMPP message's origin until its receipt went out.
 */
export class SmppStore {
  private readonly addPartScript;
  private readonly takeBindScript;

  constructor(
    private readonly redis: Redis,
    private readonly originTtlMs: number,
    private readonly partsTtlMs: number,
  ) {
    this.addPartScript = redisScript(redis, 'ternIngestSmppAddPart', 1, ADD_PART);
    this.takeBindScript = redisScript(redis, 'ternIngestSmppTakeBind', 1, TAKE_BIND);
  }

  private bindsKey(systemId: string): string {
    return `tern:ingest:smpp:binds:${systemId}`;
  }

  /** Whether the account had a bind left (of `max`, over every instance); if so, `bindId` holds it for `ttlMs`. */
  async takeBind(systemId: string, bindId: string, max: number, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const taken = await this.takeBindScript.run(
      this.bindsKey(systemId),
      now,
      max,
      now + ttlMs,
      bindId,
      ttlMs,
    );
    return taken === 1;
  }

  /** Keeps open binds held for another `ttlMs`. */
  async renewBinds(held: readonly { systemId: string; bindId: string }[], ttlMs: number): Promise<void> {
    if (held.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const { systemId, bindId } of held) {
      pipeline.zadd(this.bindsKey(systemId), 'XX', Date.now() + ttlMs, bindId);
      pipeline.pexpire(this.bindsKey(systemId), ttlMs);
    }
    await execOrThrow(pipeline);
  }

  async releaseBind(systemId: string, bindId: string): Promise<void> {
    await this.redis.zrem(this.bindsKey(systemId), bindId);
  }

  private partsKey(k: PartKey): string {
    const id = createHash('sha256')
      .update(`${k.source}\u0000${k.destination}\u0000${k.reference}\u0000${k.total}`)
      .digest('hex');
    return `tern:ingest:smpp:parts:${k.tenantId}:${id}`;
  }

  private originKey(messageId: string): string {
    return `tern:ingest:smpp:origin:${messageId}`;
  }

  /** The shared message id, and the texts of all parts in order once the last one is in. */
  async addPart(
    key: PartKey,
    sequence: number,
    text: string,
    candidateId: string,
  ): Promise<{ messageId: string; texts?: string[] }> {
    const reply = (await this.addPartScript.run(
      this.partsKey(key),
      candidateId,
      sequence,
      text,
      key.total,
      this.partsTtlMs,
    )) as string[];
    const [messageId, ...texts] = reply as [string, ...string[]];
    return texts.length === key.total ? { messageId, texts } : { messageId };
  }

  async forgetParts(key: PartKey): Promise<void> {
    await this.redis.del(this.partsKey(key));
  }

  async saveOrigin(messageId: string, origin: SmppOrigin): Promise<void> {
    await this.redis.set(this.originKey(messageId), JSON.stringify(origin), 'PX', this.originTtlMs);
  }

  async origins(messageIds: readonly string[]): Promise<(SmppOrigin | undefined)[]> {
    if (messageIds.length === 0) return [];
    const values = await this.redis.mget(messageIds.map((id) => this.originKey(id)));
    return values.map((v) => (v ? (JSON.parse(v) as SmppOrigin) : undefined));
  }

  async forgetOrigin(messageId: string): Promise<void> {
    await this.redis.del(this.originKey(messageId));
  }
}
