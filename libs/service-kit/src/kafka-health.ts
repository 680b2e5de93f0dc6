import type { KafkaClient } from '@tern/kafka';
import type { HealthCheckResult } from './health';

type Admin = ReturnType<KafkaClient['kafka']['admin']>;

/**
 * Readiness of the broker connection: a metadata round trip, cached briefly so that frequent probes
 * do not each hit the broker.
 */
export class KafkaHealth {
  private admin: Admin | undefined;
  private last: { at: number; result: HealthCheckResult } | undefined;

  constructor(
    private readonly client: KafkaClient,
    private readonly cacheMs = 2000,
    private readonly timeoutMs = 3000,
  ) {}

  async check(): Promise<HealthCheckResult> {
    if (this.last && Date.now() - this.last.at < this.cacheMs) return this.last.result;
    let result: HealthCheckResult;
    try {
      this.admin ??= this.client.kafka.admin();
      await this.admin.connect();
      const cluster = await withTimeout(this.admin.describeCluster(), this.timeoutMs);
      const producer = this.client.producer().isConnected;
      result = { ok: producer, detail: { brokers: cluster.brokers.length, producerConnected: producer } };
    } catch (error) {
      result = { ok: false, detail: (error as Error).message };
    }
    this.last = { at: Date.now(), result };
    return result;
  }

  async close(): Promise<void> {
    await this.admin?.disconnect();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Kafka in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
