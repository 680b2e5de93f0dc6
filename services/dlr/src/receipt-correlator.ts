import { events, sms, statusEvent } from '@tern/contracts';
import { topics, type TypedProducer } from '@tern/kafka';
import { metricsRegistry, type Logger } from '@tern/telemetry';
import { Counter } from 'prom-client';
import type { AttemptLedger, PartRef } from './attempt-ledger';
import { receiptOutcome, resolveParts, type ReceiptOutcome } from './domain/outcomes';

const receipts = new Counter({
  name: 'tern_dlr_receipts_total',
  help: 'Receipts by what became of them: applied, duplicate, intermediate, unmatched (kept for a later submission)',
  labelNames: ['outcome'],
  registers: [metricsRegistry],
});

/**
 * Joins submissions and receipts, whichever comes first, and reports each attempt's status: SUBMITTED when
 * the SMSC took it, then DELIVERED / UNDELIVERED / EXPIRED once its parts are resolved, with a retry request
 * for a retryable failure (the router decides whether validity and attempts allow one). Submission failures
 * are reported FAILED; their retries come from the connector.
 */
export class ReceiptCorrelator {
  constructor(
    private readonly ledger: AttemptLedger,
    private readonly producer: TypedProducer,
    private readonly log: Logger,
  ) {}

  async submitted(result: events.SubmitResult): Promise<void> {
    const message = result.message;
    if (!message) return; // from a connector older than the message field: nothing to report on
    const at = result.submittedAt ?? new Date();
    if (!result.accepted) {
      const reason = {
        code: result.errorCode || 'NETWORK_FAILURE',
        description: 'submission failed',
        retryable: result.retryable,
      };
      await this.producer.enqueue(
        topics.status,
        statusEvent(message, sms.MessageStatus.MESSAGE_STATUS_FAILED, at, {
          attempt: result.attempt,
          channelId: result.channelId,
          reason,
        }),
      );
      return;
    }
    const waiting = await this.ledger.submitted(result);
    await this.producer.enqueue(topics.status, {
      ...statusEvent(message, sms.MessageStatus.MESSAGE_STATUS_SUBMITTED, at, {
        attempt: result.attempt,
        channelId: result.channelId,
      }),
      smscMessageIds: result.smscMessageIds,
    });
    for (const { part, receipt } of waiting) {
      await this.apply({ messageId: result.messageId, attempt: result.attempt, part }, receipt);
    }
  }

  async receipt(receipt: events.DeliveryReceipt): Promise<void> {
    const ref = await this.ledger.partOf(receipt);
    if (!ref) {
      await this.ledger.keepUnmatched(receipt);
      receipts.inc({ outcome: 'unmatched' });
      this.log.info(
        { channelId: receipt.channelId, smscMessageId: receipt.smscMessageId },
        'receipt before its submission; kept',
      );
      return;
    }
    await this.apply(ref, receipt);
  }

  private async apply(ref: PartRef, receipt: events.DeliveryReceipt): Promise<void> {
    const outcome = receiptOutcome(receipt.state, receipt.errorCode);
    if (!outcome) {
      receipts.inc({ outcome: 'intermediate' });
      return;
    }
    const recorded = await this.ledger.partDone(ref, JSON.stringify(outcome));
    if (!recorded) return;
    const { submission, parts } = recorded;
    const message = submission.message;
    const inPartOrder = [...parts.entries()].sort(([a], [b]) => a - b);
    const resolved = resolveParts(
      inPartOrder.map(([, stored]) => JSON.parse(stored) as ReceiptOutcome),
      Math.max(1, submission.smscMessageIds.length),
    );
    // Parts of one message can resolve on two instances at once: one claim, one report.
    if (!resolved || !message || !(await this.ledger.claimReport(submission.messageId, submission.attempt))) {
      receipts.inc({ outcome: resolved ? 'duplicate' : 'applied' });
      return;
    }
    try {
      await this.report(submission, message, resolved, receipt);
    } catch (error) {
      // Not reported after all: the redelivered receipt must be able to claim it again.
      await this.ledger.releaseReport(submission.messageId, submission.attempt);
      throw error;
    }
    receipts.inc({ outcome: 'applied' });
  }

  private async report(
    submission: events.SubmitResult,
    message: events.SmsMessage,
    resolved: ReceiptOutcome,
    receipt: events.DeliveryReceipt,
  ): Promise<void> {
    const doneAt = receipt.doneDate ?? receipt.receivedAt ?? new Date();
    const event = statusEvent(message, resolved.status, new Date(), {
      attempt: submission.attempt,
      channelId: submission.channelId,
      reason: resolved.reason,
    });
    event.receiptState = receipt.state;
    event.errorCode = receipt.errorCode;
    event.smscMessageIds = submission.smscMessageIds;
    event.deliveryLatencyMs = submission.submittedAt
      ? Math.max(0, doneAt.getTime() - submission.submittedAt.getTime())
      : 0;
    await this.producer.enqueue(topics.status, event);
    if (resolved.reason.retryable) {
      await this.producer.enqueue(topics.retry, {
        message,
        failedAttempt: submission.attempt,
        triedChannelIds: [submission.channelId],
        reason: resolved.reason,
        requestedAt: new Date(),
      });
    }
  }
}
