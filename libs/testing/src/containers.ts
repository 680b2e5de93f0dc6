import { GenericContainer, Wait } from 'testcontainers';
import type { StartedInfra } from './infra';

// Same versions as deploy/local: Kafka 4.1 (KRaft), current ClickHouse, Redis 7.
const KAFKA_IMAGE = 'apache/kafka:4.1.1';
const CLICKHOUSE_IMAGE = 'clickhouse/clickhouse-server:25.8';
const REDIS_IMAGE = 'redis:7.4';

/** Used only where a Docker engine is present; machines without Docker use deploy/local/infra.sh instead. */
export async function startContainers(): Promise<StartedInfra> {
  const kafkaPort = 19092;
  const kafka = await new GenericContainer(KAFKA_IMAGE)
    .withExposedPorts({ container: kafkaPort, host: kafkaPort })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: `PLAINTEXT://0.0.0.0:${kafkaPort},CONTROLLER://localhost:9093`,
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  const clickhouse = await new GenericContainer(CLICKHOUSE_IMAGE)
    .withExposedPorts(8123)
    .withWaitStrategy(Wait.forHttp('/ping', 8123))
    .start();
  const redis = await new GenericContainer(REDIS_IMAGE).withExposedPorts(6379).start();
  return {
    infra: {
      kafkaBrokers: [`127.0.0.1:${kafkaPort}`],
      clickhouseUrl: `http://${clickhouse.getHost()}:${clickhouse.getMappedPort(8123)}`,
      redisUrl: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
    },
    stop: async () => {
      await Promise.all([kafka.stop(), clickhouse.stop(), redis.stop()]);
    },
  };
}
