import { events } from '@tern/contracts';
import { isTier, TIER_PRIORS, type TierPrior } from '@tern/sms-domain';

/** One route's figures for one minute (from the `route_minutes` aggregates). */
export interface RouteMinute {
  /** Start of the minute, epoch ms. */
  minute: number;
  country: string;
  mccMnc: string;
  channelId: string;
  tier: string;
  attempts: number;
  delivered: number;
  failed: number;
  /** What the minute's attempts cost. */
  cost: number;
}

/** Latency quantiles of a route's delivered attempts over the latency window. */
export interface RouteLatency {
  country: string;
  mccMnc: string;
  channelId: string;
  p50Ms: number;
  p95Ms: number;
}

export interface WeightPolicy {
  /**
   * Evidence loses half its weight in this time: recent minutes decide, so a degrading channel loses
   * traffic within minutes, and a channel that failed for a while drifts back to its tier's prior, where
   * the router's sampling tries it again (that is how a recovered channel earns its traffic back).
   */
  halfLifeMs: number;
  /** A carrier gets weights of its own once it has this many attempts in the window; else its country's apply. */
  minCarrierAttempts: number;
}

/**
 * One route's OTPs of one minute that its receipts call delivered, and how many of them the tenants
 * reported used (only OTPs of tenants that report conversions, and old enough for their conversion to be in).
 */
export interface ConversionMinute {
  /** Start of the minute the attempts ended, epoch ms. */
  minute: number;
  country: string;
  channelId: string;
  delivered: number;
  converted: number;
}

/** What conversions say of one route (country and channel): its figures, time-decayed. */
export interface ConversionEvidence {
  country: string;
  channelId: string;
  /** OTPs delivered by receipt, and of them converted (decayed counts). */
  delivered: number;
  converted: number;
  /** Conversions per delivered receipt: the route's own, pulled toward the reference while evidence is thin. */
  rate: number;
  /** Conversions per delivered receipt of the country's best-converting routes: what a real delivery gives. */
  reference: number;
  /** The share of the route's delivery receipts that conversions confirm: min(1, rate / reference). */
  confirmed: number;
}

export interface ConversionPolicy {
  /**
   * Delivered OTPs worth of prior belief that a route converts like the reference: a route's own rate
   * moves its weight only as its evidence grows past this (thin evidence does not swing a weight).
   */
  priorStrength: number;
  /** Delivered OTPs (decayed) a route needs before its rate can be the reference. */
  minReferenceEvidence: number;
  /**
   * The least conversions per delivered receipt the reference is taken to be where the country has fewer
   * than two routes to compare: a country served by one route cannot show what its users convert at, and
   * that route may be the one that lies.
   */
  expectedConversion: number;
}

/** A delivered OTP whose code was not reported used within this time counts as not converted. */
export const DEFAULT_CONVERSION_WINDOW_MS = 120_000;

export const CONVERSION_POLICY: ConversionPolicy = {
  priorStrength: 20,
  minReferenceEvidence: 20,
  expectedConversion: 0.7,
};

/**
 * How far each route's delivery receipts are confirmed by conversions. A route that fakes receipts reports
 * DELIVRD for messages no phone got, and their codes are never used: its conversions per delivered receipt
 * fall below those of honest routes in the same country, whose users convert at the rate real delivery
 * gives. Per route (country x channel), with counts decayed like the weights' evidence:
 *
 *   reference = the highest converted / delivered among the country's routes with at least
 *               minReferenceEvidence delivered; when fewer than two of the country's have that much, the
 *               highest of every country's such routes and expectedConversion
 *   rate      = (converted + priorStrength x reference) / (delivered + priorStrength)
 *   confirmed = min(1, rate / reference)
 *
 * Routes with no conversion evidence are absent: their receipts stand.
 */
export function conversionEvidence(
  minutes: readonly ConversionMinute[],
  now: number,
  halfLifeMs: number,
  policy: ConversionPolicy = CONVERSION_POLICY,
): ConversionEvidence[] {
  const routes = new Map<
    string,
    { country: string; channelId: string; delivered: number; converted: number }
  >();
  for (const m of minutes) {
    const decay = 0.5 ** (Math.max(0, now - (m.minute + 60_000)) / halfLifeMs);
    const key = `${m.country}/${m.channelId}`;
    const route = routes.get(key) ?? {
      country: m.country,
      channelId: m.channelId,
      delivered: 0,
      converted: 0,
    };
    route.delivered += decay * m.delivered;
    route.converted += decay * Math.min(m.converted, m.delivered);
    routes.set(key, route);
  }
  const solid = [...routes.values()].filter((r) => r.delivered >= policy.minReferenceEvidence);
  const best = (among: typeof solid) =>
    among.length === 0 ? undefined : Math.max(...among.map((r) => r.converted / r.delivered));
  const everywhere = Math.max(best(solid) ?? 0, policy.expectedConversion);
  const evidence: ConversionEvidence[] = [];
  for (const r of routes.values()) {
    const inCountry = solid.filter((s) => s.country === r.country);
    const reference = inCountry.length >= 2 ? (best(inCountry) ?? everywhere) : everywhere;
    const rate = (r.converted + policy.priorStrength * reference) / (r.delivered + policy.priorStrength);
    evidence.push({ ...r, rate, reference, confirmed: Math.min(1, rate / reference) });
  }
  return evidence;
}

