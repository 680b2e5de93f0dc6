import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ClickHouse, clickhouseOptionsFromSettings, migrate } from '@tern/clickhouse';
import type { ConfigOf } from '@tern/config';
import { KafkaClient, STATUS_HEADERS, topics, type BatchConsumer } from '@tern/kafka';
import { CONFIG, followTenants, HealthRegistry, LOGGER, PeriodicJob } from '@tern/service-kit';
import type { Logger } from '@tern/telemetry';
import { ReceiptPresence, redisHealth, sharedRedis, RedisStateGuard } from '@tern/redis';
import type { Redis } from 'ioredis';
import { AttemptLedger } from './attempt-ledger';
import { ClickHouseWriter } from './clickhouse-writer';
import { CallbackSender } from './callback-sender';
import type { dlrSettings } from './config';
import { ReceiptCorrelator } from './receipt-correlator';
import { StatusCallbacks } from './status-callbacks';

const MISSING_POLL_MS = 1000;
const CALLBACK_POLL_MS = 250;
/**
 * How long the webhooks group waits to fetch again after a fetch of only statuses without a callback: it
 * wakes twice a second, not for each status of tenants that set none; a callback after a quiet spell waits
 * up to that.
 */
const CALLBACK_PASSED_OVER_GATHER_MS = 500;
/** How long trace rows bound for ClickHouse gather between fetches (at most the insert’s linger). */
const TRACE_FETCH_GATHER_MS = 200;
/**
 * Calls of rows bound for ClickHouse in flight per partition, each awaiting its insert (up to the linger):
 * more than the fetches of one linger, so a partition is not paused waiting for an insert.
 */
const WRITES_IN_FLIGHT = 16;
/**
 * Submissions or receipts per call at most: a fetch is cut into calls that overlap, TERN_DLR_IN_FLIGHT
 * records in all per partition, so one slow round trip does not hold the rest of the fetch.
 */
const LEDGER_RECORDS_PER_CALL = 50;

/**
 * Wires dlr: submissions and receipts into the attempt ledger, statuses, retries and attempt records out;
 * attempt records, reported conversions and each message's trace into ClickHouse; status events out to the tenants' callback URLs.
 */
