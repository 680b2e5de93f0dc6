import type { TenantDirectory } from '@tern/config';
import { encodeMessage, sms, statusRank } from '@tern/contracts';
import { execOrThrow, LeasedSchedule, redisScript } from '@tern/redis';
import { metricsRegistry, type Logger } from '@tern/telemetry';
import type { Redis } from 'ioredis';
import { Counter, Histogram } from 'prom-client';
import type { CallbackSender } from './callback-sender';
import type { CallbackTry } from './clickhouse-writer';
import {
  CALLBACK_HEADERS,
  callbackBody,
  callbackEventId,
  nextCallbackTry,
  signCallback,
} from './domain/status-callback';

const callbacks = new Counter({
  name: 'tern_dlr_callbacks_total',
  help: 'Status callback tries by outcome: delivered, failed (tried again later), abandoned (gave up), duplicate (delivered or scheduled already), behind (the message had moved on past this status), no_secret (tenant has no callback secret)',
  labelNames: ['outcome'],
  registers: [metricsRegistry],
});
const callbackSeconds = new Histogram({
  name: 'tern_dlr_callback_seconds',
  help: 'Duration of one status callback POST',
  buckets: [0.01, 0.05, 0.2, 1, 5, 30],
  registers: [metricsRegistry],
});

export interface CallbackPolicy {
  baseMs: number;
  maxMs: number;
  giveUpMs: number;
  /** Tries of one tenant in flight at once in this instance. */
  tenantConcurrency: number;
  /** One try's timeout. */
  timeoutMs: number;
}

const DUE = 'tern:dlr:callbacks:due';
/** How long a delivered event is remembered, so a redelivered status event is not posted again. */
const DELIVERED_KEEP_SECONDS = 3 * 24 * 3600;

/**
 * The furthest status rank called back per message: 1 when ARGV[1] moves the message on (and is kept),
 * 0 when it equals the kept rank (a repeat: the event id decides), -1 when it is behind.
 */
const ADVANCE = `
local kept = tonumber(redis.call('GET', KEYS[1]))
local rank = tonumber(ARGV[1])
if kept and kept > rank then return -1 end
if kept == rank then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
`;

/**
 * Signed HTTP status callbacks. Each event is put in a schedule in Redis (shared by every instance) and
 * tried in the background, never inside the Kafka handler, so a receiver that hangs holds up neither the
 * status topic's partitions nor the schedule's other entries. A failed try is scheduled again with
 * exponential back-off until it succeeds or its time is up. Each tenant has its own cap of tries in flight:
 * a slow receiver delays its own callbacks, not other tenants'.
 */
