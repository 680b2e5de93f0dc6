import { events } from '@tern/contracts';
import { isTier, tierPrior, type TierPrior } from '@tern/sms-domain';

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
  /** A carrier with this many attempts in the window is judged on its own evidence and its tier's prior. */
  minCarrierAttempts: number;
  /**
   * Below minCarrierAttempts, a carrier's prior is its route's figures (the channel towards the whole
   * country), worth as much as the route's carriers agree (carrierPoolingWorth), and at least this many
   * attempts.
   */
  carrierPriorStrength: number;
  /** The latency the tier priors are stated against (LATENCY_REFERENCE_MS, smaller on a faster clock). */
  latencyReferenceMs: number;
}

/**
 * One route's OTPs of one minute that its receipts call delivered, and how many of them the tenants
 * reported used (only OTPs of tenants that report conversions, and old enough for their conversion to be in).
 */
export interface ConversionMinute {
  /** Start of the minute the attempts ended, epoch ms. */
  minute: number;
  country: string;
  /** The carrier the OTPs went to; empty where it was not known. */
  mccMnc: string;
  channelId: string;
  delivered: number;
  converted: number;
  /** Over the converted: the sum of their times from acceptance to use, ms. */
  timeToUseMs: number;
}

/**
 * What conversions say of one route, time-decayed: per country and channel (mccMnc empty), and per carrier
 * of it.
 */
export interface ConversionEvidence {
  country: string;
  mccMnc: string;
  channelId: string;
  /** OTPs delivered by receipt, and of them converted (decayed counts). */
  delivered: number;
  converted: number;
  /** Mean time from acceptance to use of the converted OTPs, ms (0: none converted). */
  timeToUseMeanMs: number;
  /**
   * Conversions per delivered receipt: the route's own, pulled toward the reference while evidence is thin
   * (a carrier's toward its channel's rate in the country).
   */
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
   * Delivered OTPs worth of prior belief that a candidate for its country's reference converts like the
   * best routes everywhere. A rate of 20 OTPs is known to about ±0.1, and a route new to a country (its
   * first OTPs often failovers, whose codes are used less) would otherwise set the bar low and confirm the
   * receipts of the route it is taking over from.
   */
  referencePriorStrength: number;
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
  referencePriorStrength: 100,
  expectedConversion: 0.7,
};

/**
 * How far each route's delivery receipts are confirmed by conversions. A route that fakes receipts reports
 * DELIVRD for messages no phone got, and their codes are never used: its conversions per delivered receipt
 * fall below those of honest routes in the same country, whose users convert at the rate real delivery
 * gives. Per route (country x channel), with counts decayed like the weights' evidence:
 *
 *   everywhere = the highest converted / delivered among every country's routes with at least
 *                minReferenceEvidence delivered, and expectedConversion
 *   reference  = the highest among the country's routes with that much evidence of
 *                (converted + referencePriorStrength x everywhere) / (delivered + referencePriorStrength);
 *                when fewer than two of the country's have that much, everywhere
 *   rate       = (converted + priorStrength x reference) / (delivered + priorStrength)
 *   confirmed  = min(1, rate / reference)
 *
 * and per carrier of a route, pooled toward the route's own rate rather than the reference, so a carrier
 * with few OTPs is judged like its route until its own conversions say otherwise:
 *
 *   carrier rate = (carrier converted + priorStrength x route rate) / (carrier delivered + priorStrength)
 *
 * Routes with no conversion evidence are absent: their receipts stand.
 */
