import { sms } from '@tern/contracts';

/** The public vocabulary of attempt outcomes: what a customer is told, and whether another channel may help. */
export const OUTCOMES = {
  DELIVERED: { retryable: false, description: 'delivered to the handset' },
  UNREACHABLE: { retryable: true, description: 'the handset was absent or unreachable' },
  UNKNOWN_SUBSCRIBER: { retryable: false, description: 'the number does not exist' },
  FILTERED: { retryable: true, description: 'blocked by the carrier (sender or content filter)' },
  BARRED: { retryable: false, description: 'the subscriber is barred from receiving messages' },
  THROTTLED: { retryable: true, description: 'the channel refused the rate' },
  EXPIRED: { retryable: true, description: 'not delivered within the channel’s validity' },
  NETWORK_FAILURE: { retryable: true, description: 'the channel or network failed' },
  NO_RECEIPT: { retryable: true, description: 'no receipt in the expected window' },
  UNKNOWN: { retryable: true, description: 'the carrier did not say why' },
} as const;
export type OutcomeCode = keyof typeof OUTCOMES;

/** Network error codes (GSM MAP causes, as carriers put them in `err:` or network_error_code). */
const NETWORK_ERRORS: Record<string, OutcomeCode> = {
  '001': 'UNKNOWN_SUBSCRIBER',
  '013': 'BARRED',
  '027': 'UNREACHABLE',
  '034': 'NETWORK_FAILURE',
  '068': 'FILTERED',
  '069': 'FILTERED',
};

/** Receipt states that end an attempt, and the outcome when the error code says nothing more. */
const FINAL_STATES: Partial<Record<sms.ReceiptState, { status: sms.MessageStatus; outcome: OutcomeCode }>> = {
  [sms.ReceiptState.RECEIPT_STATE_DELIVRD]: {
    status: sms.MessageStatus.MESSAGE_STATUS_DELIVERED,
    outcome: 'DELIVERED',
  },
  [sms.ReceiptState.RECEIPT_STATE_UNDELIV]: {
    status: sms.MessageStatus.MESSAGE_STATUS_UNDELIVERED,
    outcome: 'UNREACHABLE',
  },
  [sms.ReceiptState.RECEIPT_STATE_EXPIRED]: {
    status: sms.MessageStatus.MESSAGE_STATUS_EXPIRED,
    outcome: 'EXPIRED',
  },
  [sms.ReceiptState.RECEIPT_STATE_REJECTD]: {
    status: sms.MessageStatus.MESSAGE_STATUS_UNDELIVERED,
    outcome: 'FILTERED',
  },
  [sms.ReceiptState.RECEIPT_STATE_DELETED]: {
    status: sms.MessageStatus.MESSAGE_STATUS_UNDELIVERED,
    outcome: 'UNKNOWN',
  },
  [sms.ReceiptState.RECEIPT_STATE_UNKNOWN]: {
    status: sms.MessageStatus.MESSAGE_STATUS_UNDELIVERED,
    outcome: 'UNKNOWN',
  },
};

export interface ReceiptOutcome {
  status: sms.MessageStatus;
  reason: sms.StatusReason;
}

/**
 * What one part's receipt means, or undefined for an intermediate state (ENROUTE, ACCEPTD) that ends
 * nothing. A specific network error outranks the state's default (UNDELIV + 001 = unknown subscriber).
 */
export function receiptOutcome(state: sms.ReceiptState, errorCode: string): ReceiptOutcome | undefined {
  const final = FINAL_STATES[state];
  if (!final) return undefined;
  const code: OutcomeCode =
    final.outcome === 'DELIVERED'
      ? 'DELIVERED'
      : (NETWORK_ERRORS[errorCode.padStart(3, '0')] ?? final.outcome);
  return { status: final.status, reason: { code, ...OUTCOMES[code] } };
}

/**
 * A multipart message's outcome from its parts' receipts: delivered when every part is, failed with the
 * first failed part's reason as soon as one fails, undecided while parts are missing.
 */
export function resolveParts(
  parts: readonly (ReceiptOutcome | undefined)[],
  expected: number,
): ReceiptOutcome | undefined {
  const failed = parts.find((p) => p && p.status !== sms.MessageStatus.MESSAGE_STATUS_DELIVERED);
  if (failed) return failed;
  const delivered = parts.filter((p) => p?.status === sms.MessageStatus.MESSAGE_STATUS_DELIVERED);
  return delivered.length >= expected ? delivered[0] : undefined;
}
