import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { ConfigOf } from '@tern/config';
import { isOfClass, trafficClassesNamed } from '@tern/contracts';
import {
  bulkTakeover,
  DEFAULT_PARTITIONS,
  dispatchTopic,
  KafkaClient,
  ofTrafficClass,
  trafficClassFetch,
  type BatchConsumer,
} from '@tern/kafka';
import { BulkPacer, CONFIG, HealthRegistry, LOGGER, PeriodicJob } from '@tern/service-kit';
import { metricsRegistry, type Logger } from '@tern/telemetry';
import { Gauge } from 'prom-client';
import {
  BACKLOG_REPORT_MS,
  ChannelBacklog,
  ReceiptPresence,
  RedisStateGuard,
  redisHealth,
  sharedRedis,
} from '@tern/redis';
import type { ChannelWait } from '@tern/sms-domain';
import type { Redis } from 'ioredis';
import { AttemptStore } from './attempt-store';
import { ChannelBinds } from './channel-binds';
import { loadChannels } from './channels-file';
import type { smppConnectorSettings } from './config';
import { Dispatcher } from './dispatcher';
import { ReceiptFlow } from './domain/receipt-flow';
import { receiptForwarder } from './receipt-forwarder';

/**
 * A channel's submissions taking less than this here are not reported to the routers: the round trip of a
 * channel that keeps up, next to delivery latencies of seconds.
 */
const BACKLOG_REPORTED_FROM_MS = 100;

const queueWait = new Gauge({
  name: 'tern_smpp_queue_wait_seconds',
  help: "How long a channel's submissions take here now, from their call to the SMSC's answer (the README's Busy channels), per class: what the routers add to the channel's latency",
  labelNames: ['channel', 'class'],
  registers: [metricsRegistry],
});

