import { randomUUID } from 'node:crypto';
import type { Logger } from '@tern/telemetry';
import type { IHeaders, Kafka } from 'kafkajs';
import { DLQ_HEADERS } from './consumer';
import type { TypedProducer } from './producer';

/** Headers a replayed record carries, and keeps in the DLQ when it fails again. */
export const REPLAY_HEADERS = {
  /** The dead letter it was replayed from: `<dlq topic>/<partition>/<offset>`. */
  of: 'tern-replay-of',
  /** How many times this record was replayed along its history. */
  count: 'tern-replay-count',
} as const;

const DLQ_SUFFIX = '.dlq';
/** How long reading a DLQ may take before it answers with what it has. */
const READ_TIMEOUT_MS = 15_000;

/** A record of a DLQ topic, with what the dead-lettering consumer wrote about it. */
export interface DeadLetter {
  /** The DLQ topic as declared (without the client's namespace). */
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Every header as text, the original record's and the DLQ's. */
  headers: Record<string, string>;
  reason: string;
  error: string;
  field: string;
  /** The topic it failed on, as declared; empty when the record does not say (not written by BatchConsumer). */
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  consumerGroup: string;
  failedAt: Date | undefined;
  replays: number;
}

/** Latest failure first; records without a time last, then by partition and offset, newest first. */
function newestFirst(a: DeadLetter, b: DeadLetter): number {
  const at = (l: DeadLetter) => l.failedAt?.getTime() ?? 0;
  if (at(a) !== at(b)) return at(b) - at(a);
  if (a.partition !== b.partition) return a.partition - b.partition;
  return BigInt(b.offset) > BigInt(a.offset) ? 1 : BigInt(b.offset) < BigInt(a.offset) ? -1 : 0;
}

const text = (value: IHeaders[string]): string =>
  value === undefined ? '' : Array.isArray(value) ? text(value[0]) : value.toString();

/**
 * The dead-letter queues of a deployment (every `<topic>.dlq` in the client's namespace): read them, and send
 * a dead letter back to the topic it failed on, with its original headers and the replay headers.
 */
export class DeadLetterQueues {
  constructor(
    private readonly kafka: Kafka,
    private readonly namespace: string,
    private readonly producer: TypedProducer,
    private readonly log: Logger,
  ) {}

  private cluster(declared: string): string {
    return this.namespace === '' ? declared : `${this.namespace}.${declared}`;
  }

  private declared(cluster: string): string {
    return this.namespace === '' ? cluster : cluster.slice(this.namespace.length + 1);
  }

