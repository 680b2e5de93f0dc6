import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { encodeMessage } from '@tern/contracts';
import { injectTraceContext, metricsRegistry, tracer, type Logger } from '@tern/telemetry';
import { CompressionTypes, Partitioners, type IHeaders, type Kafka, type Producer } from 'kafkajs';
import { Counter, Histogram } from 'prom-client';
import { CONTENT_TYPE_HEADER, PROTOBUF_CONTENT_TYPE } from './codec';
import { brokenSequence, TransientError } from './errors';
import { countRequest } from './requests';
import type { TopicDef, TopicSpec } from './topics';

const produced = new Counter({
  name: 'tern_kafka_produced_total',
  help: 'Records written, per topic',
  labelNames: ['topic'],
  registers: [metricsRegistry],
});

const requestRecords = new Histogram({
  name: 'tern_kafka_produce_request_records',
  help: 'Records per produce request of enqueued values (every topic in it)',
  buckets: [1, 10, 50, 200, 1000],
  registers: [metricsRegistry],
});

/**
 * How long each produce request of enqueued values took, sent to acknowledged by every replica: a value
 * waits at most one such request queued behind the one in flight, then its own.
 */
const requestSeconds = new Histogram({
  name: 'tern_kafka_produce_request_seconds',
  help: 'Time a produce request of enqueued values took, from its send to its acknowledgement',
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [metricsRegistry],
});

/** Records per produce request from enqueue(); the rest go in the next one. */
const MAX_RECORDS_PER_FLUSH = 2000;
/**
 * Bytes of records per produce request from enqueue(), below the broker's default limit on one partition's
 * batch (`message.max.bytes`, 1 MiB): a request's records may all share a partition, and a batch above it is
 * refused whole, failing every value in it, however small each is.
 */
const MAX_BYTES_PER_FLUSH = 1_000_000;
/** A record's framing in its batch beyond its key, value and headers (lengths, deltas, attributes), at most. */
const RECORD_OVERHEAD_BYTES = 32;

/** About what a record takes in a record batch (an upper bound for the ones enqueue() makes). */
function recordBytes(record: RawRecord): number {
  const key = record.key ?? '';
  let bytes = RECORD_OVERHEAD_BYTES + (record.value?.length ?? 0) + Buffer.byteLength(key);
  for (const [name, value] of Object.entries(record.headers ?? {})) {
    for (const one of Array.isArray(value) ? value : [value]) {
      bytes += Buffer.byteLength(name) + (one === undefined ? 0 : Buffer.byteLength(one)) + 8;
    }
  }
  return bytes;
}

export interface RawRecord {
  key?: string | Buffer | null;
  value: Buffer | null;
  headers?: IHeaders;
}

