import type { TrafficClass } from '@tern/contracts';
import type { Channel, RoutingTable } from './routing-table';

/** The share of each limit's burst that bulk traffic leaves for the priority class. */
export const PRIORITY_RESERVE = 0.2;

export interface RateLimit {
  key: string;
  perSecond: number;
  burst: number;
  reserve: number;
}

/** The rate limits a message to `country` over `channel` passes: the country's (if set) and the channel's. */
export function limitsFor(
  table: RoutingTable,
  country: string,
  channel: Channel,
  trafficClass: TrafficClass,
): RateLimit[] {
  const limits: Omit<RateLimit, 'reserve'>[] = [];
  const countryLimit = table.countryLimits[country];
  if (countryLimit) {
    limits.push({
      key: `country:${country}`,
      perSecond: countryLimit.perSecond,
      burst: countryLimit.burst ?? Math.max(1, Math.ceil(countryLimit.perSecond)),
    });
  }
  limits.push({
    key: `channel:${channel.id}`,
    perSecond: channel.tps,
    burst: Math.max(1, Math.ceil(channel.tps)),
  });
  return limits.map((l) => ({
    ...l,
    reserve: trafficClass === 'bulk' ? Math.floor(l.burst * PRIORITY_RESERVE) : 0,
  }));
}