export function conversionEvidence(
  minutes: readonly ConversionMinute[],
  now: number,
  halfLifeMs: number,
  policy: ConversionPolicy = CONVERSION_POLICY,
): ConversionEvidence[] {
  type Counts = Pick<ConversionEvidence, 'country' | 'mccMnc' | 'channelId' | 'delivered' | 'converted'> & {
    timeToUseMs: number;
  };
  const routes = new Map<string, Counts>();
  const carriers = new Map<string, Counts>();
  const add = (into: Map<string, Counts>, mccMnc: string, m: ConversionMinute, decay: number) => {
    const key = routeKey(m.country, mccMnc, m.channelId);
    const counts = into.get(key) ?? {
      country: m.country,
      mccMnc,
      channelId: m.channelId,
      delivered: 0,
      converted: 0,
      timeToUseMs: 0,
    };
    counts.delivered += decay * m.delivered;
    counts.converted += decay * Math.min(m.converted, m.delivered);
    counts.timeToUseMs += decay * m.timeToUseMs;
    into.set(key, counts);
  };
  for (const m of minutes) {
    const decay = 0.5 ** (Math.max(0, now - (m.minute + 60_000)) / halfLifeMs);
    add(routes, '', m, decay);
    if (m.mccMnc) add(carriers, m.mccMnc, m, decay);
  }
  const solid = [...routes.values()].filter((r) => r.delivered >= policy.minReferenceEvidence);
  const everywhere = Math.max(...solid.map((r) => r.converted / r.delivered), policy.expectedConversion);
  // A country's candidates are pulled toward what is expected everywhere: the first few OTPs of a route
  // new to the country measure its rate too roughly to set the country's bar.
  const countryBest = (among: typeof solid) =>
    Math.max(
      ...among.map(
        (r) =>
          (r.converted + policy.referencePriorStrength * everywhere) /
          (r.delivered + policy.referencePriorStrength),
      ),
    );
  const judged = (c: Counts, reference: number, prior: number): ConversionEvidence => {
    const { timeToUseMs, ...counts } = c;
    const rate = (c.converted + policy.priorStrength * prior) / (c.delivered + policy.priorStrength);
    return {
      ...counts,
      timeToUseMeanMs: c.converted > 0 ? timeToUseMs / c.converted : 0,
      rate,
      reference,
      confirmed: Math.min(1, rate / reference),
    };
  };
  const evidence = new Map<string, ConversionEvidence>();
  for (const r of routes.values()) {
    const inCountry = solid.filter((s) => s.country === r.country);
    const reference = inCountry.length >= 2 ? countryBest(inCountry) : everywhere;
    evidence.set(routeKey(r.country, '', r.channelId), judged(r, reference, reference));
  }
  for (const c of carriers.values()) {
    const route = evidence.get(routeKey(c.country, '', c.channelId))!;
    evidence.set(routeKey(c.country, c.mccMnc, c.channelId), judged(c, route.reference, route.rate));
  }
  return [...evidence.values()];
}

/** Routes whose tier is unknown start from an even prior worth two attempts, at the reference latency. */
const unknownTierPrior = (latencyReferenceMs: number): TierPrior => ({
  alpha: 1,
  beta: 1,
  latencyP50Ms: latencyReferenceMs,
});

/**
 * What a route's weight starts from: delivery as Beta pseudo-counts, and latency worth `latencyStrength`
 * deliveries against the route's own.
 */
interface Prior {
  alpha: number;
  beta: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  latencyStrength: number;
}

/**
 * A route's prior: its tier's. Its latency is worth as many deliveries as its delivery is worth attempts
 * (ten): a route's first receipts do not replace it. Before, the first one did, and in latam-fintech one
 * 2.7 s receipt of the 18 s default route (its fast tail) made it as quick as Tier-1 for Mexico, whose next
 * 12 OTPs then went there, until its slow receipts came in.
 */
const priorOfTier = (tier: string, latencyReferenceMs: number): Prior => {
  const prior = isTier(tier) ? tierPrior(tier, latencyReferenceMs) : unknownTierPrior(latencyReferenceMs);
  return {
    ...prior,
    latencyP95Ms: 2 * prior.latencyP50Ms,
    latencyStrength: prior.alpha + prior.beta,
  };
};

/**
 * How many attempts a route's figures are worth as the prior of one of its thin carriers: a Beta-binomial's
 * method of moments (empirical Bayes). The carriers' delivery rates spread around the route's by chance
 * alone, binomially, or more; the excess `t2` is how much carriers really differ, and a Beta prior with that
 * variance is worth `p(1 - p) / t2 - 1` attempts. Carriers that agree pool fully (the route's own worth: a
 * thin carrier is as sure as its route, so sampling does not scatter its traffic); one that stands apart
 * makes the route say little of any carrier, down to `floor` attempts, and each carrier's own attempts
 * decide.
 */
export function carrierPoolingWorth(
  carriers: readonly { delivered: number; failed: number }[],
  routeWorth: number,
  floor: number,
): number {
  const tried = carriers.filter((c) => c.delivered + c.failed > 0);
  const total = tried.reduce((n, c) => n + c.delivered + c.failed, 0);
  if (tried.length < 2) return routeWorth;
  const p = tried.reduce((n, c) => n + c.delivered, 0) / total;
  const binomial = p * (1 - p);
  const spread =
    tried.reduce(
      (n, c) => n + (c.delivered + c.failed) * (c.delivered / (c.delivered + c.failed) - p) ** 2,
      0,
    ) / total;
  const excess = spread - (binomial * (tried.length - 1)) / total;
  if (excess <= 0 || binomial === 0) return routeWorth;
  return Math.min(routeWorth, Math.max(floor, binomial / excess - 1));
}

