// Tern's patch of kafkajs' produce retry (patches/kafkajs@2.2.4.patch, tulios/kafkajs#1303), driven with a
// scripted cluster: a partition's leader dies mid-request and the partition moves to a broker that already
// answered for another partition of the same call.
import { createRequire } from 'node:module';

interface ProduceRequest {
  topicData: { topic: string; partitions: { partition: number; messages: { key: string }[] }[] }[];
}
type Broker = { nodeId: number; produce: (request: ProduceRequest) => Promise<unknown> };
type SendMessages = (options: {
  acks: number;
  topicMessages: { topic: string; messages: { key: string; value: string }[] }[];
}) => Promise<{ topicName: string; partition: number }[]>;

const load = createRequire(require.resolve('kafkajs'));
const createSendMessages = load('./src/producer/sendMessages') as (deps: unknown) => SendMessages;
const createRetry = load('./src/retry') as (options: unknown) => unknown;

const TOPIC = 'sms.accepted';

/** Two brokers; partition 0 led by 1, partition 1 by 2 until broker 2 dies, then by 1. */
function scriptedCluster() {
  const leaders: Record<number, number> = { 0: 1, 1: 2 };
  const sent: { broker: number; partitions: number[] }[] = [];
  const broker = (nodeId: number): Broker => ({
    nodeId,
    produce: (request) => {
      const partitions = request.topicData.flatMap((t) => t.partitions.map((p) => p.partition));
      sent.push({ broker: nodeId, partitions });
      if (nodeId === 2) {
        leaders[1] = 1; // the controller moves the partition once its leader is gone
        return Promise.reject(
          Object.assign(new Error('Closed connection'), {
            name: 'KafkaJSConnectionClosedError',
            retriable: true,
          }),
        );
      }
      return Promise.resolve({
        topics: [
          { topicName: TOPIC, partitions: partitions.map((partition) => ({ partition, errorCode: 0 })) },
        ],
      });
    },
  });
  const brokers = new Map([1, 2].map((id) => [id, broker(id)]));
  const cluster = {
    targetTopics: new Set<string>(),
    addMultipleTargetTopics: () => Promise.resolve(),
    refreshMetadataIfNecessary: () => Promise.resolve(),
    refreshMetadata: () => Promise.resolve(),
    isConnected: () => true,
    removeBroker: () => undefined,
    findTopicPartitionMetadata: () =>
      Object.entries(leaders).map(([partitionId, leader]) => ({ partitionId: Number(partitionId), leader })),
    findLeaderForPartitions: (_topic: string, partitions: string[]) => {
      const perLeader: Record<number, number[]> = {};
      for (const partition of partitions.map(Number)) (perLeader[leaders[partition]!] ??= []).push(partition);
      return perLeader;
    },
    findBroker: ({ nodeId }: { nodeId: string }) => Promise.resolve(brokers.get(Number(nodeId))),
  };
  const eosManager = {
    isTransactional: () => false,
    acquireBrokerLock: () => Promise.resolve(),
    releaseBrokerLock: () => Promise.resolve(),
    getSequence: () => 0,
    updateSequence: () => undefined,
    getProducerId: () => -1,
    getProducerEpoch: () => 0,
  };
  const send = createSendMessages({
    logger: { debug: () => undefined, error: () => undefined },
    cluster,
    // The record's key names its partition.
    partitioner: ({ message }: { message: { key: string } }) => Number(message.key),
    eosManager,
    retrier: createRetry({ retries: 3, initialRetryTime: 1 }),
  });
  return { send, sent };
}

describe('a produce whose partition leader dies mid-request (patched kafkajs)', () => {
  it('sends the partition again to its new leader, even when that broker already answered', async () => {
    const { send, sent } = scriptedCluster();
    const written = await send({
      acks: -1,
      topicMessages: [
        {
          topic: TOPIC,
          messages: [
            { key: '0', value: 'a' },
            { key: '1', value: 'b' },
          ],
        },
      ],
    });
    // Upstream skipped broker 1 on the retry (it had answered) and resolved without partition 1.
    expect(sent).toEqual([
      { broker: 1, partitions: [0] },
      { broker: 2, partitions: [1] },
      { broker: 1, partitions: [1] },
    ]);
    expect(written.map((w) => w.partition).sort()).toEqual([0, 1]);
  });
});
