import 'reflect-metadata';
import type { Server } from 'node:http';
import { flushCompileCache } from 'node:module';
import type { AddressInfo } from 'node:net';
import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  checkConfig,
  ConfigError,
  loadConfig,
  type FilesCheck,
  redactConfig,
  type ConfigOf,
  type commonSettings,
  type Settings,
} from '@tern/config';
import { collectProcessMetrics, createLogger, stopTelemetry } from '@tern/telemetry';
import { NestLogger } from './nest-logger';
import { untilPortFree } from './port-wait';
import { ServiceKitModule } from './service-kit.module';

export interface ServiceDefinition<S extends typeof commonSettings & Settings> {
  name: string;
  settings: S;
  /** The service's own root module; the kit's providers (CONFIG, LOGGER, KafkaClient, HealthRegistry) are global. */
  module: Type | DynamicModule;
  /** Reads the files the settings name as start-up will; `--check-config` runs it without starting. */
  checkFiles?: FilesCheck<S>;
  /**
   * How long a record the service writes may wait for others to share its produce request: for services
   * whose writes come after the carrier has the message. Absent: none.
   */
  produceLingerMs?: number;
}

/**
 * Starts a service (or, with `--check-config`, only checks its settings and files and exits 0 or 1): validates
 * its config before anything else (a bad value exits 1 naming the variable),
 * then NestJS with the kit, then the HTTP endpoint. SIGTERM/SIGINT close the app (consumers finish their
 * batch and commit, producer flushes) and exit 0; past TERN_SHUTDOWN_TIMEOUT_MS it exits 1.
 */
export async function runService<S extends typeof commonSettings & Settings>(
  definition: ServiceDefinition<S>,
): Promise<void> {
  if (process.argv.includes('--check-config')) {
    const problems = checkConfig(definition.settings, definition.checkFiles);
    for (const problem of problems) process.stderr.write(`${definition.name}: ${problem}\n`);
    if (problems.length === 0) process.stdout.write(`${definition.name}: configuration ok\n`);
    process.exit(problems.length === 0 ? 0 : 1);
  }
  let serviceConfig: ConfigOf<S>;
  try {
    serviceConfig = loadConfig(definition.settings);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${definition.name}: ${error.message}\n`);
    process.exit(1);
  }
  // S extends the common settings, so these keys are there with their types.
  const config = serviceConfig as unknown as ConfigOf<typeof commonSettings>;
  const logger = createLogger({ service: definition.name, level: config.logLevel });
  collectProcessMetrics(definition.name);

  @Module({
    imports: [
      ServiceKitModule.forRoot({
        name: definition.name,
        config,
        logger,
        produceLingerMs: definition.produceLingerMs,
      }),
      definition.module,
    ],
  })
  class RootModule {}

  try {
    const app = await NestFactory.create(RootModule, { logger: new NestLogger(logger), abortOnError: false });
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping');
      setTimeout(() => {
        logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out');
        process.exit(1);
      }, config.shutdownTimeoutMs).unref();
      app
        .close()
        .then(() => stopTelemetry())
        .then(() => {
          logger.info('stopped');
          process.exit(0);
        })
        .catch((error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    await untilPortFree('0.0.0.0', config.httpPort, logger);
    await app.listen(config.httpPort, '0.0.0.0');
    // Every module is loaded by now: its compiled code is on disk for the next start, even after a crash.
    flushCompileCache();
    const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
    logger.info(
      { httpPort: port, config: redactConfig(definition.settings, serviceConfig) },
      'service started',
    );
  } catch (error) {
    logger.fatal({ err: error }, 'start-up failed');
    process.exit(1);
  }
}
