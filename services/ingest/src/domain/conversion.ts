import type { sms } from '@tern/contracts';
import { CLOCK_SKEW_MS, type Violation } from './send-request';

/** Which message a report names: exactly one of Tern's id and the caller's reference. */
export type ConversionTarget = { messageId: string } | { clientReference: string };

export function conversionTarget(
  request: sms.ReportConversionRequest,
): { ok: true; target: ConversionTarget } | { ok: false; violations: Violation[] } {
  const byId = request.messageId !== '';
  const byReference = request.clientReference !== '';
  if (byId === byReference) {
    const description = byId
      ? 'name the message by message_id or client_reference, not both'
      : 'message_id or client_reference is required';
    return {
      ok: false,
      violations: [{ field: byId ? 'client_reference' : 'message_id', code: 'ONE_OF_REQUIRED', description }],
    };
  }
  return {
    ok: true,
    target: byId ? { messageId: request.messageId } : { clientReference: request.clientReference },
  };
}

export type ConversionVerdict =
  | { kind: 'ok'; convertedAt: Date }
  | { kind: 'invalid'; violations: Violation[] }
  /** The message's validity was over when the user is said to have used it. */
  | { kind: 'late'; expiresAt: Date };

/**
 * Whether a conversion at `convertedAt` (now when not given) fits the message: not in the future, not
 * before the message was accepted, not after its validity (the code could no longer have been used).
 */
export function checkConversion(
  message: Pick<sms.Message, 'acceptedAt' | 'expiresAt'>,
  convertedAt: Date | undefined,
  now: Date,
): ConversionVerdict {
  const at = convertedAt ?? now;
  if (Number.isNaN(at.getTime())) {
    return {
      kind: 'invalid',
      violations: [{ field: 'converted_at', code: 'INVALID_TIME', description: 'is not a valid time' }],
    };
  }
  if (at.getTime() > now.getTime() + CLOCK_SKEW_MS) {
    return {
      kind: 'invalid',
      violations: [
        {
          field: 'converted_at',
          code: 'CONVERTED_AT_AHEAD',
          description: `${at.toISOString()} is in the future`,
        },
      ],
    };
  }
  if (message.acceptedAt && at.getTime() < message.acceptedAt.getTime() - CLOCK_SKEW_MS) {
    return {
      kind: 'invalid',
      violations: [
        {
          field: 'converted_at',
          code: 'CONVERTED_BEFORE_ACCEPTED',
          description: `${at.toISOString()} is before the message was accepted (${message.acceptedAt.toISOString()})`,
        },
      ],
    };
  }
  if (message.expiresAt && at.getTime() > message.expiresAt.getTime()) {
    return { kind: 'late', expiresAt: message.expiresAt };
  }
  return { kind: 'ok', convertedAt: at };
}
