import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { watchDataFile, type ConfigOf, type WatchedDataFile } from '@tern/config';
import {
  dispatchTopic,
  ensureTopics,
  KafkaClient,
  ofTrafficClass,
  topics,
  trafficClassFetch,
  type BatchConsumer,
} from '@tern/kafka';
import {
  BACKLOG_REPORT_MS,
  ChannelBacklog,
  TokenBuckets,
  redisHealth,
  sharedRedis,
  RedisStateGuard,
} from '@tern/redis';
import { BulkPacer, CONFIG, HealthRegistry, LOGGER, PeriodicJob } from '@tern/service-kit';
import type { Logger } from '@tern/telemetry';
import type { Redis } from 'ioredis';
import { AttemptLedger } from './attempt-ledger';
import { exposeBreakers } from './breaker-metrics';
import type { routerSettings } from './config';
import { DeferredQueue } from './deferred-queue';
import { DEFAULT_BREAKER_POLICY } from './domain/circuit-breaker';
import { RouteBook } from './domain/route-book';
import { lanesOf, routingTableSchema, type RoutingTable } from './domain/routing-table';
import { classOf, isOfClass, trafficClassesNamed, type TrafficClass } from '@tern/contracts';
import { MessageRouter } from './message-router';
import { followRoutes } from './route-feed';
import { TrafficGate } from './traffic-gate';

const DEFERRED_POLL_MS = 500;
/** The longest a starting router waits for the recent routing weights before it routes. */
const WEIGHTS_WAIT_MS = 4000;
const DEFERRED_IN_FLIGHT = 500;
/** How long records of the bulk intake gather between fetches. */
const BULK_FETCH_GATHER_MS = 200;

/**
 * Wires the router: the routing table (reloaded on change), the route book (weights and breakers), and one
 * intake per traffic class over `sms.approved` and `sms.retry`, each taking only its own class, so a
 * marketing backlog waiting for its rate limits never stands in front of an OTP.
 */