@Injectable()
export class DlrService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly consumers: BatchConsumer[] = [];
  private readonly jobs: PeriodicJob[] = [];
  private redis: Redis | undefined;
  private closeTenants: (() => void) | undefined;
  private redisGuard: RedisStateGuard | undefined;
  private clickhouse: ClickHouse | undefined;
  private callbacks: StatusCallbacks | undefined;

  constructor(
    @Inject(CONFIG) private readonly config: ConfigOf<typeof dlrSettings>,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly kafka: KafkaClient,
    private readonly health: HealthRegistry,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const config = this.config;
    const followed = followTenants(config, this.log);
    this.closeTenants = followed.close;
    const tenants = followed.directory;
    const clickhouseOptions = clickhouseOptionsFromSettings(config);
    const applied = await migrate(clickhouseOptions);
    if (applied.length > 0) this.log.info({ applied }, 'ClickHouse schema migrated');
    const clickhouse = new ClickHouse(clickhouseOptions);
    this.clickhouse = clickhouse;
    this.health.register('clickhouse', () => clickhouse.ping());
    const redis = sharedRedis(config);
    this.redis = redis;
    this.redisGuard = new RedisStateGuard(redis, this.log);
    await this.redisGuard.start();
    this.health.register('redis', redisHealth(redis, this.redisGuard));

    const consumer = (
      name: string,
      options: { keyOrdered: boolean; concurrency?: number; gatherMs?: number; passedOverGatherMs?: number },
    ) =>
      this.kafka.consumer({
        groupId: `tern-dlr-${config.deployment}-${name}`,
        sessionTimeoutMs: config.kafkaSessionTimeoutMs,
        fromBeginning: config.newGroupStartsAt === 'earliest',
        concurrency: options.concurrency ?? config.inFlight,
        keyOrdered: options.keyOrdered,
        partitionsInParallel: 6,
        gatherMs: options.gatherMs,
        passedOverGatherMs: options.passedOverGatherMs,
      });
    // A call takes a part of a fetch, so the ledger's round trips are per call, not per record.
    const ledgerCalls = Math.ceil(config.inFlight / LEDGER_RECORDS_PER_CALL);
    // Everything dlr reads comes after the carrier has the message: a fetch waits a moment for company
    // rather than waking for each record (at 50 msg/s, a quarter of dlr's CPU), and a status or a retry
    // is later by at most that, next to the seconds a receipt takes.
    const gatherMs = config.fetchGatherMs;
    // Receipts are independent of each other (the ledger makes each part count once): not key-ordered.
    const receiptsConsumer = consumer('receipts', { keyOrdered: false, concurrency: ledgerCalls, gatherMs });
    const correlator = new ReceiptCorrelator(
      new AttemptLedger(redis),
      this.kafka.producer(),
      this.log,
      config,
      new ReceiptPresence(redis),
      { readPast: (at) => receiptsConsumer.committedPast(topics.dlr, at) },
    );
    const writer = new ClickHouseWriter(clickhouse, {
      maxRows: config.attemptBatchRows,
      lingerMs: config.attemptBatchLingerMs,
    });
    const callbacks = new StatusCallbacks(
      redis,
      new CallbackSender({ timeoutMs: config.callbackTimeoutMs, allowPrivate: config.allowPrivateCallbacks }),
      tenants,
      {
        baseMs: config.callbackRetryBaseMs,
        maxMs: config.callbackRetryMaxMs,
        giveUpMs: config.callbackGiveUpMs,
        tenantConcurrency: config.callbackTenantConcurrency,
        timeoutMs: config.callbackTimeoutMs,
      },
      this.log,
      (event, done) => writer.traceCallback(event, done),
    );
    this.callbacks = callbacks;
    const rows = { maxRecords: config.attemptBatchRows };
    this.consumers.push(
      // Keyed by message id: one message's submissions in order.
      consumer('submitted', { keyOrdered: true, concurrency: ledgerCalls, gatherMs }).onBatch(
        topics.submitted,
        (records) => correlator.submissions(records.map((r) => r.value)),
        { maxRecords: LEDGER_RECORDS_PER_CALL },
      ),
      receiptsConsumer.onBatch(topics.dlr, (records) => correlator.receipts(records.map((r) => r.value)), {
        maxRecords: LEDGER_RECORDS_PER_CALL,
      }),
      // A fetch's records at a time, up to an insert's worth, committed once their rows are stored; the
      // reported conversions too, the other figures the routing weights are made of.
      consumer('attempts', { keyOrdered: false, concurrency: WRITES_IN_FLIGHT, gatherMs })
        .onBatch(topics.attempts, (records) => writer.writeAttempts(records.map((r) => r.value)), rows)
        .onBatch(topics.conversions, (records) => writer.writeConversions(records.map((r) => r.value)), rows),
      // Every status event into its message's trace. The rows wait up to the linger for their insert anyway,
      // so a fetch gathers events for a part of it (four per message). Attempt rows gather less: the routing
      // weights are made of them.
      consumer('trace', {
        keyOrdered: false,
        concurrency: WRITES_IN_FLIGHT,
        gatherMs: Math.min(TRACE_FETCH_GATHER_MS, config.attemptBatchLingerMs),
      }).onBatch(topics.status, (records) => writer.writeStatuses(records.map((r) => r.value)), rows),
      // One message's events scheduled in order; their tries run outside the partition.
      // Events without a callback URL (the header says so) are passed over undecoded.
      consumer('callbacks', {
        keyOrdered: true,
        gatherMs,
        passedOverGatherMs: CALLBACK_PASSED_OVER_GATHER_MS,
      }).on(topics.status, ({ value }) => callbacks.handle(value), {
        only: (header) => header(STATUS_HEADERS.callback) !== 'no',
      }),
    );
    this.health.registerConsumers(this.consumers);
    await Promise.all(this.consumers.map((c) => c.start()));
    this.jobs.push(
      new PeriodicJob(
        'reporting missing receipts',
        MISSING_POLL_MS,
        () => correlator.reportMissing(),
        this.log,
      ),
      new PeriodicJob(
        'reporting unmatched receipts',
        MISSING_POLL_MS,
        () => correlator.reportUnmatched(),
        this.log,
      ),
      new PeriodicJob('retrying status callbacks', CALLBACK_POLL_MS, () => callbacks.drainDue(), this.log),
    );
    this.log.info({ deployment: config.deployment }, 'dlr correlating');
  }

  async onModuleDestroy(): Promise<void> {
    this.closeTenants?.();
    await Promise.all(this.jobs.map((j) => j.stop()));
    await Promise.all(this.consumers.map((c) => c.stop()));
    await this.callbacks?.stop();
    this.redisGuard?.stop();
    await this.redis?.quit();
    await this.clickhouse?.close();
  }
}
