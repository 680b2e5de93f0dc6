import type { BreakerState, ConsumerLag } from './domain/console-pages';

/** `tern_router_breaker_state` values: 0 closed, 1 half-open, 2 open. */
const STATES: readonly BreakerState[] = ['closed', 'half-open', 'open'];

const QUERY_TIMEOUT_MS = 2_000;

/**
 * What only the running instances know, read from the Prometheus that scrapes them: each router's breakers
 * live in its memory, each consumer group's lag in Kafka. The console shows them beside the weights.
 */
export class PrometheusFigures {
  private readonly url: string;

  constructor(url: string) {
    this.url = url.replace(/\/+$/, '');
  }

  /** Breaker state per `channel/mcc_mnc` (a channel's own breaker has an empty mcc_mnc). */
  async breakers(): Promise<Map<string, BreakerState>> {
    const series = await this.query('max by (channel, mcc_mnc) (tern_router_breaker_state)');
    return new Map(
      series.map((s) => [
        `${s.metric['channel'] ?? ''}/${s.metric['mcc_mnc'] ?? ''}`,
        STATES[Math.round(s.value)] ?? 'open',
      ]),
    );
  }

  /** Records each consumer group has yet to commit, per topic (every member reports its group's: max). */
  async lag(): Promise<ConsumerLag[]> {
    const series = await this.query(
      'sum by (group, topic) (max by (group, topic, partition) (tern_kafka_consumer_lag))',
    );
    return series
      .map((s) => ({ group: s.metric['group'] ?? '', topic: s.metric['topic'] ?? '', records: s.value }))
      .sort((a, b) => a.topic.localeCompare(b.topic) || a.group.localeCompare(b.group));
  }

  private async query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`, {
      signal: AbortSignal.timeout(QUERY_TIMEOUT_MS),
    });
    if (!res.ok) throw new Error(`Prometheus answered ${res.status}`);
    const body = (await res.json()) as {
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }
}