/** Binds every configured channel, consumes the lanes' dispatch topics, and stops in the safe order. */
@Injectable()
export class SmppConnectorService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly channels = new Map<string, ChannelBinds>();
  private redis: Redis | undefined;
  private redisGuard: RedisStateGuard | undefined;
  private consumers: BatchConsumer[] = [];
  private presence: PeriodicJob | undefined;
  private backlog: PeriodicJob | undefined;
  private alive: PeriodicJob | undefined;
  private dispatcher: Dispatcher | undefined;
  private readonly bulkPace: BulkPacer;

  constructor(
    @Inject(CONFIG) private readonly config: ConfigOf<typeof smppConnectorSettings>,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly kafka: KafkaClient,
    private readonly health: HealthRegistry,
  ) {
    this.bulkPace = BulkPacer.configured(config);
  }

  async onApplicationBootstrap(): Promise<void> {
    const producer = this.kafka.producer();
    const receiptFlows = new Map<string, ReceiptFlow>();
    for (const { config, password } of loadChannels(this.config.channelsFile)) {
      const flow = new ReceiptFlow(Date.now());
      receiptFlows.set(config.id, flow);
      const binds = new ChannelBinds(
        config,
        password,
        this.log,
        receiptForwarder(config.id, producer, this.log, flow),
      );
      this.channels.set(config.id, binds);
      this.health.register(`smpp:${config.id}`, () => {
        const state = binds.state();
        return { ok: state.canSubmit > 0, detail: state };
      });
      binds.start();
    }
    // Commands queue until connected; a Redis outage surfaces as TransientError and the record waits.
    this.redis = sharedRedis(this.config);
    this.redisGuard = new RedisStateGuard(this.redis, this.log);
    await this.redisGuard.start();
    this.health.register('redis', redisHealth(this.redis, this.redisGuard));
    // dlr waits for a receipt while no bind of its channel can receive it, or receipts taken are not yet
    // written (see ReceiptPresence).
    const presence = new ReceiptPresence(this.redis);
    const markReceiving = () => {
      const now = Date.now();
      const receiving = [...this.channels].filter(([, binds]) => binds.canReceive()).map(([id]) => id);
      return presence.mark(
        receiving.map((channelId) => ({ channelId, since: receiptFlows.get(channelId)!.since(now) })),
        [...this.channels.keys()].filter((id) => !receiving.includes(id)),
      );
    };
    this.presence = new PeriodicJob('marking channels that receive', 1000, markReceiving, this.log);
    // The routers send new messages elsewhere while a channel's submissions queue here (see ChannelBacklog).
    const backlog = new ChannelBacklog(this.redis);
    const markBacklog = () => {
      const now = Date.now();
      const waits = new Map<string, ChannelWait>();
      for (const [channelId, binds] of this.channels) {
        const wait = binds.queueWait(now);
        queueWait.set({ channel: channelId, class: 'priority' }, wait.urgentMs / 1000);
        queueWait.set({ channel: channelId, class: 'bulk' }, wait.bulkMs / 1000);
        if (wait.bulkMs >= BACKLOG_REPORTED_FROM_MS) waits.set(channelId, wait);
      }
      return backlog.mark(waits);
    };
    this.backlog = new PeriodicJob('reporting channel backlogs', BACKLOG_REPORT_MS, markBacklog, this.log);
    const attempts = new AttemptStore(this.redis);
    // This process's claims stay its own while it lives; a copy of an attempt it is submitting waits for it.
    this.alive = new PeriodicJob('keeping attempt claims alive', 3000, () => attempts.heartbeat(), this.log);
    await this.alive.runOnce();
    const dispatcher = new Dispatcher(
      this.channels,
      attempts,
      producer,
      this.log,
      this.config.maxWaitForBindMs,
      this.config.downFailoverMs,
    );
    this.dispatcher = dispatcher;
    // Enough records in flight to fill every bind's window; each record is one independent attempt.
    const window = [...this.channels.values()].reduce((n, c) => n + c.config.binds * c.config.window, 0);
    // One group per traffic class, each passing over the other class's records (undecoded, by their
    // header), so OTPs never wait in a partition behind a marketing backlog; both feed the bind pool, where
    // OTPs take a free window slot first. The priority class keeps the group of the one intake before there
    // were two, and the bulk class first commits where it was.
    const group = `tern-smpp-connector-${this.config.lanes.join('+')}`;
    const classes = trafficClassesNamed(this.config.trafficClasses);
    this.consumers = classes.map((trafficClass) => {
      const consumer = this.kafka.consumer({
        groupId: trafficClass === 'bulk' ? `${group}-bulk` : group,
        ...bulkTakeover(trafficClass, classes, group),
        concurrency: Math.max(1, window),
        sessionTimeoutMs: this.config.kafkaSessionTimeoutMs,
        // A new lane's first connector takes the backlog already dispatched; later ones resume from commits.
        fromBeginning: true,
        // Every partition's records reach the bind pool at once, where OTPs are served before marketing.
        partitionsInParallel: DEFAULT_PARTITIONS,
        ...trafficClassFetch(trafficClass),
      });
      for (const lane of this.config.lanes)
        consumer.on(
          dispatchTopic(lane),
          async ({ value }) => {
            if (!isOfClass(value.message, trafficClass)) return;
            await this.bulkPace.turn(trafficClass);
            await dispatcher.handle(value);
          },
          ofTrafficClass(trafficClass, this.bulkPace),
        );
      return consumer;
    });
    this.health.registerConsumers(this.consumers);
    await Promise.all(this.consumers.map((c) => c.start()));
    this.log.info(
      { channels: [...this.channels.keys()], lanes: this.config.lanes, window },
      'smpp connector running',
    );
  }

  // Before the producer disconnects (onApplicationShutdown): finish submissions in hand, then unbind.
  async onModuleDestroy(): Promise<void> {
    await this.presence?.stop();
    await this.backlog?.stop();
    this.dispatcher?.close();
    this.bulkPace.close();
    await Promise.all(this.consumers.map((c) => c.stop()));
    await this.alive?.stop();
    await Promise.all([...this.channels.values()].map((c) => c.stop()));
    this.redisGuard?.stop();
    await this.redis?.quit();
  }
}
