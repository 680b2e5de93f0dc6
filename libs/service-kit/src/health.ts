import { Controller, Get, HttpCode, HttpStatus, Injectable, Res } from '@nestjs/common';
import type { BatchConsumer } from '@tern/kafka';
import { metricsRegistry } from '@tern/telemetry';
import type { Response } from 'express';

export interface HealthCheckResult {
  ok: boolean;
  detail?: unknown;
}
export type HealthCheck = () => HealthCheckResult | Promise<HealthCheckResult>;

/** Named readiness checks; adapters (Kafka, consumers, ClickHouse...) register theirs at start-up. */
@Injectable()
export class HealthRegistry {
  private readonly checks = new Map<string, HealthCheck>();

  register(name: string, check: HealthCheck): void {
    if (this.checks.has(name)) throw new Error(`health check "${name}" registered twice`);
    this.checks.set(name, check);
  }

  /** Each consumer is ready while it is in its group and its fetch loop runs; named by its group. */
  registerConsumers(consumers: readonly BatchConsumer[]): void {
    for (const consumer of consumers) {
      this.register(`kafka-consumer:${consumer.health().groupId}`, () => {
        const h = consumer.health();
        return { ok: h.ready, detail: h };
      });
    }
  }

  async readiness(): Promise<{ ready: boolean; checks: Record<string, HealthCheckResult> }> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]): Promise<[string, HealthCheckResult]> => {
        try {
          return [name, await check()];
        } catch (error) {
          return [name, { ok: false, detail: (error as Error).message }];
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    return { ready: entries.every(([, r]) => r.ok), checks };
  }
}

@Controller()
export class HealthController {
  constructor(private readonly health: HealthRegistry) {}

  /** Liveness: the event loop answers. Never depends on other systems, so a broker outage does not restart pods. */
  @Get('health/live')
  @HttpCode(HttpStatus.OK)
  live(): { status: string } {
    return { status: 'ok' };
  }

  /** Readiness: every registered check passes (503 otherwise), so traffic and scaling follow real state. */
  @Get('health/ready')
  async ready(@Res({ passthrough: true }) res: Response): Promise<unknown> {
    const result = await this.health.readiness();
    res.status(result.ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return result;
  }

  @Get('metrics')
  async metrics(@Res({ passthrough: true }) res: Response): Promise<string> {
    res.type(metricsRegistry.contentType);
    return metricsRegistry.metrics();
  }
}
