import { readFileSync } from 'node:fs';
import type { Logger } from '@tern/telemetry';
import { Kafka, logLevel as KafkaLogLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import { BatchConsumer, type ConsumerOptions } from './consumer';
import { DeadLetterQueues } from './dead-letters';
import { TypedProducer } from './producer';
import { namespaced, TOPIC_NAMESPACE, type TopicSpec } from './topics';

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
  /**
   * Prefix of every topic this client reads and writes (see `namespaced`) and of its consumer groups;
   * empty or absent: none.
   */
  topicNamespace?: string;
  /** TLS and SASL to the brokers (see kafkaSecurityFromSettings); absent: plaintext, no authentication. */
  security?: KafkaSecurity;
  /**
   * How long a value the shared producer enqueues may wait for others to share its produce request; for
   * processes whose writes are not on a message's way to the carrier. Absent: none.
   */
  produceLingerMs?: number;
}

export interface KafkaSecurity {
  tls?: { caFile?: string | undefined };
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
}

/** The brokers' TLS and SASL from the TERN_KAFKA_* settings; half a SASL setting is a start-up error. */
export function kafkaSecurityFromSettings(config: {
  kafkaTls: boolean;
  kafkaTlsCaFile?: string | undefined;
  kafkaSaslMechanism?: 'plain' | 'scram-sha-256' | 'scram-sha-512' | undefined;
  kafkaSaslUsername?: string | undefined;
  kafkaSaslPassword?: string | undefined;
}): KafkaSecurity {
  const { kafkaSaslMechanism: mechanism, kafkaSaslUsername: username, kafkaSaslPassword: password } = config;
  if (!config.kafkaTls && config.kafkaTlsCaFile)
    throw new Error('TERN_KAFKA_TLS_CA_FILE needs TERN_KAFKA_TLS=true');
  if (mechanism && (!username || !password))
    throw new Error('TERN_KAFKA_SASL_MECHANISM needs TERN_KAFKA_SASL_USERNAME and TERN_KAFKA_SASL_PASSWORD');
  if (!mechanism && (username || password))
    throw new Error('TERN_KAFKA_SASL_USERNAME and _PASSWORD need TERN_KAFKA_SASL_MECHANISM');
  return {
    ...(config.kafkaTls ? { tls: { caFile: config.kafkaTlsCaFile } } : {}),
    ...(mechanism && username && password ? { sasl: { mechanism, username, password } } : {}),
  };
}

/** kafkajs' options for a KafkaSecurity: the CA is read once, at start-up. */
export function kafkajsSecurity(security: KafkaSecurity | undefined): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  if (!security) return {};
  const ssl = security.tls
    ? security.tls.caFile
      ? { ca: [readFileSync(security.tls.caFile, 'utf8')] }
      : true
    : undefined;
  return {
    ...(ssl ? { ssl } : {}),
    ...(security.sasl ? { sasl: security.sasl as SASLOptions } : {}),
  };
}

/** Entry point of the wrapper: one per process, handing out producers, consumers and the admin client. */
export class KafkaClient {
  readonly kafka: Kafka;
  private producerInstance: TypedProducer | undefined;

  constructor(private readonly options: KafkaClientOptions) {
    const namespace = options.topicNamespace ?? '';
    if (namespace !== '' && !TOPIC_NAMESPACE.test(namespace))
      throw new Error(`invalid topic namespace "${namespace}"`);
    const log = options.logger.child({ component: 'kafkajs' });
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      ...kafkajsSecurity(options.security),
      // kafkajs defaults to a 1 s connection timeout; a broker under load at start-up can take longer.
      connectionTimeout: 5000,
      logLevel: KafkaLogLevel.WARN,
      logCreator:
        () =>
        ({ level, log: entry }: LogEntry) => {
          const { message, ...fields } = entry;
          if (level <= KafkaLogLevel.ERROR) log.error(fields, message);
          else if (level === KafkaLogLevel.WARN) log.warn(fields, message);
          else log.debug(fields, message);
        },
    });
  }

  /** A topic as this client names it on the cluster: in its namespace. */
  topic<T extends TopicSpec>(def: T): T {
    return namespaced(def, this.options.topicNamespace ?? '');
  }

  /** The process's shared idempotent producer (connect it once with `producer().connect()`). */
  producer(): TypedProducer {
    this.producerInstance ??= new TypedProducer(
      this.kafka,
      this.options.logger,
      (def) => this.topic(def),
      this.options.produceLingerMs,
    );
    return this.producerInstance;
  }

  /** A consumer; in a namespace its group is the namespace's too (`<namespace>.<group>`). */
  consumer(options: ConsumerOptions): BatchConsumer {
    const namespace = this.options.topicNamespace ?? '';
    const onCluster = (group: string) => (namespace === '' ? group : `${namespace}.${group}`);
    return new BatchConsumer(
      this.kafka,
      this.producer(),
      this.options.logger,
      {
        ...options,
        groupId: onCluster(options.groupId),
        ...(options.startsWhere ? { startsWhere: onCluster(options.startsWhere) } : {}),
      },
      (def) => this.topic(def),
    );
  }

  /** The deployment's dead-letter queues: read them, replay their records (the producer must be connected). */
  deadLetters(): DeadLetterQueues {
    return new DeadLetterQueues(
      this.kafka,
      this.options.topicNamespace ?? '',
      this.producer(),
      this.options.logger,
    );
  }

  async disconnect(): Promise<void> {
    await this.producerInstance?.disconnect();
  }
}
