import { events, FINAL_STATUSES, sms, statusAdvances, statusEvent, statusRank } from '@tern/contracts';

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
    expiresAt: message.expiresAt,
  };
}

/** The ACCEPTED status event of a message, the first of its `sms.status` events. */
export function acceptedEvent(message: events.SmsMessage): sms.StatusEvent {
  return statusEvent(message, sms.MessageStatus.MESSAGE_STATUS_ACCEPTED, message.acceptedAt ?? new Date());
}

/**
 * A message's view after one more of its status events. `advances` says whether the event moves the message
 * on in the status order (`statusAdvances`): only then do the message's status, reason and time follow it,
 * and its attempt's fields take the event's. An event that does not advance (late, or redelivered) only fills
 * in what the view lacks (an attempt's SMSC ids from a SUBMITTED that came after its receipt). A view that
 * was never seen here (accepted by another deployment, or expired from the store) starts from the event.
 */
export function applyStatusEvent(
  view: sms.Message | undefined,
  event: sms.StatusEvent,
  advances: boolean,
): sms.Message {
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
    expiresAt: undefined,
  };
  const next: sms.Message = {
    ...base,
    ...(advances
      ? { status: event.status, updatedAt: event.occurredAt ?? base.updatedAt, reason: event.reason }
      : {}),
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
    const take = <K extends keyof sms.Attempt>(field: K, value: sms.Attempt[K], set: boolean) => {
      if (set && (advances || isEmpty(attempt[field]))) attempt[field] = value;
    };
    take('channelId', event.channelId, event.channelId !== '');
    take('smscMessageIds', event.smscMessageIds, event.smscMessageIds.length > 0);
    take('submitStatus', event.submitStatus, event.submitStatus !== 0);
    take(
      'receiptState',
      event.receiptState,
      event.receiptState !== sms.ReceiptState.RECEIPT_STATE_UNSPECIFIED,
    );
    take('errorCode', event.errorCode, event.errorCode !== '');
    if (event.status === sms.MessageStatus.MESSAGE_STATUS_SUBMITTED) attempt.submittedAt ??= event.occurredAt;
    take('doneAt', event.occurredAt, FINAL_STATUSES.has(event.status));
  }
  return next;
}

/**
 * A message's view and the rank of the status it shows after its events, in order (`rank` undefined: no
 * status applied yet). Each event advances the view or only fills it in, as `applyStatusEvent` says.
 */
export function foldStatusEvents(
  view: sms.Message | undefined,
  rank: number | undefined,
  events: readonly sms.StatusEvent[],
): { view: sms.Message | undefined; rank: number | undefined } {
  for (const event of events) {
    const advances = statusAdvances(rank, event);
    view = applyStatusEvent(view, event, advances);
    if (advances) rank = statusRank(event);
  }
  return { view, rank };
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === '' || value === 0 || (Array.isArray(value) && value.length === 0);
}
