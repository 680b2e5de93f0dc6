import type { Logger } from '@tern/telemetry';
import { ConfigResourceTypes, type Admin, type ITopicConfig, type Kafka } from 'kafkajs';
import { isTransient } from './errors';
import type { TopicSpec } from './topics';

export interface EnsureTopicsOptions {
  replicationFactor?: number;
  /** A write needs this many replicas (unset: the broker's default). */
  minInsyncReplicas?: number;
  /** DLQ records are kept long enough for a person to look at them. */
  dlqRetentionMs?: number;
}

/**
 * A state topic keeps the latest value per key, and gets there soon: segments roll every ten minutes so the
 * cleaner can compact them (by default a segment waits for a week or a GiB), and it starts once a tenth
 * of the log is superseded values. Readers still read only what is recent (see BatchConsumer `startAt`).
 */
const COMPACTION = [
  { name: 'cleanup.policy', value: 'compact' },
  { name: 'segment.ms', value: String(10 * 60_000) },
  { name: 'min.cleanable.dirty.ratio', value: '0.1' },
  { name: 'delete.retention.ms', value: String(60 * 60_000) },
];

const LEADERS_TIMEOUT_MS = 30_000;

/**
 * Resolves once every partition of the topics has a leader. (kafkajs' own wait, `waitForLeaders`, gives up
 * when a KRaft broker still answers "unknown topic" for a topic created a moment ago.)
 */
async function leadersElected(admin: Admin, topics: string[]): Promise<void> {
  const deadline = Date.now() + LEADERS_TIMEOUT_MS;
  for (;;) {
    let missing = topics;
    try {
      const metadata = await admin.fetchTopicMetadata({ topics });
      missing = metadata.topics
        .filter((t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0))
        .map((t) => t.name);
      if (missing.length === 0) return;
    } catch (error) {
      if (!isTransient(error) && (error as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION')
        throw error;
    }
    if (Date.now() > deadline)
      throw new Error(`no leader after ${LEADERS_TIMEOUT_MS} ms for ${missing.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
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
  const durability =
    options.minInsyncReplicas === undefined
      ? []
      : [{ name: 'min.insync.replicas', value: String(options.minInsyncReplicas) }];
  const wanted: ITopicConfig[] = defs.flatMap((def) => [
    {
      topic: def.name,
      numPartitions: def.partitions,
      replicationFactor,
      configEntries: [...(def.compacted ? COMPACTION : []), ...durability],
    },
    {
      topic: def.dlq,
      numPartitions: 1,
      replicationFactor,
      configEntries: [{ name: 'retention.ms', value: String(dlqRetentionMs) }, ...durability],
    },
  ]);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      await admin.createTopics({ topics: missing, waitForLeaders: false });
      await leadersElected(
        admin,
        missing.map((t) => t.topic),
      );
      logger.info({ topics: missing.map((t) => t.topic) }, 'topics created');
    }
    const present = wanted.filter((t) => existing.has(t.topic));
    // State topics made before their compaction settings were declared get them now. (AlterConfigs sets
    // a topic's whole configuration, so only topics whose every setting is declared here are altered.)
    const stateTopics = new Set(defs.filter((def) => def.compacted).map((def) => def.name));
    const compacted = present.filter((t) => stateTopics.has(t.topic));
    if (compacted.length > 0) {
      await admin.alterConfigs({
        validateOnly: false,
        resources: compacted.map((t) => ({
          type: ConfigResourceTypes.TOPIC,
          name: t.topic,
          configEntries: t.configEntries ?? COMPACTION,
        })),
      });
    }
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
