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
    const [outcome] = await this.reportAll(tenantId, [request], now);
    return outcome!;
  }

  /**
   * Reports of one tenant taken together, each as `report` takes it alone, with a round trip per step for
   * all of them (references, views, reservations, marks) rather than per report; outcomes in request order.
   * Two reports of one message in the call publish once: the second finds the first's reservation in
   * progress. When a publish fails, the others are kept, that one's reservation released, and the call
   * throws, so its retry finds what was recorded as repeats.
   */
  async reportAll(
    tenantId: string,
    requests: readonly sms.ReportConversionRequest[],
    now = new Date(),
  ): Promise<ConversionOutcome[]> {
    const outcomes: ConversionOutcome[] = [];
    const named = requests.map(conversionTarget);
    const messageIds = named.map((n) => (n.ok && 'messageId' in n.target ? n.target.messageId : undefined));
    const byReference = named.flatMap((n, index) =>
      n.ok && 'clientReference' in n.target ? [{ index, reference: n.target.clientReference }] : [],
    );
    const referenced = await this.sends.acceptedIds(
      tenantId,
      byReference.map((r) => r.reference),
    );
    for (const [i, { index }] of byReference.entries()) messageIds[index] = referenced[i];
    const known = messageIds.filter((id): id is string => id !== undefined);
    const views = await this.messages.getMany(known);
    const stored = new Map(known.map((id, i) => [id, views[i]]));
    const claimable: { index: number; messageId: string; view: sms.Message; convertedAt: Date }[] = [];
    for (const [index, n] of named.entries()) {
      if (!n.ok) {
        outcomes[index] = { kind: 'invalid', violations: n.violations };
        continue;
      }
      const messageId = messageIds[index];
      const found = messageId === undefined ? undefined : stored.get(messageId);
      if (!messageId || !found || found.tenantId !== tenantId) {
        const which =
          'messageId' in n.target
            ? `message ${n.target.messageId}`
            : `client_reference "${n.target.clientReference}"`;
        outcomes[index] = { kind: 'not-found', description: `${which} not found` };
        continue;
      }
      const verdict = checkConversion(found.view, requests[index]!.convertedAt, now);
      if (verdict.kind === 'ok') {
        claimable.push({ index, messageId, view: found.view, convertedAt: verdict.convertedAt });
      } else if (verdict.kind === 'late') {
        const ended = verdict.expiresAt.toISOString();
        outcomes[index] = {
          kind: 'late',
          description: `the message's validity ended at ${ended}, before the conversion`,
        };
      } else {
        outcomes[index] = verdict;
      }
    }
    const claims = await this.converted.reserve(
      tenantId,
      claimable.map((c) => ({
        reference: c.messageId,
        messageId: c.messageId,
        fingerprint: String(c.convertedAt.getTime()),
      })),
    );
    const publishing: { claim: (typeof claimable)[number]; token: string }[] = [];
    for (const [i, claim] of claimable.entries()) {
      const { reservation, token } = claims[i]!;
      if (reservation.kind === 'in-progress') {
        outcomes[claim.index] = { kind: 'in-progress' };
      } else if (reservation.kind === 'accepted') {
        const first = new Date(Number(reservation.fingerprint));
        outcomes[claim.index] = {
          kind: 'recorded',
          response: { messageId: claim.messageId, convertedAt: first, duplicate: true },
        };
      } else {
        publishing.push({ claim, token });
      }
    }
    const published = await Promise.allSettled(
      publishing.map(({ claim: { messageId, view, convertedAt } }) =>
        this.producer.enqueue(
          topics.conversions,
          events.ConversionReported.fromPartial({
            messageId,
            tenantId,
            type: view.type,
            country: view.country,
            to: view.to,
            acceptedAt: view.acceptedAt,
            convertedAt,
            reportedAt: now,
          }),
        ),
      ),
    );
    const marks = publishing.map(({ claim, token }) => ({ reference: claim.messageId, token }));
    const failed = marks.filter((_, i) => published[i]!.status === 'rejected');
    await this.converted.release(tenantId, failed);
    await this.converted.accepted(
      tenantId,
      marks.filter((_, i) => published[i]!.status === 'fulfilled'),
    );
    const failure = published.find((p) => p.status === 'rejected');
    if (failure) throw failure.reason;
    for (const { claim } of publishing) {
      outcomes[claim.index] = {
        kind: 'recorded',
        response: { messageId: claim.messageId, convertedAt: claim.convertedAt, duplicate: false },
      };
    }
    return outcomes;
  }
}
