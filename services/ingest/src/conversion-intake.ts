import { events, sms } from '@tern/contracts';
import { topics, type TypedProducer } from '@tern/kafka';
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
  | { kind: 'late'; description: string };

/**
 * Conversion reports (ReportConversion): checked against the message's view, published to
 * `sms.conversions`, and remembered per message so that a repeat answers with the first time. The mark is
 * written after the publish: a report whose publish failed is taken again on retry, and one published twice
 * (two reports at once) is the same conversion twice, which the readers count once.
 */
export class ConversionIntake {
  constructor(
    private readonly redis: Redis,
    private readonly messages: MessageStore,
    private readonly idempotency: IdempotencyStore,
    private readonly producer: TypedProducer,
    /** How long a message's conversion is remembered: as long as its view. */
    private readonly retentionMs: number,
  ) {}

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
    const first = await this.redis.get(this.key(messageId));
    if (first !== null) {
      return {
        kind: 'recorded',
        response: { messageId, convertedAt: new Date(Number(first)), duplicate: true },
      };
    }
    const { view } = stored;
    await this.producer.enqueue(
      topics.conversions,
      events.ConversionReported.fromPartial({
        messageId,
        tenantId,
        type: view.type,
        country: view.country,
        acceptedAt: view.acceptedAt,
        convertedAt: verdict.convertedAt,
        reportedAt: now,
      }),
    );
    const kept = await this.redis.set(
      this.key(messageId),
      String(verdict.convertedAt.getTime()),
      'PX',
      this.retentionMs,
      'NX',
      'GET',
    );
    const convertedAt = kept === null ? verdict.convertedAt : new Date(Number(kept));
    return { kind: 'recorded', response: { messageId, convertedAt, duplicate: kept !== null } };
  }
}
