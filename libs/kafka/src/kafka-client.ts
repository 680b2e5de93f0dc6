import type { Logger } from '@tern/telemetry';
import { Kafka, logLevel as KafkaLogLevel, type LogEntry } from 'kafkajs';
import { BatchConsumer, type ConsumerOptions } from './consumer';
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
    this.producerInstance ??= new TypedProducer(this.kafka, this.options.logger, (def) => this.topic(def));
    return this.producerInstance;
  }

  /** A consumer; in a namespace its group is the namespace's too (`<namespace>.<group>`). */
  consumer(options: ConsumerOptions): BatchConsumer {
    const namespace = this.options.topicNamespace ?? '';
    const groupId = namespace === '' ? options.groupId : `${namespace}.${options.groupId}`;
    return new BatchConsumer(
      this.kafka,
      this.producer(),
      this.options.logger,
      { ...options, groupId },
      (def) => this.topic(def),
    );
  }

  async disconnect(): Promise<void> {
    await this.producerInstance?.disconnect();
  }
}