  /** The DLQ topics, as declared. */
  async topics(): Promise<string[]> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const prefix = this.namespace === '' ? '' : `${this.namespace}.`;
      return (await admin.listTopics())
        .filter((t) => t.endsWith(DLQ_SUFFIX) && t.startsWith(prefix))
        .map((t) => this.declared(t))
        .sort();
    } finally {
      await admin.disconnect();
    }
  }

  /** The newest `limit` records of each partition of a DLQ topic (declared name), the latest failures first. */
  async read(topic: string, limit: number): Promise<DeadLetter[]> {
    const cluster = this.cluster(topic);
    const admin = this.kafka.admin();
    await admin.connect();
    // kafkajs reads only through a group: a throwaway one (in the namespace, as every group), removed afterwards.
    const groupId = this.cluster(`tern-dlq-reader-${randomUUID()}`);
    try {
      const ranges = (await admin.fetchTopicOffsets(cluster))
        .map((p) => ({
          partition: p.partition,
          from:
            BigInt(p.high) - BigInt(limit) > BigInt(p.low) ? BigInt(p.high) - BigInt(limit) : BigInt(p.low),
          last: BigInt(p.high) - 1n,
        }))
        .filter((r) => r.last >= r.from);
      if (ranges.length === 0) return [];
      // By place: a fetch from the start and the seek that follows it may both deliver a record.
      const letters = new Map<string, DeadLetter>();
      const finished = new Set<number>();
      const consumer = this.kafka.consumer({ groupId, allowAutoTopicCreation: false });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic: cluster, fromBeginning: true });
        let done: () => void = () => undefined;
        const allRead = new Promise<void>((resolve) => (done = resolve));
        await consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const range = ranges.find((r) => r.partition === batch.partition);
            if (!range) return;
            for (const m of batch.messages) {
              const offset = BigInt(m.offset);
              if (offset < range.from || offset > range.last) continue;
              letters.set(
                `${batch.partition}/${m.offset}`,
                this.letter(topic, batch.partition, m.offset, m.key, m.value, m.headers ?? {}),
              );
              if (offset === range.last) finished.add(batch.partition);
            }
            if (finished.size === ranges.length) done();
            return Promise.resolve();
          },
        });
        for (const r of ranges)
          consumer.seek({ topic: cluster, partition: r.partition, offset: String(r.from) });
        await Promise.race([allRead, new Promise((resolve) => setTimeout(resolve, READ_TIMEOUT_MS).unref())]);
      } finally {
        await consumer.disconnect();
      }
      if (finished.size < ranges.length) {
        this.log.warn(
          { topic, partitions: ranges.length, read: finished.size },
          'DLQ read timed out; partial',
        );
      }
      return [...letters.values()].sort(newestFirst);
    } finally {
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect();
    }
  }

  /** Sends a dead letter back to its source topic: its key, value and original headers, plus the replay headers. */
  async replay(letter: DeadLetter): Promise<void> {
    if (!letter.sourceTopic)
      throw new Error(`${letter.topic} ${letter.partition}/${letter.offset} names no source topic`);
    const dlqHeaders = new Set<string>(Object.values(DLQ_HEADERS));
    const headers: IHeaders = Object.fromEntries(
      Object.entries(letter.headers).filter(([name]) => !dlqHeaders.has(name)),
    );
    headers[REPLAY_HEADERS.of] = `${letter.topic}/${letter.partition}/${letter.offset}`;
    headers[REPLAY_HEADERS.count] = String(letter.replays + 1);
    await this.producer.sendRaw(this.cluster(letter.sourceTopic), [
      { key: letter.key, value: letter.value, headers },
    ]);
    this.log.info(
      { dlq: letter.topic, partition: letter.partition, offset: letter.offset, to: letter.sourceTopic },
      'dead letter replayed',
    );
  }

  private letter(
    topic: string,
    partition: number,
    offset: string,
    key: Buffer | null,
    value: Buffer | null,
    raw: IHeaders,
  ): DeadLetter {
    const headers = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, text(v)]));
    const source = headers[DLQ_HEADERS.sourceTopic] ?? '';
    const failedText = headers[DLQ_HEADERS.failedAt];
    const failedAt = failedText ? new Date(failedText) : undefined;
    return {
      topic,
      partition,
      offset,
      key,
      value,
      headers,
      reason: headers[DLQ_HEADERS.reason] ?? '',
      error: headers[DLQ_HEADERS.error] ?? '',
      field: headers[DLQ_HEADERS.field] ?? '',
      // Only the topic this DLQ belongs to: a header cannot send a record anywhere else.
      sourceTopic:
        source !== '' && `${source}${DLQ_SUFFIX}` === this.cluster(topic) ? this.declared(source) : '',
      sourcePartition: Number(headers[DLQ_HEADERS.sourcePartition] ?? -1),
      sourceOffset: headers[DLQ_HEADERS.sourceOffset] ?? '',
      consumerGroup: headers[DLQ_HEADERS.consumerGroup] ?? '',
      failedAt: failedAt && !Number.isNaN(failedAt.getTime()) ? failedAt : undefined,
      replays: Number(headers[REPLAY_HEADERS.count] ?? 0) || 0,
    };
  }
}
