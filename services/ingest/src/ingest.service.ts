import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { ConfigOf } from '@tern/config';
import { DEFAULT_PARTITIONS, KafkaClient, topics, type BatchConsumer } from '@tern/kafka';
import {
  BulkPacer,
  CONFIG,
  followTenants,
  grpcTlsFromSettings,
  HealthRegistry,
  LOGGER,
} from '@tern/service-kit';
import { TokenBuckets, redisHealth, sharedRedis, RedisStateGuard } from '@tern/redis';
import type { Logger } from '@tern/telemetry';
import type { Redis } from 'ioredis';
import { Acceptor } from './acceptor';
import type { ingestSettings } from './config';
import { GrpcApi } from './grpc-api';
import { HttpApi } from './http-api';
import { ConversionIntake } from './conversion-intake';
import { IdempotencyStore } from './idempotency';
import { MessageStore } from './message-store';
import { followNumberRanges, type FollowedNumberRanges } from './number-ranges-file';
import { SendEventLedger } from './event-ledger';
import { conversionEventBatchIntake, sendEventBatchIntake } from './event-intake';
import { SmppServer } from './smpp-server';
import { SmppStore } from './smpp-store';

const HOUR_MS = 3_600_000;
/** How long the parts of a concatenated SMPP message wait for the rest. */
const SMPP_PARTS_TTL_MS = 10 * 60_000;
/**
 * How long the status view gathers events between fetches: four per message, a fetch round trip each when
 * taken one by one, where a view that is 20 ms later is as current to the tenant that reads it.
 */
const STATUS_FETCH_GATHER_MS = 20;

/**
 * The public APIs (gRPC, HTTP, SMPP), the send-events and conversion-events intakes and the status view, over
 * one Redis and the shared producer.
 */
@Injectable()
export class IngestService implements OnApplicationBootstrap, OnModuleDestroy {
  private redis: Redis | undefined;
  private closeTenants: (() => void) | undefined;
  private ranges: FollowedNumberRanges | undefined;
  private redisGuard: RedisStateGuard | undefined;
  private readonly consumers: BatchConsumer[] = [];
  private api: GrpcApi | undefined;
  private httpApi: HttpApi | undefined;
  private smppServer: SmppServer | undefined;
  private readonly bulkPace: BulkPacer;

  constructor(
    @Inject(CONFIG) private readonly config: ConfigOf<typeof ingestSettings>,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly kafka: KafkaClient,
    private readonly health: HealthRegistry,
  ) {
    this.bulkPace = BulkPacer.configured(config);
  }

