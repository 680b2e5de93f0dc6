import { commonSettings, loadConfig } from '@tern/config';
import { KafkaClient, kafkaSecurityFromSettings } from '@tern/kafka';
import { createLogger } from '@tern/telemetry';

/** A Kafka client for the bench's tools, on the brokers (namespace, TLS, SASL) that TERN_KAFKA_* names. */
export function kafkaClientFromSettings(clientId: string): KafkaClient {
  const { kafkaBrokers, kafkaTopicNamespace, kafkaTls, kafkaTlsCaFile } = commonSettings;
  const { kafkaSaslMechanism, kafkaSaslUsername, kafkaSaslPassword } = commonSettings;
  const config = loadConfig({
    kafkaBrokers,
    kafkaTopicNamespace,
    kafkaTls,
    kafkaTlsCaFile,
    kafkaSaslMechanism,
    kafkaSaslUsername,
    kafkaSaslPassword,
  });
  return new KafkaClient({
    brokers: config.kafkaBrokers,
    clientId,
    logger: createLogger({ service: 'bench', level: 'warn' }),
    topicNamespace: config.kafkaTopicNamespace,
    security: kafkaSecurityFromSettings(config),
  });
}
