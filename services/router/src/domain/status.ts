import { STATUS_REASONS, type sms } from '@tern/contracts';

/** Routing codes in the public reason vocabulary: the router's conclusions in the status order. */
export const ROUTING_REASONS = {
  noRoute: STATUS_REASONS.noRoute,
  expired: STATUS_REASONS.expired,
  maxAttempts: STATUS_REASONS.maxAttempts,
} as const;

export function reason(code: string, description: string): sms.StatusReason {
  return { code, description, retryable: false };
}
