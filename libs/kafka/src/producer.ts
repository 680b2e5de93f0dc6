import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { injectTraceContext, metricsRegistry, tracer, type Logger } from '@tern/telemetry';
import { CompressionTypes, Partitioners, type IHeaders, type Kafka, type Producer } from 'kafkajs';
import { Counter } from 'prom-client';
import { CONTENT_TYPE_HEADER, encodeValue, PROTOBUF_CONTENT_TYPE } from './codec';
import type { TopicDef } from './topics';

const produced = new Counter({
  name: 'tern_kafka_produced_total',
  help: 'Records written, per topic',
  labelNames: ['topic'],
  registers: [metricsRegistry],
});

export interface RawRecord {
  key?: string | Buffer | null;
  value: Buffer | null;
  headers?: IHeaders;
}

/** Idempotent producer of typed records; every record carries its content type and the W3C trace context. */
export class TypedProducer {
  private readonly producer: Producer;
  private connected = false;
  private readonly lingering = new Map<
    string,
    {
      topic: TopicDef<unknown>;
      values: unknown[];
      waiters: { resolve: () => void; reject: (e: unknown) => void }[];
      timer?: NodeJS.Timeout;
    }
  >();

  constructor(
    kafka: Kafka,
    private readonly logger: Logger,
  ) {
    this.producer = kafka.producer({
      // Broker-side de-duplication of retried batches: a retry after a lost ack never writes a record twice.
      idempotent: true,
      // kafkajs keeps order under retries only with one request in flight per broker.
      maxInFlightRequests: 1,
      // The Java client's murmur2 partitioner: the same key lands on the same partition whether a record
      // comes from us or from an enterprise's Java/librdkafka producer.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.producer.on(this.producer.events.DISCONNECT, () => {
      this.connected = false;
    });
  }

  get isConnected(): boolean {
    return this.connected;
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
    this.connected = false;
  }

  /** Writes values to a topic, each keyed by the topic's key function. Resolves once all replicas have them. */
  async send<T>(topic: TopicDef<T>, values: readonly T[], headers: IHeaders = {}): Promise<void> {
    if (values.length === 0) return;
    const span = tracer().startSpan(`${topic.name} publish`, {
      kind: SpanKind.PRODUCER,
      attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': topic.name },
    });
    const ctx = trace.setSpan(context.active(), span);
    try {
      const messages: RawRecord[] = values.map((value) => {
        const recordHeaders: IHeaders = { ...headers, [CONTENT_TYPE_HEADER]: PROTOBUF_CONTENT_TYPE };
        injectTraceContext(recordHeaders, ctx);
        return { key: topic.key(value), value: encodeValue(topic.codec, value), headers: recordHeaders };
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
   * Queues one value and resolves once it is written with others queued within `lingerMs` (or 500 of them):
   * for many small independent writes, such as receipts arriving one by one from SMSCs.
   */
  enqueue<T>(topic: TopicDef<T>, value: T, lingerMs = 5): Promise<void> {
    let queue = this.lingering.get(topic.name);
    if (!queue) {
      queue = { topic: topic as TopicDef<unknown>, values: [], waiters: [] };
      this.lingering.set(topic.name, queue);
    }
    const q = queue;
    return new Promise<void>((resolve, reject) => {
      q.values.push(value);
      q.waiters.push({ resolve, reject });
      if (q.values.length >= 500) this.flush(topic.name);
      else q.timer ??= setTimeout(() => this.flush(topic.name), lingerMs);
    });
  }

  private flush(name: string): void {
    const q = this.lingering.get(name);
    if (!q) return;
    this.lingering.delete(name);
    clearTimeout(q.timer);
    this.send(q.topic, q.values).then(
      () => q.waiters.forEach((w) => w.resolve()),
      (error: unknown) => q.waiters.forEach((w) => w.reject(error)),
    );
  }

  /** Writes records as they are (DLQ copies, tests that need malformed bytes). */
  async sendRaw(topicName: string, records: RawRecord[]): Promise<void> {
    // acks=-1 is required by the idempotent producer. No compression: kafkajs ships only gzip, too slow here.
    await this.producer.send({
      topic: topicName,
      messages: records,
      acks: -1,
      compression: CompressionTypes.None,
    });
    produced.inc({ topic: topicName }, records.length);
    this.logger.trace({ topic: topicName, count: records.length }, 'produced');
  }
}
