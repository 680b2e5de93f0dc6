/**
 * The failure the connector reports when it cannot know whether the SMSC took an attempt (it died between
 * submit_sm and the answer): the attempt may have delivered. The router may send it again on its channel
 * when no other is left; dlr gives it the one delivery receipt to its handset that no submission claimed.
 */
export const OUTCOME_UNKNOWN = 'OUTCOME_UNKNOWN';

/** Kept beyond a message's expiry, for a dispatch redelivered late (a consumer's lag, a rebalance). */
const ATTEMPT_KEEP_MARGIN_MS = 3_600_000;
/** A message without an expiry (an older producer's) keeps its attempts' records this long. */
const ATTEMPT_KEEP_WITHOUT_EXPIRY_MS = 7 * 24 * 3_600_000;

/**
 * How long an attempt's records (the router's choice of channel, the connector's claim and outcome) must
 * live: while a copy of its dispatch can still be acted on, which ends when the message expires (a retry is
 * never routed, nor a part submitted, after it), then a margin. Longer only holds Redis memory: an OTP
 * of the default validity (10 minutes) has its records kept 1 h 10 min, not a week.
 */
export function attemptKeepMs(expiresAt: Date | undefined, now: number): number {
  if (!expiresAt) return ATTEMPT_KEEP_WITHOUT_EXPIRY_MS;
  return Math.max(0, expiresAt.getTime() - now) + ATTEMPT_KEEP_MARGIN_MS;
}
