import { execOrThrow, redisScript } from '@tern/redis';
import { numberHash, type PaceClaim, type WindowClaim } from './domain/claims';
import type { RangeConversions } from './domain/pumping';
import type { Redis } from 'ioredis';

/** What a claim found: the CLAIM script's first reply. */
const Claim = { Claimed: 0, WindowFull: 1, Checked: 2, TooLate: 3 } as const;

/**
 * Claims what one message spends of the shared state, all of it or nothing:
 * - its sliding windows (logs of message ids): each must have room, else the first full one is named;
 *   a redelivered message finds its own id and counts nothing twice;
 * - its paces, by GCRA (generic cell rate algorithm): the message's slot is the latest of the keys' next
 *   free times (less one second of burst), and each key's next free time moves past it; a slot beyond the
 *   longest deferral allowed is refused;
 * - the pumping screen's log of the OTPs sent to its range, when there is one.
 * With `commit` 0 it only looks for a full window (the message is refused anyway; a full window's refusal
 * comes first).
 *
 * KEYS: the windows, the paces, then the sent log if any.
 * ARGV: now, member, #windows, #paces, commit, maxDelay, then limit and span of each window, the rate of
 * each pace, and the sent log's span.
 */
const CLAIM = `
local now = tonumber(ARGV[1])
local member = ARGV[2]
local windows = tonumber(ARGV[3])
local paces = tonumber(ARGV[4])
for i = 1, windows do
  local span = tonumber(ARGV[6 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - span)
  if not redis.call('ZSCORE', KEYS[i], member) and redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[5 + 2 * i]) then
    return {${Claim.WindowFull}, i}
  end
end
if ARGV[5] ~= '1' then return {${Claim.Checked}} end
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local slot = clock
local tats = {}
for j = 1, paces do
  local tat = math.max(tonumber(redis.call('GET', KEYS[windows + j])) or clock, clock)
  tats[j] = tat
  slot = math.max(slot, tat - 1000)
end
if slot - clock > tonumber(ARGV[6]) then return {${Claim.TooLate}} end
for j = 1, paces do
  local interval = 1000 / tonumber(ARGV[6 + 2 * windows + j])
  local next = math.max(tats[j], slot) + interval
  redis.call('SET', KEYS[windows + j], tostring(next), 'PX', math.ceil(next - clock) + 1000)
end
for i = 1, windows do
  redis.call('ZADD', KEYS[i], now, member)
  redis.call('PEXPIRE', KEYS[i], ARGV[6 + 2 * i])
end
local sent = KEYS[windows + paces + 1]
if sent then
  redis.call('ZADD', sent, now, member)
  redis.call('PEXPIRE', sent, ARGV[7 + 2 * windows + paces])
end
return {${Claim.Claimed}, clock, slot}
`;

/** What one message asks of the shared state (see CLAIM). */
export interface ClaimRequest {
  messageId: string;
  windows: readonly WindowClaim[];
  /** Empty when the message is not paced (it already waits for a later time). */
  paces: readonly PaceClaim[];
  maxDelayMs: number;
  /** The pumping screen's log of OTPs sent to the message's range. */
  sentTo?: { tenantId: string; prefix: string; windowMs: number };
  /** False: only find a full window; nothing is spent. */
  commit: boolean;
}

export type ClaimResult =
  /** Everything claimed; `at` is the message's slot under its paces, `now` Redis's clock. */
  | { kind: 'claimed'; at: number; now: number }
  /** This window was full; nothing was spent. */
  | { kind: 'window-full'; window: WindowClaim }
  /** The pace slot lies beyond `maxDelayMs`; nothing was spent. */
  | { kind: 'too-late' }
  /** Every window had room; nothing was spent (`commit` false). */
  | { kind: 'checked' };

/** The risk service's shared state in Redis: windows, paces, opt-outs, pumping logs. Numbers appear only as hashes. */
export class RiskState {
  private readonly claimScript;

  constructor(private readonly redis: Redis) {
    this.claimScript = redisScript(redis, 'ternRiskClaim', 'dynamic', CLAIM);
  }

  /** Claims a message's windows, pace slot and pumping count in one script (see CLAIM). */
  async claim(request: ClaimRequest, now = Date.now()): Promise<ClaimResult> {
    const { windows, paces, sentTo } = request;
    const keys = [
      ...windows.map((w) => `tern:risk:w:${w.key}`),
      ...paces.map((p) => `tern:risk:p:${p.key}`),
      ...(sentTo ? [sentKey(sentTo.tenantId, sentTo.prefix)] : []),
    ];
    const reply = (await this.claimScript.run(
      keys.length,
      ...keys,
      now,
      request.messageId,
      windows.length,
      paces.length,
      request.commit ? 1 : 0,
      request.maxDelayMs,
      ...windows.flatMap((w) => [w.limit, w.windowSeconds * 1000]),
      ...paces.map((p) => p.perSecond),
      ...(sentTo ? [sentTo.windowMs] : []),
    )) as number[];
    switch (reply[0]) {
      case Claim.Claimed:
        return { kind: 'claimed', now: reply[1]!, at: reply[2]! };
      case Claim.WindowFull:
        return { kind: 'window-full', window: windows[reply[1]! - 1]! };
      case Claim.TooLate:
        return { kind: 'too-late' };
      default:
        return { kind: 'checked' };
    }
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
    const sent = sentKey(tenantId, prefix);
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

/** The pumping screen's log of a tenant's OTPs sent to a range (message ids by time). */
function sentKey(tenantId: string, prefix: string): string {
  return `tern:risk:pump:s:${tenantId}:${prefix}`;
}
