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

/** Routes whose tier is unknown start from an even prior worth two attempts. */
const UNKNOWN_TIER_PRIOR: TierPrior = { alpha: 1, beta: 1, latencyP50Ms: 10_000 };

/** A route's figures summed over the window; deliveries, failures and cost time-decayed. */
type Evidence = Omit<RouteMinute, 'minute'>;

/**
 * Routing weights from per-minute figures, per channel and country, and per carrier where it has enough
 * attempts of its own: a Beta posterior of delivery (the tier's prior plus time-decayed deliveries and
 * failures), latency p50/p95 (the tier's prior latency where nothing was delivered), and cost per
 * delivered message (decayed too). Pure: time comes in as `now`.
 */
export function routeWeights(
  minutes: readonly RouteMinute[],
  latencies: readonly RouteLatency[],
  now: number,
  policy: WeightPolicy,
): events.RoutingWeight[] {
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
  const weights: events.RoutingWeight[] = [];
  for (const [key, e] of routes) {
    if (e.mccMnc && e.attempts < policy.minCarrierAttempts) continue;
    const prior = isTier(e.tier) ? TIER_PRIORS[e.tier] : UNKNOWN_TIER_PRIOR;
    const latency = latencyOf.get(key);
    weights.push({
      country: e.country,
      mccMnc: e.mccMnc,
      channelId: e.channelId,
      deliveredAlpha: prior.alpha + e.delivered,
      deliveredBeta: prior.beta + e.failed,
      latencyP50Ms: latency?.p50Ms || prior.latencyP50Ms,
      latencyP95Ms: latency?.p95Ms || 2 * prior.latencyP50Ms,
      costPerDelivered: e.delivered > 0 ? e.cost / e.delivered : 0,
      attempts: e.attempts,
      computedAt,
    });
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
