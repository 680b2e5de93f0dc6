import type { events } from '@tern/contracts';
import {
  CircuitBreaker,
  DEFAULT_BREAKER_POLICY,
  type BreakerPolicy,
  type BreakerState,
} from './circuit-breaker';
import type { ChannelWait } from '@tern/sms-domain';
import type { RouteStats } from './select';

type StoredWeight = RouteStats & { latencyP95Ms: number; computedAt: number };

/** The connectors report every half second: a reading older than this is not the channel's state any more. */
const BACKLOG_MAX_AGE_MS = 5_000;

/**
 * What one router instance knows of every route: the latest weights from `routing.weights` (per channel
 * and country, and per carrier that had attempts), a circuit breaker per channel and per channel+carrier,
 * fed by submission and receipt outcomes, and how long each channel's submissions wait in the connectors.
 * Time is passed in; nothing here does I/O.
 */
export class RouteBook {
  private readonly weights = new Map<string, StoredWeight>();
  private readonly breakers = new Map<string, CircuitBreaker>();
  private backlog: { waits: ReadonlyMap<string, ChannelWait>; readAt: number } = {
    waits: new Map(),
    readAt: 0,
  };

  /**
   * @param weightsMaxAgeMs a weight analytics has not refreshed for this long is stale (analytics stopped,
   *   or the record is an earlier platform's left on the compacted topic): the tier prior applies instead.
   */
  constructor(
    private readonly policy: BreakerPolicy = DEFAULT_BREAKER_POLICY,
    private readonly weightsMaxAgeMs = Number.POSITIVE_INFINITY,
  ) {}

  /** Applies one record of the compacted weights topic (the latest per route wins). */
  applyWeight(weight: events.RoutingWeight): void {
    this.weights.set(weightKey(weight.channelId, weight.country, weight.mccMnc), {
      alpha: weight.deliveredAlpha,
      beta: weight.deliveredBeta,
      latencyP50Ms: weight.latencyP50Ms,
      latencyP95Ms: weight.latencyP95Ms,
      computedAt: weight.computedAt?.getTime() ?? 0,
    });
  }

  /**
   * The carrier's own figures where known and fresh, else the country's; undefined: no fresh data (the tier
   * prior applies).
   */
  stats(channelId: string, country: string, mccMnc: string, now: number): RouteStats | undefined {
    const fresh = (weight: StoredWeight | undefined) =>
      weight && { alpha: weight.alpha, beta: weight.beta, latencyP50Ms: weight.latencyP50Ms };
    return (
      (mccMnc ? fresh(this.fresh(channelId, country, mccMnc, now)) : undefined) ??
      fresh(this.fresh(channelId, country, '', now))
    );
  }

  /**
   * The route's measured p95 delivery latency (0: none fresh), the larger of the carrier's and the country's:
   * it sizes the receipt window (receiptWindowMs), where a tail guessed short from a carrier's few deliveries
   * sends a slow message twice.
   */
  latencyP95Ms(channelId: string, country: string, mccMnc: string, now: number): number {
    return Math.max(
      (mccMnc ? this.fresh(channelId, country, mccMnc, now)?.latencyP95Ms : 0) ?? 0,
      this.fresh(channelId, country, '', now)?.latencyP95Ms ?? 0,
    );
  }

  private fresh(channelId: string, country: string, mccMnc: string, now: number): StoredWeight | undefined {
    const weight = this.weights.get(weightKey(channelId, country, mccMnc));
    return weight && now - weight.computedAt <= this.weightsMaxAgeMs ? weight : undefined;
  }

  /**
   * The outcome of an attempt sent at `sentAt` on a channel towards a carrier, known at `now`: counts for the
   * channel's breaker and the carrier's.
   */
  recordOutcome(channelId: string, mccMnc: string, ok: boolean, sentAt: number, now: number): void {
    this.breaker(channelId).record(ok, sentAt, now);
    if (mccMnc) this.breaker(`${channelId}/${mccMnc}`).record(ok, sentAt, now);
  }

  /** Why the channel may not take this message now, or undefined. Half-open breakers let a few probes by. */
  blocked(channelId: string, mccMnc: string, now: number): string | undefined {
    if (!this.breaker(channelId).allows(now)) return `breaker open for ${channelId}`;
    if (mccMnc && !this.breaker(`${channelId}/${mccMnc}`).allows(now)) {
      return `breaker open for ${channelId} towards ${mccMnc}`;
    }
    return undefined;
  }

  /** A message went to the channel (a probe, if its breaker is half-open). */
  sent(channelId: string, mccMnc: string, now: number): void {
    this.breaker(channelId).sent(now);
    if (mccMnc) this.breaker(`${channelId}/${mccMnc}`).sent(now);
  }

  /** The connectors' waits per channel, read at `now` (channels missing: no wait). */
  applyBacklog(waits: ReadonlyMap<string, ChannelWait>, now: number): void {
    this.backlog = { waits, readAt: now };
  }

  /** How long a new submission would wait in the channel's connectors before its SMSC takes it. */
  queueWaitMs(channelId: string, urgent: boolean, now: number): number {
    if (now - this.backlog.readAt > BACKLOG_MAX_AGE_MS) return 0;
    const wait = this.backlog.waits.get(channelId);
    return wait ? (urgent ? wait.urgentMs : wait.bulkMs) : 0;
  }

  /** Every breaker's state (keys: the channel, or channel/mccMnc), for metrics. */
  breakerStates(now: number): Record<string, BreakerState> {
    return Object.fromEntries([...this.breakers].map(([key, b]) => [key, b.current(now)]));
  }

  private breaker(key: string): CircuitBreaker {
    let breaker = this.breakers.get(key);
    if (!breaker) {
      breaker = new CircuitBreaker(this.policy);
      this.breakers.set(key, breaker);
    }
    return breaker;
  }
}

function weightKey(channelId: string, country: string, mccMnc: string): string {
  return `${channelId}|${country}|${mccMnc}`;
}
