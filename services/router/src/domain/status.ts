import { events, sms } from '@tern/contracts';

/** A status event of one message, as the router reports it (ROUTED per attempt, or why routing ended). */
export function statusEvent(
  message: events.SmsMessage,
  status: sms.MessageStatus,
  attempt: number,
  at: Date,
  detail: { channelId?: string; reason?: sms.StatusReason } = {},
): sms.StatusEvent {
  return sms.StatusEvent.fromPartial({
    messageId: message.messageId,
    tenantId: message.tenantId,
    clientReference: message.clientReference,
    status,
    attempt,
    channelId: detail.channelId ?? '',
    reason: detail.reason,
    occurredAt: at,
    endToEndLatencyMs: message.acceptedAt ? Math.max(0, at.getTime() - message.acceptedAt.getTime()) : 0,
    labels: message.labels,
  });
}

/** Routing codes in the public reason vocabulary (beside the carriers' and risk's codes). */
export const ROUTING_REASONS = {
  noRoute: 'NO_ROUTE',
  expired: 'EXPIRED',
  maxAttempts: 'MAX_ATTEMPTS',
} as const;

export function reason(code: string, description: string): sms.StatusReason {
  return { code, description, retryable: false };
}
