import {
  Global,
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { ConfigOf, commonSettings } from '@tern/config';
import { KafkaClient, kafkaSecurityFromSettings } from '@tern/kafka';
import type { Logger } from '@tern/telemetry';
import { HealthController, HealthRegistry } from './health';
import { KafkaHealth } from './kafka-health';
import { CONFIG, LOGGER } from './tokens';

export type CommonConfig = ConfigOf<typeof commonSettings>;

export interface ServiceKitOptions {
  name: string;
  config: CommonConfig;
  logger: Logger;
  /** See ServiceDefinition. */
  produceLingerMs?: number;
}

/** Connects the shared producer at boot and registers Kafka readiness; disconnects last at shutdown. */
@Injectable()
class KafkaLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly health: KafkaHealth;

  constructor(
    private readonly kafka: KafkaClient,
    registry: HealthRegistry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.health = new KafkaHealth(kafka);
    registry.register('kafka', () => this.health.check());
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.kafka.producer().connect();
    this.logger.info('kafka producer connected');
  }

  // After every module's onModuleDestroy (where consumers stop and flush), so their last writes go out.
  async onApplicationShutdown(): Promise<void> {
    await this.health.close();
    await this.kafka.disconnect();
  }
}

/** What every service gets: its config, the logger, the Kafka client, health and metrics endpoints. */
@Global()
@Module({})
export class ServiceKitModule {
  static forRoot(options: ServiceKitOptions): DynamicModule {
    return {
      module: ServiceKitModule,
      controllers: [HealthController],
      providers: [
        { provide: CONFIG, useValue: options.config },
        { provide: LOGGER, useValue: options.logger },
        HealthRegistry,
        {
          provide: KafkaClient,
          useFactory: () =>
            new KafkaClient({
              brokers: options.config.kafkaBrokers,
              clientId: options.config.kafkaClientId ?? `tern-${options.name}`,
              topicNamespace: options.config.kafkaTopicNamespace,
              security: kafkaSecurityFromSettings(options.config),
              logger: options.logger,
              produceLingerMs: options.produceLingerMs,
            }),
        },
        KafkaLifecycle,
      ],
      exports: [CONFIG, LOGGER, HealthRegistry, KafkaClient],
    };
  }
}