@Injectable()
export class RouterService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly consumers: BatchConsumer[] = [];
  private redis: Redis | undefined;
  private redisGuard: RedisStateGuard | undefined;
  private table: WatchedDataFile<RoutingTable> | undefined;
  private deferredTimer: NodeJS.Timeout | undefined;
  private backlog: PeriodicJob | undefined;
  private deferredInFlight = 0;
  private router: MessageRouter | undefined;
  private readonly bulkPace: BulkPacer;

  constructor(
    @Inject(CONFIG) private readonly config: ConfigOf<typeof routerSettings>,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly kafka: KafkaClient,
    private readonly health: HealthRegistry,
  ) {
    this.bulkPace = BulkPacer.configured(config);
  }

  async onApplicationBootstrap(): Promise<void> {
    const config = this.config;
    const table = watchDataFile(config.routingTableFile, routingTableSchema, 'routing table', {
      intervalMs: config.routingTableReloadMs,
      onChange: (t) => {
        this.log.info({ channels: t.channels.length, lanes: lanesOf(t) }, 'routing table reloaded');
        void this.ensureLanes(t).catch((err: unknown) =>
          this.log.error({ err }, 'creating lane topics failed'),
        );
      },
      onRefused: (err) => this.log.error({ err }, 'routing table refused; the last good one stays in force'),
    });
    this.table = table;
    // A restarted router must route again within seconds, so the steps that do not depend on each other
    // run together: the lane topics, Redis, reading the recent weights, and joining the intake groups
    // (which after a kill waits for the broker to drop the dead member). Records the intakes receive wait
    // for `ready`: nothing is routed before the topics exist and the weights are read.
    const started = Date.now();
    const took = (step: Promise<unknown>) => step.then(() => Date.now() - started);
    const lanes = took(this.ensureLanes(table.current()));

    const redis = sharedRedis(config);
    this.redis = redis;
    this.redisGuard = new RedisStateGuard(redis, this.log);
    const redisUp = took(this.redisGuard.start());
    this.health.register('redis', redisHealth(redis, this.redisGuard));
    const book = new RouteBook(
      { ...DEFAULT_BREAKER_POLICY, windowMs: config.breakerWindowMs, openMs: config.breakerOpenMs },
      config.weightsMaxAgeMs,
    );
    exposeBreakers(book);
    // How long each channel's submissions wait in the connectors, as they report it.
    const backlog = new ChannelBacklog(redis);
    const readBacklog = async () => book.applyBacklog(await backlog.waits(), Date.now());
    this.backlog = new PeriodicJob('reading channel backlogs', BACKLOG_REPORT_MS, readBacklog, this.log);
    const deferred = new DeferredQueue(redis, config.deployment);
    const router = new MessageRouter({
      table: () => table.current(),
      book,
      ledger: new AttemptLedger(redis),
      gate: new TrafficGate(new TokenBuckets(redis, 'tern:router:rate:')),
      deferred,
      producer: this.kafka.producer(),
      log: this.log,
      // The baseline makes no failover: a failed attempt is the message's last.
      policy: config.strategy === 'cheapest' ? { ...config, maxAttempts: 1 } : config,
    });
    this.router = router;

    const routes = followRoutes(
      this.kafka,
      book,
      config.deployment,
      config.kafkaSessionTimeoutMs,
      config.weightsMaxAgeMs,
    );
    // Messages are routed on current weights: once the recent weights are read (a second or so), or after
    // WEIGHTS_WAIT_MS at most, on the tiers' priors where weights are missing.
    const weightsRead = took(
      Promise.all([routes.weights.start(), routes.outcomes.start()])
        .then(() =>
          Promise.race([
            routes.weights.caughtUp().then(() => true),
            sleep(WEIGHTS_WAIT_MS).then(() => false),
          ]),
        )
        .then((current) => {
          if (!current)
            this.log.warn({ waitedMs: WEIGHTS_WAIT_MS }, 'routing before every recent weight was read');
        }),
    );
    const ready = Promise.all([lanes, redisUp, weightsRead]);
    const intakes = trafficClassesNamed(config.trafficClasses).map((c) => this.intake(c, router, ready));
    this.consumers.push(routes.weights, routes.outcomes, ...intakes);
    this.health.registerConsumers(this.consumers);
    const joined = took(Promise.all(intakes.map((c) => c.start())));
    const [[lanesMs, redisMs, weightsMs], joinedMs] = await Promise.all([ready, joined]);
    this.deferredTimer = setInterval(() => this.releaseDeferred(deferred, router), DEFERRED_POLL_MS);
    this.log.info(
      {
        deployment: config.deployment,
        channels: table.current().channels.length,
        lanes: lanesOf(table.current()),
        startupMs: { lanes: lanesMs, redis: redisMs, weights: weightsMs, intakesJoined: joinedMs },
      },
      'router running',
    );
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.deferredTimer);
    await this.backlog?.stop();
    this.bulkPace.close();
    this.table?.close();
    // Consumers first learn they are stopping, then the waiting messages are released uncommitted.
    const stopped = Promise.all(this.consumers.map((c) => c.stop()));
    this.router?.close();
    await stopped;
    this.redisGuard?.stop();
    await this.redis?.quit();
  }

  /**
   * Approved messages and retries of one class; the other class's records are passed over at once,
   * undecoded where their header says their type.
   */
  private intake(trafficClass: TrafficClass, router: MessageRouter, ready: Promise<unknown>): BatchConsumer {
    const config = this.config;
    const only = ofTrafficClass(trafficClass, this.bulkPace);
    return this.kafka
      .consumer({
        groupId: `tern-router-${config.deployment}-${trafficClass}`,
        sessionTimeoutMs: config.kafkaSessionTimeoutMs,
        fromBeginning: config.newGroupStartsAt === 'earliest',
        // Every record is one message routed on its own; many wait for rate limits at once.
        concurrency: trafficClass === 'priority' ? config.priorityInFlight : config.bulkInFlight,
        partitionsInParallel: 6,
        // Marketing waits for rate limits anyway: the bulk intake gathers its records for a moment between
        // fetches, and waits longer after a fetch of only the other class's (trafficClassFetch). OTPs are
        // never kept waiting.
        gatherMs: trafficClass === 'bulk' ? BULK_FETCH_GATHER_MS : undefined,
        ...trafficClassFetch(trafficClass),
      })
      .on(
        topics.approved,
        async ({ value }) => {
          await ready;
          if (!isOfClass(value.message, trafficClass)) return;
          await this.bulkPace.turn(trafficClass);
          await router.approved(value);
        },
        only,
      )
      .on(
        topics.retry,
        async ({ value }) => {
          await ready;
          if (!isOfClass(value.message, trafficClass)) return;
          await this.bulkPace.turn(trafficClass);
          await router.retry(value);
        },
        only,
      );
  }

  private releaseDeferred(deferred: DeferredQueue, router: MessageRouter): void {
    const room = DEFERRED_IN_FLIGHT - this.deferredInFlight;
    if (room <= 0) return;
    this.deferredInFlight += room; // held until we know how many came due
    deferred
      .leaseDue(room)
      .then((due) => {
        this.deferredInFlight -= room - due.length;
        for (const { message, done } of due) {
          // A scheduled campaign coming due takes its turn like any marketing the intakes read.
          this.bulkPace
            .turn(classOf(message.type))
            .then(() => router.route(message, 1, new Set()))
            .then(done)
            .catch((err: unknown) =>
              this.log.warn({ err, messageId: message.messageId }, 'deferred message not routed yet'),
            )
            .finally(() => this.deferredInFlight--);
        }
      })
      .catch((err: unknown) => {
        this.deferredInFlight -= room;
        this.log.warn({ err }, 'reading deferred messages failed');
      });
  }

  private async ensureLanes(table: RoutingTable): Promise<void> {
    const lanes = lanesOf(table).map((lane) => this.kafka.topic(dispatchTopic(lane)));
    await ensureTopics(this.kafka.kafka, lanes, this.log, {
      replicationFactor: this.config.replicationFactor,
      minInsyncReplicas: this.config.minInsyncReplicas,
    });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