/** A thin carrier's prior: its route's weight, worth `worth` attempts. */
const routePrior = (route: events.RoutingWeight, worth: number): Prior => ({
  alpha: worth * deliveryRate(route),
  beta: worth * (1 - deliveryRate(route)),
  latencyP50Ms: route.latencyP50Ms,
  latencyP95Ms: route.latencyP95Ms,
  latencyStrength: worth,
});

/** A route's figures summed over the window; deliveries, failures and cost time-decayed. */
type Evidence = Omit<RouteMinute, 'minute'>;

/**
 * Routing weights from per-minute figures, per channel and country, and per carrier of it: a Beta posterior
 * of delivery (a prior plus time-decayed deliveries and failures, the deliveries only as far as conversions
 * confirm them: see conversionEvidence), latency p50/p95, and cost per delivered message (decayed too). The
 * prior is the tier's for a route and for a carrier with minCarrierAttempts; a thinner carrier's is its
 * route's, worth as much as the route's carriers agree (carrierPoolingWorth: a two-level model, the carrier
 * pooled toward its route, whose own prior drifts back to the tier's as its evidence decays). Pure: time
 * comes in as `now`.
 */
export function routeWeights(
  minutes: readonly RouteMinute[],
  latencies: readonly RouteLatency[],
  now: number,
  policy: WeightPolicy,
  conversions: readonly ConversionEvidence[] = [],
): events.RoutingWeight[] {
  const confirmedOf = new Map(
    conversions.map((c) => [routeKey(c.country, c.mccMnc, c.channelId), c.confirmed]),
  );
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
  const weigh = (e: Evidence, prior: Prior): events.RoutingWeight => {
    const latency = latencyOf.get(routeKey(e.country, e.mccMnc, e.channelId));
    // Receipts that conversions do not confirm count as failures: a carrier's by its own conversions where
    // it has any, else by its route's.
    const confirmed =
      confirmedOf.get(routeKey(e.country, e.mccMnc, e.channelId)) ??
      confirmedOf.get(routeKey(e.country, '', e.channelId)) ??
      1;
    const delivered = e.delivered * confirmed;
    // The route's own latency where it delivered, weighed against the prior's by deliveries.
    const latencyMs = (own: number | undefined, fromPrior: number) =>
      own && delivered > 0
        ? (prior.latencyStrength * fromPrior + delivered * own) / (prior.latencyStrength + delivered)
        : fromPrior;
    return {
      country: e.country,
      mccMnc: e.mccMnc,
      channelId: e.channelId,
      deliveredAlpha: prior.alpha + delivered,
      deliveredBeta: prior.beta + e.failed + e.delivered - delivered,
      latencyP50Ms: latencyMs(latency?.p50Ms, prior.latencyP50Ms),
      latencyP95Ms: latencyMs(latency?.p95Ms, prior.latencyP95Ms),
      costPerDelivered: delivered > 0 ? e.cost / delivered : 0,
      attempts: e.attempts,
      computedAt,
    };
  };
  const weights = new Map<string, events.RoutingWeight>();
  for (const [key, e] of routes) {
    if (!e.mccMnc) weights.set(key, weigh(e, priorOfTier(e.tier, policy.latencyReferenceMs)));
  }
  const carriersOf = new Map<string, Evidence[]>();
  for (const e of routes.values()) {
    if (!e.mccMnc) continue;
    const route = routeKey(e.country, '', e.channelId);
    const carriers = carriersOf.get(route) ?? [];
    carriers.push(e);
    carriersOf.set(route, carriers);
  }
  for (const [key, carriers] of carriersOf) {
    const route = weights.get(key)!;
    const worth = carrierPoolingWorth(
      carriers,
      route.deliveredAlpha + route.deliveredBeta,
      policy.carrierPriorStrength,
    );
    for (const e of carriers) {
      const prior =
        e.attempts >= policy.minCarrierAttempts
          ? priorOfTier(e.tier, policy.latencyReferenceMs)
          : routePrior(route, worth);
      weights.set(routeKey(e.country, e.mccMnc, e.channelId), weigh(e, prior));
    }
  }
  return [...weights.values()].sort((a, b) =>
    routeKey(a.country, a.mccMnc, a.channelId).localeCompare(routeKey(b.country, b.mccMnc, b.channelId)),
  );
}

/** Mean of a weight's delivery posterior. */
export function deliveryRate(weight: Pick<events.RoutingWeight, 'deliveredAlpha' | 'deliveredBeta'>): number {
  return weight.deliveredAlpha / (weight.deliveredAlpha + weight.deliveredBeta);
}

/** One key for a route (mccMnc empty: the whole country) wherever routes are matched up. */
export const routeKey = (country: string, mccMnc: string, channelId: string) =>
  `${country}/${mccMnc}/${channelId}`;
