import type { Logger } from '@tern/telemetry';
import type { ITopicConfig, Kafka } from 'kafkajs';
import type { TopicSpec } from './topics';

export interface EnsureTopicsOptions {
  replicationFactor?: number;
  /** DLQ records are kept long enough for a person to look at them. */
  dlqRetentionMs?: number;
}

/**
 * Creates the topics (and their DLQs) that do not exist yet and adds partitions where a declaration grew.
 * Idempotent: run it at every deployment.
 */
export async function ensureTopics(
  kafka: Kafka,
  defs: readonly TopicSpec[],
  logger: Logger,
  options: EnsureTopicsOptions = {},
): Promise<{ created: string[] }> {
  const replicationFactor = options.replicationFactor ?? 1;
  const dlqRetentionMs = options.dlqRetentionMs ?? 14 * 24 * 3600 * 1000;
  const wanted: ITopicConfig[] = defs.flatMap((def) => [
    {
      topic: def.name,
      numPartitions: def.partitions,
      replicationFactor,
      configEntries: def.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
    },
    {
      topic: def.dlq,
      numPartitions: 1,
      replicationFactor,
      configEntries: [{ name: 'retention.ms', value: String(dlqRetentionMs) }],
    },
  ]);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      await admin.createTopics({ topics: missing, waitForLeaders: true });
      logger.info({ topics: missing.map((t) => t.topic) }, 'topics created');
    }
    const present = wanted.filter((t) => existing.has(t.topic));
    if (present.length > 0) {
      const metadata = await admin.fetchTopicMetadata({ topics: present.map((t) => t.topic) });
      const grow = metadata.topics.flatMap((m) => {
        const want = present.find((t) => t.topic === m.name)?.numPartitions ?? 0;
        return m.partitions.length < want ? [{ topic: m.name, count: want }] : [];
      });
      if (grow.length > 0) {
        await admin.createPartitions({ topicPartitions: grow });
        logger.info({ topics: grow }, 'partitions added');
      }
    }
    return { created: missing.map((t) => t.topic) };
  } finally {
    await admin.disconnect();
  }
}
