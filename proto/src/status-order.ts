import { MessageStatus, type StatusEvent } from './gen/tern/sms/v1/sms';

/**
 * The statuses a message's story ends in, as far as it is known: a retry may still follow UNDELIVERED,
 * EXPIRED or FAILED with a new attempt (see statusRank), DELIVERED and REJECTED never change.
 */
export const FINAL_STATUSES: ReadonlySet<MessageStatus> = new Set([
  MessageStatus.MESSAGE_STATUS_REJECTED,
  MessageStatus.MESSAGE_STATUS_DELIVERED,
  MessageStatus.MESSAGE_STATUS_UNDELIVERED,
  MessageStatus.MESSAGE_STATUS_EXPIRED,
  MessageStatus.MESSAGE_STATUS_FAILED,
]);

/**
 * Reason codes that place a status in a message's order (beside the carriers' and risk's own codes):
 * dlr's provisional ending of an attempt whose receipt did not come, and the router's conclusions.
 */
export const STATUS_REASONS = {
  noReceipt: 'NO_RECEIPT',
  noRoute: 'NO_ROUTE',
  expired: 'EXPIRED',
  maxAttempts: 'MAX_ATTEMPTS',
} as const;

const CONCLUSIONS: ReadonlySet<string> = new Set([
  STATUS_REASONS.noRoute,
  STATUS_REASONS.expired,
  STATUS_REASONS.maxAttempts,
]);

/** Progress within one attempt, lowest first. */
const STAGE = {
  accepted: 0,
  routed: 1,
  submitted: 2,
  /** An ending without the carrier's word (no receipt in the window): a late receipt still overrules it. */
  provisionalEnding: 3,
  ending: 4,
  /** The router's last word on the message after an attempt ended (no route, validity over, no attempts left). */
  concluded: 5,
} as const;
const STAGES_PER_ATTEMPT = 10;

/** A message that reached the handset stays delivered, whatever a later attempt or a stray event says. */
const DELIVERED_RANK = Number.MAX_SAFE_INTEGER;

/**
 * Where a status event stands in its message's life, as one number: events are ordered by attempt, then by
 * progress within the attempt (ROUTED, SUBMITTED, then its ending). Only a later attempt moves a message on
 * from an attempt's ending; DELIVERED is final for good. Every place that stores or emits a message's
 * status applies an event only when its rank is above the rank applied before, so a late or redelivered
 * event changes nothing.
 */
export function statusRank(event: Pick<StatusEvent, 'status' | 'attempt' | 'reason'>): number {
  const base = Math.max(0, event.attempt) * STAGES_PER_ATTEMPT;
  const code = event.reason?.code ?? '';
  switch (event.status) {
    case MessageStatus.MESSAGE_STATUS_DELIVERED:
      return DELIVERED_RANK;
    case MessageStatus.MESSAGE_STATUS_UNSPECIFIED:
    case MessageStatus.MESSAGE_STATUS_ACCEPTED:
      return base + STAGE.accepted;
    case MessageStatus.MESSAGE_STATUS_ROUTED:
      return base + STAGE.routed;
    case MessageStatus.MESSAGE_STATUS_SUBMITTED:
      return base + STAGE.submitted;
    case MessageStatus.MESSAGE_STATUS_REJECTED:
      return base + STAGE.concluded;
    case MessageStatus.MESSAGE_STATUS_UNDELIVERED:
    case MessageStatus.MESSAGE_STATUS_EXPIRED:
    case MessageStatus.MESSAGE_STATUS_FAILED:
      if (code === STATUS_REASONS.noReceipt) return base + STAGE.provisionalEnding;
      return base + (CONCLUSIONS.has(code) ? STAGE.concluded : STAGE.ending);
    default:
      // A status this build does not know: never lets a known one be overwritten by it.
      return -1;
  }
}

/** Whether `next` moves a message on from where `appliedRank` left it (undefined: nothing applied yet). */
export function statusAdvances(
  appliedRank: number | undefined,
  next: Pick<StatusEvent, 'status' | 'attempt' | 'reason'>,
): boolean {
  return appliedRank === undefined || statusRank(next) > appliedRank;
}