  async onApplicationBootstrap(): Promise<void> {
    const config = this.config;
    const followed = followTenants(config, this.log);
    this.closeTenants = followed.close;
    const tenants = followed.directory;
    const tls = grpcTlsFromSettings(config);
    const ranges = followNumberRanges(config.numberRangesFile, config.numberRangesReloadMs, this.log);
    this.ranges = ranges;
    // Auto-pipelining: commands of concurrent calls issued in one tick share one write (syscalls dominate here).
    const redis = sharedRedis(config);
    this.redis = redis;
    this.redisGuard = new RedisStateGuard(redis, this.log);
    await this.redisGuard.start();
    this.health.register('redis', redisHealth(redis, this.redisGuard));
    const messages = new MessageStore(
      redis,
      config.statusRetentionHours * HOUR_MS,
      config.statusStreamMaxLen,
      config.statusViewFormat,
    );
    const producer = this.kafka.producer();
    const idempotency = new IdempotencyStore(redis, config.idempotencyHours * 3600);
    const acceptor = new Acceptor({
      producer,
      idempotency,
      messages,
      limiter: new TokenBuckets(redis, 'tern:ingest:rate:'),
      bulkPace: this.bulkPace,
      log: this.log,
      policy: () => ({
        now: new Date(),
        ranges: ranges.current(),
        allowPrivateCallbacks: config.allowPrivateCallbacks,
        maxSegments: config.maxSegments,
      }),
    });

    // Status views: every sms.status event into the message's view and its tenant's stream, a fetch's
    // events at a time (a script run per message however many its events, 50 messages a Redis call).
    const statusView = this.kafka.consumer({
      groupId: `tern-ingest-${config.deployment}-status-view`,
      sessionTimeoutMs: config.kafkaSessionTimeoutMs,
      // Calls side by side, each message's events still in order (they are keyed by message id).
      concurrency: 16,
      keyOrdered: true,
      partitionsInParallel: DEFAULT_PARTITIONS,
      gatherMs: STATUS_FETCH_GATHER_MS,
      // A new deployment rebuilds the views of the statuses kept on the topic, unless told to start now.
      fromBeginning: config.newGroupStartsAt === 'earliest',
    });
    statusView.onBatch(topics.status, (records) =>
      messages.apply(
        records.map(({ value, rawValue, partition, offset }) => ({
          event: value,
          raw: rawValue,
          partition,
          offset,
        })),
      ),
    );
    // The public intake topics, for enterprises' own producers: sends and conversions.
    const intake = this.kafka.consumer({
      groupId: `tern-ingest-${config.deployment}-send-events`,
      sessionTimeoutMs: config.kafkaSessionTimeoutMs,
      // Each event stands alone (idempotency is by client reference), so many are accepted at once.
      concurrency: 100,
      partitionsInParallel: DEFAULT_PARTITIONS,
      fromBeginning: config.newGroupStartsAt === 'earliest',
    });
    const conversions = new ConversionIntake(
      messages,
      idempotency,
      new IdempotencyStore(redis, config.idempotencyHours * 3600, undefined, 'tern:ingest:conversion'),
      producer,
    );
    // A hundred events a call at most: one refused sends the call's events through again one at a time.
    const calls = { maxRecords: 100 };
    intake
      .onBatch(topics.sendEvents, sendEventBatchIntake(tenants, new SendEventLedger(redis), acceptor), calls)
      .onBatch(topics.conversionEvents, conversionEventBatchIntake(tenants, conversions), calls);
    this.consumers.push(statusView, intake);
    this.health.registerConsumers(this.consumers);
    await Promise.all(this.consumers.map((c) => c.start()));

    this.api = new GrpcApi({
      tenants,
      acceptor,
      messages,
      conversions,
      streamConnection: () => redis.duplicate(),
      streamLimits: { perTenant: config.statusStreamsPerTenant, total: config.statusStreamsMax },
      tls,
      log: this.log,
    });
    const grpcPort = await this.api.listen('0.0.0.0', config.grpcPort);
    this.log.info({ grpcPort, tls: tls !== undefined }, 'gRPC API listening');
    this.httpApi = new HttpApi({ api: this.api, tls, log: this.log });
    const apiHttpPort = await this.httpApi.listen('0.0.0.0', config.apiHttpPort);
    this.log.info({ apiHttpPort, tls: tls !== undefined }, 'HTTP API listening');
    this.smppServer = new SmppServer({
      tenants,
      acceptor,
      store: new SmppStore(redis, config.statusRetentionHours * HOUR_MS, SMPP_PARTS_TTL_MS),
      redis,
      streamKey: (tenantId) => messages.streamKey(tenantId),
      tls,
      log: this.log,
    });
    const smppPorts = await this.smppServer.listen('0.0.0.0', config.smppPort, config.smppTlsPort);
    this.log.info(smppPorts, 'SMPP server listening');
  }

  // Calls first (no new work), then the consumers finish their records, then Redis.
  async onModuleDestroy(): Promise<void> {
    this.closeTenants?.();
    this.ranges?.close();
    this.bulkPace.close();
    await Promise.all([this.api?.close(), this.httpApi?.close(), this.smppServer?.close()]);
    await Promise.all(this.consumers.map((c) => c.stop()));
    this.redisGuard?.stop();
    await this.redis?.quit();
  }
}
