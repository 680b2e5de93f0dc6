import { isTier, type Tier } from '@tern/sms-domain';
import { routeKey, type ConversionEvidence } from './route-weights';

/** One route's figures over the report's range (country, carrier, channel). */
export interface RouteFigures {
  country: string;
  mccMnc: string;
  channelId: string;
  tier: string;
  attempts: number;
  delivered: number;
  /** Failures blocked by a carrier's sender or content filter: a registered sender ID may be the cure. */
  filtered: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  cost: number;
}

/** One channel's share of a country's traffic in one time bucket: how routing moved. */
export interface TrafficBucket {
  /** Start of the bucket, epoch ms. */
  at: number;
  country: string;
  channelId: string;
  attempts: number;
  delivered: number;
}

/**
 * Industry ranges per tier, from the product brief (direct 95-99% in 1-5 s, regional aggregation 85-95% in
 * 3-15 s, indirect forwarding 70-85% in 5-30 s). The brief gives no range for Tier-1 networks; ours puts
 * them between direct and aggregation.
 */
export const TIER_BENCHMARKS: Record<Tier, { delivery: [number, number]; latencyS: [number, number] }> = {
  direct: { delivery: [0.95, 0.99], latencyS: [1, 5] },
  tier1: { delivery: [0.9, 0.97], latencyS: [2, 8] },
  aggregator: { delivery: [0.85, 0.95], latencyS: [3, 15] },
  indirect: { delivery: [0.7, 0.85], latencyS: [5, 30] },
};

export type Verdict = 'above' | 'within' | 'below' | 'unknown';

export interface ChannelLine extends RouteFigures {
  deliveryRate: number;
  costPerDelivered: number;
  benchmark?: { delivery: [number, number]; latencyS: [number, number] };
  deliveryVerdict: Verdict;
  latencyVerdict: Verdict;
  /** What conversions say of the route's receipts (where tenants report conversions). */
  conversion?: ConversionEvidence;
}

/** OTPs of one tenant to one number range that risk refused as SMS pumping, or would have. */
export interface PumpingBlock {
  tenantId: string;
  /** The range's digits (E.164 without "+"). */
  range: string;
  /** Refused: the tenant's policy enforces. */
  refused: number;
  /** Let through, but the screen would have refused them: the tenant's policy only monitors. */
  wouldRefuse: number;
}

export interface Recommendation {
  kind: 'drop-channel' | 'needs-direct-route' | 'register-sender-id' | 'fake-receipts';
  country: string;
  channelId?: string;
  why: string;
}

export interface ChannelReport {
  from: string;
  to: string;
  generatedAt: string;
  totals: {
    attempts: number;
    delivered: number;
    deliveryRate: number;
    cost: number;
    costPerDelivered: number;
  };
  countries: {
    country: string;
    attempts: number;
    deliveryRate: number;
    latencyP50Ms: number;
    costPerDelivered: number;
  }[];
  /** Per channel and country (carriers folded in), then per carrier. */
  channels: ChannelLine[];
  carriers: ChannelLine[];
  routing: TrafficBucket[];
  /** Ranges whose OTPs risk refused as SMS pumping in the period, or would have, most first. */
  pumping: PumpingBlock[];
  recommendations: Recommendation[];
}

/** Fewer attempts than this say too little for a verdict or a recommendation. */
const MIN_ATTEMPTS = 30;
/** Below this share of its receipts confirmed by conversions, a channel's receipts are called likely fake. */
const FAKE_RECEIPTS_BELOW = 0.85;

/**
 * The channel optimization report: figures per country, channel and carrier, each channel against its
 * tier's industry range, how traffic moved between channels, and what to change. Pure.
 */
