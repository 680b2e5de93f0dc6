import { events, sms } from '@tern/contracts';
import { topics, type TypedProducer } from '@tern/kafka';
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
 * Conversion reports (ReportConversion, and the conversion-events topic): checked against the message's
 * view, published to `sms.conversions` once per message, and remembered so that a repeat answers with the
 * first time. The message is reserved before publishing and marked after, as sends are (IdempotencyStore,
 * keyed by message id, the conversion time as the fingerprint), so two reports at once publish one
 * conversion, and a report whose publish failed leaves nothing behind for its retry.
 */
export class ConversionIntake {
  constructor(
    private readonly messages: MessageStore,
    /** The sends' store: client references to message ids. */
    private readonly sends: IdempotencyStore,
    /** The conversions' own store (its own key prefix). */
    private readonly converted: IdempotencyStore,
    private readonly producer: TypedProducer,
  ) {}

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
        : await this.sends.acceptedId(tenantId, target.clientReference);
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
    const [claim] = await this.converted.reserve(tenantId, [
      { reference: messageId, messageId, fingerprint: String(verdict.convertedAt.getTime()) },
    ]);
    if (!claim) throw new Error('no reservation');
    const { reservation, token } = claim;
    if (reservation.kind === 'in-progress') return { kind: 'in-progress' };
    if (reservation.kind === 'accepted') {
      const first = new Date(Number(reservation.fingerprint));
      return { kind: 'recorded', response: { messageId, convertedAt: first, duplicate: true } };
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
      await this.converted.release(tenantId, [{ reference: messageId, token }]);
      throw error;
    }
    await this.converted.accepted(tenantId, [{ reference: messageId, token }]);
    return { kind: 'recorded', response: { messageId, convertedAt: verdict.convertedAt, duplicate: false } };
  }
}
