import type { events } from '@tern/contracts';
import { topics, type TypedProducer } from '@tern/kafka';
import { metricsRegistry, type Logger } from '@tern/telemetry';
import { Gauge } from 'prom-client';
import {
  conversionEvidence,
  deliveryRate,
  routeWeights,
  type ConversionMinute,
  type WeightPolicy,
} from './domain/route-weights';
import type { RouteFiguresRepository } from './route-figures.repository';

const routeDelivery = new Gauge({
  name: 'tern_analytics_route_delivery_rate',
  help: 'Mean of each route’s delivery posterior as last published (country-level routes)',
  labelNames: ['country', 'channel'],
  registers: [metricsRegistry],
});
const lastPublished = new Gauge({
  name: 'tern_analytics_weights_published_seconds',
  help: 'Unix time of the last routing.weights publication',
  registers: [metricsRegistry],
});

export interface PublisherSettings extends WeightPolicy {
  /** How far back figures are read (evidence older than a few half-lives weighs nothing anyway). */
  windowMs: number;
  /** Latency quantiles are taken over this recent window. */
  latencyWindowMs: number;
  /** A delivered OTP whose code was not used within this time counts as not converted. */
  conversionWindowMs: number;
  /**
   * Conversions are read at most this often: their read costs the most of a cycle (a join of the window's
   * delivered OTPs with their conversions), and they move slowly, an OTP counting only once its window is over.
   */
  conversionRefreshMs: number;
}

/** One cycle of the feedback loop: route figures from ClickHouse -> weights -> `routing.weights`. */
export class WeightsPublisher {
  private published: events.RoutingWeight[] = [];
  private conversions: { readAt: number; minutes: ConversionMinute[] } | undefined;

  constructor(
    private readonly figures: RouteFiguresRepository,
    private readonly producer: TypedProducer,
    private readonly settings: PublisherSettings,
    private readonly log: Logger,
  ) {}

  async publish(now = Date.now()): Promise<events.RoutingWeight[]> {
    const since = new Date(now - this.settings.windowMs);
    const [minutes, latencies, conversionMinutes] = await Promise.all([
      this.figures.minutes(since),
      this.figures.latencies(new Date(now - this.settings.latencyWindowMs)),
      this.conversionMinutes(since, now),
    ]);
    const conversions = conversionEvidence(conversionMinutes, now, this.settings.halfLifeMs);
    const weights = routeWeights(minutes, latencies, now, this.settings, conversions);
    await Promise.all(weights.map((w) => this.producer.enqueue(topics.routingWeights, w)));
    for (const w of weights) {
      if (!w.mccMnc) routeDelivery.set({ country: w.country, channel: w.channelId }, deliveryRate(w));
    }
    lastPublished.set(now / 1000);
    this.published = weights;
    this.log.debug({ routes: weights.length }, 'routing weights published');
    return weights;
  }

  /** The conversions per route and minute, as read at most conversionRefreshMs ago. */
  private async conversionMinutes(since: Date, now: number): Promise<ConversionMinute[]> {
    if (!this.conversions || now - this.conversions.readAt >= this.settings.conversionRefreshMs) {
      const matureBefore = new Date(now - this.settings.conversionWindowMs);
      this.conversions = { readAt: now, minutes: await this.figures.conversionMinutes(since, matureBefore) };
    }
    return this.conversions.minutes;
  }

  /** The weights of the last cycle. */
  latest(): readonly events.RoutingWeight[] {
    return this.published;
  }
}