export function buildChannelReport(input: {
  from: Date;
  to: Date;
  now: Date;
  /** Per carrier: rows with an empty mccMnc are routes whose carrier was not known. */
  routes: readonly RouteFigures[];
  routing: readonly TrafficBucket[];
  /** Per country and channel, and per carrier, over the range, undecayed (conversionEvidence with no half-life). */
  conversions?: readonly ConversionEvidence[];
  pumping?: readonly PumpingBlock[];
}): ChannelReport {
  const conversionOf = new Map(
    (input.conversions ?? []).map((c) => [routeKey(c.country, c.mccMnc, c.channelId), c]),
  );
  const withConversion = (r: RouteFigures): ChannelLine => {
    const conversion = conversionOf.get(routeKey(r.country, r.mccMnc, r.channelId));
    return conversion ? { ...line(r), conversion } : line(r);
  };
  const carriers = input.routes.map(withConversion);
  const byChannel = new Map<string, RouteFigures>();
  for (const r of input.routes) {
    const key = `${r.country}/${r.channelId}`;
    const c = byChannel.get(key);
    if (!c) byChannel.set(key, { ...r, mccMnc: '' });
    else {
      // Latency of the whole from its carriers': weighted by deliveries (an approximation of the quantile).
      const d = c.delivered + r.delivered;
      c.latencyP50Ms = d > 0 ? (c.latencyP50Ms * c.delivered + r.latencyP50Ms * r.delivered) / d : 0;
      c.latencyP95Ms = d > 0 ? (c.latencyP95Ms * c.delivered + r.latencyP95Ms * r.delivered) / d : 0;
      c.attempts += r.attempts;
      c.delivered = d;
      c.filtered += r.filtered;
      c.cost += r.cost;
    }
  }
  const channels = [...byChannel.values()].map(withConversion).sort(byCountryThenVolume);
  const countries = [...groupBy(channels, (c) => c.country)].map(([country, lines]) => {
    const attempts = sum(lines, (l) => l.attempts);
    const delivered = sum(lines, (l) => l.delivered);
    return {
      country,
      attempts,
      deliveryRate: ratio(delivered, attempts),
      latencyP50Ms: delivered > 0 ? sum(lines, (l) => l.latencyP50Ms * l.delivered) / delivered : 0,
      costPerDelivered: ratio(
        sum(lines, (l) => l.cost),
        delivered,
      ),
    };
  });
  const attempts = sum(channels, (c) => c.attempts);
  const delivered = sum(channels, (c) => c.delivered);
  const cost = sum(channels, (c) => c.cost);
  return {
    from: input.from.toISOString(),
    to: input.to.toISOString(),
    generatedAt: input.now.toISOString(),
    totals: {
      attempts,
      delivered,
      deliveryRate: ratio(delivered, attempts),
      cost,
      costPerDelivered: ratio(cost, delivered),
    },
    countries: countries.sort((a, b) => b.attempts - a.attempts),
    channels,
    carriers: carriers.sort(byCountryThenVolume),
    routing: [...input.routing].sort((a, b) => a.at - b.at || a.country.localeCompare(b.country)),
    pumping: [...(input.pumping ?? [])].sort(
      (a, b) => b.refused + b.wouldRefuse - (a.refused + a.wouldRefuse),
    ),
    recommendations: recommend(channels, carriers),
  };
}

function line(r: RouteFigures): ChannelLine {
  const benchmark = isTier(r.tier) ? TIER_BENCHMARKS[r.tier] : undefined;
  const deliveryRate = ratio(r.delivered, r.attempts);
  const enough = r.attempts >= MIN_ATTEMPTS && benchmark !== undefined;
  return {
    ...r,
    deliveryRate,
    costPerDelivered: ratio(r.cost, r.delivered),
    ...(benchmark ? { benchmark } : {}),
    deliveryVerdict: enough ? verdict(deliveryRate, benchmark.delivery, true) : 'unknown',
    latencyVerdict:
      enough && r.delivered > 0 ? verdict(r.latencyP50Ms / 1000, benchmark.latencyS, false) : 'unknown',
  };
}

