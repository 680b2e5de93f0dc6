import { createHmac } from 'node:crypto';
import { events, sms } from '@tern/contracts';

export interface AttemptEnding {
  status: sms.MessageStatus;
  reason: sms.StatusReason;
  /** When the attempt ended: the receipt's done date, the submission's refusal, or when no receipt came. */
  doneAt: Date;
  receiptState?: sms.ReceiptState;
  errorCode?: string;
  /** 1 for the first report of the attempt; 2 when a late receipt overrules a missing-receipt report. */
  version: number;
}

/**
 * One attempt as analytics keeps it. No body; the recipient only as a keyed hash (`recipientHashKey`), so
 * distinct recipients can be counted but not read back.
 */
export function attemptRecord(
  submission: events.SubmitResult,
  message: events.SmsMessage,
  ending: AttemptEnding,
  recipientHashKey: string,
): events.AttemptRecord {
  const submittedAt = submission.submittedAt;
  const since = (from: Date | undefined) =>
    from ? Math.max(0, ending.doneAt.getTime() - from.getTime()) : 0;
  return events.AttemptRecord.fromPartial({
    messageId: submission.messageId,
    attempt: submission.attempt,
    version: ending.version,
    tenantId: message.tenantId,
    country: message.country,
    mccMnc: message.mccMnc,
    channelId: submission.channelId,
    tier: submission.tier,
    type: message.type,
    segments: message.segments,
    pricePerSegment: submission.pricePerSegment,
    recipientHash: createHmac('sha256', recipientHashKey).update(message.to).digest('hex'),
    status: ending.status,
    reasonCode: ending.reason.code,
    retryable: ending.reason.retryable,
    receiptState: ending.receiptState ?? sms.ReceiptState.RECEIPT_STATE_UNSPECIFIED,
    errorCode: ending.errorCode ?? '',
    acceptedAt: message.acceptedAt,
    submittedAt,
    doneAt: ending.doneAt,
    submitLatencyMs: submission.submitLatencyMs,
    // Submission to the attempt's end, and acceptance to it: analytics reads the delivered ones as latency.
    deliveryLatencyMs: since(submittedAt),
    endToEndLatencyMs: since(message.acceptedAt),
    decision: submission.decision,
  });
}
