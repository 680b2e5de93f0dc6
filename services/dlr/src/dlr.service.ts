import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { ConfigOf } from '@tern/config';
import { KafkaClient, topics, type BatchConsumer } from '@tern/kafka';
import { CONFIG, HealthRegistry, LOGGER } from '@tern/service-kit';
import type { Logger } from '@tern/telemetry';
import { redisHealth, sharedRedis } from '@tern/redis';
import type { Redis } from 'ioredis';
import { AttemptLedger } from './attempt-ledger';
import type { dlrSettings } from './config';
import { ReceiptCorrelator } from './receipt-correlator';

const MISSING_POLL_MS = 1000;

/** Wires dlr: submissions and receipts into the attempt ledger, statuses and retries out. */
@Injectable()
export class DlrService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly consumers: BatchConsumer[] = [];
  private redis: Redis | undefined;
  private missingTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(CONFIG) private readonly config: ConfigOf<typeof dlrSettings>,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly kafka: KafkaClient,
    private readonly health: HealthRegistry,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const config = this.config;
    const redis = sharedRedis(config.redisUrl);
    this.redis = redis;
    this.health.register('redis', redisHealth(redis));
    const correlator = new ReceiptCorrelator(
      new AttemptLedger(redis),
      this.kafka.producer(),
      this.log,
      config,
    );
    const consumer = (name: string, keyOrdered: boolean) =>
      this.kafka.consumer({
        groupId: `tern-dlr-${config.deployment}-${name}`,
        sessionTimeoutMs: config.kafkaSessionTimeoutMs,
        fromBeginning: config.newGroupStartsAt === 'earliest',
        concurrency: config.inFlight,
        keyOrdered,
        partitionsInParallel: 6,
      });
    this.consumers.push(
      // Keyed by message id: one message's submissions in order.
      consumer('submitted', true).on(topics.submitted, ({ value }) => correlator.submitted(value)),
      // Keyed by channel: receipts are independent of each other; the ledger makes each part count once.
      consumer('receipts', false).on(topics.dlr, ({ value }) => correlator.receipt(value)),
    );
    this.health.registerConsumers(this.consumers);
    await Promise.all(this.consumers.map((c) => c.start()));
    this.missingTimer = setInterval(() => {
      correlator
        .reportMissing()
        .catch((err: unknown) => this.log.warn({ err }, 'reporting missing receipts failed'));
    }, MISSING_POLL_MS);
    this.log.info({ deployment: config.deployment }, 'dlr correlating');
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.missingTimer);
    await Promise.all(this.consumers.map((c) => c.stop()));
    await this.redis?.quit();
  }
}