/** Where a value stands against a range; for latency, lower is better. */
function verdict(value: number, [low, high]: [number, number], higherIsBetter: boolean): Verdict {
  if (value < low) return higherIsBetter ? 'below' : 'above';
  if (value > high) return higherIsBetter ? 'above' : 'below';
  return 'within';
}

/** The receipts of a route (channel or carrier line) that conversions say are likely fake. */
const fakeReceipts = (l: ChannelLine) =>
  l.conversion !== undefined &&
  l.conversion.delivered >= MIN_ATTEMPTS &&
  l.conversion.confirmed < FAKE_RECEIPTS_BELOW;

function fakeReceiptsWhy(l: ChannelLine): string {
  const conversion = l.conversion!;
  const towards = l.mccMnc ? `${l.country}'s carrier ${l.mccMnc}` : l.country;
  return `${l.channelId} reports ${pct(l.deliveryRate)} delivered to ${towards}, but ${pct(conversion.converted / conversion.delivered)} of the OTPs it called delivered were used, against ${pct(conversion.reference)} on ${l.country}'s best route: about ${pct(1 - conversion.confirmed)} of its receipts are likely fake (routing counts them as failures)`;
}

function recommend(channels: readonly ChannelLine[], carriers: readonly ChannelLine[]): Recommendation[] {
  const out: Recommendation[] = [];
  const flagged = new Set(channels.filter(fakeReceipts).map((c) => `${c.country}/${c.channelId}`));
  // A channel that fakes receipts towards one carrier only: the channel's own figure may hide it.
  for (const c of carriers) {
    if (fakeReceipts(c) && !flagged.has(`${c.country}/${c.channelId}`)) {
      out.push({
        kind: 'fake-receipts',
        country: c.country,
        channelId: c.channelId,
        why: fakeReceiptsWhy(c),
      });
    }
  }
  for (const c of channels) {
    if (c.deliveryVerdict === 'below' && c.benchmark) {
      out.push({
        kind: 'drop-channel',
        country: c.country,
        channelId: c.channelId,
        why: `${c.channelId} delivered ${pct(c.deliveryRate)} to ${c.country} over ${c.attempts} attempts, below the ${c.tier} range (${pct(c.benchmark.delivery[0])}-${pct(c.benchmark.delivery[1])}): drop it or keep it as a last resort`,
      });
    }
    if (fakeReceipts(c)) {
      out.push({
        kind: 'fake-receipts',
        country: c.country,
        channelId: c.channelId,
        why: fakeReceiptsWhy(c),
      });
    }
    if (c.attempts >= MIN_ATTEMPTS && c.filtered / c.attempts >= 0.05) {
      out.push({
        kind: 'register-sender-id',
        country: c.country,
        channelId: c.channelId,
        why: `${pct(c.filtered / c.attempts)} of ${c.country}'s attempts on ${c.channelId} were filtered by the carrier: register the sender ID in ${c.country}`,
      });
    }
  }
  for (const [country, lines] of groupBy(channels, (c) => c.country)) {
    const attempts = sum(lines, (l) => l.attempts);
    const rate = ratio(
      sum(lines, (l) => l.delivered),
      attempts,
    );
    if (attempts >= MIN_ATTEMPTS && rate < 0.95 && !lines.some((l) => l.tier === 'direct')) {
      out.push({
        kind: 'needs-direct-route',
        country,
        why: `${country} delivered ${pct(rate)} over ${attempts} attempts with no direct route: a direct carrier agreement would lift it towards 95-99%`,
      });
    }
  }
  return out;
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((s, x) => s + f(x), 0);
const byCountryThenVolume = (a: RouteFigures, b: RouteFigures) =>
  a.country.localeCompare(b.country) || b.attempts - a.attempts;
function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const x of xs) groups.set(key(x), [...(groups.get(key(x)) ?? []), x]);
  return groups;
}