/** Routes whose tier is unknown start from an even prior worth two attempts. */
const UNKNOWN_TIER_PRIOR: TierPrior = { alpha: 1, beta: 1, latencyP50Ms: 10_000 };

/** A route's figures summed over the window; deliveries, failures and cost time-decayed. */
type Evidence = Omit<RouteMinute, 'minute'>;

/**
 * Routing weights from per-minute figures, per channel and country, and per carrier where it has enough
 * attempts of its own: a Beta posterior of delivery (the tier's prior plus time-decayed deliveries and
 * failures, the deliveries only as far as conversions confirm them: see conversionEvidence), latency p50/p95 (the tier's prior latency where nothing was delivered), and cost per
 * delivered message (decayed too). Pure: time comes in as `now`.
 */
export function routeWeights(
  minutes: readonly RouteMinute[],
  latencies: readonly RouteLatency[],
  now: number,
  policy: WeightPolicy,
  conversions: readonly ConversionEvidence[] = [],
): events.RoutingWeight[] {
  const confirmedOf = new Map(conversions.map((c) => [`${c.country}/${c.channelId}`, c.confirmed]));
  const routes = new Map<string, Evidence>();
  const add = (key: string, m: RouteMinute, mccMnc: string, decay: number) => {
    const e = routes.get(key) ?? {
      country: m.country,
      mccMnc,
      channelId: m.channelId,
      tier: m.tier,
      attempts: 0,
      delivered: 0,
      failed: 0,
      cost: 0,
    };
    e.attempts += m.attempts;
    e.delivered += decay * m.delivered;
    e.failed += decay * m.failed;
    e.cost += decay * m.cost;
    if (!e.tier) e.tier = m.tier;
    routes.set(key, e);
  };
  for (const m of minutes) {
    // A minute counts from its end: the current minute is as fresh as evidence gets.
    const age = Math.max(0, now - (m.minute + 60_000));
    const decay = 0.5 ** (age / policy.halfLifeMs);
    add(routeKey(m.country, '', m.channelId), m, '', decay);
    if (m.mccMnc) add(routeKey(m.country, m.mccMnc, m.channelId), m, m.mccMnc, decay);
  }
  const latencyOf = new Map(latencies.map((l) => [routeKey(l.country, l.mccMnc, l.channelId), l]));
  const computedAt = new Date(now);
  const weigh = (e: Evidence, prior: TierPrior) => {
    const latency = latencyOf.get(routeKey(e.country, e.mccMnc, e.channelId));
    // Receipts that conversions do not confirm count as failures (for the route's carriers too).
    const unconfirmed = e.delivered * (1 - (confirmedOf.get(`${e.country}/${e.channelId}`) ?? 1));
    return {
      country: e.country,
      mccMnc: e.mccMnc,
      channelId: e.channelId,
      deliveredAlpha: prior.alpha + e.delivered - unconfirmed,
      deliveredBeta: prior.beta + e.failed + unconfirmed,
      latencyP50Ms: latency?.p50Ms || prior.latencyP50Ms,
      latencyP95Ms: latency?.p95Ms || 2 * prior.latencyP50Ms,
      costPerDelivered: e.delivered - unconfirmed > 0 ? e.cost / (e.delivered - unconfirmed) : 0,
      attempts: e.attempts,
      computedAt,
    };
  };
  const weights: events.RoutingWeight[] = [];
  for (const e of routes.values()) {
    if (e.mccMnc && e.attempts < policy.minCarrierAttempts) continue;
    weights.push(weigh(e, isTier(e.tier) ? TIER_PRIORS[e.tier] : UNKNOWN_TIER_PRIOR));
  }
  return weights.sort((a, b) =>
    routeKey(a.country, a.mccMnc, a.channelId).localeCompare(routeKey(b.country, b.mccMnc, b.channelId)),
  );
}

/** Mean of a weight's delivery posterior. */
export function deliveryRate(weight: Pick<events.RoutingWeight, 'deliveredAlpha' | 'deliveredBeta'>): number {
  return weight.deliveredAlpha / (weight.deliveredAlpha + weight.deliveredBeta);
}

const routeKey = (country: string, mccMnc: string, channelId: string) => `${country}/${mccMnc}/${channelId}`;
