import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ClickHouse, clickhouseOptionsFromSettings, migrate } from '@tern/clickhouse';
import type { ConfigOf } from '@tern/config';
import { KafkaClient } from '@tern/kafka';
import {
  CONFIG,
  followOperators,
  grpcTlsFromSettings,
  HealthRegistry,
  LOGGER,
  PeriodicJob,
  type GrpcServer,
} from '@tern/service-kit';
import type { Logger } from '@tern/telemetry';
import { AnalyticsController, analyticsGrpcServer } from './analytics-api';
import { channelReport, RecentReports } from './channel-report.job';
import { ConsoleServer } from './console-server';
import { DeadLetterDesk } from './dead-letter-desk';
import type { analyticsSettings } from './config';
import { MessageTraceRepository } from './message-trace.repository';
import { PrometheusFigures } from './prometheus-figures';
import { RouteFiguresRepository } from './route-figures.repository';
import { WeightsPublisher } from './weights-publisher';

/** How old the console's hour and day reports may be. */
const CONSOLE_REPORTS_MS = 60_000;

/** Wires analytics: the ClickHouse schema at start, then the weights loop every interval. */
@Injectable()
export class AnalyticsService implements OnApplicationBootstrap, OnModuleDestroy {
  private weightsJob: PeriodicJob | undefined;
  private reportsJob: PeriodicJob | undefined;
  private clickhouse: ClickHouse | undefined;
  private api: GrpcServer | undefined;
  private console: ConsoleServer | undefined;
  private closeOperators: (() => void) | undefined;
  private lastCycleAt = 0;

  constructor(
    @Inject(CONFIG) private readonly config: ConfigOf<typeof analyticsSettings>,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly kafka: KafkaClient,
    private readonly health: HealthRegistry,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const config = this.config;
    // Before anything starts: a missing operators file or half a TLS setting stops the service at once.
    const operators = followOperators(config, this.log);
    this.closeOperators = operators.close;
    const access = { operators: operators.directory, tls: grpcTlsFromSettings(config) };
    const options = clickhouseOptionsFromSettings(config);
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
    const figures = new RouteFiguresRepository(clickhouse);
    const publisher = new WeightsPublisher(figures, this.kafka.producer(), config, this.log);
    this.weightsJob = new PeriodicJob(
      'routing weights cycle',
      config.intervalMs,
      () => publisher.publish().then(() => (this.lastCycleAt = Date.now())),
      this.log,
    );
    await this.weightsJob.runOnce();
    const deadLetters = new DeadLetterDesk(this.kafka.deadLetters(), clickhouse, this.log);
    this.api = analyticsGrpcServer(
      new AnalyticsController(
        () => publisher.latest(),
        (from, to) => channelReport(figures, from, to, config.conversionWindowMs),
        deadLetters,
        operators.directory,
      ),
      access,
      this.log,
    );
    const grpcPort = await this.api.listen('0.0.0.0', config.grpcPort);
    const reports = new RecentReports(figures, config.conversionWindowMs);
    this.reportsJob = new PeriodicJob(
      'console reports',
      CONSOLE_REPORTS_MS,
      () => reports.refresh(),
      this.log,
    );
    void this.reportsJob.runOnce();
    this.console = new ConsoleServer({
      operators: operators.directory,
      figures,
      traces: new MessageTraceRepository(clickhouse),
      deadLetters,
      reports,
      prometheus: config.prometheusUrl ? new PrometheusFigures(config.prometheusUrl) : undefined,
      weights: () => publisher.latest(),
      analyticsHashKey: config.analyticsHashKey,
      tls: access.tls,
      log: this.log,
    });
    const consolePort = await this.console.listen('0.0.0.0', config.consolePort);
    this.log.info(
      {
        intervalMs: config.intervalMs,
        halfLifeMs: config.halfLifeMs,
        grpcPort,
        consolePort,
        tls: access.tls !== undefined,
      },
      'analytics publishing weights',
    );
  }

  async onModuleDestroy(): Promise<void> {
    this.closeOperators?.();
    await this.api?.close();
    await this.console?.close();
    await this.weightsJob?.stop();
    await this.reportsJob?.stop();
    await this.clickhouse?.close();
  }
}