/** Idempotent producer of typed records; every record carries its content type and the W3C trace context. */
export class TypedProducer {
  private producer: Producer;
  private connected = false;
  /** A producer replacing one whose sequence broke, while it connects. */
  private replacing: Promise<void> | undefined;
  private readonly queued: {
    topic: string;
    record: RawRecord;
    bytes: number;
    resolve: () => void;
    reject: (e: unknown) => void;
  }[] = [];
  private flushing = false;
  private flushScheduled = false;
  /** When the oldest value now queued was enqueued. */
  private queuedSince = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly logger: Logger,
    /** The topic as named on the cluster (its namespace); raw writes take names already resolved. */
    readonly onCluster: <D extends TopicSpec>(def: D) => D = (def) => def,
    /** How long an enqueued value may wait for others to share its produce request (see enqueue()). */
    private readonly lingerMs = 0,
  ) {
    this.producer = this.create();
  }

  private create(): Producer {
    const producer = this.kafka.producer({
      // Broker-side de-duplication of retried batches: a retry after a lost ack never writes a record twice.
      idempotent: true,
      // kafkajs keeps order under retries only with one request in flight per broker.
      maxInFlightRequests: 1,
      // The Java client's murmur2 partitioner: the same key lands on the same partition whether a record
      // comes from us or from an enterprise's Java/librdkafka producer.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    producer.on(producer.events.REQUEST, countRequest);
    producer.on(producer.events.DISCONNECT, () => {
      if (producer === this.producer) this.connected = false;
    });
    return producer;
  }

  /**
   * What a failed write says to its caller. A broken sequence replaces the producer and is transient (the
   * record is written again by the next try); anything else is passed on as it is.
   */
  private async failed(error: unknown): Promise<unknown> {
    if (!brokenSequence(error)) return error;
    this.replacing ??= (async () => {
      const broken = this.producer;
      this.logger.warn(
        { err: error },
        'producer sequence broken (a leader lost a batch); starting a new producer',
      );
      this.producer = this.create();
      await this.producer.connect();
      this.connected = true;
      void broken.disconnect().catch(() => undefined);
    })().finally(() => {
      this.replacing = undefined;
    });
    await this.replacing.catch(() => undefined);
    return new TransientError('the producer was replaced after its sequence broke; write again', {
      cause: error,
    });
  }

  get isConnected(): boolean {
    return this.connected;
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  /** Writes what is queued first: a caller awaiting enqueue() is answered before the connection goes. */
  async disconnect(): Promise<void> {
    while (this.flushing || this.queued.length > 0) {
      this.scheduleFlush();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await this.producer.disconnect();
    this.connected = false;
  }

  /** Writes values to a topic, each keyed by the topic's key function. Resolves once all replicas have them. */
  async send<T>(def: TopicDef<T>, values: readonly T[], headers: IHeaders = {}): Promise<void> {
    if (values.length === 0) return;
    const topic = this.onCluster(def);
    const span = tracer().startSpan(`${topic.name} publish`, {
      kind: SpanKind.PRODUCER,
      attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': topic.name },
    });
    const ctx = trace.setSpan(context.active(), span);
    try {
      const messages: RawRecord[] = values.map((value) => {
        const recordHeaders: IHeaders = {
          ...headers,
          ...topic.headers?.(value),
          [CONTENT_TYPE_HEADER]: PROTOBUF_CONTENT_TYPE,
        };
        injectTraceContext(recordHeaders, ctx);
        return { key: topic.key(value), value: encodeMessage(topic.codec, value), headers: recordHeaders };
      });
      await this.sendRaw(topic.name, messages);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  }

  /**
   * Queues one value and resolves once it is written. Queued values of every topic go out together in one
   * produce request (up to MAX_RECORDS_PER_FLUSH and MAX_BYTES_PER_FLUSH) as soon as none is in flight, so
   * under load batches grow by themselves (the producer keeps one request in flight for ordering) and alone
   * a value waits for nothing; with a linger, the oldest queued value waits that long for company first. The record is encoded now, with the caller's trace
   * context.
   */
  enqueue<T>(def: TopicDef<T>, value: T): Promise<void> {
    const topic = this.onCluster(def);
    const headers: IHeaders = { ...topic.headers?.(value), [CONTENT_TYPE_HEADER]: PROTOBUF_CONTENT_TYPE };
    injectTraceContext(headers, context.active());
    const record: RawRecord = { key: topic.key(value), value: encodeMessage(topic.codec, value), headers };
    return new Promise<void>((resolve, reject) => {
      if (this.queued.length === 0) this.queuedSince = Date.now();
      this.queued.push({ topic: topic.name, record, bytes: recordBytes(record), resolve, reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushing || this.flushScheduled || this.queued.length === 0) return;
    this.flushScheduled = true;
    const flush = () => {
      this.flushScheduled = false;
      void this.flush();
    };
    // After the current tick at least: values enqueued by the same burst of work share the request.
    const lingerLeft = this.queuedSince + this.lingerMs - Date.now();
    if (lingerLeft > 0) setTimeout(flush, lingerLeft);
    else setImmediate(flush);
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    let count = 0;
    let bytes = 0;
    // At least one record, however large: one above the broker's limit fails alone.
    while (count < Math.min(this.queued.length, MAX_RECORDS_PER_FLUSH)) {
      bytes += this.queued[count]!.bytes;
      if (count > 0 && bytes > MAX_BYTES_PER_FLUSH) break;
      count++;
    }
    const batch = this.queued.splice(0, count);
    requestRecords.observe(batch.length);
    const byTopic = new Map<string, RawRecord[]>();
    for (const q of batch) {
      const records = byTopic.get(q.topic) ?? [];
      records.push(q.record);
      byTopic.set(q.topic, records);
    }
    try {
      const took = requestSeconds.startTimer();
      await this.producer.sendBatch({
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        acks: -1,
        compression: CompressionTypes.None,
      });
      took();
      for (const [topic, records] of byTopic) produced.inc({ topic }, records.length);
      batch.forEach((q) => q.resolve());
    } catch (error) {
      const answer = await this.failed(error);
      batch.forEach((q) => q.reject(answer));
    } finally {
      this.flushing = false;
      this.scheduleFlush();
    }
  }

  /** Writes records as they are (DLQ copies, tests that need malformed bytes). */
  async sendRaw(topicName: string, records: RawRecord[]): Promise<void> {
    // acks=-1 is required by the idempotent producer. No compression: kafkajs ships only gzip, too slow here.
    try {
      await this.producer.send({
        topic: topicName,
        messages: records,
        acks: -1,
        compression: CompressionTypes.None,
      });
    } catch (error) {
      throw await this.failed(error);
    }
    produced.inc({ topic: topicName }, records.length);
    this.logger.trace({ topic: topicName, count: records.length }, 'produced');
  }
}
