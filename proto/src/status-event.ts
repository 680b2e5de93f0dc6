import * as events from './gen/tern/events/v1/events';
import * as sms from './gen/tern/sms/v1/sms';

/**
 * A status event of one message, as every service reports it (ingest ACCEPTED, risk REJECTED, router ROUTED
 * and its endings, dlr the attempts' outcomes): the message's ids and labels, and the latency since acceptance.
 */
export function statusEvent(
  message: events.SmsMessage,
  status: sms.MessageStatus,
  at: Date,
  detail: Partial<Pick<sms.StatusEvent, 'attempt' | 'channelId' | 'reason'>> = {},
): sms.StatusEvent {
  return sms.StatusEvent.fromPartial({
    messageId: message.messageId,
    tenantId: message.tenantId,
    clientReference: message.clientReference,
    status,
    attempt: detail.attempt ?? 0,
    channelId: detail.channelId ?? '',
    reason: detail.reason,
    occurredAt: at,
    endToEndLatencyMs: message.acceptedAt ? Math.max(0, at.getTime() - message.acceptedAt.getTime()) : 0,
    labels: message.labels,
    callbackUrl: message.callbackUrl,
    mccMnc: message.mccMnc,
  });
}
