import type { TenantDirectory } from '@tern/config';
import { sms } from '@tern/contracts';
import { execOrThrow } from '@tern/redis';
import { metricsRegistry, type Logger } from '@tern/telemetry';
import type { Redis } from 'ioredis';
import { Counter, Histogram } from 'prom-client';
import type { CallbackSender } from './callback-sender';
import {
  CALLBACK_HEADERS,
  callbackBody,
  callbackEventId,
  nextCallbackTry,
  signCallback,
} from './domain/status-callback';
import { LeasedSchedule } from './leased-schedule';

const callbacks = new Counter({
  name: 'tern_dlr_callbacks_total',
  help: 'Status callback tries by outcome: delivered, failed (tried again later), abandoned (gave up), duplicate (already delivered), no_secret (tenant has no callback secret)',
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
}

const DUE = 'tern:dlr:callbacks:due';
/** How long a delivered event is remembered, so a redelivered status event is not posted again. */
const DELIVERED_KEEP_SECONDS = 3 * 24 * 3600;
/** A leased try that its instance did not finish (it died) comes due again after this. */
const LEASE_MS = 60_000;

/**
 * Signed HTTP status callbacks. The first try happens when the status event is consumed; a failed one is
 * scheduled again in Redis (shared by every instance) with exponential back-off until it succeeds or its
 * time is up, so a receiver that is down never holds up the status topic. Each tenant has its own cap of
 * tries in flight: a slow receiver delays its own callbacks, not other tenants'.
 */
export class StatusCallbacks {
  private readonly due;
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    private readonly sender: CallbackSender,
    private readonly tenants: TenantDirectory,
    private readonly policy: CallbackPolicy,
    private readonly log: Logger,
  ) {
    this.due = new LeasedSchedule(redis, DUE);
  }

  /** A status event from `sms.status`: its first try, or a place in the schedule. */
  async handle(event: sms.StatusEvent): Promise<void> {
    if (!event.callbackUrl) return;
    if (!this.tenants.callbackSecret(event.tenantId)) {
      callbacks.inc({ outcome: 'no_secret' });
      return;
    }
    const id = callbackEventId(event);
    if (await this.delivered(id)) {
      callbacks.inc({ outcome: 'duplicate' });
      return;
    }
    const now = Date.now();
    if (!this.hasRoom(event.tenantId)) {
      // The tenant's receiver is busy with earlier tries: this one waits in the schedule, not in the partition.
      await this.store(id, event, 0, now, now);
      return;
    }
    await this.attempt(id, event, 0, now);
  }

  /** Tries the callbacks whose time has come (every instance runs this; leases keep them apart). */
  async drainDue(limit = 200): Promise<number> {
    const now = Date.now();
    const ids = await this.due.lease(now, limit, LEASE_MS);
    await Promise.all(
      ids.map(async (id) => {
        const stored = await this.redis.hgetall(pendingKey(id));
        if (!stored['event']) return this.due.remove(id); // abandoned or delivered meanwhile
        const event = sms.StatusEvent.decode(Buffer.from(stored['event'], 'base64'));
        const tries = Number(stored['tries'] ?? 0);
        const firstTriedAt = Number(stored['firstTriedAt'] ?? now);
        if (!this.hasRoom(event.tenantId)) return this.due.schedule(id, now + 1000);
        return this.attempt(id, event, tries, firstTriedAt);
      }),
    );
    return ids.length;
  }

  private async attempt(id: string, event: sms.StatusEvent, earlierTries: number, firstTriedAt: number) {
    const secret = this.tenants.callbackSecret(event.tenantId);
    if (!secret) return this.forget(id);
    const body = callbackBody(event);
    const headers = {
      [CALLBACK_HEADERS.signature]: signCallback(secret, Math.floor(Date.now() / 1000), body),
      [CALLBACK_HEADERS.eventId]: id,
    };
    this.inFlight.set(event.tenantId, (this.inFlight.get(event.tenantId) ?? 0) + 1);
    const endTimer = callbackSeconds.startTimer();
    let outcome;
    try {
      outcome = await this.sender.post(event.callbackUrl, body, headers);
    } finally {
      endTimer();
      this.inFlight.set(event.tenantId, (this.inFlight.get(event.tenantId) ?? 1) - 1);
    }
    const where = { messageId: event.messageId, tenantId: event.tenantId, eventId: id };
    if (outcome.ok) {
      callbacks.inc({ outcome: 'delivered' });
      await execOrThrow(
        this.redis
          .multi()
          .set(deliveredKey(id), '1', 'EX', DELIVERED_KEEP_SECONDS)
          .del(pendingKey(id))
          .zrem(DUE, id),
      );
      return;
    }
    const tries = earlierTries + 1;
    const now = Date.now();
    const next = nextCallbackTry(tries, firstTriedAt, now, this.policy);
    if (next === undefined) {
      callbacks.inc({ outcome: 'abandoned' });
      this.log.warn({ ...where, tries, error: outcome.error }, 'status callback abandoned');
      return this.forget(id);
    }
    callbacks.inc({ outcome: 'failed' });
    this.log.info(
      { ...where, tries, error: outcome.error, nextTryInMs: next - now },
      'status callback failed',
    );
    await this.store(id, event, tries, firstTriedAt, next);
  }

  private async store(id: string, event: sms.StatusEvent, tries: number, firstTriedAt: number, at: number) {
    const keepSeconds = Math.ceil((firstTriedAt + this.policy.giveUpMs - Date.now() + LEASE_MS) / 1000) + 60;
    await execOrThrow(
      this.redis
        .multi()
        .hset(pendingKey(id), {
          event: Buffer.from(sms.StatusEvent.encode(event).finish()).toString('base64'),
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

  private async delivered(id: string) {
    return (await this.redis.exists(deliveredKey(id))) === 1;
  }

  private hasRoom(tenantId: string) {
    return (this.inFlight.get(tenantId) ?? 0) < this.policy.tenantConcurrency;
  }
}

const pendingKey = (id: string) => `tern:dlr:callback:${id}`;
const deliveredKey = (id: string) => `tern:dlr:callback-delivered:${id}`;
