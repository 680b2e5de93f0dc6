import { encodeMessage } from '@tern/contracts';
import { loadConfig, topicSettings } from '@tern/config';
import { ensureTopics, namespaced, platformTopics, type TopicDef, type TopicSpec } from '@tern/kafka';
import { createLogger } from '@tern/telemetry';
import { Kafka, logLevel, type KafkaMessage, type Producer } from 'kafkajs';
import { infraFromEnv } from './infra';
import { declaredTopicName, testNamespace, testTopic, testClusterName } from './isolation';
import { uniqueName, waitFor } from './wait';

let kafka: Kafka | undefined;
let producer: Producer | undefined;
const client = () =>
  (kafka ??= new Kafka({
    clientId: 'tern-test',
    brokers: infraFromEnv().kafkaBrokers,
    logLevel: logLevel.NOTHING,
  }));

const ensured = new Set<string>();
/**
 * On a fresh broker the platform's topics do not exist yet: create them as declared (partitions, DLQs), with
 * the replication `tern-create-topics` would give them (TERN_KAFKA_REPLICATION_FACTOR and
 * _MIN_INSYNC_REPLICAS, set for runs on the three-node cluster).
 */
async function ensure(defs: readonly TopicSpec[]): Promise<void> {
  const missing = defs.filter((d) => !ensured.has(d.name));
  if (missing.length === 0) return;
  const { replicationFactor, minInsyncReplicas } = loadConfig(topicSettings);
  await ensureTopics(client(), missing, createLogger({ service: 'tern-test', level: 'error' }), {
    replicationFactor,
    minInsyncReplicas,
  });
  for (const d of missing) ensured.add(d.name);
}

/**
 * Every platform topic (and the lanes' dispatch topics), as `tern-create-topics` makes them before a
 * deployment: a service under test subscribes to topics that a fresh broker does not have yet. A
 * namespace gives a platform topics of its own (TERN_KAFKA_TOPIC_NAMESPACE); by default the test file's.
 */
export async function ensurePlatformTopics(
  lanes: readonly string[] = [],
  namespace = testNamespace(),
): Promise<void> {
  await ensure(platformTopics(lanes).map((def) => namespaced(def, namespace)));
}

/** Deletes every topic of a namespace: a finished run's topics would otherwise pile up on the broker. */
export async function deleteNamespaceTopics(namespace: string): Promise<void> {
  if (namespace === '') throw new Error('refusing to delete the topics of the empty namespace');
  const admin = client().admin();
  await admin.connect();
  try {
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(`${namespace}.`));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    for (const t of mine) ensured.delete(t);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Publishes values on a platform topic (in the test file's namespace, or a platform run's) as its producers
 * do: key and protobuf from the topic's declaration.
 */
export async function publishValues<T>(
  declared: TopicDef<T>,
  values: readonly T[],
  namespace = testNamespace(),
): Promise<void> {
  const topic = namespaced(declared, namespace);
  await ensure([topic]);
  if (!producer) {
    producer = client().producer();
    await producer.connect();
  }
  for (let i = 0; i < values.length; i += 5000) {
    await producer.send({
      topic: topic.name,
      messages: values
        .slice(i, i + 5000)
        .map((v) => ({ key: topic.key(v), value: encodeMessage(topic.codec, v) })),
    });
  }
}

/**
 * Follows topics of the test file's namespace (declared names: a topic's or a DLQ's) from now on with a
 * plain kafkajs consumer of its own; `onRecord` gets the declared name. "Now" is each partition's end when
 * the call is made: the reader starts at the beginning and skips what lies before. (A new group's "latest"
 * is only resolved at its first fetch, so records written in between were missed; a seek is lost when the
 * consumer restarts after a failed first join.)
 */
export async function followRaw(
  declaredNames: readonly string[],
  onRecord: (topic: string, message: KafkaMessage) => void,
): Promise<{ stop: () => Promise<void> }> {
  const names = declaredNames.map(testClusterName);
  const admin = client().admin();
  await admin.connect();
  let ends: Map<string, bigint>;
  try {
    // Retried: a topic created a moment ago can still answer that its leader is elsewhere.
    ends = await waitFor(`the ends of ${names.join(', ')}`, async () => {
      const offsets = await Promise.all(
        names.map(async (topic) => ({ topic, partitions: await admin.fetchTopicOffsets(topic) })),
      );
      return new Map(
        offsets.flatMap(({ topic, partitions }) =>
          partitions.map((p) => [`${topic}/${p.partition}`, BigInt(p.high)] as const),
        ),
      );
    });
  } finally {
    await admin.disconnect();
  }
  // A short fetch wait: stopping a consumer waits for its fetch in flight (kafkajs' default 5 s), and tests
  // stop readers often. A record still arrives as soon as it is written, whatever the wait.
  const reader = client().consumer({ groupId: uniqueName('tern-test-reader'), maxWaitTimeInMs: 200 });
  let joined = false;
  reader.on(reader.events.GROUP_JOIN, () => (joined = true));
  await reader.connect();
  await reader.subscribe({ topics: names, fromBeginning: true });
  await reader.run({
    eachMessage: ({ topic, partition, message }) => {
      if (BigInt(message.offset) >= (ends.get(`${topic}/${partition}`) ?? 0n))
        onRecord(declaredTopicName(topic), message);
      return Promise.resolve();
    },
  });
  await waitFor('the test reader to join', () => joined);
  return { stop: () => reader.disconnect() };
}

/**
 * Follows platform topics (in the test file's namespace) from now on, decoding each value; `onValue` gets
 * the topic's declared name.
 */
export async function followTopics(
  defs: readonly TopicDef<unknown>[],
  /** `writtenAt`: the record's timestamp (ms), when its producer wrote it. */
  onValue: (topic: string, value: unknown, headers: Record<string, string>, writtenAt: number) => void,
): Promise<{ stop: () => Promise<void> }> {
  await ensure(defs.map(testTopic));
  const byName = new Map(defs.map((d) => [d.name, d]));
  return followRaw([...byName.keys()], (topic, message) => {
    const def = byName.get(topic);
    if (!def || !message.value) return;
    const headers = Object.fromEntries(
      Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]),
    );
    onValue(def.name, def.codec.decode(message.value), headers, Number(message.timestamp));
  });
}

export async function closeTestProducer(): Promise<void> {
  await producer?.disconnect();
  producer = undefined;
}

/** A topic's DLQ as followTopics reads it: its records are the source topic's values as they were written. */
export function dlqOf<T>(def: TopicDef<T>): TopicDef<T> {
  return { ...def, name: def.dlq, partitions: 1 };
}
