import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ClickHouse, migrate } from '@tern/clickhouse';
import type { ConfigOf } from '@tern/config';
import { KafkaClient } from '@tern/kafka';
import { CONFIG, HealthRegistry, LOGGER } from '@tern/service-kit';
import type { Logger } from '@tern/telemetry';
import type { analyticsSettings } from './config';
import { RouteFiguresRepository } from './route-figures.repository';
import { WeightsPublisher } from './weights-publisher';

/** Wires analytics: the ClickHouse schema at start, then the weights loop every interval. */
@Injectable()
export class AnalyticsService implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private clickhouse: ClickHouse | undefined;
  private lastCycleAt = 0;

  constructor(
    @Inject(CONFIG) private readonly config: ConfigOf<typeof analyticsSettings>,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly kafka: KafkaClient,
    private readonly health: HealthRegistry,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const config = this.config;
    const options = { url: config.clickhouseUrl, database: config.clickhouseDatabase };
    const applied = await migrate(options);
    if (applied.length > 0) this.log.info({ applied }, 'ClickHouse schema migrated');
    const clickhouse = new ClickHouse(options);
    this.clickhouse = clickhouse;
    this.health.register('clickhouse', () => clickhouse.ping());
    // Ready while cycles complete: a loop stuck for several intervals is not publishing weights.
    this.health.register('weights-loop', () => {
      const ok = Date.now() - this.lastCycleAt < Math.max(60_000, 5 * config.intervalMs);
      return { ok, detail: { lastCycleAt: new Date(this.lastCycleAt).toISOString() } };
    });
    const publisher = new WeightsPublisher(
      new RouteFiguresRepository(clickhouse),
      this.kafka.producer(),
      config,
      this.log,
    );
    const cycle = () =>
      publisher
        .publish()
        .then(() => (this.lastCycleAt = Date.now()))
        .catch((err: unknown) => this.log.warn({ err }, 'routing weights cycle failed'));
    await cycle();
    this.timer = setInterval(() => {
      this.running = this.running.then(cycle);
    }, config.intervalMs);
    this.log.info(
      { intervalMs: config.intervalMs, halfLifeMs: config.halfLifeMs },
      'analytics publishing weights',
    );
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    await this.clickhouse?.close();
  }
}
