/** Kinds of channel, from a carrier's own route to grey indirect forwarding. */
export const TIERS = ['direct', 'tier1', 'aggregator', 'indirect'] as const;
export type Tier = (typeof TIERS)[number];

/** What is believed of a route before (or beside) its own figures: a Beta prior of delivery, and a latency. */
export interface TierPrior {
  alpha: number;
  beta: number;
  latencyP50Ms: number;
}

/**
 * The industry's figures per tier (direct 95-99% in 1-5 s, aggregator 85-95% in 3-15 s, indirect 70-85% in
 * 5-30 s), worth about ten attempts of evidence: the router uses them where analytics has no figures yet,
 * and analytics starts every route's posterior from them, so thin data does not swing a route's weight.
 */
export const TIER_PRIORS: Record<Tier, TierPrior> = {
  direct: { alpha: 9.7, beta: 0.3, latencyP50Ms: 3_000 },
  tier1: { alpha: 9.3, beta: 0.7, latencyP50Ms: 5_000 },
  aggregator: { alpha: 9.0, beta: 1.0, latencyP50Ms: 8_000 },
  indirect: { alpha: 7.8, beta: 2.2, latencyP50Ms: 15_000 },
};

/**
 * Receipt windows per tier, in seconds: a few times the tier's usual delivery time (direct 1-5 s, aggregator
 * 3-15 s, indirect 5-30 s; congestion 10-60 s), shorter for OTPs, whose user is waiting and better served by
 * another channel than by a receipt that may never come. The router stretches them while a route's
 * measured latency is high (receiptWindowMs).
 */
export const RECEIPT_WINDOWS: Record<Tier, { otp: number; other: number }> = {
  direct: { otp: 60, other: 300 },
  tier1: { otp: 60, other: 300 },
  aggregator: { otp: 90, other: 600 },
  indirect: { otp: 120, other: 900 },
};

/**
 * The latency the tier priors' figures are stated against: the routing score's unit (10 s of it cost an OTP
 * as much as a delivered code is worth). A world on a faster clock, as in the time-scaled tests, sets a
 * smaller one, and every prior's latency scales with it.
 */
export const LATENCY_REFERENCE_MS = 10_000;

/** A tier's prior, its latency on the clock whose latency reference is `latencyReferenceMs`. */
export function tierPrior(tier: Tier, latencyReferenceMs = LATENCY_REFERENCE_MS): TierPrior {
  const prior = TIER_PRIORS[tier];
  return { ...prior, latencyP50Ms: (prior.latencyP50Ms * latencyReferenceMs) / LATENCY_REFERENCE_MS };
}

export function isTier(value: string): value is Tier {
  return (TIERS as readonly string[]).includes(value);
}
