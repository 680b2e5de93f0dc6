import { events, sms, statusEvent } from '@tern/contracts';

const FINAL = new Set([
  sms.MessageStatus.MESSAGE_STATUS_REJECTED,
  sms.MessageStatus.MESSAGE_STATUS_DELIVERED,
  sms.MessageStatus.MESSAGE_STATUS_UNDELIVERED,
  sms.MessageStatus.MESSAGE_STATUS_EXPIRED,
  sms.MessageStatus.MESSAGE_STATUS_FAILED,
]);

/** What GetMessage shows of a message just accepted. */
export function acceptedView(message: events.SmsMessage): sms.Message {
  return {
    messageId: message.messageId,
    clientReference: message.clientReference,
    to: message.to,
    from: message.from,
    type: message.type,
    status: sms.MessageStatus.MESSAGE_STATUS_ACCEPTED,
    country: message.country,
    mccMnc: message.mccMnc,
    encoding: message.encoding,
    segments: message.segments,
    acceptedAt: message.acceptedAt,
    updatedAt: message.acceptedAt,
    attempts: [],
    reason: undefined,
  };
}

/** The ACCEPTED status event of a message, the first of its `sms.status` events. */
export function acceptedEvent(message: events.SmsMessage): sms.StatusEvent {
  return statusEvent(message, sms.MessageStatus.MESSAGE_STATUS_ACCEPTED, message.acceptedAt ?? new Date());
}

/**
 * A message's view after one more of its status events (events of one message arrive in order). The
 * message status follows the event; the event's attempt, if any, is created or updated in place. A view
 * that was never seen here (accepted by another deployment, or expired from the store) starts from the event.
 */
export function applyStatusEvent(view: sms.Message | undefined, event: sms.StatusEvent): sms.Message {
  const base: sms.Message = view ?? {
    messageId: event.messageId,
    clientReference: event.clientReference,
    to: '',
    from: '',
    type: sms.MessageType.MESSAGE_TYPE_UNSPECIFIED,
    status: event.status,
    country: '',
    mccMnc: '',
    encoding: sms.Encoding.ENCODING_UNSPECIFIED,
    segments: 0,
    acceptedAt: undefined,
    updatedAt: undefined,
    attempts: [],
    reason: undefined,
  };
  const next: sms.Message = {
    ...base,
    status: event.status,
    updatedAt: event.occurredAt ?? base.updatedAt,
    reason: event.reason,
    attempts: base.attempts.map((a) => ({ ...a })),
  };
  if (event.attempt > 0) {
    let attempt = next.attempts.find((a) => a.number === event.attempt);
    if (!attempt) {
      attempt = {
        number: event.attempt,
        channelId: '',
        smscMessageIds: [],
        submitStatus: 0,
        receiptState: sms.ReceiptState.RECEIPT_STATE_UNSPECIFIED,
        errorCode: '',
        submittedAt: undefined,
        doneAt: undefined,
      };
      next.attempts.push(attempt);
      next.attempts.sort((a, b) => a.number - b.number);
    }
    if (event.channelId) attempt.channelId = event.channelId;
    if (event.smscMessageIds.length > 0) attempt.smscMessageIds = event.smscMessageIds;
    if (event.submitStatus !== 0) attempt.submitStatus = event.submitStatus;
    if (event.receiptState !== sms.ReceiptState.RECEIPT_STATE_UNSPECIFIED)
      attempt.receiptState = event.receiptState;
    if (event.errorCode) attempt.errorCode = event.errorCode;
    if (event.status === sms.MessageStatus.MESSAGE_STATUS_SUBMITTED) attempt.submittedAt ??= event.occurredAt;
    if (FINAL.has(event.status)) attempt.doneAt = event.occurredAt;
  }
  return next;
}
