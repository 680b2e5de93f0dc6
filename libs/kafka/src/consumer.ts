import { EventEmitter } from 'node:events';
import { context, SpanKind, SpanStatusCode, trace, type Link } from '@opentelemetry/api';
import { extractTraceContext, metricsRegistry, tracer, type Logger } from '@tern/telemetry';
import type {
  Admin,
  Batch,
  Consumer,
  ConsumerRunConfig,
  EachBatchPayload,
  IHeaders,
  Kafka,
  KafkaMessage,
} from 'kafkajs';
import { Counter, Gauge, Histogram } from 'prom-client';
import { CallMerger, JoinedCallFailed } from './call-merger';
import { CONTENT_TYPE_HEADER, DecodeError, decodeValue } from './codec';
import { isTransient, PoisonMessageError } from './errors';
import type { TypedProducer } from './producer';
import { countRequest } from './requests';
import { sleep, whileUnavailable } from './retry';
import type { TopicDef, TopicSpec } from './topics';

/** A decoded record as a handler sees it. */
export interface ConsumedRecord<T> {
  topic: string;
  partition: number;
  offset: string;
  key: string | undefined;
  value: T;
  /** The value's bytes as received (signatures are checked over what the producer wrote). */
  rawValue: Buffer;
  headers: IHeaders;
  timestamp: Date;
}

export type RecordHandler<T> = (record: ConsumedRecord<T>) => Promise<void>;

/**
 * Handles records of one fetch together: of one partition or of several (a call per partition, joined when
 * they start together), each partition's in offset order. It must be idempotent per record, as every handler
 * is under redelivery: when it fails with anything but a transient error, its records are handled again one
 * partition at a time, then one at a time (each as a batch of one), so the one at fault goes to the DLQ alone.
 */
export type BatchHandler<T> = (records: ConsumedRecord<T>[]) => Promise<void>;

/** A record header's text, undefined when the record has no such header. */
export type HeaderReader = (name: string) => string | undefined;

export interface HandlerOptions {
  /**
   * Handles only the records this accepts, judged from their headers (a topic's `headers`): the rest are
   * passed over, done, without being decoded. A record without the header must be accepted (a producer
   * that does not write it yet).
   */
  only?: (header: HeaderReader) => boolean;
  /**
   * Told, once a fetched batch, that `only` passed over some of its records: a bulk intake learns so that
   * priority traffic is about, though another process handles it.
   */
  passedOver?: () => void;
}

export interface BatchHandlerOptions extends HandlerOptions {
  /** The most records one call gets (default 500). */
  maxRecords?: number;
}

const DEFAULT_BATCH_RECORDS = 500;

interface Route {
  topic: TopicDef<unknown>;
  handle: BatchHandler<unknown>;
  only: ((header: HeaderReader) => boolean) | undefined;
  passedOver: (() => void) | undefined;
  /** Records per call: 1 for a record handler. */
  maxRecords: number;
  /** A batch route's: joins the calls that start together, of the fetch's partitions. */
  merger: CallMerger<ConsumedRecord<unknown>> | undefined;
}

export interface ConsumerOptions {
  groupId: string;
  /**
   * Attempts of a handler that throws an error that is neither poison nor transient (a defect met by this
   * record) before the record goes to the DLQ, so it cannot stall its partition.
   */
  maxHandlerAttempts?: number;
  /** Back-off between attempts; doubled each time up to maxRetryDelayMs. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /**
   * Records of one partition handled at the same time (default 1: strictly in order). Above 1, records of
   * the same key may run concurrently: use it where each record stands alone (e.g. one SMPP submission each).
   */
  concurrency?: number;
  /**
   * With concurrency above 1: records of the same key still run one after the other, in partition order
   * (a message's status events), while records of different keys overlap. A batch route's call waits for
   * the calls before it that hold a record of one of its keys.
   */
  keyOrdered?: boolean;
  /** Partitions whose batches are processed at the same time (kafkajs partitionsConsumedConcurrently). */
  partitionsInParallel?: number;
  /** Progress is committed once this many more records are done, or this often, whichever comes first. */
  commitEveryRecords?: number;
  commitIntervalMs?: number;
  /**
   * For a group whose work can wait a moment (rows bound for a batched ClickHouse insert, webhooks, marketing
   * that waits for its pace): after a fetch that brought records, the next one waits this long, so what is
   * written meanwhile comes in one batch and at low rates the group wakes a few times a second, not once per
   * record (each wake a fetch round trip for it and the broker). The first record after a quiet spell is
   * taken at once (a fetch is waiting for it), and an idle group fetches no more often than any other.
   * Default: no wait, for everything on a message's way to the carrier.
   */
  gatherMs?: number;
  /**
   * For a group that passes over most of what it reads (`only`: a marketing intake on OTP traffic, webhooks
   * of tenants that mostly set none): after a fetch whose records were all passed over, the next one waits
   * this long instead of `gatherMs`, so the group wakes a few times a second rather than for each record of
   * the others. A record of its own then waits up to this long; while its own records keep coming, `gatherMs`
   * alone applies. Default: as `gatherMs`.
   */
  passedOverGatherMs?: number;
  /** Readiness turns false when the fetch loop has not run for this long. */
  staleAfterMs?: number;
  /** Where to start when the group has no committed offset. */
  fromBeginning?: boolean;
  /**
   * A group this one takes work over from (one group's work split in two): a group that has committed
   * nothing yet first commits where that one has, so the records it handled are not handled again and none
   * after them is skipped; from then on it goes on from its own commits (`fromBeginning` decides where
   * neither has committed).
   */
  startsWhere?: string;
  /**
   * Start at the first record written at or after this time (ms since the epoch), read when start() runs,
   * whatever the group committed before. A state topic's reader takes only what is recent enough to count, however long
   * the topic's history.
   */
  startAt?: () => number;
  sessionTimeoutMs?: number;
}

export interface ConsumerHealth {
  ready: boolean;
  groupId: string;
  joined: boolean;
  running: boolean;
  lastLoopAt: string | undefined;
  detail?: string;
}

