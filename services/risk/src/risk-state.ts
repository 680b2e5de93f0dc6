import { createHash } from 'node:crypto';
import { execOrThrow, redisScript } from '@tern/redis';
import type { RangeConversions } from './domain/pumping';
import type { Redis } from 'ioredis';

/**
 * A sliding window log: the member (a message id) is counted if fewer than `limit` are in the window.
 * Exact under concurrency (one script), and a redelivered message re-adds its own id instead of counting twice.
 */
const WINDOW = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/**
 * Pacing by GCRA (generic cell rate algorithm) over several keys: the message's slot is the latest of the
 * keys' next free times (less one second of burst), and each key's next free time moves past it. The slot is
 * returned; nothing is taken when it lies beyond the longest deferral allowed.
 */
const PACE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local maxDelay = tonumber(ARGV[1])
local slot = now
local tats = {}
for i = 1, #KEYS do
  local tat = math.max(tonumber(redis.call('GET', KEYS[i])) or now, now)
  tats[i] = tat
  slot = math.max(slot, tat - 1000)
end
if slot - now > maxDelay then return {now, slot, 0} end
for i = 1, #KEYS do
  local interval = 1000 / tonumber(ARGV[i + 1])
  local next = math.max(tats[i], slot) + interval
  redis.call('SET', KEYS[i], tostring(next), 'PX', math.ceil(next - now) + 1000)
end
return {now, slot, 1}
`;

export interface Pace {
  key: string;
  perSecond: number;
}

/** The risk service's shared state in Redis: windows, paces, opt-outs. Numbers appear only as hashes. */
export class RiskState {
  private readonly windowScript;
  private readonly paceScript;

  constructor(private readonly redis: Redis) {
    this.windowScript = redisScript(redis, 'ternRiskWindow', 1, WINDOW);
    this.paceScript = redisScript(redis, 'ternRiskPace', 'dynamic', PACE);
  }

  /** Counts the message in the window unless it is full; false: full. */
  async admit(
    key: string,
    messageId: string,
    limit: number,
    windowSeconds: number,
    now = Date.now(),
  ): Promise<boolean> {
    return (
      (await this.windowScript.run(`tern:risk:w:${key}`, now, windowSeconds * 1000, limit, messageId)) === 1
    );
  }

  /** The earliest time the message may go under every pace, or undefined when that is beyond `maxDelayMs`. */
  async pace(paces: readonly Pace[], maxDelayMs: number): Promise<{ at: number; now: number } | undefined> {
    if (paces.length === 0) return { at: Date.now(), now: Date.now() };
    const [now, slot, taken] = (await this.paceScript.run(
      paces.length,
      ...paces.map((p) => `tern:risk:p:${p.key}`),
      maxDelayMs,
      ...paces.map((p) => p.perSecond),
    )) as [number, number, number];
    return taken === 1 ? { at: slot, now } : undefined;
  }

  /**
   * A tenant's OTPs to a number range and their conversions, from sorted sets of message ids by time (a
   * redelivered record adds its own id again, counting nothing twice), trimmed to the window.
   */
  async rangeConversions(
    tenantId: string,
    prefix: string,
    window: { windowMs: number; judgeAfterMs: number },
    now = Date.now(),
  ): Promise<RangeConversions> {
    const since = now - window.windowMs;
    const sent = `tern:risk:pump:s:${tenantId}:${prefix}`;
    const converted = `tern:risk:pump:c:${tenantId}:${prefix}`;
    const replies = await execOrThrow(
      this.redis
        .pipeline()
        .zremrangebyscore(sent, '-inf', since)
        .zremrangebyscore(converted, '-inf', since)
        .zcount(sent, since, now - window.judgeAfterMs)
        .zcard(converted)
        .exists(`tern:risk:pump:reports:${tenantId}`),
    );
    const [, , judged, conversions, reports] = replies as number[];
    return { judged: judged ?? 0, converted: conversions ?? 0, tenantReports: reports === 1 };
  }

  /** An OTP sent to a range: counted for the range's conversion rate. */
  async otpSent(tenantId: string, prefix: string, messageId: string, windowMs: number, now = Date.now()) {
    const key = `tern:risk:pump:s:${tenantId}:${prefix}`;
    await execOrThrow(this.redis.pipeline().zadd(key, now, messageId).pexpire(key, windowMs));
  }

  /** A conversion a tenant reported for an OTP to a range; the tenant counts as one that reports them. */
  async converted(tenantId: string, prefix: string, messageId: string, windowMs: number, now = Date.now()) {
    const key = `tern:risk:pump:c:${tenantId}:${prefix}`;
    await execOrThrow(
      this.redis
        .pipeline()
        .zadd(key, now, messageId)
        .pexpire(key, windowMs)
        .set(`tern:risk:pump:reports:${tenantId}`, '1', 'PX', windowMs),
    );
  }

  async optOut(scope: string, number: string): Promise<void> {
    await this.redis.sadd(`tern:risk:optout:${scope}`, numberHash(number));
  }

  async optedOut(scopes: readonly string[], number: string): Promise<boolean> {
    const hash = numberHash(number);
    const replies = await Promise.all(scopes.map((s) => this.redis.sismember(`tern:risk:optout:${s}`, hash)));
    return replies.some((r) => r === 1);
  }
}

/** A number as a key part: hashed, so Redis holds no recipient in clear. */
export function numberHash(number: string): string {
  return createHash('sha256').update(number).digest('base64url').slice(0, 22);
}
