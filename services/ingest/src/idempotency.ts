import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { execOrThrow, redisScript } from '@tern/redis';

/** What (tenant, client reference) already stands for. */
export type Reservation =
  | { kind: 'new' }
  /**
   * Accepted before: answer with its id. `sameRequest` false: the reference was reused for other content;
   * `fingerprint` is the first request's.
   */
  | { kind: 'accepted'; messageId: string; sameRequest: boolean; fingerprint: string }
  /** Another call is accepting it right now. */
  | { kind: 'in-progress' }
  /** A call reserved it and vanished (crash) before publishing: this call finishes it, under the same id. */
  | { kind: 'taken-over'; messageId: string };

interface Entry {
  id: string;
  fp: string;
  state: 'pending' | 'accepted';
  at: number;
}

/** Replace the entry only if it is still the one read: taking over a dead call's reservation. */
const SWAP = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
`;

/** Release a pending reservation only if it is still this call's. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Idempotency of sends per (tenant, client reference), shared by every instance through Redis and kept
 * `ttlSeconds` (at least 24 hours). A key is reserved before publishing and marked accepted after, so a
 * repeat during the first call is told to retry, and a call that died in between is finished by the next.
 */
export class IdempotencyStore {
  private readonly swap;
  private readonly releaseOwn;

  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
    /** A reservation older than this without being accepted belongs to a call that died. */
    private readonly staleAfterMs = 30_000,
    /** Where the keys live: sends by default; another use of the same mechanism names its own. */
    private readonly keyPrefix = 'tern:ingest:idem',
  ) {
    this.swap = redisScript(redis, 'ternIngestSwapReservation', 1, SWAP);
    this.releaseOwn = redisScript(redis, 'ternIngestReleaseReservation', 1, RELEASE);
  }

  private key(tenantId: string, reference: string): string {
    // Hashed: references are caller data of any shape; the key stays short and safe.
    return `${this.keyPrefix}:${tenantId}:${createHash('sha256').update(reference).digest('base64url')}`;
  }

  /** Reserves each (key, message id, fingerprint) in one round trip; results in the same order. */
  async reserve(
    tenantId: string,
    items: readonly { reference: string; messageId: string; fingerprint: string }[],
  ): Promise<{ reservation: Reservation; token: string }[]> {
    const now = Date.now();
    const pipeline = this.redis.pipeline();
    const tokens = items.map((item) => {
      const entry: Entry = { id: item.messageId, fp: item.fingerprint, state: 'pending', at: now };
      const token = JSON.stringify(entry);
      pipeline.set(this.key(tenantId, item.reference), token, 'EX', this.ttlSeconds, 'NX', 'GET');
      return token;
    });
    const replies = (await execOrThrow(pipeline)) as (string | null)[];
    const results: { reservation: Reservation; token: string }[] = [];
    for (const [i, held] of replies.entries()) {
      const item = items[i]!;
      if (held === null) {
        results.push({ reservation: { kind: 'new' }, token: tokens[i]! });
        continue;
      }
      const entry = JSON.parse(held) as Entry;
      if (entry.state === 'accepted') {
        const sameRequest = entry.fp === item.fingerprint;
        results.push({
          reservation: { kind: 'accepted', messageId: entry.id, sameRequest, fingerprint: entry.fp },
          token: '',
        });
      } else if (entry.at >= now - this.staleAfterMs) {
        results.push({ reservation: { kind: 'in-progress' }, token: '' });
      } else {
        const token = JSON.stringify({ ...entry, fp: item.fingerprint, at: now });
        const swapped = await this.swap.run(this.key(tenantId, item.reference), held, token, this.ttlSeconds);
        results.push(
          swapped === 1
            ? { reservation: { kind: 'taken-over', messageId: entry.id }, token }
            : { reservation: { kind: 'in-progress' }, token: '' },
        );
      }
    }
    return results;
  }

  /** The ids of the messages accepted under each reference, in one round trip; results in the same order. */
  async acceptedIds(tenantId: string, references: readonly string[]): Promise<(string | undefined)[]> {
    if (references.length === 0) return [];
    const held = await this.redis.mget(references.map((reference) => this.key(tenantId, reference)));
    return held.map((entry) => {
      if (entry === null) return undefined;
      const { state, id } = JSON.parse(entry) as Entry;
      return state === 'accepted' ? id : undefined;
    });
  }

  /** Marks reservations accepted (their message is in Kafka), keeping their expiry. */
  async accepted(tenantId: string, items: readonly { reference: string; token: string }[]): Promise<void> {
    if (items.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const item of items) {
      const entry = { ...(JSON.parse(item.token) as Entry), state: 'accepted' };
      pipeline.set(this.key(tenantId, item.reference), JSON.stringify(entry), 'KEEPTTL', 'XX');
    }
    await execOrThrow(pipeline);
  }

  /** Gives reservations back after a failed publish, so an immediate retry is not told "in progress". */
  async release(tenantId: string, items: readonly { reference: string; token: string }[]): Promise<void> {
    if (items.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const item of items) this.releaseOwn.queue(pipeline, this.key(tenantId, item.reference), item.token);
    await execOrThrow(pipeline);
  }
}
