import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { watchDataFile, type ConfigOf, type WatchedDataFile } from '@tern/config';
import {
  bulkTakeover,
  KafkaClient,
  ofTrafficClass,
  topics,
  trafficClassFetch,
  type BatchConsumer,
} from '@tern/kafka';
import { BulkPacer, CONFIG, HealthRegistry, LOGGER } from '@tern/service-kit';
import { isOfClass, trafficClassesNamed, type TrafficClass } from '@tern/contracts';
import type { Logger } from '@tern/telemetry';
import { redisHealth, sharedRedis, RedisStateGuard } from '@tern/redis';
import type { Redis } from 'ioredis';
import type { riskSettings } from './config';
import { isOptOutReply, optOutScopes } from './domain/opt-out';
import { riskPolicySchema, type RiskPolicy } from './domain/policy';
import { RiskState } from './risk-state';
import { Screener } from './screener';

/**
 * Wires risk: the policy (reloaded on change), the shared state in Redis, and the intakes: accepted messages
 * (one per traffic class), STOP replies and reported conversions.
 */
@Injectable()
export class RiskService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly consumers: BatchConsumer[] = [];
  private redis: Redis | undefined;
  private redisGuard: RedisStateGuard | undefined;
  private policy: WatchedDataFile<RiskPolicy> | undefined;
  private readonly bulkPace: BulkPacer;
  /** The traffic classes this instance screens (TERN_TRAFFIC_CLASSES). */
  private readonly classes: TrafficClass[];

  constructor(
    @Inject(CONFIG) private readonly config: ConfigOf<typeof riskSettings>,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly kafka: KafkaClient,
    private readonly health: HealthRegistry,
  ) {
    this.bulkPace = BulkPacer.configured(config);
    this.classes = trafficClassesNamed(config.trafficClasses);
  }

  async onApplicationBootstrap(): Promise<void> {
    const config = this.config;
    const policy = watchDataFile(config.policyFile, riskPolicySchema, 'risk policy', {
      intervalMs: config.policyReloadMs,
      onChange: (p) => this.log.info({ countries: Object.keys(p.countries).length }, 'risk policy reloaded'),
      onRefused: (err) => this.log.error({ err }, 'risk policy refused; the last good one stays in force'),
    });
    this.policy = policy;
    const redis = sharedRedis(config);
    this.redis = redis;
    this.redisGuard = new RedisStateGuard(redis, this.log);
    await this.redisGuard.start();
    this.health.register('redis', redisHealth(redis, this.redisGuard));
    const state = new RiskState(redis);
    const screener = new Screener({
      policy: () => policy.current(),
      state,
      producer: this.kafka.producer(),
      log: this.log,
    });

    this.consumers.push(
      ...this.classes.map((trafficClass) => this.intake(trafficClass, screener)),
      this.kafka
        .consumer({
          groupId: `tern-risk-${config.deployment}-opt-out`,
          sessionTimeoutMs: config.kafkaSessionTimeoutMs,
          // Every STOP ever received counts, whenever this deployment started.
          fromBeginning: true,
        })
        .on(topics.inbound, async ({ value }) => {
          if (!isOptOutReply(value.body)) return;
          const scopes = optOutScopes(policy.current(), value.to);
          await Promise.all(scopes.map((scope) => state.optOut(scope, value.from)));
          this.log.info({ channelId: value.channelId, scopes }, 'opt-out recorded');
        }),
      this.kafka
        .consumer({
          groupId: `tern-risk-${config.deployment}-conversions`,
          sessionTimeoutMs: config.kafkaSessionTimeoutMs,
          fromBeginning: config.newGroupStartsAt === 'earliest',
          concurrency: config.inFlight,
          partitionsInParallel: 6,
        })
        // Each used OTP code counts for its number range's conversion rate (the pumping screen).
        .on(topics.conversions, ({ value }) => screener.conversionReported(value)),
    );
    this.health.registerConsumers(this.consumers);
    await Promise.all(this.consumers.map((c) => c.start()));
    this.log.info({ deployment: config.deployment }, 'risk screening running');
  }

  /**
   * Accepted messages of one traffic class, so an OTP is never screened after a marketing backlog; the other
   * class's records are passed over at once, undecoded where their header says their type. The priority
   * class keeps the group of the one intake before there were two, and the bulk class starts where it was.
   */
  private intake(trafficClass: TrafficClass, screener: Screener): BatchConsumer {
    const config = this.config;
    const screen = `tern-risk-${config.deployment}-screen`;
    return this.kafka
      .consumer({
        groupId: trafficClass === 'bulk' ? `${screen}-bulk` : screen,
        ...bulkTakeover(trafficClass, this.classes, screen),
        sessionTimeoutMs: config.kafkaSessionTimeoutMs,
        fromBeginning: config.newGroupStartsAt === 'earliest',
        // Each message is screened on its own; shared counters are exact in Redis whatever the order.
        concurrency: config.inFlight,
        partitionsInParallel: 6,
        ...trafficClassFetch(trafficClass),
      })
      .on(
        topics.accepted,
        async ({ value }) => {
          if (!isOfClass(value.message, trafficClass)) return;
          await this.bulkPace.turn(trafficClass);
          await screener.screen(value);
        },
        ofTrafficClass(trafficClass, this.bulkPace),
      );
  }

  async onModuleDestroy(): Promise<void> {
    this.policy?.close();
    this.bulkPace.close();
    await Promise.all(this.consumers.map((c) => c.stop()));
    this.redisGuard?.stop();
    await this.redis?.quit();
  }
}
