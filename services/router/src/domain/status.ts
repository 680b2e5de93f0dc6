import type { sms } from '@tern/contracts';

/** Routing codes in the public reason vocabulary (beside the carriers' and risk's codes). */
export const ROUTING_REASONS = {
  noRoute: 'NO_ROUTE',
  expired: 'EXPIRED',
  maxAttempts: 'MAX_ATTEMPTS',
} as const;

export function reason(code: string, description: string): sms.StatusReason {
  return { code, description, retryable: false };
}