/** Headers of a DLQ record (besides the original record's own headers). */
export const DLQ_HEADERS = {
  reason: 'tern-dlq-reason',
  error: 'tern-dlq-error',
  field: 'tern-dlq-field',
  sourceTopic: 'tern-dlq-source-topic',
  sourcePartition: 'tern-dlq-source-partition',
  sourceOffset: 'tern-dlq-source-offset',
  consumerGroup: 'tern-dlq-consumer-group',
  failedAt: 'tern-dlq-failed-at',
} as const;

/** Stable DLQ reasons set by the wrapper itself; handlers add their own through PoisonMessageError. */
export const DLQ_REASONS = { decode: 'DECODE_ERROR', handler: 'HANDLER_ERROR' } as const;

const consumed = new Counter({
  name: 'tern_kafka_consumed_total',
  help: 'Records processed, per topic and outcome (ok, dlq, skipped: passed over by the handler options)',
  labelNames: ['topic', 'group', 'outcome'],
  registers: [metricsRegistry],
});
const dlqTotal = new Counter({
  name: 'tern_kafka_dlq_total',
  help: 'Records sent to a DLQ, per source topic and reason',
  labelNames: ['topic', 'group', 'reason'],
  registers: [metricsRegistry],
});
const batchSize = new Histogram({
  name: 'tern_kafka_batch_size',
  help: 'Records per fetched batch',
  labelNames: ['topic', 'group'],
  buckets: [1, 10, 50, 200, 1000, 5000],
  registers: [metricsRegistry],
});
/** A stage's times per topic and group, in seconds: from an OTP's milliseconds to a backlog's minutes. */
const stageHistogram = ({ name, help }: { name: string; help: string }) =>
  new Histogram({
    name,
    help,
    labelNames: ['topic', 'group'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [metricsRegistry],
  });
/**
 * A stage's latency in time rather than records: how long a record waited between its write (the
 * producer's timestamp) and the start of its handling, whatever held it (a gather, a paused partition,
 * the event loop, a consumer away). Along a message's way to the carrier, each group's figure is the wait
 * in front of one service.
 */
const recordAge = stageHistogram({
  name: 'tern_kafka_record_age_seconds',
  help: "Time from a record's write (its timestamp) to the start of its handling, per topic and group",
});
/** And a stage's own work: how long each handler call took once started (a call is a batch or a record). */
const callDuration = stageHistogram({
  name: 'tern_kafka_handle_seconds',
  help: 'Time a handler call took, its retries included, per topic and group (a call: a batch or a record)',
});
/** Consumers running in this process, whose groups' lag the metric below reports. */
const running = new Set<BatchConsumer>();
/** How long a scrape waits for Kafka to tell the lag: a broker away must not hang /metrics. */
const LAG_QUERY_TIMEOUT_MS = 2_000;
new Gauge({
  name: 'tern_kafka_consumer_lag',
  help: 'Records of each partition written and not yet committed by the consumer group, as Kafka tells it at scrape time (every member of a group reports the whole group: aggregate with max)',
  labelNames: ['topic', 'group', 'partition'],
  registers: [metricsRegistry],
  async collect() {
    this.reset();
    const lags = await Promise.all([...running].map((c) => c.lag().catch(() => [])));
    for (const { group, topic, partition, records } of lags.flat())
      this.set({ group, topic, partition }, records);
  },
});
const crashes = new Counter({
  name: 'tern_kafka_consumer_crashes_total',
  help: 'Times kafkajs stopped a member of a consumer group on an error; each is restarted (by kafkajs, or by the wrapper where kafkajs would not)',
  labelNames: ['group'],
  registers: [metricsRegistry],
});
const lastLoop = new Gauge({
  name: 'tern_kafka_consumer_last_loop_seconds',
  help: 'Unix time of the last fetch loop of a consumer group',
  labelNames: ['group'],
  registers: [metricsRegistry],
});

type Outcome = 'processed' | 'stopped';

/** How long a fetch that finds no record waits for one. */
const IDLE_FETCH_WAIT_MS = 500;
/** Tries of an admin step at start while Kafka cannot answer it (about 40 s with the default back-off). */
const START_ATTEMPTS = 10;
/**
 * kafkajs's retries of a request while a broker is away (a restart, a failover): at most 3 s apart, so the
 * group is back at work within seconds of the broker (the defaults let a restart wait 10-15 s more). The
 * restarts after a crash that kafkajs gives up on back off the same way.
 */
const KAFKA_RETRY = { initialRetryTime: 300, maxRetryTime: 3000, retries: 10 };

/** One handler call's records, fetched and waiting for a slot. */
interface QueuedWork {
  /** The records the call covers, in offset order: committed together once it is done. */
  messages: KafkaMessage[];
  /** Those of them for the handler: the rest were passed over by the route's `only`. */
  handled: KafkaMessage[];
  batch: Batch;
  route: Route;
  heartbeat: () => Promise<void>;
  /** Moves the partition's fetch position past these records. */
  resolve: () => void;
}

/** One handler call's surroundings: its route, its fetched batch, and how it keeps or loses its partition. */
interface Call {
  route: Route;
  batch: Batch;
  heartbeat: () => Promise<void>;
  /** Stopping, or the partition lost: records not done are left for whoever consumes them next. */
  interrupted: () => boolean;
}

/** A record decoded for its handler, with the message it came from (for its DLQ copy). */
interface Decoded {
  record: ConsumedRecord<unknown>;
  message: KafkaMessage;
}

/** One partition's records started by this member and not yet committed, in offset order. */
interface PartitionProgress {
  topic: string;
  partition: number;
  pending: { offset: string; done: boolean }[];
  /** The last offset started (records start in order). */
  startedUpTo: bigint | undefined;
  /** Fetched, waiting for a slot, in offset order; the partition is paused while any wait. */
  queue: QueuedWork[];
  queuedUpTo: bigint | undefined;
  /** Handler calls running. */
  inFlight: number;
  keyTails: Map<string, Promise<void>>;
  paused: boolean;
  /** Assigned to another member by a rebalance: its records stop, and nothing more is committed. */
  revoked: boolean;
}

/**
 * A consumer group member that processes batches record by record (`on`), or a fetch's records in calls of
 * many (`onBatch`), in partition order:
 * - with concurrency above 1, records of a partition overlap (a batch route's calls too);
 *   a record that waits long holds up no other (the consumer keeps fetching), only the partition's commits;
 * - offsets are committed only after the records before them were handled (or dead-lettered);
 * - a record that cannot be decoded, or whose handler throws PoisonMessageError, or keeps failing,
 *   goes to `<topic>.dlq` with the reason in headers, and the partition moves on;
 * - an error that says a dependency is away (`isTransient`: a TransientError, a dropped Redis or Kafka
 *   connection, a refused socket) is retried with back-off until it passes or the consumer stops, never
 *   dead-lettered: it is not the record's fault;
 * - stop() finishes the record in hand, commits, and leaves the group.
 * Every topic has exactly one handler; subscribing twice, or starting with none, is an error.
 */
export class BatchConsumer {
  private readonly consumer: Consumer;
  private readonly handlers = new Map<string, Route>();
  private readonly options: Required<
    Omit<ConsumerOptions, 'startAt' | 'gatherMs' | 'passedOverGatherMs' | 'startsWhere'>
  > &
    Pick<ConsumerOptions, 'startAt' | 'gatherMs' | 'passedOverGatherMs' | 'startsWhere'>;
  /** Per partition ("topic|partition"), the last offset that was written when start() ran. */
  private readonly backlogEnds = new Map<string, bigint>();
  private backlogRead: (() => void) | undefined;
  /**
   * `startAt` positions of partitions that have not delivered a batch yet. kafkajs keeps seeks in its
   * consumer group object, which it replaces when it restarts after a crash (a first join that failed),
   * so they are given again on every join until their partition has been read from.
   */
  private readonly pendingStarts = new Map<string, { topic: string; partition: number; offset: string }>();
  /** Resolves once every record written before start() was handled (see caughtUp()). */
  private readonly backlogDone = new Promise<void>((resolve) => (this.backlogRead = resolve));
  private readonly log: Logger;
  private stopping = false;
  private started = false;
  private joined = false;
  private crashed: string | undefined;
  private lastLoopAt: number | undefined;
  private lastRetryLogAt = 0;
  private retriesNotLogged = 0;
  private readonly partitions = new Map<string, PartitionProgress>();
  /** Emits 'idle' when a partition's last record in flight finishes. */
  private readonly idle = new EventEmitter();
  /** Batches of only passed-over records waiting out `passedOverGatherMs`: each ends its wait when called. */
  private readonly passedOverWaits = new Set<() => void>();
  /** Each topic's record age and call duration histograms, labelled once. */
  private readonly stageMetrics = new Map<
    string,
    { age: Histogram.Internal<'topic' | 'group'>; call: Histogram.Internal<'topic' | 'group'> }
  >();
  private commitTimer: NodeJS.Timeout | undefined;
  /** What start() gave kafkajs's run(): given again to restart the group after a crash. */
  private runConfig: ConsumerRunConfig | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartDelayMs = KAFKA_RETRY.initialRetryTime;
  private admin: Promise<Admin> | undefined;
  /** Commits one after the other, so a later one never lands before an earlier one. */
  private commits: Promise<void> = Promise.resolve();
  private doneSinceCommit = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly producer: TypedProducer,
    logger: Logger,
    options: ConsumerOptions,
    /** The topic as named on the cluster (its namespace). */
    private readonly onCluster: <D extends TopicSpec>(def: D) => D = (def) => def,
  ) {
    this.options = {
      maxHandlerAttempts: 3,
      retryDelayMs: 200,
      concurrency: 1,
      keyOrdered: false,
      partitionsInParallel: 1,
      commitEveryRecords: 100,
      commitIntervalMs: 1000,
      maxRetryDelayMs: 10_000,
      staleAfterMs: 60_000,
      fromBeginning: false,
      sessionTimeoutMs: 30_000,
      ...options,
    };
    this.log = logger.child({ component: 'kafka-consumer', group: options.groupId });
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval: Math.min(3000, Math.floor(this.options.sessionTimeoutMs / 10)),
      // A fetch returns as soon as any record arrives (minBytes 1), so this bounds only how long an idle fetch
      // waits, and how late a partition resumed after backpressure joins the next one. Shorter costs every
      // idle group a fetch round trip (and the broker its answer) that many more times a second. (A gathering
      // group waits between fetches instead: see gatherMs.)
      minBytes: 1,
      maxWaitTimeInMs: IDLE_FETCH_WAIT_MS,
      retry: KAFKA_RETRY,
    });
    const { events } = this.consumer;
    this.consumer.on(events.GROUP_JOIN, (e) => {
      this.joined = true;
      this.crashed = undefined;
      this.restartDelayMs = KAFKA_RETRY.initialRetryTime;
      this.assigned(e.payload.memberAssignment);
      for (const start of this.pendingStarts.values()) this.consumer.seek(start);
      // A group restarted after a crash is new to kafkajs: nothing is paused in it yet.
      const paused = [...this.partitions.values()].filter((p) => p.paused);
      if (paused.length > 0)
        this.consumer.pause(paused.map(({ topic, partition }) => ({ topic, partitions: [partition] })));
    });
    this.consumer.on(events.FETCH, () => this.markLoop());
    this.consumer.on(events.REQUEST, countRequest);
    this.consumer.on(events.CRASH, (e) => {
      this.joined = false;
      this.crashed = e.payload.error.message;
      this.log.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
      crashes.inc({ group: this.options.groupId });
      // kafkajs restarts a group only after an error it calls retriable. After any other, such as no
      // coordinator found on a broker still loading its offsets (tulios/kafkajs#1445, #1630), the group
      // would stay stopped, and its service unready, until someone restarted the process.
      if (!e.payload.restart) this.restartAfterCrash();
    });
    this.consumer.on(events.STOP, () => {
      this.joined = false;
    });
  }

  /** Registers the handler of one topic, called for each record. */
  on<T>(def: TopicDef<T>, handler: RecordHandler<T>, options: HandlerOptions = {}): this {
    return this.route(def, (records) => handler(records[0]!), 1, options);
  }

  /**
   * Registers the handler of one topic, called with a fetch's records (up to `maxRecords`), where handling
   * them together saves work per record (one Redis round trip or insert for many). A partition's records are
   * cut into calls; the calls of the fetch's partitions that start together are joined (up to `maxRecords`),
   * so a round trip is paid once a fetch, not once a partition. Up to `concurrency` calls per partition
   * overlap; with `keyOrdered`, a call waits for those before it that hold records of its keys, so each key's
   * records are handled in offset order.
   */
  onBatch<T>(def: TopicDef<T>, handler: BatchHandler<T>, options: BatchHandlerOptions = {}): this {
    return this.route(def, handler, options.maxRecords ?? DEFAULT_BATCH_RECORDS, options);
  }

  private route<T>(
    def: TopicDef<T>,
    handle: BatchHandler<T>,
    maxRecords: number,
    options: HandlerOptions,
  ): this {
    const topic = this.onCluster(def);
    if (this.started) throw new Error(`consumer ${this.options.groupId}: subscribe before start()`);
    if (this.handlers.has(topic.name)) {
      throw new Error(`consumer ${this.options.groupId}: topic ${topic.name} already has a handler`);
    }
    this.handlers.set(topic.name, {
      topic: topic as TopicDef<unknown>,
      handle: handle as BatchHandler<unknown>,
      only: options.only,
      passedOver: options.passedOver,
      maxRecords,
      merger: maxRecords > 1 ? new CallMerger(handle as BatchHandler<unknown>, maxRecords) : undefined,
    });
    return this;
  }

  async start(): Promise<void> {
    if (this.handlers.size === 0) throw new Error(`consumer ${this.options.groupId}: no topic has a handler`);
    this.started = true;
    const { startsWhere, startAt } = this.options;
    if (startsWhere)
      await this.whileUnanswered('taking over committed offsets', () => this.takeOver(startsWhere));
    const at = startAt?.();
    const starts =
      at === undefined
        ? []
        : await this.whileUnanswered('finding start positions', () => this.startPositions(at));
    for (const start of starts) this.pendingStarts.set(`${start.topic}|${start.partition}`, start);
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: [...this.handlers.keys()],
      fromBeginning: this.options.fromBeginning,
    });
    this.runConfig = {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsInParallel,
      // kafkajs fetches again once every batch of a fetch has returned: a gathering group's return later.
      eachBatch: (payload) => this.beforeNextFetch(this.processBatch(payload)),
    };
    const run = this.consumer.run(this.runConfig);
    // Seeks given before run() has joined are applied before the first fetch (and again after a restart:
    // see pendingStarts). Admin setOffsets would do the same through a throwaway member that waits out a
    // whole idle fetch: 5 s of every router start.
    for (const start of starts) this.consumer.seek(start);
    await run;
    running.add(this);
    this.commitTimer = setInterval(() => void this.commit(), this.options.commitIntervalMs);
  }

  /**
   * For a consumer with `startAt`: resolves once the records from there that were already written when
   * start() ran have been handled (at once when there were none), so a reader of a state topic knows it
   * is current. Meaningful for a group of one member.
   */
  caughtUp(): Promise<void> {
    return this.backlogDone;
  }

  /**
   * Whether this group, whichever member holds each partition, has handled and committed every record of
   * the topic written before `at` (by the record's timestamp). Asks Kafka: rejects while it cannot answer.
   * A partition the group never committed on counts as read when new groups start at the latest record
   * (the group skips what came before it, and reads what comes after within a commit interval).
   */
  async committedPast(def: TopicSpec, at: number): Promise<boolean> {
    const topic = this.onCluster(def).name;
    const admin = await this.adminClient();
    const [committed] = await admin.fetchOffsets({ groupId: this.options.groupId, topics: [topic] });
    const writtenFrom = await admin.fetchTopicOffsetsByTimestamp(topic, at);
    const low = this.options.fromBeginning ? await admin.fetchTopicOffsets(topic) : [];
    return writtenFrom.every(({ partition, offset }) => {
      const next = committed?.partitions.find((p) => p.partition === partition)?.offset ?? '-1';
      if (next !== '-1') return BigInt(next) >= BigInt(offset);
      if (!this.options.fromBeginning) return true;
      // Never committed and read from the beginning: read only if nothing before `at` is left in the log.
      const oldest = low.find((p) => p.partition === partition)?.low ?? '0';
      return BigInt(oldest) >= BigInt(offset);
    });
  }

  /**
   * Per partition of its topics, how many records the group has not committed yet (a partition never
   * committed counts from where a new group starts). Rejects when Kafka does not answer in time.
   */
  async lag(): Promise<{ group: string; topic: string; partition: number; records: number }[]> {
    const query = async () => {
      const admin = await this.adminClient();
      const topics = [...this.handlers.keys()];
      const committed = await admin.fetchOffsets({ groupId: this.options.groupId, topics });
      const found: { group: string; topic: string; partition: number; records: number }[] = [];
      for (const topic of topics) {
        const ends = await admin.fetchTopicOffsets(topic);
        const done = committed.find((c) => c.topic === topic)?.partitions ?? [];
        for (const { partition, high, low } of ends) {
          const next = done.find((p) => p.partition === partition)?.offset ?? '-1';
          const from = next !== '-1' ? next : this.options.fromBeginning ? low : high;
          found.push({
            group: this.options.groupId,
            topic,
            partition,
            records: Number(BigInt(high) - BigInt(from)),
          });
        }
      }
      return found;
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('Kafka did not tell the lag in time')), LAG_QUERY_TIMEOUT_MS);
    });
    try {
      return await Promise.race([query(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One admin client per consumer, kept while it runs: lag and committedPast() ask every few seconds. */
  private async adminClient(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      this.admin = admin.connect().then(() => admin);
      this.admin.catch(() => (this.admin = undefined));
    }
    return this.admin;
  }

  /**
   * A group that has committed nothing commits where `from` has, before it joins: committed, not sought, so a
   * restart before its first commit of its own still starts there. Another instance starting at the same
   * time may have done it first (the group is no longer empty): then there is nothing left to do.
   */
  private async takeOver(from: string): Promise<void> {
    const admin = await this.adminClient();
    const topics = [...this.handlers.keys()];
    const committedBy = (groupId: string) => admin.fetchOffsets({ groupId, topics });
    const committedAny = (offsets: Awaited<ReturnType<typeof committedBy>>) =>
      offsets.some((t) => t.partitions.some((p) => p.offset !== '-1'));
    if (committedAny(await committedBy(this.options.groupId))) return;
    let partitionsTaken = 0;
    for (const { topic, partitions } of await committedBy(from)) {
      const taken = partitions.filter((p) => p.offset !== '-1');
      if (taken.length === 0) continue;
      try {
        await admin.setOffsets({ groupId: this.options.groupId, topic, partitions: taken });
      } catch (error) {
        if (!committedAny(await committedBy(this.options.groupId))) throw error;
        return;
      }
      partitionsTaken += taken.length;
    }
    // Both groups new (a fresh deployment): nothing to take, and nothing to say.
    if (partitionsTaken > 0)
      this.log.info({ from, partitions: partitionsTaken }, 'took over where another group had committed');
  }

  /**
   * Runs an admin step again while Kafka cannot answer it yet, backing off as a record's retries do:
   * kafkajs's admin does not retry a group's offset reads, and a fresh broker tells its first groups
   * NOT_COORDINATOR while it loads the offsets topic (a service failed to start on `./tern up` so).
   */
  private whileUnanswered<T>(what: string, step: () => Promise<T>): Promise<T> {
    return whileUnavailable(step, {
      attempts: START_ATTEMPTS,
      firstDelayMs: this.options.retryDelayMs,
      maxDelayMs: this.options.maxRetryDelayMs,
      onRetry: (error, attempt) =>
        this.log.warn({ err: error, attempt }, `${what}: Kafka cannot answer yet, trying again`),
    });
  }

  /** Where each partition's first record written at or after `at` is, noting where the backlog ends. */
  private async startPositions(at: number): Promise<{ topic: string; partition: number; offset: string }[]> {
    const admin = this.kafka.admin();
    await admin.connect();
    const positions: { topic: string; partition: number; offset: string }[] = [];
    try {
      for (const topic of this.handlers.keys()) {
        const ends = await admin.fetchTopicOffsets(topic);
        const starts = await admin.fetchTopicOffsetsByTimestamp(topic, at);
        for (const end of ends) {
          const start = starts.find((s) => s.partition === end.partition)?.offset ?? end.low;
          positions.push({ topic, partition: end.partition, offset: start });
          if (BigInt(end.high) > BigInt(start))
            this.backlogEnds.set(`${topic}|${end.partition}`, BigInt(end.high) - 1n);
        }
      }
    } finally {
      await admin.disconnect();
    }
    this.noteBacklog();
    return positions;
  }

  private noteBacklog(done?: { topic: string; partition: number; offset: string }): void {
    if (done) {
      const id = `${done.topic}|${done.partition}`;
      const end = this.backlogEnds.get(id);
      if (end !== undefined && BigInt(done.offset) >= end) this.backlogEnds.delete(id);
    }
    if (this.backlogEnds.size === 0) this.backlogRead?.();
  }

  /**
   * Runs the group again after a crash kafkajs gave up on, backing off as its retries do; again after each
   * crash, until it joins or stops. kafkajs disconnected and dropped the crashed group before it said so, so
   * run() starts a new one, as its own restarts do.
   */
  private restartAfterCrash(): void {
    if (this.stopping || !this.runConfig) return;
    const delayMs = this.restartDelayMs;
    this.restartDelayMs = Math.min(delayMs * 2, KAFKA_RETRY.maxRetryTime);
    this.log.error(
      { inMs: delayMs },
      'kafkajs does not restart the consumer after this crash: restarting it',
    );
    const runConfig = this.runConfig;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.consumer.run(runConfig).catch((error: unknown) => {
        this.log.error({ err: error }, 'restarting the consumer failed');
        this.restartAfterCrash();
      });
    }, delayMs);
  }

  /** Finishes the records in hand (handlers see they are stopping), commits what was done, leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.endPassedOverWaits();
    if (this.started) {
      clearInterval(this.commitTimer);
      // Not in a group (stopped before run() joined, or crashed): kafkajs has nothing to pause.
      if (this.joined) this.consumer.pause([...this.handlers.keys()].map((topic) => ({ topic })));
      await this.settled();
      // Before disconnecting: kafkajs skips commits once its own stop has begun.
      await this.commit();
      await this.consumer.disconnect();
    }
    running.delete(this);
    await (await this.admin?.catch(() => undefined))?.disconnect();
    this.admin = undefined;
    this.started = false;
  }

  health(): ConsumerHealth {
    const fresh = this.lastLoopAt !== undefined && Date.now() - this.lastLoopAt < this.options.staleAfterMs;
    const ready = this.started && this.joined && fresh && !this.stopping && this.crashed === undefined;
    return {
      ready,
      groupId: this.options.groupId,
      joined: this.joined,
      running: this.started && !this.stopping,
      lastLoopAt: this.lastLoopAt === undefined ? undefined : new Date(this.lastLoopAt).toISOString(),
      ...(this.crashed ? { detail: this.crashed } : {}),
    };
  }

  private markLoop(): void {
    this.lastLoopAt = Date.now();
    lastLoop.set({ group: this.options.groupId }, this.lastLoopAt / 1000);
  }

  /**
   * Queues the batch's records on their partition, starts as many as its `concurrency` allows, and returns
   * without waiting for them: kafkajs fetches again only once every batch of a fetch has returned, so a record
   * that waits (for a rate limit, a breaker, a bind) would otherwise hold up every partition of its broker.
   * A partition with records still queued is paused; the rest start as slots free, then it resumes.
   * Returns whether any record of the batch was queued for the handler (not passed over).
   */
  private processBatch(payload: EachBatchPayload): boolean {
    const { batch } = payload;
    const route = this.handlers.get(batch.topic);
    if (!route) throw new Error(`no handler for topic ${batch.topic}`); // cannot happen: we subscribe from the map
    const labels = { topic: batch.topic, group: this.options.groupId };
    batchSize.observe(labels, batch.messages.length);
    const partition = this.partitionOf(batch.topic, batch.partition);
    this.pendingStarts.delete(`${batch.topic}|${batch.partition}`);
    // A heartbeat refused during a rebalance is kafkajs' to act on, in its fetch loop.
    const heartbeat = () => payload.heartbeat().catch(() => undefined);
    let work: QueuedWork | undefined;
    let handlesAny = false;
    let passedOver = 0;
    // Asked once: nothing between here and the return awaits, so neither a stop nor a seek comes in between.
    // Asked per record, kafkajs's stale check (a JSON key and a Map lookup) was ~0.8% of the services' profiles.
    const current = !this.stopping && !partition.revoked && payload.isRunning() && !payload.isStale();
    for (const message of current ? batch.messages : []) {
      const offset = BigInt(message.offset);
      // Started before by this member (fetched again after a rejoin): running or done, not to run twice.
      if (partition.startedUpTo !== undefined && offset <= partition.startedUpTo) {
        payload.resolveOffset(message.offset);
        continue;
      }
      if (partition.queuedUpTo !== undefined && offset <= partition.queuedUpTo) continue;
      const headers = message.headers ?? {};
      const passOver = route.only !== undefined && !route.only((name) => headerText(headers[name]));
      // A record passed over rides with the call before it: no call of its own, only its commit.
      if (!work || (!passOver && work.handled.length >= route.maxRecords)) {
        const messages: KafkaMessage[] = [];
        work = {
          messages,
          handled: [],
          batch,
          route,
          heartbeat,
          resolve: () => payload.resolveOffset(messages[messages.length - 1]!.offset),
        };
        partition.queue.push(work);
      }
      work.messages.push(message);
      if (passOver) passedOver++;
      else work.handled.push(message);
      handlesAny ||= !passOver;
      partition.queuedUpTo = offset;
    }
    // Counted once a batch: a labelled count takes about 1.3 µs, more than the header check per record.
    if (passedOver > 0) {
      consumed.inc({ ...labels, outcome: 'skipped' }, passedOver);
      route.passedOver?.();
    }
    this.pump(partition);
    return handlesAny;
  }

  /**
   * What a batch returns to kafkajs, which fetches again once every batch of the fetch has returned:
   * at once, or after `gatherMs`; after `passedOverGatherMs` for a batch of only passed-over records, a
   * wait that a batch with records for the handler ends (the fetch then waits for that one's gather).
   */
  private beforeNextFetch(handlesAny: boolean): Promise<void> {
    const { gatherMs, passedOverGatherMs } = this.options;
    if (handlesAny || passedOverGatherMs === undefined || this.stopping) {
      this.endPassedOverWaits();
      return gatherMs === undefined ? Promise.resolve() : sleep(gatherMs);
    }
    return new Promise((resolve) => {
      const end = () => {
        clearTimeout(timer);
        this.passedOverWaits.delete(end);
        resolve();
      };
      const timer = setTimeout(end, passedOverGatherMs);
      this.passedOverWaits.add(end);
    });
  }

  private endPassedOverWaits(): void {
    for (const end of this.passedOverWaits) end();
  }

  /** Starts queued records while the partition has free slots; pauses it while any stay queued. */
  private pump(partition: PartitionProgress): void {
    while (partition.inFlight < this.options.concurrency && partition.queue.length > 0) {
      if (this.stopping || partition.revoked) return;
      const next = partition.queue.shift()!;
      this.begin(partition, next);
      // Resolved: the next fetch starts after it. Committed only once it and every record before it are done.
      next.resolve();
    }
    this.pause(partition, partition.queue.length > 0);
  }

  private begin(partition: PartitionProgress, queued: QueuedWork): void {
    const { messages, handled, batch, route, heartbeat } = queued;
    const entries = messages.map((m) => ({ offset: m.offset, done: false }));
    partition.pending.push(...entries);
    const last = messages[messages.length - 1]!.offset;
    partition.startedUpTo = BigInt(last);
    partition.inFlight++;
    const interrupted = () => this.stopping || partition.revoked;
    // keyOrdered: a call waits for those before it (still in flight) that hold a record of one of its keys.
    const keys = this.options.keyOrdered ? keysOf(handled) : [];
    const before = keys.flatMap((key) => partition.keyTails.get(key) ?? []);
    const work: Promise<void> = (before.length === 0 ? Promise.resolve() : Promise.all(before))
      .then(async () => {
        const started = performance.now();
        try {
          return await this.processMessages({ route, batch, heartbeat, interrupted }, handled);
        } finally {
          this.metricsOf(batch.topic).call.observe((performance.now() - started) / 1000);
        }
      })
      .then((outcome) => {
        this.markLoop();
        if (outcome !== 'processed') return;
        for (const entry of entries) entry.done = true;
        this.noteBacklog({ topic: batch.topic, partition: batch.partition, offset: last });
        this.doneSinceCommit += entries.length;
        if (this.doneSinceCommit >= this.options.commitEveryRecords) void this.commit();
      })
      // Nothing but a defect gets here: the partition's commits stop at these records, and readiness says why.
      .catch((error: unknown) => {
        this.crashed = `records ${batch.topic}/${batch.partition}@${messages[0]!.offset}..${last}: ${String(error)}`;
        this.log.error({ err: error, topic: batch.topic, offset: last }, 'record handling broke');
      })
      .finally(() => {
        partition.inFlight--;
        for (const key of keys) if (partition.keyTails.get(key) === work) partition.keyTails.delete(key);
        this.pump(partition);
        if (partition.inFlight === 0) this.idle.emit('idle');
      });
    for (const key of keys) partition.keyTails.set(key, work);
  }

  private partitionOf(topic: string, partition: number): PartitionProgress {
    const id = `${topic}|${partition}`;
    let progress = this.partitions.get(id);
    if (!progress) {
      progress = {
        topic,
        partition,
        pending: [],
        startedUpTo: undefined,
        queue: [],
        queuedUpTo: undefined,
        inFlight: 0,
        keyTails: new Map(),
        paused: false,
        revoked: false,
      };
      this.partitions.set(id, progress);
    }
    return progress;
  }

  private pause(partition: PartitionProgress, paused: boolean): void {
    if (partition.paused === paused || partition.revoked) return;
    partition.paused = paused;
    // Out of the group (a crash, before its restart): kafkajs has no group to pause; the next join does it.
    if (!this.joined) return;
    const which = [{ topic: partition.topic, partitions: [partition.partition] }];
    if (paused) this.consumer.pause(which);
    else if (!this.stopping) this.consumer.resume(which);
  }

  /** A rejoin: partitions this member no longer owns stop (their records are the new owner's to redo). */
  private assigned(assignment: Record<string, number[]>): void {
    for (const [id, progress] of this.partitions) {
      if (assignment[progress.topic]?.includes(progress.partition)) continue;
      progress.revoked = true;
      this.partitions.delete(id);
    }
  }

  private commit(): Promise<void> {
    this.doneSinceCommit = 0;
    this.commits = this.commits.then(() => this.commitFinished());
    return this.commits;
  }

  /** Commits, per partition, past the records done in a row from the last commit. */
  private async commitFinished(): Promise<void> {
    const offsets: { topic: string; partition: number; offset: string }[] = [];
    for (const progress of this.partitions.values()) {
      let next: string | undefined;
      while (progress.pending[0]?.done) next = (BigInt(progress.pending.shift()!.offset) + 1n).toString();
      if (next !== undefined)
        offsets.push({ topic: progress.topic, partition: progress.partition, offset: next });
    }
    if (offsets.length === 0) return;
    try {
      await this.consumer.commitOffsets(offsets);
    } catch (error) {
      // The next commit covers these too (a commit during a rebalance is refused, not lost work).
      for (const o of offsets) {
        const progress = this.partitions.get(`${o.topic}|${o.partition}`);
        progress?.pending.unshift({ offset: (BigInt(o.offset) - 1n).toString(), done: true });
      }
      this.log.warn({ err: error }, 'committing offsets failed; retrying with the next commit');
    }
  }

  private metricsOf(topic: string) {
    let metrics = this.stageMetrics.get(topic);
    if (!metrics) {
      const labels = { topic, group: this.options.groupId };
      metrics = { age: recordAge.labels(labels), call: callDuration.labels(labels) };
      this.stageMetrics.set(topic, metrics);
    }
    return metrics;
  }

  private observeAge(topic: string, messages: readonly KafkaMessage[]): void {
    const { age } = this.metricsOf(topic);
    const now = Date.now();
    for (const message of messages) age.observe(Math.max(0, now - Number(message.timestamp)) / 1000);
  }

  /** Resolves when no record is in flight (or at once). */
  private async settled(): Promise<void> {
    const busy = () => [...this.partitions.values()].some((p) => p.inFlight > 0);
    while (busy()) await new Promise((resolve) => this.idle.once('idle', resolve));
  }

  /** Decodes the records (dead-lettering those that do not decode) and hands the rest to the route's handler. */
  private async processMessages(call: Call, messages: KafkaMessage[]): Promise<Outcome> {
    const { batch, interrupted } = call;
    const { topic } = call.route;
    this.observeAge(batch.topic, messages);
    const decoded: Decoded[] = [];
    for (const message of messages) {
      const headers = message.headers ?? {};
      let value: unknown;
      try {
        const contentType = headers[CONTENT_TYPE_HEADER]?.toString();
        value = decodeValue(topic.codec, message.value, contentType, topic.jsonTypeName);
      } catch (error) {
        const field = error instanceof DecodeError ? error.field : undefined;
        const reason = DLQ_REASONS.decode;
        const outcome = await this.deadLetter(
          topic,
          batch,
          message,
          reason,
          error as Error,
          interrupted,
          field,
        );
        if (outcome === 'stopped') return 'stopped';
        continue;
      }
      const record: ConsumedRecord<unknown> = {
        topic: batch.topic,
        partition: batch.partition,
        offset: message.offset,
        key: message.key?.toString(),
        value,
        rawValue: message.value ?? Buffer.alloc(0),
        headers,
        timestamp: new Date(Number(message.timestamp)),
      };
      decoded.push({ record, message });
    }
    if (decoded.length === 0) return 'processed';
    return this.handle(call, decoded);
  }

  /**
   * Calls the handler until it succeeds. A transient error is retried; any other error of a call with many
   * records hands them over again one at a time; a single record's poison goes to the DLQ at once, another
   * error after `maxHandlerAttempts`.
   */
  private async handle(call: Call, decoded: Decoded[], joinable = true): Promise<Outcome> {
    const { route, batch, heartbeat, interrupted } = call;
    const { topic } = route;
    const alone = decoded.length === 1 ? decoded[0]!.record : undefined;
    const records = decoded.map((d) => d.record);
    // One record's span continues its producer's trace; a batch's links to each record's trace instead.
    const parent = alone ? extractTraceContext(alone.headers) : context.active();
    const labels = { topic: batch.topic, group: this.options.groupId };
    let delay = this.options.retryDelayMs;
    for (let attempt = 1; ; attempt++) {
      const span = tracer().startSpan(
        `${batch.topic} process`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            'messaging.system': 'kafka',
            'messaging.destination.name': batch.topic,
            'messaging.kafka.destination.partition': batch.partition,
            'messaging.consumer.group.name': this.options.groupId,
            ...(alone
              ? { 'messaging.kafka.message.offset': alone.offset }
              : { 'messaging.batch.message_count': records.length }),
          },
        },
        parent,
      );
      if (!alone && span.isRecording()) span.addLinks(records.map(traceLink).filter((l) => l !== undefined));
      try {
        // A first attempt may join other partitions' calls; a retry, or one record at a time, is alone.
        const join = joinable && attempt === 1;
        await context.with(trace.setSpan(parent, span), () => callRoute(route, records, join));
        consumed.inc({ ...labels, outcome: 'ok' }, records.length);
        return 'processed';
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        const transient = isTransient(error);
        if (!transient && !alone) return this.handleOneByOne(call, decoded);
        const { message } = decoded[0]!;
        if (error instanceof PoisonMessageError) {
          return this.deadLetter(topic, batch, message, error.reason, error, interrupted, error.field);
        }
        if (!transient && attempt >= this.options.maxHandlerAttempts) {
          return this.deadLetter(topic, batch, message, DLQ_REASONS.handler, error as Error, interrupted);
        }
        // Stopping or losing the partition: leave the records uncommitted for whoever consumes them next.
        if (interrupted()) return 'stopped';
        const where = alone ? { offset: alone.offset } : { records: records.length };
        this.logRetry({
          topic: batch.topic,
          partition: batch.partition,
          ...where,
          attempt,
          err: error,
          transient,
        });
      } finally {
        span.end();
      }
      await sleep(delay);
      delay = Math.min(delay * 2, this.options.maxRetryDelayMs);
      // Long transient outages must not cost us the partition: keep the session alive between attempts.
      await heartbeat();
    }
  }

  private async handleOneByOne(call: Call, decoded: Decoded[]): Promise<Outcome> {
    for (const one of decoded) {
      if ((await this.handle(call, [one], false)) === 'stopped') return 'stopped';
    }
    return 'processed';
  }

  /**
   * At most one retry line per second per consumer: with many records in flight, one outage (a database
   * away) would otherwise log the same failure for each of them. The line counts those it stands for.
   */
  private logRetry(fields: Record<string, unknown>): void {
    const now = Date.now();
    if (now - this.lastRetryLogAt < 1000) {
      this.retriesNotLogged++;
      return;
    }
    this.log.warn({ ...fields, alsoFailedSinceLastLine: this.retriesNotLogged }, 'handler failed; retrying');
    this.lastRetryLogAt = now;
    this.retriesNotLogged = 0;
  }

  /**
   * Writes the record to its DLQ, again and again while the DLQ cannot be written (Kafka away): a record is
   * never skipped unrecorded. Stopping first leaves it uncommitted.
   */
  private async deadLetter(
    topic: TopicDef<unknown>,
    batch: Batch,
    message: KafkaMessage,
    reason: string,
    error: Error,
    interrupted: () => boolean,
    field?: string,
  ): Promise<Outcome> {
    let delay = this.options.retryDelayMs;
    for (;;) {
      try {
        await this.writeDeadLetter(topic, batch, message, reason, error, field);
        return 'processed';
      } catch (writeError) {
        if (interrupted()) return 'stopped';
        this.logRetry({ topic: batch.topic, offset: message.offset, err: writeError, dlq: topic.dlq });
        await sleep(delay);
        delay = Math.min(delay * 2, this.options.maxRetryDelayMs);
      }
    }
  }

  private async writeDeadLetter(
    topic: TopicDef<unknown>,
    batch: Batch,
    message: KafkaMessage,
    reason: string,
    error: Error,
    field?: string,
  ): Promise<void> {
    const headers: IHeaders = {
      ...(message.headers ?? {}),
      [DLQ_HEADERS.reason]: reason,
      [DLQ_HEADERS.error]: error.message.slice(0, 2000),
      [DLQ_HEADERS.sourceTopic]: batch.topic,
      [DLQ_HEADERS.sourcePartition]: String(batch.partition),
      [DLQ_HEADERS.sourceOffset]: message.offset,
      [DLQ_HEADERS.consumerGroup]: this.options.groupId,
      [DLQ_HEADERS.failedAt]: new Date().toISOString(),
      ...(field ? { [DLQ_HEADERS.field]: field } : {}),
    };
    await this.producer.sendRaw(topic.dlq, [{ key: message.key, value: message.value, headers }]);
    dlqTotal.inc({ topic: batch.topic, group: this.options.groupId, reason });
    consumed.inc({ topic: batch.topic, group: this.options.groupId, outcome: 'dlq' });
    this.log.warn(
      {
        topic: batch.topic,
        partition: batch.partition,
        offset: message.offset,
        reason,
        error: error.message,
      },
      'record sent to DLQ',
    );
  }
}

/**
 * Calls the route's handler with a call's records, joined with other partitions' calls when `join` allows.
 * A joined call that failed is made again with these records alone: what that one does is their outcome,
 * so another partition's poison record never reaches these.
 */
async function callRoute(route: Route, records: ConsumedRecord<unknown>[], join: boolean): Promise<void> {
  if (!join || !route.merger) return route.handle(records);
  try {
    await route.merger.run(records);
  } catch (error) {
    if (!(error instanceof JoinedCallFailed)) throw error;
    await route.handle(records);
  }
}

/** The distinct keys of records (a record without one is ordered with no other). */
function keysOf(messages: KafkaMessage[]): string[] {
  if (messages.length === 1) {
    const key = messages[0]!.key?.toString();
    return key === undefined ? [] : [key];
  }
  const keys = new Set<string>();
  for (const message of messages) if (message.key) keys.add(message.key.toString());
  return [...keys];
}

/** A link to the trace a record's producer wrote it in, if its headers carry one. */
function traceLink(record: ConsumedRecord<unknown>): Link | undefined {
  const spanContext = trace.getSpanContext(extractTraceContext(record.headers));
  return spanContext ? { context: spanContext } : undefined;
}

function headerText(value: IHeaders[string]): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first?.toString();
}
