import { sms } from '@tern/contracts';
import type { Channel, RoutingTable } from './routing-table';

/**
 * Priority classes: OTP and transactional traffic is never queued behind marketing. Each class has its own
 * intake (so a marketing backlog never sits in front of a login code) and, at a shared rate limit, the
 * priority class may take the last tokens while bulk traffic leaves a reserve for it.
 */
export type TrafficClass = 'priority' | 'bulk';

export function classOf(type: sms.MessageType): TrafficClass {
  return type === sms.MessageType.MESSAGE_TYPE_MARKETING ? 'bulk' : 'priority';
}

/**
 * Whether a record whose message type header says `typeName` is this class's (a record without the header,
 * or with a name unknown here, is decoded and judged by its value).
 */
export function mayBeOfClass(typeName: string | undefined, trafficClass: TrafficClass): boolean {
  const type = typeName === undefined ? undefined : TYPES_BY_NAME.get(typeName);
  return type === undefined || classOf(type) === trafficClass;
}

const TYPES_BY_NAME = new Map(
  Object.values(sms.MessageType)
    .filter((t): t is sms.MessageType => typeof t === 'number')
    .map((t) => [sms.messageTypeToJSON(t), t]),
);

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