export class StatusCallbacks {
  private readonly due;
  private readonly advance;
  private readonly inFlight = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  /** A try leased by an instance that died comes due again after this (well past any try's timeout). */
  private readonly leaseMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly sender: CallbackSender,
    private readonly tenants: TenantDirectory,
    private readonly policy: CallbackPolicy,
    private readonly log: Logger,
    /** Where each try's result goes, for the message's trace. */
    private readonly trace: (event: sms.StatusEvent, done: CallbackTry) => void,
  ) {
    this.due = new LeasedSchedule(redis, DUE);
    this.advance = redisScript(redis, 'ternDlrCallbackAdvance', 1, ADVANCE);
    this.leaseMs = Math.max(60_000, 2 * policy.timeoutMs);
  }

  /**
   * A status event from `sms.status`: its first try, or a place in the schedule. A receiver is never told a
   * status the message has already moved past (the status order): a late event is not posted.
   */
  async handle(event: sms.StatusEvent): Promise<void> {
    if (!event.callbackUrl) return;
    if (this.tenants.callbackSecrets(event.tenantId).length === 0) {
      callbacks.inc({ outcome: 'no_secret' });
      return;
    }
    const advanced = await this.advance.run(
      rankKey(event.messageId),
      statusRank(event),
      DELIVERED_KEEP_SECONDS,
    );
    if (advanced === -1) {
      callbacks.inc({ outcome: 'behind' });
      return;
    }
    const id = callbackEventId(event);
    if (await this.known(id)) {
      // Delivered already, or scheduled: a redelivered status event is not posted again.
      callbacks.inc({ outcome: 'duplicate' });
      return;
    }
    const now = Date.now();
    if (!this.reserve(event.tenantId)) {
      // The tenant's receiver is busy with earlier tries: this one waits its turn in the schedule.
      await this.store(id, event, 0, now, now);
      return;
    }
    try {
      // Stored leased to this instance before the try starts: if the instance dies, the event is not lost.
      await this.store(id, event, 0, now, now + this.leaseMs);
    } catch (error) {
      this.release(event.tenantId);
      throw error;
    }
    this.inBackground(this.attempt(id, event, 0, now));
  }

  /** Starts the callbacks whose time has come (every instance runs this; leases keep them apart). */
  async drainDue(limit = 200): Promise<number> {
    const now = Date.now();
    const ids = await this.due.lease(now, limit, this.leaseMs);
    for (const id of ids) {
      const stored = await this.redis.hgetall(pendingKey(id));
      if (!stored['event']) {
        await this.due.remove(id); // abandoned or delivered meanwhile
        continue;
      }
      const event = sms.StatusEvent.decode(Buffer.from(stored['event'], 'base64'));
      if (!this.reserve(event.tenantId)) {
        await this.due.schedule(id, now + 1000);
        continue;
      }
      const tries = Number(stored['tries'] ?? 0);
      this.inBackground(this.attempt(id, event, tries, Number(stored['firstTriedAt'] ?? now)));
    }
    return ids.length;
  }

  /** Waits for the tries in flight (at shutdown; each ends within its timeout). */
  async stop(): Promise<void> {
    await Promise.all(this.running);
  }

  private inBackground(work: Promise<void>): void {
    const tracked = work
      .catch((err: unknown) =>
        this.log.warn({ err }, 'status callback try failed to settle; its lease will expire'),
      )
      .finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }

  /** One try, in a slot reserved for its tenant; the slot is freed when the POST ends. */
  private async attempt(id: string, event: sms.StatusEvent, earlierTries: number, firstTriedAt: number) {
    const secrets = this.tenants.callbackSecrets(event.tenantId);
    if (secrets.length === 0) {
      this.release(event.tenantId);
      return this.forget(id);
    }
    const body = callbackBody(event);
    const headers = {
      [CALLBACK_HEADERS.signature]: signCallback(secrets, Math.floor(Date.now() / 1000), body),
      [CALLBACK_HEADERS.eventId]: id,
    };
    const endTimer = callbackSeconds.startTimer();
    let outcome;
    try {
      outcome = await this.sender.post(event.callbackUrl, body, headers);
    } finally {
      endTimer();
      this.release(event.tenantId);
    }
    const where = { messageId: event.messageId, tenantId: event.tenantId, eventId: id };
    const tries = earlierTries + 1;
    const httpStatus = outcome.status;
    if (outcome.ok) {
      callbacks.inc({ outcome: 'delivered' });
      this.trace(event, { result: 'delivered', tries, httpStatus });
      await execOrThrow(
        this.redis
          .multi()
          .set(deliveredKey(id), '1', 'EX', DELIVERED_KEEP_SECONDS)
          .del(pendingKey(id))
          .zrem(DUE, id),
      );
      return;
    }
    const now = Date.now();
    const next = nextCallbackTry(tries, firstTriedAt, now, this.policy);
    if (next === undefined) {
      callbacks.inc({ outcome: 'abandoned' });
      this.trace(event, { result: 'abandoned', tries, httpStatus, error: outcome.error });
      this.log.warn({ ...where, tries, error: outcome.error }, 'status callback abandoned');
      return this.forget(id);
    }
    callbacks.inc({ outcome: 'failed' });
    this.trace(event, { result: 'failed', tries, httpStatus, error: outcome.error });
    this.log.info(
      { ...where, tries, error: outcome.error, nextTryInMs: next - now },
      'status callback failed',
    );
    await this.store(id, event, tries, firstTriedAt, next);
  }

  private async store(id: string, event: sms.StatusEvent, tries: number, firstTriedAt: number, at: number) {
    const keepSeconds =
      Math.ceil((firstTriedAt + this.policy.giveUpMs - Date.now() + this.leaseMs) / 1000) + 60;
    await execOrThrow(
      this.redis
        .multi()
        .hset(pendingKey(id), {
          event: encodeMessage(sms.StatusEvent, event).toString('base64'),
          tries,
          firstTriedAt,
        })
        .expire(pendingKey(id), Math.max(60, keepSeconds))
        .zadd(DUE, at, id),
    );
  }

  private async forget(id: string) {
    await execOrThrow(this.redis.multi().del(pendingKey(id)).zrem(DUE, id));
  }

  private async known(id: string) {
    return (await this.redis.exists(deliveredKey(id), pendingKey(id))) > 0;
  }

  /** Takes one of the tenant's try slots, if one is free; synchronous, so concurrent callers cannot both take the last. */
  private reserve(tenantId: string): boolean {
    const used = this.inFlight.get(tenantId) ?? 0;
    if (used >= this.policy.tenantConcurrency) return false;
    this.inFlight.set(tenantId, used + 1);
    return true;
  }

  private release(tenantId: string): void {
    const used = (this.inFlight.get(tenantId) ?? 1) - 1;
    if (used > 0) this.inFlight.set(tenantId, used);
    else this.inFlight.delete(tenantId);
  }
}

const pendingKey = (id: string) => `tern:dlr:callback:${id}`;
const deliveredKey = (id: string) => `tern:dlr:callback-delivered:${id}`;
const rankKey = (messageId: string) => `tern:dlr:callback-rank:${messageId}`;
