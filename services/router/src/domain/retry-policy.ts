import type { events } from '@tern/contracts';
import { OUTCOME_UNKNOWN } from '@tern/sms-domain';

export type RetryVerdict =
  | { retry: true; attempt: number; tried: Set<string>; failedInDoubt: boolean }
  | { retry: false; code: 'EXPIRED' | 'MAX_ATTEMPTS' | 'NOT_RETRYABLE'; description: string };

/**
 * Whether a failed attempt is routed again: only a retryable failure, while the message is still valid
 * (with time left for one more delivery: `minRemainingMs`) and under the attempt cap. The next attempt's
 * number follows the failed one, so a redelivered retry request maps to the same attempt (idempotent
 * towards the connector); the channels already tried are excluded from its selection.
 */
export function retryVerdict(
  request: events.RetryRequest,
  now: number,
  policy: { maxAttempts: number; minRemainingMs: number },
): RetryVerdict {
  if (request.reason && !request.reason.retryable) {
    return { retry: false, code: 'NOT_RETRYABLE', description: `${request.reason.code} is not retryable` };
  }
  const expiresAt = request.message?.expiresAt?.getTime();
  if (expiresAt !== undefined && expiresAt - now < policy.minRemainingMs) {
    return {
      retry: false,
      code: 'EXPIRED',
      description: 'validity ends before another attempt could deliver',
    };
  }
  if (request.failedAttempt >= policy.maxAttempts) {
    return {
      retry: false,
      code: 'MAX_ATTEMPTS',
      description: `${request.failedAttempt} attempts made, at most ${policy.maxAttempts}`,
    };
  }
  return {
    retry: true,
    attempt: request.failedAttempt + 1,
    tried: new Set(request.triedChannelIds),
    failedInDoubt: request.reason?.code === OUTCOME_UNKNOWN,
  };
}
