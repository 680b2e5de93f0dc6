import { events, sms } from '@tern/contracts';
import { topics, type TypedProducer } from '@tern/kafka';
import { redisScript } from '@tern/redis';
import type { Redis } from 'ioredis';
import { checkConversion, conversionTarget } from './domain/conversion';
import type { Violation } from './domain/send-request';
import type { IdempotencyStore } from './idempotency';
import type { MessageStore } from './message-store';

export type ConversionOutcome =
  | { kind: 'recorded'; response: sms.ReportConversionResponse }
  | { kind: 'invalid'; violations: Violation[] }
  /** No such message of this tenant (another tenant's message answers the same). */
  | { kind: 'not-found'; description: string }
  | { kind: 'late'; description: string }
  /** Another report of the same message is being recorded right now: try again shortly. */
  | { kind: 'in-progress' };

/**
 * Claims a message's conversion for this report: the first report's claim is `pending:<ms>` until its
 * publish is done, then the conversion time. A claim pending for longer than ARGV[3] ms belongs to a report
 * that died, and is taken over. Returns '' when claimed, else what is held.
 */
const CLAIM = `
local held = redis.call('GET', KEYS[1])
if held then
  local since = string.match(held, '^pending:(%d+)$')
  if not since or tonumber(ARGV[2]) - tonumber(since) < tonumber(ARGV[3]) then return held end
end
redis.call('SET', KEYS[1], 'pending:' .. ARGV[2], 'PX', ARGV[1])
return ''
`;

/** Ends a claim: the conversion time when it was published (ARGV[2]), or none (ARGV[2] empty). */
const SETTLE = `
if redis.call('GET', KEYS[1]) ~= 'pending:' .. ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
`;

/** A report that claimed a message's conversion and has not published it after this long has died. */
const CLAIM_STALE_MS = 30_000;

/**
 * Conversion reports (ReportConversion, and the conversion-events topic): checked against the message's
 * view, published to `sms.conversions` once per message, and remembered so that a repeat answers with the
 * first time. A report claims the message before publishing and settles the claim after, so two reports at
 * once publish one conversion, and a report whose publish failed leaves nothing behind for its retry.
 */
export class ConversionIntake {
  private readonly claim;
  private readonly settle;

  constructor(
    private readonly redis: Redis,
    private readonly messages: MessageStore,
    private readonly idempotency: IdempotencyStore,
    private readonly producer: TypedProducer,
    /** How long a message's conversion is remembered: as long as its view. */
    private readonly retentionMs: number,
  ) {
    this.claim = redisScript(redis, 'ternIngestClaimConversion', 1, CLAIM);
    this.settle = redisScript(redis, 'ternIngestSettleConversion', 1, SETTLE);
  }

  private key(messageId: string): string {
    return `tern:ingest:conversion:${messageId}`;
  }

  async report(
    tenantId: string,
    request: sms.ReportConversionRequest,
    now = new Date(),
  ): Promise<ConversionOutcome> {
    const named = conversionTarget(request);
    if (!named.ok) return { kind: 'invalid', violations: named.violations };
    const { target } = named;
    const messageId =
      'messageId' in target
        ? target.messageId
        : await this.idempotency.acceptedId(tenantId, target.clientReference);
    const stored = messageId === undefined ? undefined : await this.messages.get(messageId);
    if (!messageId || !stored || stored.tenantId !== tenantId) {
      const which =
        'messageId' in target
          ? `message ${target.messageId}`
          : `client_reference "${target.clientReference}"`;
      return { kind: 'not-found', description: `${which} not found` };
    }
    const verdict = checkConversion(stored.view, request.convertedAt, now);
    if (verdict.kind === 'invalid') return verdict;
    if (verdict.kind === 'late') {
      return {
        kind: 'late',
        description: `the message's validity ended at ${verdict.expiresAt.toISOString()}, before the conversion`,
      };
    }
    const key = this.key(messageId);
    const claimedAt = now.getTime();
    const held = (await this.claim.run(key, this.retentionMs, claimedAt, CLAIM_STALE_MS)) as string;
    if (held.startsWith('pending:')) return { kind: 'in-progress' };
    if (held !== '') {
      return {
        kind: 'recorded',
        response: { messageId, convertedAt: new Date(Number(held)), duplicate: true },
      };
    }
    const { view } = stored;
    try {
      await this.producer.enqueue(
        topics.conversions,
        events.ConversionReported.fromPartial({
          messageId,
          tenantId,
          type: view.type,
          country: view.country,
          to: view.to,
          acceptedAt: view.acceptedAt,
          convertedAt: verdict.convertedAt,
          reportedAt: now,
        }),
      );
    } catch (error) {
      await this.settle.run(key, claimedAt, '');
      throw error;
    }
    await this.settle.run(key, claimedAt, String(verdict.convertedAt.getTime()));
    return { kind: 'recorded', response: { messageId, convertedAt: verdict.convertedAt, duplicate: false } };
  }
}
