#!/usr/bin/env node
// Creates every platform topic and its DLQ: `tern-create-topics` (TERN_KAFKA_BROKERS, TERN_LANES,
// TERN_KAFKA_REPLICATION_FACTOR, TERN_KAFKA_MIN_INSYNC_REPLICAS). The Helm chart runs it as a Job.
import { commonSettings, env, loadConfig, setting, topicSettings } from '@tern/config';
import { createLogger } from '@tern/telemetry';
import { Kafka, logLevel } from 'kafkajs';
import { ensureTopics } from '../admin';
import { kafkajsSecurity, kafkaSecurityFromSettings } from '../kafka-client';
import { namespaced, platformTopics } from '../topics';

const settings = {
  brokers: setting('TERN_KAFKA_BROKERS', 'Kafka bootstrap servers, comma-separated host:port', env.list()),
  lanes: setting(
    'TERN_LANES',
    'Dispatch lanes (groups of countries), comma-separated',
    env.list().default(['default']),
  ),
  namespace: commonSettings.kafkaTopicNamespace,
  kafkaTls: commonSettings.kafkaTls,
  kafkaTlsCaFile: commonSettings.kafkaTlsCaFile,
  kafkaSaslMechanism: commonSettings.kafkaSaslMechanism,
  kafkaSaslUsername: commonSettings.kafkaSaslUsername,
  kafkaSaslPassword: commonSettings.kafkaSaslPassword,
  ...topicSettings,
};

async function main(): Promise<void> {
  const logger = createLogger({ service: 'create-topics' });
  const config = loadConfig(settings);
  const kafka = new Kafka({
    clientId: 'tern-create-topics',
    brokers: config.brokers,
    ...kafkajsSecurity(kafkaSecurityFromSettings(config)),
    logLevel: logLevel.WARN,
  });
  const defs = platformTopics(config.lanes).map((def) => namespaced(def, config.namespace ?? ''));
  const { created } = await ensureTopics(kafka, defs, logger, {
    replicationFactor: config.replicationFactor,
    minInsyncReplicas: config.minInsyncReplicas,
  });
  logger.info({ created: created.length, lanes: config.lanes }, 'topics ready');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
